"""Reports from the scan log: streamed CSV/XLSX exports and the BAST handover PDF.

Plain functions over a SQLAlchemy session, no Flask: the dashboard streams
them with ``Response(generator)`` and a CLI or a test can call them directly.

* ``scan_log_select(filters)`` is the one scan-log query (region path range,
  keyset on ``scan_events.id``, never OFFSET); ``scan_log_rows`` streams it with
  a server-side cursor (``yield_per``) so memory stays flat for any region.
* ``csv_chunks(header, rows)`` / ``xlsx_chunks(header, rows)`` turn rows into
  bytes; XLSX uses openpyxl's write-only mode into a temporary file.
* ``bast_data(session, sender, receiver, day)`` gathers a handoff from the scans and
  ``bast_pdf(data, out)`` draws the Berita Acara Serah Terima with reportlab.
* Storage is naive UTC; what people read is local time (``zone(name)``,
  ``local(value, tz)``, ``zone_label(tz)``): exports carry ISO-8601 with the
  offset (``2024-02-12T12:00:00+07:00``), the BAST the local time and its
  abbreviation (WIB, WITA, WIT).

Visible words are English msgids marked with ``N_`` and translated by the
``translate`` callable a caller passes (the dashboard passes Flask-Babel's gettext).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Integer, and_, cast, func, select, text, true
from sqlalchemy.orm import Session, aliased

from server.models import PATH_END, Anomaly, Device, ItemType, Location, Package, ScanEvent


def N_(text: str) -> str:
    """Mark a string for translation without translating it (pybabel extracts N_)."""
    return text


Translate = Callable[[str], str]
CHUNK_ROWS = 2000  # rows per yielded CSV chunk: few large writes, still flat memory


# --- local time -------------------------------------------------------------------------

UTC = dt.timezone.utc
# Indonesia's three zones by the names people use; other zones show their UTC offset.
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
              "Asia/Jayapura": "WIT"}


@lru_cache(maxsize=16)
def zone(name: str | None) -> dt.tzinfo:
    """Return the time zone of an IANA name (UTC for none); ValueError quoting an unknown one."""
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'Asia/Jakarta')") \
            from None


def local(value: dt.datetime, tz: dt.tzinfo = UTC) -> dt.datetime:
    """Return a stored time (naive UTC, or aware) as an aware time in the zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz)


