"""Read-only queries only the dashboard needs: breadcrumbs, a TPS's packages, evidence, the live feed.

The domain answers (progress, anomalies, custody) come from ``server.reconcile``
and ``server.custody``; this module only adds what a page needs around them,
each as one indexed query (no query per row).
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..models import PATH_END, Anomaly, Device, Location, Package, ScanEvent


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
    """Return the packages bound for a location with their latest scan (two queries)."""
    packages = session.scalars(select(Package).where(Package.destination_id == tps.id)
                               .order_by(Package.item_type, Package.package_id)).all()
    last: dict[int, ScanEvent] = {}
    if packages:
        ids = [p.id for p in packages]
        scans = session.execute(
            select(ScanEvent, Location).join(Location, Location.id == ScanEvent.location_id)
            .where(ScanEvent.package_id.in_(ids)).order_by(ScanEvent.scanned_at, ScanEvent.id))
        for scan, where in scans:
            last[scan.package_id] = (scan, where)
    return [{"package": p, "last": last.get(p.id)} for p in packages]


def scans_by_uuid(session: Session, uuids: list[str]) -> dict[str, tuple[ScanEvent, Location]]:
    """Return scans (with their location) by uuid, for anomaly evidence."""
    found: dict[str, tuple[ScanEvent, Location]] = {}
    for start in range(0, len(uuids), 500):  # stay under bound-parameter limits
        chunk = uuids[start:start + 500]
        rows = session.execute(select(ScanEvent, Location)
                               .join(Location, Location.id == ScanEvent.location_id)
                               .where(ScanEvent.uuid.in_(chunk)))
        for scan, where in rows:
            found[scan.uuid] = (scan, where)
    return found


def anomaly_in_region(session: Session, anomaly_id: int, region_path: str) -> Anomaly | None:
    """Return an anomaly if it lies in the region (by its location or its package's destination)."""
    anomaly = session.get(Anomaly, anomaly_id)
    if anomaly is None:
        return None
    where = anomaly.location or (anomaly.package.destination if anomaly.package else None)
    if where is None or not where.path.startswith(region_path):
        return None
    return anomaly


def package_visible(session: Session, package: Package, region_path: str) -> bool:
    """Tell whether a package is bound for the region or was scanned in it."""
    if package.destination.path.startswith(region_path):
        return True
    hit = session.scalar(
        select(ScanEvent.id).join(Location, Location.id == ScanEvent.location_id)
        .where(ScanEvent.package_id == package.id, Location.path >= region_path,
               Location.path < region_path + PATH_END).limit(1))
    return hit is not None


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
               Package.package_id)
        .join(Location, and_(Location.id == Anomaly.location_id))
        .outerjoin(Package, Package.id == Anomaly.package_id)
        .where(Anomaly.id > after_anomaly, Location.path >= region_path, Location.path < high)
        .order_by(Anomaly.id).limit(limit)).all()
    return {"scans": scans, "anomalies": anomalies}


# --- stand-ins, used only while server.reconcile / server.custody lack a function ----------

def fallback_progress(session: Session, region: Location, as_of=None) -> dict:
    """Count expected, dispatched and received packages and open anomalies per child region."""
    from sqlalchemy import distinct, func

    out = []
    for child in children(session, region):
        low, high = child.path, child.path + PATH_END
        dest = select(Package.id).join(Location, Location.id == Package.destination_id) \
            .where(Location.path >= low, Location.path < high)
        expected = session.scalar(select(func.count()).select_from(dest.subquery()))
        received = {}
        for level in ("regency", "district", "village", "tps"):
            received[level] = session.scalar(
                select(func.count(distinct(ScanEvent.package_id)))
                .join(Location, Location.id == ScanEvent.location_id)
                .where(ScanEvent.action == "receive", Location.level == level,
                       ScanEvent.package_id.in_(dest)))
        dispatched = session.scalar(
            select(func.count(distinct(ScanEvent.package_id)))
            .where(ScanEvent.action == "dispatch", ScanEvent.package_id.in_(dest)))
        kinds = dict(session.execute(
            select(Anomaly.kind, func.count()).join(Location, Location.id == Anomaly.location_id)
            .where(Anomaly.status != "resolved", Location.path >= low, Location.path < high)
            .group_by(Anomaly.kind)).all())
        out.append({"code": child.code, "name": child.name, "level": child.level,
                    "expected": expected, "dispatched": dispatched, "received": received,
                    "anomalies": kinds, "overdue": 0})
    return {"region": {"code": region.code, "name": region.name, "level": region.level},
            "children": out}


