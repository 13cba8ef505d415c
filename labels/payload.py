"""The text inside every Jejak QR label: fields, encoding, parsing, signing, verifying.

This module is the contract between the label printer, the scanners and the
server.  It imports only the standard library and ``cryptography`` (lazily, for
the signature itself), so importing :mod:`labels` never pulls in reportlab or
OpenCV.  The format is documented byte by byte in ``docs/label-format.md``::

    J1.<KEY>.<PACKAGE>.<TYPE>.<DEST>.<DAPIL>.<QTY>.<VER>.<SIG>

* ``J1``       format marker and version 1 of the layout
* ``KEY``      id of the signing key: 8 base32 characters derived from the public key
* ``PACKAGE``  package id, ``[0-9A-Z-]``, 1-40 characters
* ``TYPE``     item type code, e.g. ``SS-DPR``, ``KOTAK``
* ``DEST``     destination location code, ``[0-9A-Z-]``
* ``DAPIL``    electoral district code (empty for items without one)
* ``QTY``      quantity, a positive decimal integer without leading zeros
* ``VER``      label version, a positive integer; a reprint increments it
* ``SIG``      Ed25519 signature over every byte before the last ``.``, in
               RFC 4648 base32 without padding (103 characters)

Every character is an upper-case letter, a digit, ``.`` or ``-``: all of them in
the QR alphanumeric set (compact codes) and typed identically by a USB
keyboard-wedge scanner on US, UK and Indonesian layouts, so a wedge scan and a
camera scan yield the same text.  A scanner left in caps-lock types lower case;
:func:`parse` upper-cases its input, because no field distinguishes case.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, replace
from typing import Mapping

__all__ = [
    "MARKER",
    "PayloadError",
    "BadSignature",
    "UnknownKey",
    "SupersededLabel",
    "Label",
    "SignedLabel",
    "parse",
    "sign",
    "verify",
    "key_id_for",
    "signing_text",
    "verification_code",
    "parse_manual_entry",
]

MARKER = "J1"
SEPARATOR = "."
SIGNATURE_LENGTH = 103  # 64 bytes in unpadded base32
_ID = r"[0-9A-Z](?:[0-9A-Z-]{0,38}[0-9A-Z])?"
_FIELD_RULES = {
    "key_id": (re.compile(r"[A-Z2-7]{8}"), "8 characters A-Z and 2-7"),
    "package_id": (re.compile(_ID), "1-40 characters 0-9, A-Z and inner '-'"),
    "item_type": (re.compile(r"[A-Z][0-9A-Z-]{0,15}"), "1-16 characters A-Z, 0-9 and '-'"),
    "destination": (re.compile(r"[0-9A-Z](?:[0-9A-Z-]{0,30}[0-9A-Z])?"),
                    "1-32 characters 0-9, A-Z and inner '-'"),
    "dapil": (re.compile(r"(?:[0-9A-Z](?:[0-9A-Z-]{0,30}[0-9A-Z])?)?"),
              "empty or 1-32 characters 0-9, A-Z and inner '-'"),
    "quantity": (re.compile(r"[1-9][0-9]{0,6}"), "a whole number from 1 to 9999999"),
    "version": (re.compile(r"[1-9][0-9]{0,3}"), "a whole number from 1 to 9999"),
    # The last base32 character carries 2 bits and 3 zero pad bits: only A, I, Q, Y are
    # canonical; any other would decode to the same signature (one label, several texts).
    "signature": (re.compile(r"[A-Z2-7]{%d}[AIQY]" % (SIGNATURE_LENGTH - 1)),
                  f"{SIGNATURE_LENGTH} characters A-Z and 2-7, the last one A, I, Q or Y"),
}
_FIELDS = ("key_id", "package_id", "item_type", "destination", "dapil", "quantity",
           "version", "signature")
MAX_LENGTH = 400  # longest valid text is about 290 characters


class PayloadError(ValueError):
    """The text is not a well-formed Jejak label."""


class BadSignature(PayloadError):
    """The label is well formed but its signature does not verify: it was altered or forged."""


class UnknownKey(BadSignature):
    """The label names a signing key that the verifier does not trust."""


class SupersededLabel(PayloadError):
    """The label is genuine but a reprint with a newer version replaced it."""

    def __init__(self, message: str, label: "SignedLabel", current_version: int):
        super().__init__(message)
        self.label = label
        self.current_version = current_version


@dataclass(frozen=True)
class Label:
    """What a label says about its package, before signing."""

    package_id: str
    item_type: str
    destination: str
    quantity: int
    dapil: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        for name in ("package_id", "item_type", "destination", "dapil"):
            _check_field(name, getattr(self, name))
        for name in ("quantity", "version"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise PayloadError(f"{name} must be a whole number, got {value!r}")
            _check_field(name, str(value))


@dataclass(frozen=True)
class SignedLabel(Label):
    """A parsed label: the fields, the key that signed it and the signature text."""

    key_id: str = ""
    signature: str = ""

    @property
    def text(self) -> str:
        """Return the exact text of the QR code."""
        return signing_text(self, self.key_id) + SEPARATOR + self.signature

    @property
    def verification_code(self) -> str:
        """Return the short code printed under the QR for manual entry."""
        return verification_code(self.signature)

    def unsigned(self) -> Label:
        """Return the label fields without key and signature."""
        return Label(self.package_id, self.item_type, self.destination, self.quantity,
                     self.dapil, self.version)


def _check_field(name: str, value: str) -> None:
    pattern, rule = _FIELD_RULES[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise PayloadError(f"{name} {value!r} is not valid: expected {rule}")


def signing_text(label: Label, key_id: str) -> str:
    """Return the text that is signed: every field but the signature, joined by '.'."""
    _check_field("key_id", key_id)
    return SEPARATOR.join([MARKER, key_id, label.package_id, label.item_type,
                           label.destination, label.dapil, str(label.quantity),
                           str(label.version)])


def parse(text: str) -> SignedLabel:
    """Split a scanned text into a SignedLabel, checking its shape but not its signature."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise PayloadError(f"label text must be ASCII, got {text[:60]!r}") from None
    if not isinstance(text, str):
        raise PayloadError(f"label text must be a string, got {type(text).__name__}")
    shown = text if len(text) <= 60 else text[:57] + "..."
    if len(text) > MAX_LENGTH:
        raise PayloadError(f"label text is {len(text)} characters long, more than {MAX_LENGTH}: {shown!r}")
    cleaned = text.strip().upper()
    if not cleaned:
        raise PayloadError("label text is empty")
    parts = cleaned.split(SEPARATOR)
    if parts[0] != MARKER:
        raise PayloadError(f"not a Jejak label: {shown!r} does not start with {MARKER + SEPARATOR!r}")
    if len(parts) != len(_FIELDS) + 1:
        raise PayloadError(
            f"label {shown!r} has {len(parts) - 1} fields after {MARKER!r}, expected {len(_FIELDS)}"
            " (truncated or joined scan?)")
    values = dict(zip(_FIELDS, parts[1:]))
    for name in _FIELDS:
        _check_field(name, values[name])
    return SignedLabel(
        package_id=values["package_id"], item_type=values["item_type"],
        destination=values["destination"], quantity=int(values["quantity"]),
        dapil=values["dapil"], version=int(values["version"]),
        key_id=values["key_id"], signature=values["signature"])


