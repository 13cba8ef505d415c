"""Tamper-evident log: scan events and anomaly resolutions, hash-chained in commit order.

Every recorded scan and every change of an anomaly's resolution gets one
``ledger_entries`` row::

    digest = sha256(canonical JSON of the record's immutable content)
    chain  = sha256(previous entry's chain || digest)      (32 zero bytes before seq 1)

Scan content is recomputed from the live ``scan_events`` row when the log is
verified (the ledger keeps only the digest), so editing, deleting or swapping
a scan row shows; a resolution's content is kept in the entry, because the
anomaly row changes as it is acknowledged and resolved.  Every
``LEDGER_CHECKPOINT_EVERY`` entries, and on ``jejak-server checkpoint``, a
checkpoint entry signs the chain head with the server's Ed25519 ledger key
(``LEDGER_KEY_FILE``): whoever holds a checkpoint (or an export) can tell
that history up to it was not rewritten, even by someone who can write to
the database, as long as the key stays off the database host.

Order: ingest and resolution call :func:`append_scan_contents` (or
:func:`append_scans`, which reads the rows back) / :func:`append_resolution`
inside their transaction, just before commit.  On PostgreSQL the append takes
the transaction-scoped advisory lock :data:`LOCK_KEY` and holds it to commit,
so the chain order is the commit order and the head it reads is the last
committed one; SQLite serialises writers by itself (the transaction already
holds the write lock once its scans are flushed).  Verification lives in
``server/ledger_verify.py``, the commands in ``server/ledger_cli.py``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import threading
from pathlib import Path

from sqlalchemy import (BigInteger, DateTime, Index, Integer, LargeBinary, String, Text, select,
                        text)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from server.models import Anomaly, Base, Location, Package, ScanEvent, utc_now

GENESIS = bytes(32)
# Transaction-scoped advisory lock that serialises appends (PostgreSQL); "JEJAKLG".
LOCK_KEY = 0x4A454A414B4C47
FORMAT = "jejak-ledger-v1"
ENTRY_KINDS = ("scan", "resolution", "checkpoint")


class LedgerError(ValueError):
    """The ledger cannot be appended to or checked as asked (bad key file, empty log...)."""


class LedgerEntry(Base):
    """One link of the chain: a scan, a resolution or a signed checkpoint."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_kind_row", "kind", "row_id"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    # scan_events.id or anomalies.id (null for checkpoints)
    row_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    # scan uuid or anomaly id: names the record even after its row is gone
    ref: Mapped[str] = mapped_column(String(64), default="")
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain: Mapped[bytes] = mapped_column(LargeBinary(32))
    # the canonical JSON of resolutions and checkpoints (scans: null, read from the row)
    content: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)


# --- canonical content ---------------------------------------------------------------------

def canonical(content: dict) -> bytes:
    """Return the canonical bytes of a record: sorted keys, no spaces, ASCII only."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def digest_of(content: dict) -> bytes:
    """Return the sha256 digest of a record's canonical content."""
    return hashlib.sha256(canonical(content)).digest()


def link(prev_chain: bytes, digest: bytes) -> bytes:
    """Return the chain value following prev_chain for an entry with this digest."""
    return hashlib.sha256(prev_chain + digest).digest()


def _time(value: dt.datetime | None) -> str | None:
    """Return a datetime as fixed-width naive-UTC ISO text (microseconds always shown)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


_Pkg = aliased(Package, name="ledger_pkg")
_Box = aliased(Package, name="ledger_box")

# What a scan's digest covers: everything the device and the server recorded about it,
# not the derived `counted` flag (reconciliation may revise it).
SCAN_COLUMNS = (
    ScanEvent.id, ScanEvent.uuid, _Pkg.package_id.label("package"), ScanEvent.claimed_package,
    ScanEvent.label_version, ScanEvent.raw_code, Location.code.label("location"), ScanEvent.action,
    ScanEvent.disposition, _Box.package_id.label("container"), ScanEvent.container_raw,
    ScanEvent.seal, ScanEvent.operator, ScanEvent.device_id, ScanEvent.client_device, ScanEvent.token_id,
    ScanEvent.scanned_at, ScanEvent.received_at, ScanEvent.offline,
)
SCAN_FIELDS = tuple(c.key for c in SCAN_COLUMNS)


def scan_select():
    """Return a SELECT of the columns a scan's content is made of (join it to what you need)."""
    return (select(*SCAN_COLUMNS, Location.path.label("location_path"))
            .select_from(ScanEvent)
            .outerjoin(Location, Location.id == ScanEvent.location_id)
            .outerjoin(_Pkg, _Pkg.id == ScanEvent.package_id)
            .outerjoin(_Box, _Box.id == ScanEvent.container_id))


