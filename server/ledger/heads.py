"""Signed heads: after every append the server signs ``(seq, chain)``; witnesses keep them.

A head is ``{"seq", "chain", "signed_at", "key_id", "signature"}``: the Ed25519
ledger key signs ``jejak-ledger-v1:head:<seq>:<chain hex>:<signed_at>``.  The
newest one is kept in ``ledger_head`` (one row, written in the appending
transaction) and served by ``GET /api/v1/ledger/head`` and ``jejak-server
ledger-head``.  Whoever keeps a head can later show that the log still holds,
at that seq, the chain the server signed: a log cut short below it is
``TRUNCATED``, one whose chain differs there is ``FORKED`` (``verify-log
--head``).  A witness (``server.ledger.witness``) fetches heads on a schedule
and checks that each extends the one before through the entries between them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.ledger.checkpoints import _public_raw, key_id_of
from server.ledger.content import FORMAT, GENESIS, LedgerError, _time
from server.models import LedgerEntry, LedgerHead, utc_now

HEAD_FIELDS = ("seq", "chain", "signed_at", "key_id", "signature")
HEAD_ROW = 1  # ledger_head holds one row: the newest signed head


def head_message(seq: int, chain_hex: str, signed_at: str) -> bytes:
    """Return the bytes a head's signature covers."""
    return f"{FORMAT}:head:{seq}:{chain_hex}:{signed_at}".encode("ascii")


def sign_head(seq: int, chain: bytes, private_key, now: dt.datetime) -> dict:
    """Return the signed head of the chain at seq."""
    signed_at = _time(now)
    return {"seq": seq, "chain": chain.hex(), "signed_at": signed_at,
            "key_id": key_id_of(_public_raw(private_key)),
            "signature": private_key.sign(head_message(seq, chain.hex(), signed_at)).hex()}


def store_head(session: Session, seq: int, chain: bytes, private_key, now: dt.datetime) -> dict:
    """Sign the head and keep it as the newest (the caller holds the ledger lock and commits)."""
    head = sign_head(seq, chain, private_key, now)
    values = {"seq": seq, "chain": chain, "signed_at": now, "key_id": head["key_id"],
              "signature": head["signature"]}
    # Core statements on the session's connection: an ORM UPDATE would autoflush and
    # synchronise the session's objects first, for a row no object holds.
    table = LedgerHead.__table__
    connection = session.connection()
    done = connection.execute(update(table).where(table.c.id == HEAD_ROW).values(**values))
    if not done.rowcount:
        connection.execute(table.insert().values(id=HEAD_ROW, **values))
    return head


def current_head(session: Session, private_key) -> dict:
    """Return the newest signed head; sign the log's last entry when none is kept (older logs)."""
    row = session.get(LedgerHead, HEAD_ROW)
    last = session.execute(select(LedgerEntry.seq, LedgerEntry.chain)
                           .order_by(LedgerEntry.seq.desc()).limit(1)).first()
    if row is not None and (last is None or row.seq == last.seq):
        return {"seq": row.seq, "chain": bytes(row.chain).hex(), "signed_at": _time(row.signed_at),
                "key_id": row.key_id, "signature": row.signature}
    seq, chain = (last.seq, bytes(last.chain)) if last else (0, GENESIS)
    return sign_head(seq, chain, private_key, utc_now())


def head_problem(head, public_keys: dict[str, bytes]) -> str | None:
    """Return why a head is not a head signed by one of these keys ({key id: raw}), or None."""
    if not isinstance(head, dict) or set(HEAD_FIELDS) - set(head):
        return f"not a signed head: it needs the fields {', '.join(HEAD_FIELDS)}"
    raw = public_keys.get(head["key_id"])
    if raw is None:
        return f"it is signed by ledger key {head['key_id']!r}, not by a key you trust"
    try:
        seq = int(head["seq"])
        bytes.fromhex(head["chain"])
        Ed25519PublicKey.from_public_bytes(raw).verify(
            bytes.fromhex(head["signature"]), head_message(seq, head["chain"], head["signed_at"]))
    except (ValueError, TypeError, InvalidSignature):
        return "its signature does not verify"
    return None


def read_heads(path) -> list[dict]:
    """Return the heads in a file: one JSON object, or JSON lines (a witness's heads.jsonl)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise LedgerError(f"cannot read head file {str(path)!r}: {exc.strerror}") from None
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, list) else [whole]
    except ValueError:
        pass
    heads = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                heads.append(json.loads(line))
            except ValueError:
                raise LedgerError(f"{path}: line {number} is not JSON: not a signed head") from None
    if not heads:
        raise LedgerError(f"{path} holds no head")
    return heads


def compare_heads(heads: list[dict], chain_at, last_seq: int, public_keys: dict[str, bytes],
                  add) -> None:
    """Hold each head against the log; call add(what, seq, message) for each that fails.

    ``chain_at(seq)`` returns the log's chain at seq (None if absent), ``last_seq`` its end.
    """
    for head in heads:
        why = head_problem(head, public_keys)
        if why:
            add("head", None, f"a head given to check: {why}")
            continue
        seq = int(head["seq"])
        if seq > last_seq:
            add("truncated", seq, f"the head signed at {head['signed_at']} covers seq {seq}, but "
                f"the log ends at seq {last_seq}: {seq - last_seq} entries were removed from its end")
            continue
        if seq == 0:
            continue
        there = chain_at(seq)
        if there is None:
            add("truncated", seq, f"the head signed at {head['signed_at']} covers seq {seq}, "
                "which the log no longer holds")
        elif there.hex() != head["chain"]:
            add("forked", seq, f"the head signed at {head['signed_at']} has chain "
                f"{head['chain'][:16]}... at seq {seq}, the log {there.hex()[:16]}...: history "
                "up to there was rewritten")


def public_key_entry(private_key) -> dict[str, bytes]:
    """Return {key id: raw public key} of a ledger private key."""
    raw = _public_raw(private_key)
    return {key_id_of(raw): raw}


def b64(raw: bytes) -> str:
    """Return bytes as base64 text."""
    return base64.b64encode(raw).decode("ascii")
