"""Label signing keys: make a pair, write it to files, read it back.

The private key stays with whoever prints labels; the public key goes to the
server (``jejak-server trust-key``), the scanners (``GET /api/v1/keys``) and the
oversight body (``jejak-labels verify``).  Files are PEM:

* ``jejak-label-<KEYID>-private.pem`` - PKCS#8, written with mode 0600
* ``jejak-label-<KEYID>-public.pem``  - SubjectPublicKeyInfo

The key id is derived from the public key (:func:`labels.payload.key_id_for`),
so it can never disagree with the file it came from.
"""

from __future__ import annotations

import os
from pathlib import Path

from .payload import key_id_for


class KeyFileError(ValueError):
    """A key file is missing, unreadable or not an Ed25519 key of the right kind."""


def generate():
    """Return a new Ed25519 private key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def public_pem(public_key) -> str:
    """Return the PEM text of a public key."""
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def private_pem(private_key) -> bytes:
    """Return the unencrypted PKCS#8 PEM bytes of a private key."""
    from cryptography.hazmat.primitives import serialization

    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def write_key_pair(private_key, out_dir) -> tuple[Path, Path]:
    """Write a key pair into out_dir and return (private_path, public_path)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key_id = key_id_for(private_key.public_key())
    private_path = out / f"jejak-label-{key_id}-private.pem"
    public_path = out / f"jejak-label-{key_id}-public.pem"
    if private_path.exists():
        raise KeyFileError(f"{private_path} already exists; refusing to overwrite a signing key")
    data = private_pem(private_key)
    # Create with 0600 from the start so the key is never readable by others.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    public_path.write_text(public_pem(private_key.public_key()), encoding="ascii")
    return private_path, public_path


def _read(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {str(path)!r}: {exc.strerror}") from None


def load_private_key(path):
    """Load an Ed25519 private key from a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{str(path)!r} is not a private key PEM file: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{str(path)!r} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key_pem(data: bytes | str, source: str = "key"):
    """Load an Ed25519 public key from PEM text."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        if b"PRIVATE KEY" in data:
            raise KeyFileError(f"{source!r} is a PRIVATE key; give the public key file") from None
        raise KeyFileError(f"{source!r} is not a public key PEM file: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{source!r} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path):
    """Load an Ed25519 public key from a PEM file."""
    return load_public_key_pem(_read(path), str(path))


def load_public_keys(paths) -> dict:
    """Load several public key files into {key_id: key}."""
    keys = {}
    for path in paths:
        key = load_public_key(path)
        keys[key_id_for(key)] = key
    return keys