def scan_content(row, offset: int = 0) -> dict:
    """Return the canonical content of a scan from a row whose SCAN_COLUMNS start at offset."""
    content = dict(zip(SCAN_FIELDS, tuple(row)[offset:offset + len(SCAN_FIELDS)]))
    for name in ("scanned_at", "received_at"):
        content[name] = _time(content[name])
    content["offline"] = bool(content["offline"])
    content["type"] = "scan"
    return content


def resolution_content(session: Session, anomaly: Anomaly) -> dict:
    """Return the canonical content of an anomaly's current resolution state."""
    location = session.get(Location, anomaly.location_id) if anomaly.location_id else None
    package = session.get(Package, anomaly.package_id) if anomaly.package_id else None
    return {
        "type": "resolution", "anomaly": anomaly.id,
        "package": package.package_id if package else None,
        "claimed_package": anomaly.claimed_package or "",
        "location": location.code if location else None,
        "detected_at": _time(anomaly.detected_at), "evidence": anomaly.evidence,
        **live_resolution_fields(anomaly),
    }


# Fields of a resolution entry that must still match the live anomaly row.
RESOLUTION_LIVE_FIELDS = ("kind", "dedup_key", "status", "acknowledged_at", "acknowledged_by",
                          "resolved_at", "resolved_by", "resolution_note")


def live_resolution_fields(anomaly: Anomaly) -> dict:
    """Return the RESOLUTION_LIVE_FIELDS of an anomaly row as resolution_content writes them."""
    return {"kind": anomaly.kind, "dedup_key": anomaly.dedup_key, "status": anomaly.status,
            "acknowledged_at": _time(anomaly.acknowledged_at),
            "acknowledged_by": anomaly.acknowledged_by or "",
            "resolved_at": _time(anomaly.resolved_at), "resolved_by": anomaly.resolved_by or "",
            "resolution_note": anomaly.resolution_note or ""}


# --- appending -------------------------------------------------------------------------------

def _lock_and_head(session: Session) -> tuple[int, bytes]:
    """Serialise appenders to commit and return the committed head (seq, chain)."""
    if session.get_bind().dialect.name == "postgresql":
        # Held until this transaction ends: nobody else appends between our read of the head
        # and our commit, and (READ COMMITTED) our next statement sees the last commit.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    head = session.execute(select(LedgerEntry.seq, LedgerEntry.chain)
                           .order_by(LedgerEntry.seq.desc()).limit(1)).first()
    return (head.seq, bytes(head.chain)) if head else (0, GENESIS)


def _insert(session: Session, entries: list[dict]) -> None:
    """Insert ledger rows in one go (COPY on PostgreSQL, one executemany elsewhere)."""
    from server.timelines import bulk_insert

    bulk_insert(session, LedgerEntry.__table__, entries)


def _chain_entries(seq: int, chain: bytes, items, now) -> tuple[list[dict], int, bytes]:
    """Turn (kind, row_id, ref, content, keep_content) items into chained rows."""
    rows = []
    for kind, row_id, ref, content, keep in items:
        seq += 1
        digest = digest_of(content)
        chain = link(chain, digest)
        rows.append({"seq": seq, "kind": kind, "row_id": row_id, "ref": ref, "digest": digest,
                     "chain": chain, "content": canonical(content).decode("ascii") if keep else None,
                     "recorded_at": now})
    return rows, seq, chain


