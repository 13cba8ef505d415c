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

import datetime as dt
from collections import defaultdict

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from server.models import PATH_END, Anomaly, ItemType, Location, Package, ScanEvent
from server.reports.localtime import N_, UTC, Translate, day_bounds, local, local_text
from server.sql import chunks

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
        for part in chunks(dispatched, 500):
            q = select(ScanEvent.package_id).where(
                ScanEvent.location_id == receiver.id, ScanEvent.action.in_(RECEIVE_ACTIONS),
                ScanEvent.package_id.in_(part))
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
        for part in chunks(receipts, 500):
            anomalies += session.execute(
                select(Anomaly.id, Anomaly.kind, Package.package_id, Anomaly.detail, Anomaly.status)
                .join(Package, Package.id == Anomaly.package_id)
                .where(Anomaly.package_id.in_(part),
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
              "seal_mismatch": N_("seal mismatch"), "quantity_mismatch": N_("quantity mismatch"),
              "missing_return": N_("missing return")}


LEVEL_WORDS = {"province": N_("KPU Province"), "regency": N_("KPU Regency/City"),
               "district": N_("PPK (district)"), "village": N_("PPS (village)"),
               "tps": N_("KPPS (TPS)")}


def bast_pdf(data: dict, out, translate: Translate = lambda s: s, lang: str = "id",
             made_at: dt.datetime | None = None, tz: dt.tzinfo = UTC) -> None:
    """Draw the Berita Acara Serah Terima of a handoff as an A4 PDF (times local to ``tz``)."""
    # reportlab only when a BAST is drawn.
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

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
