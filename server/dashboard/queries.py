"""Read-only queries only the dashboard needs: breadcrumbs, a TPS's packages, evidence, the live feed.

The domain answers (progress, anomalies, custody) come from ``server.reconcile``
and ``server.reconcile.custody``; this module only adds what a page needs around them,
each as one indexed query (no query per row).
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from server.models import COUNT_ACTIONS, PATH_END, Anomaly, Device, Location, Package, ScanEvent
from server.sql import chunks


def breadcrumbs(session: Session, loc: Location, top_path: str) -> list[Location]:
    """Return the ancestors of a location from the user's region down to it."""
    codes = loc.ancestor_codes
    rows = session.scalars(select(Location).where(Location.code.in_(codes))).all()
    rows = [r for r in rows if r.path.startswith(top_path)]
    return sorted(rows, key=lambda r: len(r.path))


def children(session: Session, loc: Location) -> list[Location]:
    """Return a location's children by code."""
    return list(session.scalars(select(Location).where(Location.parent_id == loc.id)
                                .order_by(Location.code)))


def tps_packages(session: Session, tps: Location) -> list[dict]:
    """Return the packages bound for a location with their latest scan and count there (two queries).

    ``count`` is the latest scan at the location that carried a count, as the
    quantity_mismatch rule reads it (a recount replaces a miscount).
    """
    packages = session.scalars(select(Package).where(Package.destination_id == tps.id)
                               .order_by(Package.item_type, Package.package_id)).all()
    last: dict[int, ScanEvent] = {}
    count: dict[int, ScanEvent] = {}
    if packages:
        ids = [p.id for p in packages]
        scans = session.execute(
            select(ScanEvent, Location).join(Location, Location.id == ScanEvent.location_id)
            .where(ScanEvent.package_id.in_(ids)).order_by(ScanEvent.scanned_at, ScanEvent.id))
        for scan, where in scans:
            last[scan.package_id] = (scan, where)
            if (scan.location_id == tps.id and scan.counted_quantity is not None
                    and scan.action in COUNT_ACTIONS):
                count[scan.package_id] = scan
    return [{"package": p, "last": last.get(p.id), "count": count.get(p.id)} for p in packages]


def scans_by_uuid(session: Session, uuids: list[str]) -> dict[str, tuple[ScanEvent, Location]]:
    """Return scans (with their location) by uuid, for anomaly evidence."""
    found: dict[str, tuple[ScanEvent, Location]] = {}
    for chunk in chunks(uuids, 500):  # stay under bound-parameter limits
        rows = session.execute(select(ScanEvent, Location)
                               .join(Location, Location.id == ScanEvent.location_id)
                               .where(ScanEvent.uuid.in_(chunk)))
        for scan, where in rows:
            found[scan.uuid] = (scan, where)
    return found


def anomaly_in_region(session: Session, anomaly_id: int, region_path: str) -> Anomaly | None:
    """Return an anomaly if it lies in the region: at a place in it, or of a package bound for it."""
    anomaly = session.get(Anomaly, anomaly_id)
    if anomaly is None:
        return None
    places = [anomaly.location, anomaly.package.destination if anomaly.package else None]
    if not any(p is not None and p.path.startswith(region_path) for p in places):
        return None
    return anomaly


def package_visible(package: Package, region_path: str) -> bool:
    """Tell whether a package is bound for the region (as the API judges it: no leak of others)."""
    return package.destination.path.startswith(region_path)


def newest_ids(session: Session, region_path: str) -> tuple[int, int]:
    """Return the ids of the newest scan and anomaly (the live feed's starting point)."""
    scan_id = session.scalar(select(ScanEvent.id).order_by(ScanEvent.id.desc()).limit(1)) or 0
    anomaly_id = session.scalar(select(Anomaly.id).order_by(Anomaly.id.desc()).limit(1)) or 0
    return scan_id, anomaly_id


def live_feed(session: Session, region_path: str, after_scan: int, after_anomaly: int,
              limit: int = 50) -> dict:
    """Return scans and anomalies in the region newer than the given ids, oldest first."""
    high = region_path + PATH_END
    scans = session.execute(
        select(ScanEvent.id, ScanEvent.scanned_at, ScanEvent.action, ScanEvent.disposition,
               ScanEvent.claimed_package, ScanEvent.operator, ScanEvent.offline,
               Location.code, Location.name, Package.package_id, Device.name)
        .join(Location, Location.id == ScanEvent.location_id)
        .outerjoin(Package, Package.id == ScanEvent.package_id)
        .outerjoin(Device, Device.id == ScanEvent.device_id)
        .where(ScanEvent.id > after_scan, Location.path >= region_path, Location.path < high)
        .order_by(ScanEvent.id).limit(limit)).all()
    anomalies = session.execute(
        select(Anomaly.id, Anomaly.kind, Anomaly.detected_at, Anomaly.status,
               Anomaly.claimed_package, Anomaly.detail, Location.code, Location.name,
               Package.package_id, Anomaly.facts_json)
        .join(Location, and_(Location.id == Anomaly.location_id))
        .outerjoin(Package, Package.id == Anomaly.package_id)
        .where(Anomaly.id > after_anomaly, Location.path >= region_path, Location.path < high)
        .order_by(Anomaly.id).limit(limit)).all()
    return {"scans": scans, "anomalies": anomalies}