def _append(session: Session, items: list) -> None:
    """Chain items (as ``_chain_entries`` takes them) onto the head, with any checkpoint due."""
    seq, chain = _lock_and_head(session)
    now = utc_now()
    entries, seq, chain = _chain_entries(seq, chain, items, now)
    entries += _auto_checkpoint(seq - len(items), seq, chain, now)
    _insert(session, entries)


def append_scans(session: Session, scan_rows) -> None:
    """Chain newly inserted ScanEvent rows (already flushed, in insertion order).

    ``scan_rows`` may be ScanEvent objects or mappings with an ``id`` (or, failing that,
    a ``uuid``).  The content is read back from the database, so it is exactly what
    verification will recompute.
    """
    rows = list(scan_rows)
    if not rows:
        return
    session.flush()
    keys = [_key_of(r) for r in rows]
    by_id = "id" if all(k[0] == "id" for k in keys) else "uuid"
    wanted = [getattr(r, by_id, None) if not isinstance(r, dict) else r.get(by_id) for r in rows]
    column = ScanEvent.id if by_id == "id" else ScanEvent.uuid
    found = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        # Core execution on the session's connection: the ORM's row processing cost more than the query.
        for row in session.connection().execute(scan_select().where(column.in_(chunk))):
            found[row[0] if by_id == "id" else row[1]] = row  # SCAN_COLUMNS start with id, uuid
    missing = [w for w in wanted if w not in found]
    if missing:
        raise LedgerError(f"cannot chain scans that are not in the database: {missing[:5]!r}")
    _append(session, [("scan", found[w][0], found[w][1], scan_content(found[w]), False)
                      for w in wanted])


def content_of_scan(row: dict, package: str | None, location: str | None,
                    container: str | None) -> dict:
    """Return a scan's canonical content from the values it was just inserted with.

    ``row`` holds the ``scan_events`` columns (with ``id``); ``package``,
    ``location`` and ``container`` are the label id, location code and
    container label id its foreign keys point at.  The result equals what
    :func:`scan_content` reads back from the database (tests/server/test_ledger.py).
    """
    content = {"id": row["id"], "uuid": row["uuid"], "package": package,
               "claimed_package": row["claimed_package"], "label_version": row["label_version"],
               "raw_code": row["raw_code"], "location": location, "action": row["action"],
               "disposition": row["disposition"], "container": container,
               "container_raw": row["container_raw"], "seal": row["seal"],
               "operator": row["operator"], "device_id": row["device_id"],
               "client_device": row["client_device"], "token_id": row["token_id"],
               "scanned_at": _time(row["scanned_at"]), "received_at": _time(row["received_at"]),
               "offline": bool(row["offline"]), "type": "scan"}
    return content


def append_scan_contents(session: Session, contents: list[dict]) -> None:
    """Chain newly inserted scans from their contents (``content_of_scan``), in insertion order.

    The ingest path: it knows every value it inserted, so nothing is read back;
    only the chain head is read, under the ledger lock, just before commit.
    """
    if not contents:
        return
    _append(session, [("scan", c["id"], c["uuid"], c, False) for c in contents])


def _key_of(row) -> tuple[str, object]:
    """Return which identifier a scan row offers: ('id', n) or ('uuid', s)."""
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k, None))
    if get("id") is not None:
        return ("id", get("id"))
    if get("uuid") is not None:
        return ("uuid", get("uuid"))
    raise LedgerError(f"a scan row to chain has neither id nor uuid: {row!r}")


def append_resolution(session: Session, anomaly: Anomaly) -> None:
    """Chain an anomaly's status change (acknowledged/resolved, by whom, when, note)."""
    session.flush()
    content = resolution_content(session, anomaly)
    _append(session, [("resolution", anomaly.id, str(anomaly.id), content, True)])


# --- checkpoints and the ledger key ----------------------------------------------------------

