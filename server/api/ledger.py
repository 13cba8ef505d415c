"""The ledger's public face: the newest signed head, the digests a witness checks, the key.

Every authenticated role may read them (observers first of all): digests and
kinds reveal no record's content, only how many entries of each kind there are.
"""

from __future__ import annotations

from flask import current_app, jsonify
from sqlalchemy import select

from server.api.parsing import authenticate, query_args
from server.config import ledger_key_path
from server.db import get_session
from server.errors import ApiError
from server.ledger.checkpoints import load_or_create_key
from server.ledger.heads import b64, current_head, public_key_entry
from server.models import LedgerEntry

MAX_ENTRIES = 10_000


def _key():
    """Return the app's ledger signing key."""
    return load_or_create_key(ledger_key_path(current_app))


def head():
    """Show the newest signed head of the ledger: seq, chain, signed_at, key_id, signature."""
    authenticate()
    query_args(())
    return jsonify(current_head(get_session(), _key()))


def key():
    """Show the ledger's public key, for a witness or verifier to pin."""
    authenticate()
    query_args(())
    [(key_id, raw)] = public_key_entry(_key()).items()
    return jsonify({"key_id": key_id, "public_key": b64(raw)})


def _whole(args: dict, name: str, default: int, low: int, high: int) -> int:
    """Return a whole-number query parameter within [low, high], else 400."""
    value = args.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise ApiError(400, f"{name} {value[:40]!r} must be a whole number from {low} to {high}",
                       code="invalid_parameter", details={"parameter": name, "value": value[:40]})
    return int(value)


def entries():
    """List ledger entries after a seq: seq, kind and digest (a witness's consistency check)."""
    authenticate()
    args = query_args(("after", "limit"))
    after = _whole(args, "after", 0, 0, 2**62)
    limit = _whole(args, "limit", MAX_ENTRIES, 1, MAX_ENTRIES)
    rows = get_session().execute(
        select(LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.digest)
        .where(LedgerEntry.seq > after).order_by(LedgerEntry.seq).limit(limit)).all()
    items = [{"seq": r.seq, "kind": r.kind, "digest": bytes(r.digest).hex()} for r in rows]
    return jsonify({"entries": items, "next": items[-1]["seq"] if len(items) == limit else None})
