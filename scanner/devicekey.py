"""This station's device key: an Ed25519 key pair made at enrolment, kept in the data folder.

The private key is a PEM file beside the outbox (``device_key.pem``, mode 0600, created
once and never overwritten); its public half is registered with the server by
``jejak-scan enrol`` (``POST /api/v1/devices/key``) and signs the handover
confirmations (``labels.confirmation``).  A lost or replaced station is enrolled as
a new device with a new key: the server never accepts a second key for a device.
"""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labels.confirmation import key_id, key_text

KEY_FILE = "device_key.pem"


class DeviceKeyError(RuntimeError):
    """The key file cannot be read or written (the message names the file)."""


def key_path(outbox_path: str | os.PathLike) -> Path:
    """Return where the device key lives: beside the outbox, in the data folder."""
    return Path(outbox_path).parent / KEY_FILE


def load_or_make(path: Path, make: bool = True) -> tuple[Ed25519PrivateKey, bool]:
    """Return the station's private key and whether it was made now (mode 0600, never replaced)."""
    if not path.exists():
        if not make:
            raise DeviceKeyError(f"no device key at {str(path)!r}: run `jejak-scan enrol` first")
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_or_make(path, make=False)[0], False
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        return key, True
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise DeviceKeyError(f"cannot read the device key {str(path)!r}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DeviceKeyError(f"{str(path)!r} is not an Ed25519 private key")
    return key, False


def public_raw(key: Ed25519PrivateKey) -> bytes:
    """Return the 32 raw bytes of the key's public half."""
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def describe(key: Ed25519PrivateKey) -> tuple[str, str]:
    """Return (public key as the API takes it, short key id)."""
    raw = public_raw(key)
    return key_text(raw), key_id(raw)
