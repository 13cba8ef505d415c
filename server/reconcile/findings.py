"""Reconciliation: store what the rules find, sweep for missing packages, answer the dashboard.

Plain Python over a SQLAlchemy session (no Flask).  The rules themselves are in
``server.reconcile.rules``; this module keeps their results:

* ``apply_findings`` diffs a package's freshly judged findings against the
  stored anomalies (by ``dedup_key``): new ones are inserted open, stored open
  ones that no longer hold are closed by the system with the scan that
  disproved them - never deleted;
* ``sweep_missing`` raises ``missing`` for packages nobody scanned, when a
  deadline has passed: ``jejak-server sweep`` (cron) runs it to the end in
  batches; a read sweeps too when at most READ_SWEEP_LIMIT packages are due,
  so no read ever judges a whole province;
* ``list_anomalies``, ``resolve``, ``progress`` and ``expected_at`` are what the
  API and the dashboard call.  Reads may sweep, so callers should commit after
  them (nothing else is written).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.ledger.chain import append_anomalies, append_resolution
from server.models import (
    DERIVED_KINDS,
    STATE_COLUMNS,
    Anomaly,
    Package,
    PackageState,
    destination_path_of,
    location_path_of,
)
from server.reconcile.details import dumps
from server.reconcile.rules import Context, Derived, SeenScan, derive, fmt
from server.sql import bulk_insert, chunks, member

SYSTEM = "system"


def _scan_words(ev: SeenScan | None, ctx: Context) -> str:
    """Return how a closure note names the scan that changed the verdict."""
    if ev is None:
        return "the current plan and schedule"
    loc = ctx.locations.get(ev.location_id)
    where = loc.code if loc else str(ev.location_id)
    return (f"scan {ev.uuid} ({ev.action} at {where}, device time {fmt(ev.scanned_at)}, "
            f"received {fmt(ev.received_at)})")


def close_by_system(session: Session, anomaly: Anomaly, note: str, now: dt.datetime) -> None:
    """Close an anomaly the log no longer supports, saying why; it stays listed as resolved."""
    anomaly.status = "resolved"
    anomaly.resolved_at = now
    anomaly.resolved_by = SYSTEM
    anomaly.resolution_note = _append_note(anomaly.resolution_note, note)
    append_resolution(session, anomaly)


def _reopen(session: Session, anomaly: Anomaly, note: str) -> None:
    """Reopen an anomaly the system had closed, saying why."""
    anomaly.status = "open"
    anomaly.resolved_at = None
    anomaly.resolved_by = ""
    anomaly.ended_at = None
    anomaly.resolution_note = _append_note(anomaly.resolution_note, note)
    append_resolution(session, anomaly)


def retire_key(session: Session, anomaly: Anomaly) -> None:
    """Free a resolved anomaly's dedup key (it keeps ``<key>#<id>``) so the problem can open anew.

    A resolution is a person's judgement of the evidence they saw: later scans of
    the same problem go to a new anomaly, never into one already closed.
    """
    anomaly.dedup_key = f"{anomaly.dedup_key}#{anomaly.id}"
    append_resolution(session, anomaly)
    session.flush()  # the key is free before the new anomaly is inserted


def _append_note(old: str, new: str) -> str:
    """Return a note history with one more line."""
    return f"{old}\n{new}" if old else new


def apply_findings(session: Session, ctx: Context, derived: dict[int, Derived],
                   disprovers: dict[int, SeenScan | None] | None = None) -> list[Anomaly]:
    """Store the findings of freshly judged packages; close what no longer holds.

    ``derived`` maps package row id -> its Derived (judged on its whole
    timeline); ``disprovers`` maps it to the new scan to name when a stored
    anomaly is closed.  Returns the anomalies inserted or changed.
    """
    disprovers = disprovers or {}
    stored: dict[int, dict[str, Anomaly]] = {pid: {} for pid in derived}
    for part in chunks(derived):
        for a in session.scalars(select(Anomaly).where(member(session, Anomaly.package_id, part),
                                                       Anomaly.kind.in_(DERIVED_KINDS))):
            stored[a.package_id][a.dedup_key] = a
    changed: list[Anomaly] = []
    inserts: list[dict] = []
    now = ctx.now
    for pid, result in derived.items():
        mine = stored[pid]
        for key, f in result.findings.items():
            a = mine.get(key)
            if a is None:
                if f.ended_at is not None or f.deferred:
                    continue  # a missing episode that ended before anyone looked, or not yet due
                inserts.append(new_anomaly_row(f, now, *_region_paths(session, ctx, f)))
                continue
            # Parsed once: the property decodes JSON, and a duplicate's list grows long.
            had = a.evidence
            seen = set(had)
            merged = had + [u for u in f.evidence if u not in seen]
            if (merged != had and a.status == "resolved" and a.resolved_by != SYSTEM
                    and f.ended_at is None and not f.deferred):
                # A person resolved it on the evidence they saw: new evidence opens a new one.
                retire_key(session, a)
                inserts.append(new_anomaly_row(f, now, *_region_paths(session, ctx, f)))
                continue
            facts = dumps(f.facts)
            if not f.deferred and (merged != had or a.facts_json != facts):
                a.evidence = merged
                a.detail = f.detail
                a.facts_json = facts
                changed.append(a)
            if f.ended_at is not None:
                a.ended_at = f.ended_at
                changed.append(a)
                if a.status != "resolved":
                    close_by_system(session, a, f"closed by the system: received, "
                                    f"{_scan_words(f.ended_by, ctx)}", now)
                    changed.append(a)
            elif a.status == "resolved" and a.resolved_by == SYSTEM:
                _reopen(session, a, f"reopened by the system at {fmt(now)}: holds again after "
                                    f"{_scan_words(disprovers.get(pid), ctx)}")
                changed.append(a)
        for key, a in mine.items():
            if key not in result.findings and a.status != "resolved":
                close_by_system(session, a, f"closed by the system: disproved by "
                                f"{_scan_words(disprovers.get(pid), ctx)}", now)
                changed.append(a)
    # A sweep can raise tens of thousands at once: plain rows, not ORM objects.
    bulk_insert(session, Anomaly.__table__, inserts)
    # Opened and changed anomalies are chained as they now are (those already chained skipped).
    append_anomalies(session, ids=[a.id for a in changed], keys=[r["dedup_key"] for r in inserts])
    return changed


def new_anomaly_row(f, now: dt.datetime, location_path: str | None = None,
                    destination_path: str | None = None) -> dict:
    """Return the row of a new open anomaly for a finding."""
    return {"kind": f.kind, "dedup_key": f.key, "package_id": f.package_id,
            "claimed_package": f.claimed_package, "location_id": f.location_id,
            "detected_at": f.detected_at, "evidence_json": json.dumps(f.evidence),
            "detail": f.detail, "facts_json": dumps(f.facts), "status": "open", "acknowledged_at": None,
            "acknowledged_by": "", "resolved_at": None, "resolved_by": "",
            "resolution_note": "", "ended_at": None, "location_path": location_path,
            "destination_path": destination_path}


def _region_paths(session: Session, ctx: Context, f) -> tuple[str | None, str | None]:
    """Return the paths of a finding's place and of its package's destination (the region keys)."""
    loc = ctx.locations.get(f.location_id) if f.location_id is not None else None
    place = loc.path if loc is not None else location_path_of(session, f.location_id)
    pkg = ctx.packages.get(f.package_id) if f.package_id is not None else None
    dest = ctx.locations.get(pkg.destination_id) if pkg is not None else None
    destination = dest.path if dest is not None else destination_path_of(session, f.package_id)
    return place, destination


def store_states(session: Session, derived: dict[int, Derived],
                 container_before: dict[int, int | None]) -> None:
    """Write each judged package's PackageState and current container."""
    columns = [getattr(PackageState, name) for name in STATE_COLUMNS]
    existing = {}
    for part in chunks(derived):
        for row in session.execute(select(PackageState.package_id, *columns)
                                   .where(member(session, PackageState.package_id, part))):
            existing[row[0]] = tuple(row[1:])
    table = PackageState.__table__
    rows = [{"package_id": pid, **{name: result.state[name] for name in STATE_COLUMNS}}
            for pid, result in derived.items()
            if existing.get(pid) != tuple(result.state[name] for name in STATE_COLUMNS)]
    # Derived rows: replacing them is one DELETE and one COPY, cheaper than an UPDATE each.
    stale = [row["package_id"] for row in rows if row["package_id"] in existing]
    for part in chunks(stale):
        session.execute(table.delete().where(member(session, table.c.package_id, part)))
    bulk_insert(session, table, rows)
    moved = [{"id": pid, "container_id": r.container_id} for pid, r in derived.items()
             if container_before.get(pid) != r.container_id]
    if moved:
        session.execute(update(Package), moved)


def judge(session: Session, ctx: Context, package_ids: set[int],
          disprovers: dict[int, SeenScan | None] | None = None) -> dict[int, Derived]:
    """Judge these packages (their timelines already loaded) and store the results."""
    derived = {pid: derive(ctx.packages[pid], ctx) for pid in package_ids if pid in ctx.packages}
    apply_findings(session, ctx, derived, disprovers)
    store_states(session, derived, {pid: ctx.packages[pid].container_id for pid in derived})
    return derived
