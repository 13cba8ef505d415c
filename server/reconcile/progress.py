"""A region's progress per child and level; what is expected at a place (scanner cache)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from server.models import (
    COUNT_ACTIONS,
    LEVELS,
    STATE_LEVELS,
    Anomaly,
    LabelRecord,
    Location,
    Package,
    PackageState,
    ScanEvent,
    province_of,
)
from server.reconcile.anomalies import _conditions, _region_range
from server.reconcile.sweep import evaluated_at
from server.reconcile.timelines import new_context
from server.sql import NO_HASH_JOIN, NO_JIT, _run_with


def progress(session: Session, region: Location, as_of=None, *,
             clock_skew_minutes: int | None = None) -> dict:
    """Return, for each child region, packages expected, dispatched, received per level, anomalies.

    One rule at every level, so a region's figures are the sum of its children's and of
    its own office's (``here``): packages count under their destination; an open
    anomaly counts under the place where it happened (``anomalies``) and, separately
    marked, under its package's destination (``anomalies_bound_here``).  See
    docs/dashboard.md ("Where a problem counts").  ``as_of`` as in ``list_anomalies``
    (a future instant is answered hypothetically).
    """
    return evaluated_at(session, as_of, clock_skew_minutes,
                         lambda at, now: _progress(session, region, at, now))


def _progress(session: Session, region: Location, as_of: dt.datetime, now: dt.datetime) -> dict:
    """Return progress per child region as of an instant (the sweep has run)."""
    children = session.execute(select(Location.code, Location.name, Location.level, Location.path)
                               .where(Location.parent_id == region.id)
                               .order_by(Location.code)).all()

    def figures(code, name, level) -> dict:
        return {"code": code, "name": name, "level": level, "expected": 0, "dispatched": 0,
                "received": {lv: 0 for lv in LEVELS[1:]}, "anomalies": {},
                "anomalies_bound_here": {}, "overdue": 0,
                "counted": {"packages": 0, "labelled": 0, "units": 0, "damaged": 0}}

    out = {c.path: figures(c.code, c.name, c.level) for c in children}
    # The region's own office: what is bound for it, and what happened there.
    out[region.path] = figures(region.code, region.name, region.level)
    low, high = _region_range(region)
    start = len(region.path)

    def child_of(path: str) -> str:
        """Return the path of the child region a path lies in (the region's own: itself)."""
        rest = path[start:]
        if not rest:
            return region.path
        return region.path + rest.split("/", 1)[0] + "/"

    def by_time(column):
        """Return SUM(1 when the column is set and not after as_of)."""
        return func.sum(case((and_(column.is_not(None), column <= as_of), 1), else_=0))

    at_destination = case(*[(Location.level == lv, getattr(PackageState, f"{lv}_at"))
                            for lv in STATE_LEVELS], else_=None)
    counts = (select(Location.path, Location.level, func.count(Package.id),
                     by_time(PackageState.dispatched_at),
                     *[by_time(getattr(PackageState, f"{lv}_at")) for lv in LEVELS[1:]],
                     by_time(at_destination))
              .join(Location, Location.id == Package.destination_id)
              .outerjoin(PackageState, PackageState.package_id == Package.id)
              .where(Location.path >= low, Location.path < high)
              .group_by(Location.path, Location.level))
    # Below the top region the packages are a small share of the plan, read best by index
    # from each place; the planner prefers a (parallel) sequential scan of every package
    # and a hash join (regency 3513 of East Java: 240 ms against 95-150 ms).
    rows = _run_with(session, counts, NO_HASH_JOIN if region.parent_id is not None else {})
    ctx_deadlines = new_context(session, now).deadlines
    for path, level, expected, dispatched, *rest in rows:
        child = out.get(child_of(path))
        if child is None:
            continue
        received, delivered = rest[:-1], rest[-1]
        child["expected"] += expected
        child["dispatched"] += int(dispatched or 0)
        for lv, n in zip(LEVELS[1:], received):
            child["received"][lv] += int(n or 0)
        deadline = ctx_deadlines.for_level(path, level)
        if deadline is not None and deadline <= as_of:
            child["overdue"] += expected - int(delivered or 0)
    for path, packages, labelled, units, damaged in _counted_at_destination(session, low, high,
                                                                           as_of):
        child = out.get(child_of(path))
        if child is not None:
            figures_ = child["counted"]
            figures_["packages"] += packages
            figures_["labelled"] += int(labelled or 0)
            figures_["units"] += int(units or 0)
            figures_["damaged"] += int(damaged or 0)
    conds = _conditions(None, "open", as_of)
    # Where it happened, and (marked apart) where its package was bound: each a sum that
    # adds up across levels.  Grouped in SQL: one row per (kind, path), each from one
    # range of the anomalies' (path, id) indexes.
    for key, path_col in (("anomalies", Anomaly.location_path),
                          ("anomalies_bound_here", Anomaly.destination_path)):
        grouped = (select(Anomaly.kind, path_col, func.count())
                   .where(path_col >= low, path_col < high, *conds)
                   .group_by(Anomaly.kind, path_col))
        for kind, path, n in _run_with(session, grouped, NO_JIT):
            child = out.get(child_of(path))
            if child is not None:
                child[key][kind] = child[key].get(kind, 0) + n
    here = out.pop(region.path)
    return {"region": {"code": region.code, "name": region.name, "level": region.level},
            "children": list(out.values()), "here": here}


def _counted_at_destination(session: Session, low: str, high: str, as_of: dt.datetime):
    """Return (destination path, packages, labelled, counted, damaged units) of counted packages.

    What the receivers counted where the package was bound (the TPS for a TPS's
    ballots): the latest count made there by ``as_of`` (a recount replaces a
    miscount, as the quantity_mismatch rule reads it), against the quantity the
    plan states.  Packages nobody counted at their destination are not in it.
    """
    latest = (select(ScanEvent.package_id, ScanEvent.counted_quantity,
                     ScanEvent.damaged_quantity,
                     func.row_number().over(partition_by=ScanEvent.package_id,
                                            order_by=(ScanEvent.scanned_at.desc(),
                                                      ScanEvent.id.desc())).label("nth"))
              .join(Package, Package.id == ScanEvent.package_id)
              .join(Location, Location.id == Package.destination_id)
              .where(ScanEvent.location_id == Package.destination_id,
                     ScanEvent.counted_quantity.is_not(None),
                     ScanEvent.action.in_(COUNT_ACTIONS), ScanEvent.scanned_at <= as_of,
                     Location.path >= low, Location.path < high,
                     # Made at the destination, inside the region: in its province's partition.
                     ScanEvent.province == province_of(low))
              .subquery())
    query = (select(Location.path, func.count(), func.sum(Package.quantity),
                    func.sum(latest.c.counted_quantity),
                    func.sum(func.coalesce(latest.c.damaged_quantity, 0)))
             .join(Package, Package.id == latest.c.package_id)
             .join(Location, Location.id == Package.destination_id)
             .where(latest.c.nth == 1)
             .group_by(Location.path))
    return session.execute(query).all()


def expected_at(session: Session, location: Location, *, after: str | None = None,
                limit: int | None = None) -> list[dict]:
    """Return the packages bound for this location or below it (the scanner's offline cache).

    In package id order, those after ``after``, at most ``limit``; one query.
    ``verification_code`` is that of the current label version when it is
    registered (the newest registered if several keys printed it), else None.
    """
    low, high = _region_range(location)
    code = (select(LabelRecord.verification_code)
            .where(LabelRecord.package_id == Package.id,
                   LabelRecord.version == Package.label_version)
            .order_by(LabelRecord.id.desc()).limit(1).correlate(Package).scalar_subquery())
    query = (select(Package.package_id, Package.item_type, Package.quantity, Location.code,
                    Package.dapil, Package.label_version, code)
             .join(Location, Location.id == Package.destination_id)
             .where(Location.path >= low, Location.path < high)
             .order_by(Package.package_id))
    if after is not None:
        query = query.where(Package.package_id > after)
    if limit is not None:
        query = query.limit(limit)
    return [{"package_id": r[0], "item_type": r[1], "quantity": r[2], "destination": r[3],
             "dapil": r[4] or "", "label_version": r[5], "verification_code": r[6]}
            for r in session.execute(query)]