def _raw_public_key(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(public_key) -> str:
    """Return the 8-character key id of an Ed25519 public key (derived, never chosen)."""
    digest = hashlib.sha256(b"jejak-label-key:" + _raw_public_key(public_key)).digest()
    return base64.b32encode(digest[:5]).decode("ascii")


def sign(label: Label, private_key) -> SignedLabel:
    """Sign a label with an Ed25519 private key and return it with its key id and signature."""
    if isinstance(label, SignedLabel):
        label = label.unsigned()
    key_id = key_id_for(private_key.public_key())
    message = signing_text(label, key_id).encode("ascii")
    signature = base64.b32encode(private_key.sign(message)).decode("ascii").rstrip("=")
    return SignedLabel(**label.__dict__, key_id=key_id, signature=signature)


def verify(text_or_label, public_keys: Mapping[str, object],
           current_version: int | None = None) -> SignedLabel:
    """Parse and verify a label against trusted public keys (key id -> Ed25519 public key).

    Raises UnknownKey when the signing key is not trusted, BadSignature when
    the text was altered or forged, and SupersededLabel when ``current_version``
    is given and is newer than the label's version.
    """
    from cryptography.exceptions import InvalidSignature

    label = text_or_label if isinstance(text_or_label, SignedLabel) else parse(text_or_label)
    key = public_keys.get(label.key_id)
    if key is None:
        raise UnknownKey(f"label for package {label.package_id!r} is signed with key "
                         f"{label.key_id!r}, which is not trusted here")
    signature = base64.b32decode(label.signature + "=" * (-len(label.signature) % 8))
    try:
        key.verify(signature, signing_text(label, label.key_id).encode("ascii"))
    except InvalidSignature:
        raise BadSignature(f"label for package {label.package_id!r} does not match its signature "
                           f"under key {label.key_id!r}: the code was altered or forged") from None
    if current_version is not None and label.version < current_version:
        raise SupersededLabel(
            f"label for package {label.package_id!r} is version {label.version}, "
            f"superseded by reprint version {current_version}", label, current_version)
    return label


def verification_code(signature: str) -> str:
    """Return the 8-character code (as XXXX-XXXX) that a person types when the QR is unreadable.

    It is derived from the signature, so it changes with every reprint and
    cannot be made without the private key; it identifies a label, it does not
    prove one on its own.
    """
    digest = hashlib.sha256(b"jejak-vcode:" + signature.encode("ascii")).digest()
    code = base64.b32encode(digest[:5]).decode("ascii")
    return code[:4] + "-" + code[4:]


_MANUAL = re.compile(r"\s*(%s)\s*[\s/:]\s*([A-Z2-7]{4})-?([A-Z2-7]{4})\s*" % _ID)


def parse_manual_entry(text: str) -> tuple[str, str]:
    """Split a hand-typed 'PACKAGE-ID CODE' entry into (package_id, 'XXXX-XXXX')."""
    match = _MANUAL.fullmatch(text.upper()) if isinstance(text, str) else None
    if not match:
        raise PayloadError(f"manual entry {text!r} is not 'PACKAGE-ID XXXX-XXXX' "
                           "(package id, a space, then the 8-character code under the QR)")
    return match.group(1), match.group(2) + "-" + match.group(3)


def with_version(label: Label, version: int) -> Label:
    """Return a copy of a label with another version (what a reprint signs)."""
    base = label.unsigned() if isinstance(label, SignedLabel) else label
    return replace(base, version=version)
