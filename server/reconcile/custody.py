"""A package's chain of custody: every scan of it, or of a container holding it, oldest first.

Each entry carries the anomalies it is evidence for (a cloned copy's receipt, a misrouted or
damaged one...), so a reader never takes such a scan for a normal handover. Plain Python over
a session (no Flask); ``GET /api/v1/packages/<id>`` and the dashboard's package page render it.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import (
    ANOMALY_KINDS,
    Anomaly,
    Device,
    Location,
    Package,
    ScanEvent,
    province_of,
    utc_now,
)
from server.reconcile.findings import SYSTEM
from server.reconcile.rules import timeline
from server.reconcile.timelines import load_closure, load_locations, load_packages, new_context


def chain(session: Session, package_id: str) -> dict | None:
    """Return the package and its custody entries (device time order), or None if unknown."""
    ctx = new_context(session, utc_now())
    pkg = load_packages(session, ctx, package_ids=[package_id]).get(package_id)
    if pkg is None:
        return None
    load_closure(session, ctx, {pkg.id}, set())
    entries, _intervals = timeline(pkg.id, ctx)
    ids = [ev.id for ev, _via in entries]
    load_locations(session, ctx, ids={ev.location_id for ev, _via in entries})
    extra = {}
    if ids:
        # The scans' own provinces (their partitions on PostgreSQL): no other is read.
        provinces = sorted({province_of(ctx.locations[ev.location_id].path) for ev, _via in entries})
        rows = session.execute(
            select(ScanEvent.id, ScanEvent.operator, ScanEvent.offline, ScanEvent.client_device,
                   ScanEvent.device_id, Device.name)
            .outerjoin(Device, Device.id == ScanEvent.device_id)
            .where(ScanEvent.id.in_(ids), ScanEvent.province.in_(provinces)))
        extra = {r[0]: r for r in rows}
    dest = ctx.locations[pkg.destination_id]
    container = ctx.packages.get(pkg.container_id) if pkg.container_id else None
    if pkg.container_id and container is None:
        load_packages(session, ctx, ids=[pkg.container_id])
        container = ctx.packages.get(pkg.container_id)
    contents = list(session.scalars(select(Package.package_id)
                                    .where(Package.container_id == pkg.id)
                                    .order_by(Package.package_id)))
    marks = evidence_marks(session, {pkg.id} | {via for _ev, via in entries if via is not None})
    custody = []
    for ev, via in entries:
        loc = ctx.locations[ev.location_id]
        row = extra.get(ev.id)
        device = None
        if row is not None:
            device = row.name or row.client_device or None
            if row.name and row.client_device and row.client_device != row.name:
                device = f"{row.name} ({row.client_device})"
        custody.append({
            "scan_id": ev.uuid, "action": ev.action, "location": loc.code,
            "location_name": loc.name, "scanned_at": ev.scanned_at,
            "received_at": ev.received_at, "operator": (row.operator if row else "") or None,
            "device": device, "offline": bool(row.offline) if row else False,
            "disposition": ev.disposition, "seal": ev.seal or None,
            "counted_quantity": ev.counted_quantity, "damaged_quantity": ev.damaged_quantity,
            "via_container": ctx.packages[via].package_id if via is not None else None,
            "counted": ev.counted,
            "anomalies": marks.get(ev.uuid, []),
        })
    return {"package": {"package_id": pkg.package_id, "item_type": pkg.item_type,
                        "quantity": pkg.quantity, "destination": dest.code,
                        "destination_name": dest.name, "dapil": pkg.dapil,
                        "label_version": pkg.label_version,
                        "container": container.package_id if container else None,
                        "contents": contents},
            "custody": custody}


def evidence_marks(session: Session, package_ids: set[int]) -> dict[str, list[dict]]:
    """Return, by scan uuid, the anomalies of these packages that scan is evidence for.

    Each mark is ``{"id", "kind", "status", "location"}``, in the order of ``ANOMALY_KINDS``;
    ``location`` is where the anomaly was found (for a cloned label, the suspect copy's place,
    which tells the copy's scan from the original's). Anomalies the system closed because later
    scans disproved them are left out: the log no longer shows them.
    """
    order = {kind: i for i, kind in enumerate(ANOMALY_KINDS)}
    marks: dict[str, list[dict]] = {}
    rows = session.execute(
        select(Anomaly.id, Anomaly.kind, Anomaly.status, Anomaly.resolved_by,
               Anomaly.evidence_json, Location.code)
        .outerjoin(Location, Location.id == Anomaly.location_id)
        .where(Anomaly.package_id.in_(sorted(package_ids))).order_by(Anomaly.id))
    for row in rows:
        if row.status == "resolved" and row.resolved_by == SYSTEM:
            continue
        for uuid in json.loads(row.evidence_json or "[]"):
            marks.setdefault(uuid, []).append({"id": row.id, "kind": row.kind,
                                               "status": row.status, "location": row.code})
    for found in marks.values():
        found.sort(key=lambda m: (order.get(m["kind"], len(order)), m["id"]))
    return marks