def fallback_chain(session: Session, package_id: str) -> dict | None:
    """Return a package and the scans of it or of its container, oldest first."""
    pkg = session.scalar(select(Package).where(Package.package_id == package_id))
    if pkg is None:
        return None
    ids = [pkg.id] + ([pkg.container_id] if pkg.container_id else [])
    box = {p.id: p.package_id for p in session.scalars(select(Package).where(Package.id.in_(ids)))}
    rows = session.execute(
        select(ScanEvent, Location, Device).join(Location, Location.id == ScanEvent.location_id)
        .outerjoin(Device, Device.id == ScanEvent.device_id)
        .where(ScanEvent.package_id.in_(ids)).order_by(ScanEvent.scanned_at, ScanEvent.id))
    custody = [{"id": s.uuid, "action": s.action,
                "location": {"code": loc.code, "name": loc.name, "level": loc.level},
                "scanned_at": s.scanned_at, "received_at": s.received_at, "operator": s.operator,
                "device": dev.name if dev else None, "offline": s.offline,
                "disposition": s.disposition, "seal": s.seal,
                "via": box[s.package_id] if s.package_id != pkg.id else None}
               for s, loc, dev in rows]
    contents = list(session.scalars(select(Package.package_id).where(Package.container_id == pkg.id)))
    return {"package": {"package_id": pkg.package_id, "item_type": pkg.item_type,
                        "quantity": pkg.quantity, "dapil": pkg.dapil,
                        "label_version": pkg.label_version,
                        "destination": {"code": pkg.destination.code, "name": pkg.destination.name},
                        "container": box.get(pkg.container_id), "contents": contents},
            "custody": custody}


def fallback_list_anomalies(session: Session, region: Location, kind=None, status=None,
                            as_of=None, after_id=None, limit=200):
    """Return the stored anomalies of a region, oldest first, keyset-paged on id."""
    q = (select(Anomaly).join(Location, Location.id == Anomaly.location_id)
         .where(Location.path >= region.path, Location.path < region.path + PATH_END))
    if kind:
        q = q.where(Anomaly.kind == kind)
    if status:
        q = q.where(Anomaly.status == status)
    if after_id is not None:
        q = q.where(Anomaly.id > after_id)
    rows = session.scalars(q.order_by(Anomaly.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def fallback_resolve(session: Session, anomaly_id: int, principal, note: str,
                     status: str = "resolved"):
    """Record who acknowledged or resolved an anomaly, and when (nothing deleted)."""
    from ..models import utc_now

    anomaly = session.get(Anomaly, anomaly_id)
    if anomaly is None:
        raise LookupError(anomaly_id)
    if anomaly.location is None or not principal.covers(anomaly.location.path):
        raise PermissionError(f"anomaly {anomaly_id} is outside your region")
    if anomaly.status == "resolved":
        raise ValueError(f"anomaly {anomaly_id} is already resolved")
    now = utc_now()
    if status == "acknowledged":
        anomaly.acknowledged_at, anomaly.acknowledged_by = now, principal.name
    else:
        anomaly.resolved_at, anomaly.resolved_by = now, principal.name
    anomaly.status = status
    anomaly.resolution_note = note
    session.flush()
    return anomaly