def to_utc(value: dt.datetime, tz: dt.tzinfo = UTC) -> dt.datetime:
    """Return a time typed in the zone (naive) or carrying an offset as naive UTC, for queries."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC).replace(tzinfo=None)


def zone_label(tz: dt.tzinfo, at: dt.datetime | None = None) -> str:
    """Return the abbreviation people read for a zone (WIB, WITA, WIT), else its UTC offset."""
    key = getattr(tz, "key", None)
    if key in ZONE_NAMES:
        return ZONE_NAMES[key]
    offset = local(at or dt.datetime.now(UTC), tz).utcoffset() or dt.timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_text(value: dt.datetime | None, tz: dt.tzinfo = UTC, seconds: bool = True) -> str:
    """Return a stored time as local text with its zone, e.g. '2024-02-12 12:00:00 WIB'."""
    if value is None:
        return "-"
    here = local(value, tz)
    return here.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " " \
        + zone_label(tz, here)


def day_bounds(day: dt.date, tz: dt.tzinfo = UTC) -> tuple[dt.datetime, dt.datetime]:
    """Return the naive UTC instants where a local calendar day starts and ends."""
    start = dt.datetime.combine(day, dt.time())
    return to_utc(start, tz), to_utc(start + dt.timedelta(days=1), tz)


# --- the scan log -----------------------------------------------------------------------

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
    """Return the conditions of a filter on scan_events alone (all but the region)."""
    conds = []
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
    top = before_id if before_id is not None else \
        (session.scalar(select(func.max(ScanEvent.id))) or 0) + 1
    low = max(top - window, 0)
    rows = session.execute(scan_log_select(f, before_id=top, limit=limit)
                           .where(ScanEvent.id >= low)).all()
    if len(rows) >= limit or low == 0:
        return rows
    wanted = limit - len(rows)
    if session.get_bind().dialect.name == "postgresql":
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
    q = (select(ScanEvent.id, ScanEvent.uuid, scanned, received,
                Location.code, Location.name, ScanEvent.action, ScanEvent.disposition,
                pkg.package_id, ScanEvent.claimed_package, box.package_id, ScanEvent.seal,
                ScanEvent.operator, Device.name, offline, counted, ScanEvent.raw_code)
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
    if session.get_bind().dialect.name != "postgresql":
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


# --- anomalies --------------------------------------------------------------------------

ANOMALY_HEADER = ("id", "kind", "package_id", "location", "detected_at", "status", "detail",
                  "evidence", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
                  "resolution_note")


def anomaly_row(item) -> tuple:
    """Return one anomaly (domain dict or Anomaly row) as an export row."""
    if not isinstance(item, dict):
        item = {"id": item.id, "kind": item.kind,
                "package_id": item.package.package_id if item.package else item.claimed_package,
                "location": item.location.code if item.location else None,
                "detected_at": item.detected_at, "status": item.status, "detail": item.detail,
                "evidence": item.evidence, "acknowledged_at": item.acknowledged_at,
                "acknowledged_by": item.acknowledged_by, "resolved_at": item.resolved_at,
                "resolved_by": item.resolved_by, "resolution_note": item.resolution_note}
    out = []
    for key in ANOMALY_HEADER:
        value = item.get(key)
        if key == "evidence":
            value = " ".join(str(v) for v in (value or []))
        out.append(value)
    return tuple(out)


def anomaly_rows(list_page: Callable, page: int = 1000) -> Iterator[tuple]:
    """Yield every anomaly a keyset-paged lister returns: list_page(after_id, limit) -> (items, last)."""
    after = None
    while True:
        items, last = list_page(after, page)
        for item in items:
            yield anomaly_row(item)
        if last is None or not items:
            return
        after = last


# --- encodings --------------------------------------------------------------------------

def _cell(value, tz: dt.tzinfo = UTC):
    """Return a value as export text: ISO times with their offset in ``tz``, 1/0 booleans, '' for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        # The offset makes the instant unambiguous for a machine reading the file.
        return local(value, tz).isoformat(timespec="seconds")
    return value


def csv_chunks(header: Iterable[str], rows: Iterable[tuple],
               tz: dt.tzinfo = UTC) -> Iterator[bytes]:
    """Yield a CSV file (UTF-8 with BOM, so spreadsheet programs read it right) in chunks."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow([_cell(v, tz) for v in row])
        n += 1
        if n % CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def xlsx_chunks(header: Iterable[str], rows: Iterable[tuple], title: str = "jejak",
                chunk: int = 1 << 16, tz: dt.tzinfo = UTC) -> Iterator[bytes]:
    """Yield an XLSX workbook written in openpyxl's write-only mode (rows never held in memory)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(list(header))
    for row in rows:
        ws.append([_cell(v, tz) if not isinstance(v, (int, float)) or isinstance(v, bool) else v
                   for v in row])
    with tempfile.TemporaryFile() as fh:
        wb.save(fh)
        fh.seek(0)
        while True:
            data = fh.read(chunk)
            if not data:
                return
            yield data


# --- BAST: the handover report -----------------------------------------------------------

RECEIVE_ACTIONS = ("receive", "handover")
HANDOFF_KINDS = ("damaged", "seal_mismatch", "quantity_mismatch", "misrouted", "wrong_dapil",
                 "custody_gap", "late", "duplicate_scan", "cloned_label", "forged_label",
                 "unknown_package", "superseded_label", "missing")


