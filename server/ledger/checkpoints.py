"""Signed checkpoints of the chain head, and the server's Ed25519 ledger key."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from labels.keys import KeyFileError, generate, load_private_key, private_pem
from server.config import write_once
from server.ledger.content import FORMAT, LedgerError, _time


def checkpoint_message(covers_seq: int, head: bytes) -> bytes:
    """Return the bytes a checkpoint signs: the format, the seq it covers and the head there."""
    return f"{FORMAT}:checkpoint:{covers_seq}:{head.hex()}".encode("ascii")


def key_id_of(public_raw: bytes) -> str:
    """Return a short id of a raw Ed25519 public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _public_raw(private_key) -> bytes:
    """Return the 32 raw bytes of a private key's public half."""
    return private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)


def checkpoint_content(covers_seq: int, head: bytes, private_key, now: dt.datetime) -> dict:
    """Return a signed checkpoint record for the chain head at covers_seq."""
    public_raw = _public_raw(private_key)
    return {"type": "checkpoint", "covers_seq": covers_seq, "head": head.hex(),
            "signed_at": _time(now), "key_id": key_id_of(public_raw),
            "public_key": base64.b64encode(public_raw).decode("ascii"),
            "signature": private_key.sign(checkpoint_message(covers_seq, head)).hex()}


def checkpoint_problem(content: dict, head_there: bytes | None, pinned: set[str] | None = None) -> str | None:
    """Return why a checkpoint record is not valid, or None when it is."""
    try:
        public_raw = base64.b64decode(content["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(public_raw)
        covers, head = int(content["covers_seq"]), bytes.fromhex(content["head"])
        key.verify(bytes.fromhex(content["signature"]), checkpoint_message(covers, head))
    except (KeyError, ValueError, TypeError, InvalidSignature):
        return "its signature does not verify"
    if key_id_of(public_raw) != content.get("key_id"):
        return f"its key id {content.get('key_id')!r} does not match its public key"
    if pinned is not None and key_id_of(public_raw) not in pinned:
        return f"it is signed by ledger key {key_id_of(public_raw)}, not by the key you trust"
    if head_there is not None and head != head_there:
        return (f"it signed head {head.hex()[:16]}... at seq {covers}, but the chain there is "
                f"{head_there.hex()[:16]}...: history up to it was rewritten")
    return None


_keys: dict[str, object] = {}


_keys_lock = threading.Lock()


def load_or_create_key(path: Path, create: bool = True):
    """Return the Ed25519 ledger key at path, creating it (mode 0600) when create and absent."""
    path = Path(path)
    with _keys_lock:
        if str(path) in _keys:
            return _keys[str(path)]
        if create and not path.exists():
            write_once(path, lambda: private_pem(generate()))
        try:
            key = load_private_key(path)
        except KeyFileError as exc:
            raise LedgerError(f"ledger key: {exc}") from None
        _keys[str(path)] = key
        return key
