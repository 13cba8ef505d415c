"""The way back after voting: how far the packages of a region have come back, per child region."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from server.models import BACK_LEVELS, Location, Package, PackageState, utc_now
from server.reconcile.anomalies import _region_range


def return_progress(session: Session, region: Location, as_of: dt.datetime | None = None) -> dict:
    """Return, per child region, packages sent back (a return scan) and received back per level.

    Read from the package states (the first ``return`` scan and the first receipt
    back at each level of the route), by device time up to ``as_of`` (default
    now); one grouped query over the region's packages.
    """
    as_of = as_of or utc_now()
    children = session.execute(select(Location.code, Location.name, Location.path)
                               .where(Location.parent_id == region.id)
                               .order_by(Location.code)).all()
    out = {c.path: {"code": c.code, "name": c.name, "returned": 0,
                    "back": {lv: 0 for lv in BACK_LEVELS}} for c in children}
    low, high = _region_range(region)

    def by_time(column):
        """Return SUM(1 when the column is set and not after as_of)."""
        return func.sum(case((and_(column.is_not(None), column <= as_of), 1), else_=0))

    rows = session.execute(
        select(Location.path, by_time(PackageState.returned_at),
               *[by_time(getattr(PackageState, f"back_{lv}_at")) for lv in BACK_LEVELS])
        .join(Package, Package.destination_id == Location.id)
        .join(PackageState, PackageState.package_id == Package.id)
        .where(Location.path >= low, Location.path < high, PackageState.returned_at.is_not(None))
        .group_by(Location.path))
    start = len(region.path)
    for path, returned, *back in rows:
        rest = path[start:]
        child = out.get(region.path + rest.split("/", 1)[0] + "/") if rest else None
        if child is None:
            continue
        child["returned"] += int(returned or 0)
        for lv, n in zip(BACK_LEVELS, back):
            child["back"][lv] += int(n or 0)
    return {"region": {"code": region.code, "name": region.name, "level": region.level},
            "children": list(out.values())}