def checkpoint_message(covers_seq: int, head: bytes) -> bytes:
    """Return the bytes a checkpoint signs: the format, the seq it covers and the head there."""
    return f"{FORMAT}:checkpoint:{covers_seq}:{head.hex()}".encode("ascii")


def key_id_of(public_raw: bytes) -> str:
    """Return a short id of a raw Ed25519 public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _public_raw(private_key) -> bytes:
    """Return the 32 raw bytes of a private key's public half."""
    from cryptography.hazmat.primitives import serialization

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
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

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


def key_path(app) -> Path:
    """Return the path of the app's ledger signing key (LEDGER_KEY_FILE or the instance's)."""
    configured = app.config.get("LEDGER_KEY_FILE")
    return Path(configured) if configured else Path(app.instance_path) / "ledger_key.pem"


def load_or_create_key(path: Path, create: bool = True):
    """Return the Ed25519 ledger key at path, creating it (mode 0600) when create and absent."""
    from labels.keys import KeyFileError, generate, load_private_key, private_pem

    path = Path(path)
    with _keys_lock:
        if str(path) in _keys:
            return _keys[str(path)]
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another worker made it first
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(private_pem(generate()))
        try:
            key = load_private_key(path)
        except KeyFileError as exc:
            raise LedgerError(f"ledger key: {exc}") from None
        _keys[str(path)] = key
        return key


def _app_settings():
    """Return (private key, every) from the current app, or (None, 0) outside one."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None, 0
    every = int(current_app.config.get("LEDGER_CHECKPOINT_EVERY") or 0)
    if every <= 0:
        return None, 0
    return load_or_create_key(key_path(current_app)), every


def _auto_checkpoint(before: int, seq: int, chain: bytes, now) -> list[dict]:
    """Return a checkpoint entry when the appended range crossed a multiple of the interval."""
    key, every = _app_settings()
    if key is None or seq // every == before // every:
        return []
    rows, _seq, _chain = _chain_entries(
        seq, chain, [("checkpoint", None, "", checkpoint_content(seq, chain, key, now), True)], now)
    return rows


def checkpoint(session: Session, private_key) -> dict | None:
    """Append a signed checkpoint of the current head; return it (None for an empty log).

    The caller commits.  A log that ends in a checkpoint gets no second one.
    """
    seq, chain = _lock_and_head(session)
    if seq == 0:
        return None
    last = session.get(LedgerEntry, seq)
    if last.kind == "checkpoint":
        return json.loads(last.content)
    now = utc_now()
    content = checkpoint_content(seq, chain, private_key, now)
    entries, _seq, _chain = _chain_entries(seq, chain, [("checkpoint", None, "", content, True)], now)
    _insert(session, entries)
    return content


def backfill(session: Session, batch: int = 5000, progress=None) -> int:
    """Chain the scans that predate the ledger (bulk loads, databases older than 0003_ledger).

    Only scan rows with an id below the first chained scan (all of them on an empty
    ledger) are chained, in id order, committing every ``batch``: a row inserted behind
    the ledger's back gets a higher id and stays reported as inserted.  Returns the count.
    """
    from sqlalchemy import exists, func

    first = session.scalar(select(func.min(LedgerEntry.row_id)).where(LedgerEntry.kind == "scan"))
    unchained = ~exists().where(LedgerEntry.kind == "scan", LedgerEntry.row_id == ScanEvent.id)
    done, last_id = 0, 0
    while True:
        query = scan_select().where(unchained, ScanEvent.id > last_id).order_by(ScanEvent.id).limit(batch)
        if first is not None:
            query = query.where(ScanEvent.id < first)
        rows = session.connection().execute(query).all()
        if not rows:
            return done
        seq, chain = _lock_and_head(session)
        entries, _seq, _chain = _chain_entries(
            seq, chain, [("scan", r.id, r.uuid, scan_content(r), False) for r in rows], utc_now())
        _insert(session, entries)
        session.commit()
        done += len(rows)
        last_id = rows[-1].id
        if progress:
            progress(done)
