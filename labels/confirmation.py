"""What a handover confirmation signs, and how a device's key is written down.

Imported by the scanner and the server, so it imports nothing heavy.  A party
(the ``giver`` or the ``receiver``) confirms a shipment by signing, with its
device's Ed25519 key, the bytes

    jejak-confirm-v1:<shipment number>:<party>:<digest hex>

where the digest is the SHA-256 of the shipment's canonical content (sorted keys,
no spaces, ASCII only: the ledger's canonical JSON), as the server answers it at
``GET /api/v1/shipments/<number>/digest``.  Naming the number and the party in
the message means a giver's signature can never pass as a receiver's, nor one
shipment's as another's.  A device's public key travels as base64 of its 32 raw
bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

PARTIES = ("giver", "receiver")

MESSAGE_PREFIX = "jejak-confirm-v1"


class ConfirmationError(ValueError):
    """A key, digest or signature that is not well formed (the message quotes it)."""


def canonical(content: dict) -> bytes:
    """Return the canonical bytes of content: the same rule as the server's ledger."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def digest_hex(content: dict) -> str:
    """Return the hex SHA-256 of content's canonical bytes."""
    return hashlib.sha256(canonical(content)).hexdigest()


def confirmation_message(number: str, party: str, digest: str) -> bytes:
    """Return the bytes a party's device signs to confirm a shipment with this digest."""
    if party not in PARTIES:
        raise ConfirmationError(f"party {party!r} is neither 'giver' nor 'receiver'")
    return f"{MESSAGE_PREFIX}:{number}:{party}:{digest}".encode("ascii")


def public_key_raw(text) -> bytes:
    """Return the 32 raw bytes of a base64 Ed25519 public key, else raise ConfirmationError."""
    if not isinstance(text, str) or len(text) > 64:
        raise ConfirmationError("a public key is base64 of 32 bytes (44 characters)")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfirmationError(f"public key {text[:60]!r} is not base64") from None
    if len(raw) != 32:
        raise ConfirmationError(f"public key {text[:60]!r} is {len(raw)} bytes, an Ed25519 "
                                f"public key is 32")
    return raw


def key_text(raw: bytes) -> str:
    """Return a raw public key as the API writes it (base64)."""
    return base64.b64encode(raw).decode("ascii")


def key_id(raw: bytes) -> str:
    """Return a short id of a raw public key (the first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(raw).hexdigest()[:16]


def verify(public_raw: bytes, message: bytes, signature_hex: str) -> bool:
    """Tell whether a hex Ed25519 signature of message verifies with a raw public key."""
    # cryptography only when a signature is checked (labels stays light to import).
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        signature = bytes.fromhex(signature_hex)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
