"""Load what the anomaly rules need, in a few set-based queries per batch.

One query per kind of thing (locations by code/id/path, packages by id or
label id, scans of a set of packages and of their containers), never one per
scan: a batch of 500 scans costs about ten round trips whatever its content.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server.config import rules_of
from server.models import Deadline, Location, Package, ScanEvent
from server.reconcile.rules import (
    Context,
    DeadlineBook,
    Place,
    PlannedPackage,
    SeenScan,
    ancestor_paths,
)
from server.sql import CHUNK, chunks, core, member

SCAN_COLUMNS = (ScanEvent.id, ScanEvent.uuid, ScanEvent.package_id, ScanEvent.location_id,
                ScanEvent.action, ScanEvent.disposition, ScanEvent.container_id, ScanEvent.seal,
                ScanEvent.scanned_at, ScanEvent.received_at, ScanEvent.counted,
                ScanEvent.raw_code, ScanEvent.counted_quantity, ScanEvent.damaged_quantity)


LOCATION_COLUMNS = (Location.id, Location.code, Location.name, Location.level, Location.path,
                    Location.dapil)


PACKAGE_COLUMNS = (Package.id, Package.package_id, Package.item_type, Package.quantity,
                   Package.destination_id, Package.dapil, Package.label_version,
                   Package.container_id)


def to_loc(row) -> Place:
    """Return a Place from a location row."""
    return Place(row.id, row.code, row.name, row.level, row.path,
               tuple(d for d in (row.dapil or "").split(";") if d))


def to_pkg(row) -> PlannedPackage:
    """Return a PlannedPackage from a package row."""
    return PlannedPackage(row.id, row.package_id, row.item_type, row.quantity, row.destination_id,
               row.dapil or "", row.label_version, row.container_id)


def to_ev(row) -> SeenScan:
    """Return an SeenScan from a scan row or a ScanEvent object."""
    return SeenScan(row.id, row.uuid, row.package_id, row.location_id, row.action, row.disposition,
              row.container_id, row.seal or "", row.scanned_at, row.received_at, row.counted,
              row.raw_code or "", row.counted_quantity, row.damaged_quantity)


def dict_to_ev(row_id: int, row: dict) -> SeenScan:
    """Return an SeenScan from the values a scan was inserted with."""
    return SeenScan(row_id, row["uuid"], row["package_id"], row["location_id"], row["action"],
              row["disposition"], row["container_id"], row["seal"], row["scanned_at"],
              row["received_at"], row["counted"], row["raw_code"],
              row.get("counted_quantity"), row.get("damaged_quantity"))


def load_locations(session: Session, ctx: Context, *, ids=(), codes=(), paths=()) -> None:
    """Add the locations with these ids, codes or paths to the context (known ones skipped)."""
    ids = {i for i in ids if i is not None and i not in ctx.locations}
    paths = {p for p in paths if p not in ctx.by_path}
    by_code = {loc.code for loc in ctx.locations.values()}
    codes = {c for c in codes if c not in by_code}
    for column, values in ((Location.id, ids), (Location.code, codes), (Location.path, paths)):
        for part in chunks(values):
            query = select(*LOCATION_COLUMNS).where(member(session, column, part))
            for row in core(session, query):
                ctx.add_location(to_loc(row))


def load_packages(session: Session, ctx: Context, *, ids=(),
                  package_ids=()) -> dict[str, PlannedPackage]:
    """Add packages by row id or label id to the context; return those asked by label id."""
    package_ids = set(package_ids)
    found: dict[str, PlannedPackage] = {p.package_id: p for p in ctx.packages.values()
                             if p.package_id in package_ids}
    ids = {i for i in ids if i is not None and i not in ctx.packages}
    wanted = set(package_ids) - set(found)
    for column, values in ((Package.id, ids), (Package.package_id, wanted)):
        for part in chunks(values):
            for row in core(session, select(*PACKAGE_COLUMNS).where(member(session, column, part))):
                pkg = to_pkg(row)
                ctx.packages[pkg.id] = pkg
                found[pkg.package_id] = pkg
    load_routes(session, ctx)
    return {k: v for k, v in found.items() if k in package_ids}


def load_routes(session: Session, ctx: Context) -> None:
    """Make sure every known package's destination and its ancestors are in the context."""
    missing_dest = {p.destination_id for p in ctx.packages.values()
                    if p.destination_id not in ctx.locations}
    load_locations(session, ctx, ids=missing_dest)
    paths = set()
    for pkg in ctx.packages.values():
        dest = ctx.locations.get(pkg.destination_id)
        if dest is not None:
            paths.update(p for p in ancestor_paths(dest.path) if p not in ctx.by_path)
    load_locations(session, ctx, paths=paths)


def load_deadlines(session: Session) -> DeadlineBook:
    """Return the whole schedule (a small table) with each row's region path."""
    rows = core(session, select(Deadline.level, Deadline.deadline, Deadline.direction,
                                Deadline.item_type, Location.path)
                           .outerjoin(Location, Location.id == Deadline.region_id))
    return DeadlineBook([(r.path, r.level, r.deadline, r.direction, r.item_type) for r in rows])


def load_scans(session: Session, ctx: Context, package_ids: set[int], loaded: set[int]) -> None:
    """Add every scan of these packages, and every pack into them, to the context."""
    todo = set(package_ids) - loaded
    for part in chunks(todo, CHUNK // 2):
        query = select(*SCAN_COLUMNS).where(or_(member(session, ScanEvent.package_id, part),
                                                member(session, ScanEvent.container_id, part)))
        for row in core(session, query):
            ctx.add_scan(to_ev(row))
    loaded |= todo


def containers_of(ctx: Context, package_ids: Iterable[int]) -> set[int]:
    """Return the containers these packages were ever packed into."""
    out = set()
    for pid in package_ids:
        for ev in ctx.scans_of.get(pid, {}).values():
            if ev.action == "pack" and ev.container_id is not None:
                out.add(ev.container_id)
    return out


def contents_of(ctx: Context, container_ids: Iterable[int]) -> set[int]:
    """Return the packages ever packed into these containers."""
    out = set()
    for cid in container_ids:
        out.update(ev.package_id for ev in ctx.packed_into.get(cid, {}).values()
                   if ev.package_id is not None)
    return out


def load_closure(session: Session, ctx: Context, affected: set[int], loaded: set[int]) -> None:
    """Load scans for the affected packages and for every container they travelled in."""
    for _round in range(4):
        needed = set(affected) | containers_of(ctx, affected)
        todo = needed - loaded
        if not todo:
            break
        load_packages(session, ctx, ids=todo)
        load_scans(session, ctx, todo, loaded)
    ids = {ev.location_id for pid in (set(affected) | containers_of(ctx, affected))
           for ev in ctx.scans_of.get(pid, {}).values()}
    load_locations(session, ctx, ids=ids)
    load_packages(session, ctx, ids=containers_of(ctx, affected) | set(affected))


def new_context(session: Session, now: dt.datetime,
                clock_skew_minutes: int | None = None) -> Context:
    """Return an empty context with the schedule and the clock (skew: the session's rules)."""
    if clock_skew_minutes is None:
        clock_skew_minutes = rules_of(session).clock_skew_minutes
    return Context(deadlines=load_deadlines(session), now=now,
                   clock_skew=dt.timedelta(minutes=clock_skew_minutes))
