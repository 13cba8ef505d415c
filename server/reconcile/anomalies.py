"""Reading anomalies for a region, as of an instant, and resolving them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session

from server.errors import DomainError
from server.ledger.chain import append_resolution
from server.locks import lock_writes
from server.models import (
    ANOMALY_KINDS,
    ANOMALY_STATUSES,
    EPISODE_KINDS,
    PATH_END,
    Anomaly,
    Location,
    Package,
    utc_now,
)
from server.reconcile.findings import SYSTEM, _append_note
from server.reconcile.sweep import evaluated_at
from server.sql import NO_JIT, _run_with

RESOLVE_STATUSES = ("resolved", "acknowledged")


# A region branch (anomalies at its places, or of packages bound for it) with fewer
# anomalies than this is read as one index range and sorted by id (~40 ms for 64,000
# on a province); a bigger one walks the ids in order (see _region_ids).
RANGE_SORT_LIMIT = 100_000


MAX_NOTE = 4000  # characters of a resolution note


class ResolveError(DomainError):
    """A resolution that cannot be made as asked (bad status, no note, already resolved)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field  # the request field at fault, if one is


def check_resolution(note, status: str) -> str:
    """Return the note to record, or raise ResolveError: the one set of resolution checks.

    The API, the dashboard and ``resolve`` all call it, so a note or status one
    accepts the others accept too.
    """
    if status not in RESOLVE_STATUSES:
        raise ResolveError(f"'status' {status!r} is not one of {', '.join(RESOLVE_STATUSES)}",
                           field="status")
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise ResolveError("'note' must be a non-empty string saying what was done",
                           field="note")
    if len(note) > MAX_NOTE:
        raise ResolveError(f"'note' is {len(note)} characters long, more than {MAX_NOTE}",
                           field="note")
    return note


def _region_range(region: Location) -> tuple[str, str]:
    """Return the (low, high) path bounds of a region."""
    return region.path, region.path + PATH_END


def _system_ended_after(as_of: dt.datetime):
    """Condition: a missing episode the system closed, but only after ``as_of``."""
    return and_(Anomaly.kind.in_(EPISODE_KINDS), Anomaly.resolved_by == SYSTEM,
                Anomaly.ended_at.is_not(None), Anomaly.ended_at > as_of)


def _conditions(kind, status, as_of: dt.datetime) -> list:
    """Return the filters for kind, status and the as_of view of deadline kinds."""
    conds = []
    if kind is not None:
        conds.append(Anomaly.kind == kind)
    conds.append(or_(Anomaly.kind.not_in((*EPISODE_KINDS, "late")), Anomaly.detected_at <= as_of))
    if status == "open":
        conds.append(or_(Anomaly.status == "open", _system_ended_after(as_of)))
    elif status == "resolved":
        conds.append(and_(Anomaly.status == "resolved", ~_system_ended_after(as_of)))
    elif status is not None:
        conds.append(Anomaly.status == status)
    return conds


def _region_ids(session: Session, region: Location, conds: list, after_id: int | None,
                limit: int):
    """Return a union selecting the first ids of anomalies at, or of packages bound for, the region."""
    low, high = _region_range(region)
    after = [Anomaly.id > after_id] if after_id is not None else []
    branches = []
    # Each branch is cut to the page before the union: no sort of the whole region.
    for path in (Anomaly.location_path, Anomaly.destination_path):
        in_range = [path >= low, path < high, *after]
        # Counted with LIMIT on the (path, id) index: a few ms at most.
        size = session.scalar(select(func.count()).select_from(
            select(Anomaly.id).where(*in_range).limit(RANGE_SORT_LIMIT).subquery()))
        # Ordered by the id itself, PostgreSQL walks the primary key filtering on the
        # path, as if a region's anomalies were spread evenly over the ids; they are
        # clustered (the sweep raises them in package order: 3513's came after 661,043
        # others, 0.7 s).  "id + 0" makes it read the region's range and sort it; only
        # a region too big for that walks the ids, finding its rows early.
        order = Anomaly.id if size >= RANGE_SORT_LIMIT else Anomaly.id + 0
        branches.append(select(Anomaly.id).where(*in_range, *conds).order_by(order)
                        .limit(limit).subquery().select())
    return union(*branches).subquery()