def bast_data(session: Session, sender: Location, receiver: Location,
              day: dt.date | None = None, tz: dt.tzinfo = UTC) -> dict:
    """Gather a handoff from sender to receiver from the scans (on one local day, or all of them)."""
    start, end = day_bounds(day, tz) if day else (None, None)
    # Plain columns, not ORM objects: a district's handoff is tens of thousands of receipts.
    receipts_q = (select(Package.id.label("pid"), Package.package_id, Package.item_type,
                         Package.quantity, ScanEvent.disposition, ScanEvent.seal,
                         ScanEvent.scanned_at, ScanEvent.operator)
                  .select_from(ScanEvent)
                  .join(Package, Package.id == ScanEvent.package_id)
                  .where(ScanEvent.location_id == receiver.id,
                         ScanEvent.action.in_(RECEIVE_ACTIONS), ScanEvent.counted.is_(True))
                  .order_by(ScanEvent.scanned_at, ScanEvent.id))
    if day:
        receipts_q = receipts_q.where(ScanEvent.scanned_at >= start, ScanEvent.scanned_at < end)
    receipts: dict[int, tuple] = {}
    for row in session.execute(receipts_q):
        receipts.setdefault(row.pid, (row, row))  # the first receipt is the handoff
    # What the sender dispatched towards the receiver (its subtree) and is not received there.
    dispatched_q = (select(Package.id.label("pid"), Package.package_id, Package.item_type)
                    .select_from(ScanEvent)
                    .join(Package, Package.id == ScanEvent.package_id)
                    .join(Location, Location.id == Package.destination_id)
                    .where(ScanEvent.location_id == sender.id, ScanEvent.action == "dispatch",
                           Location.path >= receiver.path,
                           Location.path < receiver.path + PATH_END))
    if end is not None:
        dispatched_q = dispatched_q.where(ScanEvent.scanned_at < end)
    dispatched = {row.pid: row for row in session.execute(dispatched_q)}
    ever_received = set()
    if dispatched:
        ids = list(dispatched)
        for start_i in range(0, len(ids), 500):
            q = select(ScanEvent.package_id).where(
                ScanEvent.location_id == receiver.id, ScanEvent.action.in_(RECEIVE_ACTIONS),
                ScanEvent.package_id.in_(ids[start_i:start_i + 500]))
            if end is not None:
                q = q.where(ScanEvent.scanned_at < end)
            ever_received.update(session.scalars(q))
    not_arrived = sorted((p for pid, p in dispatched.items() if pid not in ever_received),
                         key=lambda p: p.package_id)
    names = {it.code: it for it in session.scalars(select(ItemType))}
    by_type: dict[str, dict] = defaultdict(lambda: {"packages": 0, "quantity": 0, "ok": 0,
                                                    "damaged": 0, "seal_broken": 0,
                                                    "dispatched": 0})
    for scan, pkg in receipts.values():
        row = by_type[pkg.item_type]
        row["packages"] += 1
        row["quantity"] += pkg.quantity
        row[scan.disposition if scan.disposition in ("ok", "damaged", "seal_broken") else "ok"] += 1
    for pid, pkg in dispatched.items():
        by_type[pkg.item_type]["dispatched"] += 1
    table = [{"item_type": code, "name_id": names[code].name_id if code in names else code,
              "name_en": names[code].name_en if code in names else code, **counts}
             for code, counts in sorted(by_type.items())]
    condition = [{"package_id": pkg.package_id, "item_type": pkg.item_type,
                  "disposition": scan.disposition, "seal": scan.seal,
                  "scanned_at": scan.scanned_at, "operator": scan.operator}
                 for scan, pkg in receipts.values() if scan.disposition != "ok"]
    anomalies = []
    if receipts:
        ids = list(receipts)
        for start_i in range(0, len(ids), 500):
            anomalies += session.execute(
                select(Anomaly.id, Anomaly.kind, Package.package_id, Anomaly.detail, Anomaly.status)
                .join(Package, Package.id == Anomaly.package_id)
                .where(Anomaly.package_id.in_(ids[start_i:start_i + 500]),
                       Anomaly.location_id == receiver.id,
                       Anomaly.kind.in_(HANDOFF_KINDS))).all()
    anomalies.sort(key=lambda a: (a[1], a[2] or "", a[0]))
    operators = sorted({scan.operator for scan, _p in receipts.values() if scan.operator})
    times = [scan.scanned_at for scan, _p in receipts.values()]
    return {
        "sender": {"code": sender.code, "name": sender.name, "level": sender.level},
        "receiver": {"code": receiver.code, "name": receiver.name, "level": receiver.level},
        "day": day, "first": min(times) if times else None, "last": max(times) if times else None,
        "table": table, "received": len(receipts), "dispatched": len(dispatched),
        "not_arrived": [{"package_id": p.package_id, "item_type": p.item_type} for p in not_arrived],
        "condition": condition,
        "anomalies": [{"id": a[0], "kind": a[1], "package_id": a[2], "detail": a[3],
                       "status": a[4]} for a in anomalies],
        "operators": operators,
    }


