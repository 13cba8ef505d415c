"""The scan log of a region: one keyset query, paged for pages and streamed for exports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Integer, case, cast, func, literal, select, text, true
from sqlalchemy.orm import Session, aliased

from server.models import PATH_END, Device, Location, Package, ScanEvent, province_of
from server.reports.localtime import UTC
from server.reports.tables import FORMULA_STARTS, csv_chunks
from server.sql import is_postgres


@dataclass
class ScanFilter:
    """What part of the scan log to show: a region and optional narrowing filters."""

    region_path: str
    location_id: int | None = None
    device_id: int | None = None
    operator: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    # Scan uuids to keep (an anomaly's evidence); None: no such filter.
    uuids: list[str] | None = None
    package_db_id: int | None = None


SCAN_HEADER = ("id", "uuid", "scanned_at", "received_at", "location", "location_name", "action",
               "disposition", "package_id", "claimed_package", "container", "seal", "operator",
               "device", "offline", "counted", "raw_code")


def _conditions(f: ScanFilter) -> list:
    """Return the WHERE conditions of a filter (on scan_events joined to locations)."""
    return [Location.path >= f.region_path, Location.path < f.region_path + PATH_END,
            *_scan_conditions(f)]


def _scan_conditions(f: ScanFilter) -> list:
    """Return the conditions of a filter on scan_events alone (all but the region's paths).

    The first names the region's province, ``scan_events``' partition key on PostgreSQL:
    every scan in the region is in it, and the planner reads no other partition.
    """
    conds = [ScanEvent.province == province_of(f.region_path)]
    if f.location_id is not None:
        conds.append(ScanEvent.location_id == f.location_id)
    if f.device_id is not None:
        conds.append(ScanEvent.device_id == f.device_id)
    if f.operator:
        conds.append(ScanEvent.operator == f.operator)
    if f.action:
        conds.append(ScanEvent.action == f.action)
    if f.since is not None:
        conds.append(ScanEvent.scanned_at >= f.since)
    if f.until is not None:
        conds.append(ScanEvent.scanned_at < f.until)
    if f.uuids is not None:
        conds.append(ScanEvent.uuid.in_(f.uuids or [""]))
    if f.package_db_id is not None:
        conds.append(ScanEvent.package_id == f.package_db_id)
    return conds


def scan_log_page(session: Session, f: ScanFilter, before_id: int | None, limit: int,
                  window: int = 100_000) -> list:
    """Return up to ``limit`` scans of a filter with ids below ``before_id``, newest first.

    First the newest ``window`` ids are walked backwards on the primary key:
    cheap when the filter matches often, as it does for a region's recent log.
    Only if that does not fill the page (the region's scans are sparse there,
    or the log ends) are the older ones gathered through the location index,
    so the cost is bounded by the region's size instead of the whole
    province's log; on PostgreSQL place by place (``_older_by_place``), each
    walk stopping after the rows the page still needs.
    """
    top = before_id if before_id is not None else (session.scalar(
        select(func.max(ScanEvent.id)).where(ScanEvent.province == province_of(f.region_path)))
        or 0) + 1
    low = max(top - window, 0)
    rows = session.execute(scan_log_select(f, before_id=top, limit=limit)
                           .where(ScanEvent.id >= low)).all()
    if len(rows) >= limit or low == 0:
        return rows
    wanted = limit - len(rows)
    if is_postgres(session):
        # The planner prices the per-place walks as if each ran to its LIMIT (a million rows for
        # a regency) and would JIT-compile the plan: 0.4 s to run a 30 ms query. Off for this
        # one statement (set_config(..., true) is undone by the transaction's end at the latest).
        jit = session.scalar(text("SELECT current_setting('jit')"))
        session.execute(text("SELECT set_config('jit', 'off', true)"))
        older = session.execute(scan_log_select(f, limit=wanted).where(
            ScanEvent.id.in_(_older_by_place(f, low, wanted)))).all()
        session.execute(text("SELECT set_config('jit', :jit, true)"), {"jit": jit})
        return rows + older
    # Elsewhere (SQLite, no LATERAL): the region's older ids, then the newest of them.
    older_ids = (select(ScanEvent.id).join(Location, Location.id == ScanEvent.location_id)
                 .where(ScanEvent.id < low, *_conditions(f)))
    # MATERIALIZED keeps the planner from walking the primary key again for the ORDER BY.
    older_ids = older_ids.cte("older").prefix_with("MATERIALIZED")
    newest = select(older_ids.c.id).order_by(older_ids.c.id.desc()).limit(wanted)
    return rows + session.execute(scan_log_select(f, limit=wanted)
                                  .where(ScanEvent.id.in_(newest))).all()


def _older_by_place(f: ScanFilter, low: int, wanted: int):
    """Return the newest ``wanted`` ids below ``low`` of a filter, gathered place by place.

    For each location of the region a LATERAL subquery walks the
    ``(location_id, id)`` index backwards and stops after ``wanted`` rows, so
    a region with nothing left below ``low`` (the end of its log) costs one
    index probe per place instead of reading every older scan of the table
    (migration 0005).
    """
    places = select(Location.id).where(Location.path >= f.region_path,
                                       Location.path < f.region_path + PATH_END).subquery("places")
    per_place = (select(ScanEvent.id)
                 .where(ScanEvent.location_id == places.c.id, ScanEvent.id < low,
                        *_scan_conditions(f))
                 .order_by(ScanEvent.id.desc()).limit(wanted).lateral("per_place"))
    return (select(per_place.c.id).select_from(places.join(per_place, true()))
            .order_by(per_place.c.id.desc()).limit(wanted))


def _formula_safe(column):
    """Return a text column as ``tables.formula_safe`` writes it, for PostgreSQL's own CSV."""
    return case((func.substr(column, 1, 1).in_(FORMULA_STARTS), literal("'") + column),
                else_=column)


def scan_log_select(f: ScanFilter, before_id: int | None = None, limit: int | None = None,
                    newest_first: bool = True, as_text: bool = False):
    """Return the scan-log SELECT for a filter, keyset-paged on scan id (never OFFSET).

    ``as_text`` shapes the columns as the CSV shows them (ISO times to the
    second with the offset of the session's TimeZone, flags as 1/0) for a
    PostgreSQL that writes the CSV itself.
    """
    pkg = aliased(Package)
    box = aliased(Package)
    scanned, received = ScanEvent.scanned_at, ScanEvent.received_at
    offline, counted = ScanEvent.offline, ScanEvent.counted
    if as_text:
        # naive UTC -> timestamptz, which to_char writes in the session's TimeZone.
        iso = 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'
        scanned = func.to_char(func.timezone("UTC", scanned), iso)
        received = func.to_char(func.timezone("UTC", received), iso)
        offline, counted = cast(offline, Integer), cast(counted, Integer)
    texts = [Location.code, Location.name, ScanEvent.action, ScanEvent.disposition,
             pkg.package_id, ScanEvent.claimed_package, box.package_id, ScanEvent.seal,
             ScanEvent.operator, Device.name]
    raw_code = ScanEvent.raw_code
    if as_text:
        texts = [_formula_safe(c) for c in texts]
        raw_code = _formula_safe(raw_code)
    q = (select(ScanEvent.id, ScanEvent.uuid, scanned, received, *texts, offline, counted,
                raw_code)
         .join(Location, Location.id == ScanEvent.location_id)
         .outerjoin(pkg, pkg.id == ScanEvent.package_id)
         .outerjoin(box, box.id == ScanEvent.container_id)
         .outerjoin(Device, Device.id == ScanEvent.device_id)
         .where(*_conditions(f)))
    if before_id is not None:
        q = q.where(ScanEvent.id < before_id if newest_first else ScanEvent.id > before_id)
    q = q.order_by(ScanEvent.id.desc() if newest_first else ScanEvent.id)
    if limit is not None:
        q = q.limit(limit)
    return q


def scan_log_rows(session: Session, f: ScanFilter, batch: int = 5000) -> Iterator[tuple]:
    """Yield every scan of a filter in log order, streamed from a server-side cursor."""
    result = session.execute(scan_log_select(f, newest_first=False).execution_options(
        yield_per=batch, stream_results=True))
    for part in result.partitions(batch):
        for row in part:
            yield tuple(row)


def scan_log_csv(session: Session, f: ScanFilter, chunk: int = 1 << 16,
                 tz: dt.tzinfo = UTC) -> Iterator[bytes]:
    """Yield the scan log of a filter as CSV, in log order, times in ``tz`` with their offset.

    On PostgreSQL the server writes the CSV itself (``COPY (SELECT ...) TO
    STDOUT``): several times faster than building rows in Python, and it
    streams.  Elsewhere the rows go through ``csv_chunks``.
    """
    if not is_postgres(session):
        yield from csv_chunks(SCAN_HEADER, scan_log_rows(session, f), tz=tz)
        return
    compiled = scan_log_select(f, newest_first=False, as_text=True).compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    raw = session.connection().connection.driver_connection
    buf = bytearray(("\ufeff" + ",".join(SCAN_HEADER) + "\r\n").encode("utf-8"))
    with raw.cursor() as cur:
        # For this transaction only: the pooled connection keeps its own TimeZone afterwards.
        cur.execute("SELECT set_config('TimeZone', %s, true)", (getattr(tz, "key", None) or "UTC",))
    with raw.cursor() as cur, cur.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)",
                                       compiled.params) as copy:
        for data in copy:
            buf += data
            if len(buf) >= chunk:
                yield bytes(buf)
                buf.clear()
    yield bytes(buf)
