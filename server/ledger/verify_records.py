"""Check the chained records (``server.ledger.records``) against the live tables.

One pass per table, set-based: the live rows are read beside the latest
ledger entry of each record (``GROUP BY`` the record's row_id or ref, then a
join on that entry), and a second query lists the latest entries whose row is
gone.  For every kind, a row is

* **modified** when its content no longer hashes to the digest of its latest
  entry (the changed fields are named from the entry's content);
* **reordered** when it now holds another chained record (ids swapped);
* **deleted** when its latest entry is not a removal but the row is gone;
* **inserted** when no entry chains it (or its latest entry is a removal).

Per-row queries run only to explain a problem, at most ``MAX_LISTED`` of them.
"""

from __future__ import annotations

import json

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from server.ledger.content import digest_of
from server.ledger.records import RECORD_KINDS, RecordKind
from server.models import LedgerEntry


def check_records(session: Session, report, last_seq: int) -> None:
    """Check every record kind's live rows against their latest chained content."""
    for spec in RECORD_KINDS:
        _check_kind(session, report, spec, last_seq)


def _latest(spec: RecordKind):
    """Return a subquery: each record's identity (``k``) and the seq of its latest entry."""
    ident = LedgerEntry.ref if spec.by_ref else LedgerEntry.row_id
    return (select(ident.label("k"), func.max(LedgerEntry.seq).label("seq"))
            .where(LedgerEntry.kind.in_(spec.kinds)).group_by(ident).subquery())


def _check_kind(session: Session, report, spec: RecordKind, last_seq: int) -> None:
    """Compare one table with its chained records: modified, reordered, inserted, deleted."""
    latest = _latest(spec)
    entry = aliased(LedgerEntry, name="latest_entry")
    live = (spec.select().add_columns(entry.seq.label("e_seq"), entry.kind.label("e_kind"),
                                      entry.ref.label("e_ref"), entry.digest.label("e_digest"))
            .outerjoin(latest, latest.c.k == spec.key)
            .outerjoin(entry, entry.seq == latest.c.seq)
            .order_by(spec.key)
            .execution_options(yield_per=5000))
    what = spec.kind.replace("_", " ")
    for row in session.connection().execute(live):
        content = spec.content(row)
        ref = spec.ref(row)
        where = f"{what} {ref}" + _row(spec, ref, spec.row_id(row))
        if row.e_seq is None or row.e_kind == spec.removal:
            report.add("inserted", None, f"{where} is in {spec.table} but no ledger entry chains it"
                       + (f" (removed at seq {row.e_seq})" if row.e_seq is not None else ""),
                       position=last_seq + 0.5, record=spec.kind)
        elif digest_of(content) != bytes(row.e_digest):
            _explain(session, report, spec, row, content, where)
    gone = (select(latest.c.k, entry.seq, entry.ref)
            .join(entry, entry.seq == latest.c.seq)
            .where(entry.kind != spec.removal,
                   ~exists().where(spec.key == latest.c.k))
            .order_by(entry.seq))
    for k, seq, ref in session.connection().execute(gone):
        report.add("deleted", seq, f"{what} {ref}" + _row(spec, ref, k)
                   + f", chained at seq {seq}, is gone from {spec.table}", record=spec.kind)


def _row(spec: RecordKind, ref: str, row_id) -> str:
    """Return " (row N)" when the record's name is not already its row id."""
    return "" if spec.by_ref or ref == str(row_id) else f" (row {row_id})"


def _explain(session: Session, report, spec: RecordKind, row, content: dict, where: str) -> None:
    """Report a row that differs from its latest entry: reordered (another record's) or modified."""
    if report.full(spec.kind):
        report.add("modified", row.e_seq, where, record=spec.kind)
        return
    ref = spec.ref(row)
    if not spec.by_ref and ref != row.e_ref:
        other = session.scalar(select(LedgerEntry.row_id).where(
            LedgerEntry.kind == spec.kind, LedgerEntry.ref == ref,
            LedgerEntry.row_id != row.id).order_by(LedgerEntry.seq.desc()).limit(1))
        if other is not None:
            report.add("reordered", row.e_seq,
                       f"row {row.id} of {spec.table} was {spec.kind.replace('_', ' ')} "
                       f"{row.e_ref} when chained but now holds {ref}, which the ledger chains "
                       f"as row {other}", record=spec.kind)
            return
    chained = json.loads(session.scalar(select(LedgerEntry.content)
                                        .where(LedgerEntry.seq == row.e_seq)) or "{}")
    changed = sorted(f for f in set(content) | set(chained)
                     if f != "type" and content.get(f) != chained.get(f))
    shown = ", ".join(f"{f} {chained.get(f)!r} -> {content.get(f)!r}" for f in changed[:4])
    report.add("modified", row.e_seq, f"{where} changed since its last chained entry without "
               f"a new one: {shown}" + (" ..." if len(changed) > 4 else ""), record=spec.kind)