def anomaly_dict(a: Anomaly, package_id: str | None, location: str | None,
                 as_of: dt.datetime | None = None) -> dict:
    """Return an anomaly as the API shows it (its status as of ``as_of``)."""
    item = {"id": a.id, "kind": a.kind, "package_id": package_id or a.claimed_package or None,
            "location": location, "detected_at": a.detected_at, "status": a.status,
            "evidence": a.evidence, "detail": a.detail, "facts": a.facts,
            "resolved_at": a.resolved_at,
            "resolved_by": a.resolved_by or None, "resolution_note": a.resolution_note or None,
            "acknowledged_at": a.acknowledged_at, "acknowledged_by": a.acknowledged_by or None}
    if (as_of is not None and a.kind in EPISODE_KINDS and a.resolved_by == SYSTEM
            and a.ended_at is not None and a.ended_at > as_of):
        item.update(status="open", resolved_at=None, resolved_by=None, resolution_note=None)
    return item


def as_anomaly_dict(item) -> dict:
    """Return an anomaly in its one dict form, from that form or from an Anomaly row."""
    if isinstance(item, dict):
        return dict(item)
    return anomaly_dict(item, item.package.package_id if item.package is not None else None,
                        item.location.code if item.location is not None else None)


def list_anomalies(session: Session, region: Location, kind=None, status=None, as_of=None,
                   after_id=None, limit=200, *, clock_skew_minutes: int | None = None
                   ) -> tuple[list[dict], int | None]:
    """Return a page of the region's anomalies by id, and the last id when more follow.

    ``as_of`` (naive UTC, default now) evaluates ``missing`` and ``late`` at
    that instant: episodes not yet begun are left out, ended ones show as
    open.  An instant in the future is answered hypothetically (what will be
    missing if nothing more is scanned) inside a savepoint that is rolled back.
    """
    if kind is not None and kind not in ANOMALY_KINDS:
        raise ResolveError(f"kind {kind!r} is not one of {', '.join(ANOMALY_KINDS)}")
    if status is not None and status not in ANOMALY_STATUSES:
        raise ResolveError(f"status {status!r} is not one of {', '.join(ANOMALY_STATUSES)}")
    return evaluated_at(session, as_of, clock_skew_minutes,
                         lambda at, _now: _page(session, region, kind, status, at, after_id, limit))




def _page(session, region, kind, status, as_of, after_id, limit):
    """Return one page of a region's anomalies and the cursor of the next."""
    ids_sub = _region_ids(session, region, _conditions(kind, status, as_of), after_id, limit + 1)
    ids = [row[0] for row in _run_with(session, select(ids_sub.c.id).order_by(ids_sub.c.id)
                                       .limit(limit + 1), NO_JIT)]
    more = len(ids) > limit
    ids = ids[:limit]
    rows = session.execute(
        select(Anomaly, Package.package_id, Location.code)
        .outerjoin(Package, Package.id == Anomaly.package_id)
        .outerjoin(Location, Location.id == Anomaly.location_id)
        .where(Anomaly.id.in_(ids)).order_by(Anomaly.id)).all() if ids else []
    items = [anomaly_dict(a, pid, code, as_of) for a, pid, code in rows]
    return items, (ids[-1] if more and ids else None)


def resolve(session: Session, anomaly_id: int, principal, note: str,
            status: str = "resolved") -> dict:
    """Acknowledge or resolve an anomaly with a note; who and when are kept, nothing deleted."""
    note = check_resolution(note, status)
    row = session.execute(
        select(Anomaly, Package.package_id, Location.code, Location.path)
        .outerjoin(Package, Package.id == Anomaly.package_id)
        .outerjoin(Location, Location.id == Anomaly.location_id)
        .where(Anomaly.id == anomaly_id)).first()
    if row is None:
        raise LookupError(f"no anomaly {anomaly_id}")
    a, package_id, code, path = row
    paths = [path] if path else []
    if a.package_id is not None:
        paths.append(session.scalar(select(Location.path).join(
            Package, Package.destination_id == Location.id).where(Package.id == a.package_id)))
    if not any(p and principal.covers(p) for p in paths):
        raise PermissionError(f"anomaly {anomaly_id} is outside your region "
                              f"{principal.region_code!r}")
    if not principal.may_resolve:
        raise PermissionError(f"role {principal.role!r} may not resolve anomalies")
    if status == "acknowledged" and a.status == "resolved":
        raise ResolveError(f"anomaly {anomaly_id} is already resolved; it cannot be acknowledged")
    lock_writes(session)
    now = utc_now()
    if status == "acknowledged":
        a.acknowledged_at, a.acknowledged_by = now, principal.name
    else:
        a.resolved_at, a.resolved_by = now, principal.name
    a.status = status
    a.resolution_note = _append_note(a.resolution_note, note)
    append_resolution(session, a)
    session.flush()
    return anomaly_dict(a, package_id, code)