KIND_WORDS = {"missing": N_("missing"), "duplicate_scan": N_("duplicate scan"),
              "cloned_label": N_("cloned label"), "misrouted": N_("misrouted"),
              "wrong_dapil": N_("wrong dapil"), "forged_label": N_("forged label"),
              "unknown_package": N_("unknown package"), "superseded_label": N_("superseded label"),
              "custody_gap": N_("custody gap"), "late": N_("late"), "damaged": N_("damaged"),
              "seal_mismatch": N_("seal mismatch"), "quantity_mismatch": N_("quantity mismatch")}
LEVEL_WORDS = {"province": N_("KPU Province"), "regency": N_("KPU Regency/City"),
               "district": N_("PPK (district)"), "village": N_("PPS (village)"),
               "tps": N_("KPPS (TPS)")}


def bast_pdf(data: dict, out, translate: Translate = lambda s: s, lang: str = "id",
             made_at: dt.datetime | None = None, tz: dt.tzinfo = UTC) -> None:
    """Draw the Berita Acara Serah Terima of a handoff as an A4 PDF (times local to ``tz``)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table,
                                    TableStyle)

    t = translate
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["Normal"], fontSize=9.5, leading=13)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=styles["Title"], fontSize=14, leading=18, spaceAfter=2)
    sub = ParagraphStyle("sub", parent=body, alignment=1)
    h2 = ParagraphStyle("h2", parent=styles["Heading3"], fontSize=10.5, spaceBefore=8, spaceAfter=4)
    s, r = data["sender"], data["receiver"]

    def esc(value) -> str:
        return (str(value) if value is not None else "-").replace("&", "&amp;") \
            .replace("<", "&lt;").replace(">", "&gt;")

    def party(p) -> str:
        return f"{esc(t(LEVEL_WORDS.get(p['level'], p['level'])))} {esc(p['name'])} ({esc(p['code'])})"

    day = data["day"].isoformat() if data.get("day") else t(N_("all dates"))
    made = (made_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    story = [
        Paragraph(esc(t(N_("HANDOVER REPORT OF ELECTION LOGISTICS"))), head),
        Paragraph(esc(t(N_("Berita Acara Serah Terima (BAST)"))), sub),
        Spacer(1, 5 * mm),
        Paragraph(esc(t(N_("On the date below, the first party hands over to the second party the "
                           "election logistics listed in this report, as recorded by the scans of "
                           "their signed labels."))), body),
        Spacer(1, 3 * mm),
    ]
    facts = [
        [t(N_("First party (sender)")), Paragraph(party(s), body)],
        [t(N_("Second party (receiver)")), Paragraph(party(r), body)],
        [t(N_("Date of handover")), day],
        [t(N_("Receipts scanned")),
         f"{esc(local_text(data['first'], tz))} - {esc(local_text(data['last'], tz))}"],
        [t(N_("Received by (operators)")), Paragraph(esc(", ".join(data["operators"]) or "-"), body)],
    ]
    ft = Table(facts, colWidths=[48 * mm, 122 * mm])
    ft.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9.5), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#444444"))]))
    story += [ft, Paragraph(esc(t(N_("Packages handed over, by item type"))), h2)]
    bold = ParagraphStyle("bold", parent=small, fontName="Helvetica-Bold")
    rows = [[Paragraph(esc(t(w)), bold) for w in (
        N_("Item type"), N_("Packages (koli)"), N_("Quantity"), N_("Good"), N_("Damaged"),
        N_("Seal broken"), N_("Dispatched"))]]
    for line in data["table"]:
        name = line["name_en"] if lang == "en" else line["name_id"]
        rows.append([Paragraph(f"{esc(name)} <font size=7>({esc(line['item_type'])})</font>", small),
                     line["packages"], f"{line['quantity']:,}".replace(",", "."), line["ok"],
                     line["damaged"], line["seal_broken"], line["dispatched"]])
    total = [sum(line[k] for line in data["table"]) for k in
             ("packages", "quantity", "ok", "damaged", "seal_broken", "dispatched")]
    rows.append([t(N_("Total")), total[0], f"{total[1]:,}".replace(",", "."), *total[2:]])
    tt = Table(rows, colWidths=[58 * mm, 20 * mm, 22 * mm, 16 * mm, 18 * mm, 18 * mm, 18 * mm],
               repeatRows=1)
    tt.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5), ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [tt, Paragraph(esc(t(N_("Discrepancies"))), h2)]
    notes = []
    for p in data["not_arrived"]:
        notes.append([p["package_id"], p["item_type"], t(N_("dispatched, not received"))])
    for c in data["condition"]:
        what = t(N_("damaged")) if c["disposition"] == "damaged" else t(N_("seal broken"))
        if c["seal"]:
            what += " (" + t(N_("seal")) + " " + c["seal"] + ")"
        notes.append([c["package_id"], c["item_type"], what])
    for a in data["anomalies"]:
        kind = t(KIND_WORDS.get(a["kind"], a["kind"]))
        notes.append([a["package_id"] or "-", kind, Paragraph(esc(a["detail"] or kind), small)])
    if notes:
        nt = Table([[t(N_("Package")), t(N_("Type / kind")), t(N_("What"))]] + notes,
                   colWidths=[55 * mm, 35 * mm, 80 * mm], repeatRows=1)
        nt.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
                                ("FONTSIZE", (0, 0), (-1, -1), 8),
                                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                                ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(nt)
    else:
        story.append(Paragraph(esc(t(N_("No discrepancies were recorded."))), body))
    first, second = t(N_("First party (hands over)")), t(N_("Second party (receives)"))
    name_line = t(N_("Name")) + ": ______________________"
    position_line = t(N_("Position")) + ": ____________________"
    sign = [[Paragraph(f"<b>{esc(first)}</b><br/>{party(s)}", small), "",
             Paragraph(f"<b>{esc(second)}</b><br/>{party(r)}", small)],
            ["", "", ""],
            [name_line, "", name_line],
            [position_line, "", position_line]]
    st = Table(sign, colWidths=[80 * mm, 10 * mm, 80 * mm], rowHeights=[None, 24 * mm, None, None])
    st.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("LINEBELOW", (0, 1), (0, 1), 0.6, colors.black),
                            ("LINEBELOW", (2, 1), (2, 1), 0.6, colors.black)]))
    story += [Spacer(1, 6 * mm), KeepTogether([
        Paragraph(esc(t(N_("Signatures"))), h2), st, Spacer(1, 4 * mm),
        Paragraph(esc(t(N_("Generated by Jejak from the scan log at")) + " "
                      + local_text(made, tz, seconds=False) + "."), small)])]
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm,
                            title=f"BAST {s['code']} - {r['code']}", author="Jejak")
    doc.build(story)


def receipt_days(session: Session, receiver: Location, tz: dt.tzinfo = UTC) -> list[dt.date]:
    """Return the local dates on which the receiver recorded receipts, newest first."""
    days = set()
    for (when,) in session.execute(
            select(ScanEvent.scanned_at).where(and_(ScanEvent.location_id == receiver.id,
                                                    ScanEvent.action.in_(RECEIVE_ACTIONS)))
            .order_by(ScanEvent.scanned_at.desc()).limit(5000)):
        days.add(local(when, tz).date())
    return sorted(days, reverse=True)
