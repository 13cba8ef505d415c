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
``server/ledger/verify.py``, the commands in ``server/cli/ledger.py``.
"""

from __future__ import annotations

import json

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from server.config import rules_of
from server.ledger.checkpoints import checkpoint_content, load_or_create_key
from server.ledger.content import (
    GENESIS,
    OPTIONAL_SCAN_FIELDS,
    LedgerError,
    _time,
    canonical,
    digest_of,
    link,
    scan_content,
    scan_select,
)
from server.ledger.heads import store_head
from server.ledger.records import ANOMALIES, RECORD_KINDS, RecordKind
from server.models import Anomaly, LedgerEntry, ScanEvent, utc_now
from server.sql import bulk_insert, chunks, is_postgres, member

# Transaction-scoped advisory lock that serialises appends (PostgreSQL); "JEJAKLG".
LOCK_KEY = 0x4A454A414B4C47



def _lock_and_head(session: Session) -> tuple[int, bytes]:
    """Serialise appenders to commit and return the committed head (seq, chain)."""
    if is_postgres(session):
        # Held until this transaction ends: nobody else appends between our read of the head
        # and our commit, and (READ COMMITTED) our next statement sees the last commit.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    head = session.execute(select(LedgerEntry.seq, LedgerEntry.chain)
                           .order_by(LedgerEntry.seq.desc()).limit(1)).first()
    return (head.seq, bytes(head.chain)) if head else (0, GENESIS)


def _insert(session: Session, entries: list[dict]) -> None:
    """Insert ledger rows in one go (COPY on PostgreSQL, one executemany elsewhere)."""
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
    entries += _auto_checkpoint(session, seq - len(items), seq, chain, now)
    _insert(session, entries)
    _sign_head(session, entries[-1], now)


def _sign_head(session: Session, last: dict, now) -> None:
    """Sign the new head and keep it (server.ledger.heads); a bare session without a key skips it."""
    key_file = rules_of(session).ledger_key_file
    if key_file is not None:
        store_head(session, last["seq"], last["chain"], load_or_create_key(key_file), now)


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
    for chunk in chunks(wanted, 1000):
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
    :func:`scan_content` reads back from the database (tests/server/ledger/test_ledger.py).
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
    for name in OPTIONAL_SCAN_FIELDS:
        if row.get(name) is not None:
            content[name] = row[name]
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
    append_anomalies(session, ids=[anomaly.id], entry_kind="resolution")


def append_anomalies(session: Session, ids=(), keys=(), entry_kind: str = "anomaly") -> None:
    """Chain the current state of these anomalies (by id or dedup key), unless already chained.

    Called after the anomalies were inserted or changed, in the same transaction:
    an anomaly whose latest chained content is already its current one is
    skipped, so callers may name every anomaly they touched.
    """
    ids, keys = list(dict.fromkeys(ids)), list(dict.fromkeys(keys))
    session.flush()
    wheres = [member(session, Anomaly.id, part) for part in chunks(ids)]
    wheres += [member(session, Anomaly.dedup_key, part) for part in chunks(keys)]
    for where in wheres:
        append_records(session, ANOMALIES, where, entry_kind=entry_kind, only_changed=True)


RECORD_PAGE = 10_000  # records read, chained and inserted at a time (a province's plan: 1.7 M)


def append_records(session: Session, spec: RecordKind, where=None, *, entry_kind: str | None = None,
                   only_changed: bool = False) -> int:
    """Chain the current content of the live records of one kind that match ``where``.

    The writer calls it after its insert or update, in the same transaction; the
    records are read back in pages of RECORD_PAGE (one query each, by id), so
    a province's packages are chained in bulk.  ``only_changed`` skips records
    whose latest chained content is already the current one.  Returns the count.
    """
    session.flush()
    pages = _record_pages(session, spec, where)
    if only_changed:
        pages = (_changed_only(session, spec, page) for page in pages)
    return _append_pages(session, (
        [(entry_kind or spec.kind, spec.row_id(r), spec.ref(r), spec.content(r), True) for r in page]
        for page in pages))


def append_removals(session: Session, spec: RecordKind, where) -> int:
    """Chain the removal of the records of one kind matching ``where``; call it before deleting them."""
    session.flush()
    return _append_pages(session, (
        [(spec.removal, spec.row_id(r), spec.ref(r),
          {"type": spec.removal, "record": spec.identity(r), "ref": spec.ref(r)}, True) for r in page]
        for page in _record_pages(session, spec, where)))


def _record_pages(session: Session, spec: RecordKind, where):
    """Yield the live rows of a kind matching ``where`` in pages, in key order."""
    base = spec.select()
    if where is not None:
        base = base.where(where)
    if spec.by_ref:  # a small catalogue: one page
        yield session.connection().execute(base.order_by(spec.key)).all()
        return
    last = None
    while True:
        query = base if last is None else base.where(spec.key > last)
        page = session.connection().execute(query.order_by(spec.key).limit(RECORD_PAGE)).all()
        if page:
            yield page
        if len(page) < RECORD_PAGE:
            return
        last = page[-1].id


def _changed_only(session: Session, spec: RecordKind, page) -> list:
    """Return the rows of a page whose content differs from their latest chained content."""
    if not page:
        return page
    column = LedgerEntry.ref if spec.by_ref else LedgerEntry.row_id
    latest: dict = {}
    for part in chunks([spec.identity(r) for r in page]):
        for ident, digest in session.connection().execute(
                select(column, LedgerEntry.digest).where(LedgerEntry.kind.in_(spec.kinds),
                                                         member(session, column, part))
                .order_by(LedgerEntry.seq)):
            latest[ident] = bytes(digest)
    return [r for r in page if latest.get(spec.identity(r)) != digest_of(spec.content(r))]


def _append_pages(session: Session, pages) -> int:
    """Chain pages of items (as ``_chain_entries`` takes them) onto the head; sign the head once."""
    start = seq = None
    chain = GENESIS
    now = utc_now()
    last = None
    count = 0
    for items in pages:
        if not items:
            continue
        if start is None:
            start, chain = _lock_and_head(session)
            seq = start
        entries, seq, chain = _chain_entries(seq, chain, items, now)
        _insert(session, entries)
        last = entries[-1]
        count += len(items)
    if last is None:
        return 0
    checkpoint_entries = _auto_checkpoint(session, start, seq, chain, now)
    if checkpoint_entries:
        _insert(session, checkpoint_entries)
        last = checkpoint_entries[-1]
    _sign_head(session, last, now)
    return count


def backfill_records(session: Session, progress=None) -> dict[str, int]:
    """Chain the records of every kind the ledger has never chained (databases older than this).

    A kind is backfilled only while the ledger holds no entry of it: once chained,
    a record added behind the ledger's back stays reported as inserted.  Commits
    after each kind; returns {kind: count} of the kinds it chained records of.
    """
    done = {}
    for spec in RECORD_KINDS:
        if session.scalar(select(LedgerEntry.seq).where(LedgerEntry.kind == spec.kind).limit(1)):
            continue
        count = append_records(session, spec)
        session.commit()
        if count:  # a kind with no rows yet (no photo attached so far) has nothing to report
            done[spec.kind] = count
            if progress:
                progress(spec.kind, count)
    return done


def _auto_checkpoint(session: Session, before: int, seq: int, chain: bytes, now) -> list[dict]:
    """Return a checkpoint entry when the appended range crossed a multiple of the interval."""
    rules = rules_of(session)
    every = rules.checkpoint_every
    if every <= 0 or rules.ledger_key_file is None or seq // every == before // every:
        return []
    key = load_or_create_key(rules.ledger_key_file)
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
    store_head(session, entries[-1]["seq"], entries[-1]["chain"], private_key, now)
    return content


def backfill(session: Session, batch: int = 5000, progress=None) -> int:
    """Chain the scans that predate the ledger (bulk loads, databases older than 0003_ledger).

    Only scan rows with an id below the first chained scan (all of them on an empty
    ledger) are chained, in id order, committing every ``batch``: a row inserted behind
    the ledger's back gets a higher id and stays reported as inserted.  Returns the count.
    """
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
        now = utc_now()
        entries, _seq, _chain = _chain_entries(
            seq, chain, [("scan", r.id, r.uuid, scan_content(r), False) for r in rows], now)
        _insert(session, entries)
        _sign_head(session, entries[-1], now)
        session.commit()
        done += len(rows)
        last_id = rows[-1].id
        if progress:
            progress(done)
