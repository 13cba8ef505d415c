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
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from server.models import (
    PATH_END,
    Anomaly,
    ItemType,
    Location,
    Package,
    ScanEvent,
    ScanPhoto,
    province_of,
)
from server.reconcile.details import KIND_WORDS, loads, text_of
from server.reconcile.findings import SYSTEM
from server.reports.bast_parties import ShipmentPart, handover_shipments, parties_flowables
from server.reports.localtime import N_, UTC, Translate, day_bounds, local, local_text
from server.reports.qr import qr_flowable
from server.sql import chunks

RECEIVE_ACTIONS = ("receive", "handover")


# What makes a received package not good, worst first: the row of a package names its
# worst kind first.  A label kind (forged, unknown, superseded) names a text that was
# presented instead of a package: it is listed apart and never counted as received.
PROBLEM_KINDS = ("cloned_label", "misrouted", "wrong_dapil", "quantity_mismatch",
                 "seal_mismatch")
DAMAGE_KINDS = ("damaged",)
# Noted on the package's row; the goods themselves were handed over good.
NOTE_KINDS = ("custody_gap", "late", "duplicate_scan")
# Said of a package that did not arrive (short).
SHORT_KINDS = ("missing",)
PACKAGE_KINDS = PROBLEM_KINDS + DAMAGE_KINDS + NOTE_KINDS + SHORT_KINDS
PRESENTED_KINDS = ("forged_label", "unknown_package", "superseded_label")
OUTCOMES = ("good", "damaged", "problem", "short")


@dataclass
class Party:
    """One side of the handover: a location."""

    code: str
    name: str
    level: str


@dataclass
class Finding:
    """An anomaly the handover shows (its facts, put in words when the BAST is drawn)."""

    id: int
    kind: str
    status: str
    facts: dict
    detail: str


@dataclass
class PackageRow:
    """A package of the handover that was not plainly received good, or that carries a note.

    ``outcome`` is where it is counted: damaged, problem or short (dispatched, not
    received) - or good, when only notes (late, custody gap, duplicate scan) concern it.
    ``extra``: received without a dispatch of it by the sender towards the receiver.
    ``kinds`` are its anomaly kinds at the receiver, worst first.
    """

    package_id: str
    item_type: str
    outcome: str
    extra: bool = False
    condition: str = "ok"  # the receipt's disposition: ok, damaged, seal_broken
    seal: str = ""
    scanned_at: dt.datetime | None = None
    operator: str = ""
    kinds: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Presented:
    """A label scanned at the receiver that named no package it could take (forged, unknown...)."""

    claimed: str
    kind: str
    finding: Finding
    scanned_at: dt.datetime | None = None


@dataclass
class TypeLine:
    """The figures of one item type; they reconcile by construction (``check``)."""

    item_type: str
    name_id: str
    name_en: str
    dispatched: int = 0   # dispatched by the sender towards the receiver, still due there
    short: int = 0        # of those, not received
    extra: int = 0        # received without such a dispatch
    received: int = 0     # packages (koli) received: dispatched - short + extra
    damaged: int = 0
    problem: int = 0
    good: int = 0         # received - damaged - problem
    quantity: int = 0     # planned quantity of the packages received

    def check(self) -> None:
        """Raise AssertionError when the figures do not reconcile (a bug, never data)."""
        assert self.received == self.dispatched - self.short + self.extra, self
        assert self.good == self.received - self.damaged - self.problem, self


@dataclass
class BastPhoto:
    """A photo attached to one of the handover's scans at the receiver (issue 13, photo evidence)."""

    sha256: str
    media_type: str
    package_id: str     # the package the scan names (or the id a refused label claimed)
    action: str
    scanned_at: dt.datetime
    operator: str = ""


FIGURES = ("dispatched", "short", "extra", "received", "damaged", "problem", "good", "quantity")


@dataclass
class Bast:
    """Everything a BAST states, from the log and the plan: the PDF only draws this.

    The shape is documented in docs/bast.md; a new figure belongs here, not in the PDF.
    """

    sender: Party
    receiver: Party
    day: dt.date | None
    first: dt.datetime | None
    last: dt.datetime | None
    lines: list[TypeLine]
    packages: list[PackageRow]
    presented: list[Presented]
    operators: list[str]
    photos: list[BastPhoto] = field(default_factory=list)
    # Issue 13: the shipments (surat jalan) of the handover with both parties' confirmations,
    # and the QR text sealing this BAST (server.reports.bast_seal; empty: not sealed).
    shipments: list[ShipmentPart] = field(default_factory=list)
    seal: str = ""

    @property
    def totals(self) -> dict[str, int]:
        """Return the sum of each figure over the item types."""
        return {k: sum(getattr(line, k) for line in self.lines) for k in FIGURES}


def _worst(kinds) -> list[str]:
    """Return anomaly kinds worst first, each once."""
    order = {k: i for i, k in enumerate(PACKAGE_KINDS)}
    return sorted(set(kinds), key=lambda k: order.get(k, len(order)))


def bast_data(session: Session, sender: Location, receiver: Location,
              day: dt.date | None = None, tz: dt.tzinfo = UTC) -> Bast:
    """Gather a handoff from sender to receiver from the scans (on one local day, or all of them).

    Received: the first counted receipt of each package at the receiver in the window.
    Dispatched: the sender's dispatches towards the receiver (its subtree) before the
    window ends, of packages not already received there before it began.
    """
    start, end = day_bounds(day, tz) if day else (None, None)
    # Plain columns, not ORM objects: a district's handoff is tens of thousands of receipts.
    receipts_q = (select(Package.id.label("pid"), Package.package_id, Package.item_type,
                         Package.quantity, ScanEvent.disposition, ScanEvent.seal,
                         ScanEvent.scanned_at, ScanEvent.operator)
                  .select_from(ScanEvent)
                  .join(Package, Package.id == ScanEvent.package_id)
                  .where(ScanEvent.location_id == receiver.id,
                         ScanEvent.province == province_of(receiver.path),
                         ScanEvent.action.in_(RECEIVE_ACTIONS), ScanEvent.counted.is_(True))
                  .order_by(ScanEvent.scanned_at, ScanEvent.id))
    if day:
        receipts_q = receipts_q.where(ScanEvent.scanned_at >= start, ScanEvent.scanned_at < end)
    receipts: dict[int, object] = {}
    for row in session.execute(receipts_q):
        receipts.setdefault(row.pid, row)  # the first receipt is the handoff
    dispatched_q = (select(Package.id.label("pid"), Package.package_id, Package.item_type)
                    .select_from(ScanEvent)
                    .join(Package, Package.id == ScanEvent.package_id)
                    .join(Location, Location.id == Package.destination_id)
                    .where(ScanEvent.location_id == sender.id, ScanEvent.action == "dispatch",
                           ScanEvent.province == province_of(sender.path),
                           Location.path >= receiver.path,
                           Location.path < receiver.path + PATH_END))
    if end is not None:
        dispatched_q = dispatched_q.where(ScanEvent.scanned_at < end)
    dispatched = {row.pid: row for row in session.execute(dispatched_q)}
    if start is not None and dispatched:
        # Taken over on an earlier day: that day's BAST counts it, not this one.
        for part in chunks(dispatched, 500):
            earlier = session.scalars(select(ScanEvent.package_id).where(
                ScanEvent.location_id == receiver.id, ScanEvent.action.in_(RECEIVE_ACTIONS),
                ScanEvent.province == province_of(receiver.path),
                ScanEvent.package_id.in_(part), ScanEvent.scanned_at < start))
            for pid in set(earlier):
                dispatched.pop(pid, None)
    findings = _findings(session, receiver, set(receipts) | set(dispatched))
    presented = _presented(session, receiver, start, end)
    names = {it.code: it for it in session.scalars(select(ItemType))}

    lines: dict[str, TypeLine] = {}

    def line(code: str) -> TypeLine:
        if code not in lines:
            it = names.get(code)
            lines[code] = TypeLine(code, it.name_id if it else code, it.name_en if it else code)
        return lines[code]

    rows: list[PackageRow] = []
    for pid, pkg in dispatched.items():
        line(pkg.item_type).dispatched += 1
        if pid not in receipts:
            line(pkg.item_type).short += 1
            mine = findings.get(pid, [])
            rows.append(PackageRow(pkg.package_id, pkg.item_type, "short",
                                   kinds=_worst(f.kind for f in mine), findings=mine))
    for pid, scan in receipts.items():
        tl = line(scan.item_type)
        tl.received += 1
        tl.quantity += scan.quantity
        extra = pid not in dispatched
        tl.extra += extra
        mine = findings.get(pid, [])
        kinds = _worst([f.kind for f in mine]
                       + (["damaged"] if scan.disposition in ("damaged", "seal_broken") else []))
        if any(k in PROBLEM_KINDS for k in kinds):
            outcome = "problem"
        elif any(k in DAMAGE_KINDS for k in kinds):
            outcome = "damaged"
        else:
            outcome = "good"
        setattr(tl, outcome, getattr(tl, outcome) + 1)
        if outcome != "good" or kinds or extra:
            rows.append(PackageRow(scan.package_id, scan.item_type, outcome, extra,
                                   scan.disposition, scan.seal or "", scan.scanned_at,
                                   scan.operator or "", kinds, mine))
    for tl in lines.values():
        tl.check()
    order = {o: i for i, o in enumerate(("problem", "damaged", "short", "good"))}
    rows.sort(key=lambda r: (order[r.outcome], r.package_id))
    times = [scan.scanned_at for scan in receipts.values()]
    return Bast(
        sender=Party(sender.code, sender.name, sender.level),
        receiver=Party(receiver.code, receiver.name, receiver.level),
        day=day, first=min(times) if times else None, last=max(times) if times else None,
        lines=[lines[k] for k in sorted(lines)], packages=rows, presented=presented,
        operators=sorted({scan.operator for scan in receipts.values() if scan.operator}),
        photos=_photos(session, receiver, start, end),
        shipments=handover_shipments(session, sender, receiver, start, end))


def _photos(session: Session, receiver: Location, start, end) -> list[BastPhoto]:
    """Return the photos attached to the receiver's scans in the window, in scan order."""
    query = (select(ScanPhoto.sha256, ScanPhoto.media_type, Package.package_id,
                    ScanEvent.claimed_package, ScanEvent.action, ScanEvent.scanned_at,
                    ScanEvent.operator)
             .select_from(ScanPhoto)
             .join(ScanEvent, ScanEvent.id == ScanPhoto.scan_id)
             .outerjoin(Package, Package.id == ScanEvent.package_id)
             .where(ScanEvent.location_id == receiver.id,
                    ScanEvent.province == province_of(receiver.path))
             .order_by(ScanEvent.scanned_at, ScanEvent.id, ScanPhoto.id))
    if start is not None:
        query = query.where(ScanEvent.scanned_at >= start, ScanEvent.scanned_at < end)
    return [BastPhoto(r.sha256, r.media_type, r.package_id or r.claimed_package, r.action,
                      r.scanned_at, r.operator or "") for r in session.execute(query)]


def _findings(session: Session, receiver: Location, package_ids: set[int]
              ) -> dict[int, list[Finding]]:
    """Return the anomalies at the receiver of these packages, by package (not those disproved)."""
    out: dict[int, list[Finding]] = defaultdict(list)
    for part in chunks(package_ids, 500):
        for a in session.execute(
                select(Anomaly.id, Anomaly.package_id, Anomaly.kind, Anomaly.status,
                       Anomaly.facts_json, Anomaly.detail, Anomaly.resolved_by)
                .where(Anomaly.package_id.in_(part), Anomaly.location_id == receiver.id,
                       Anomaly.kind.in_(PACKAGE_KINDS)).order_by(Anomaly.id)):
            if a.status == "resolved" and a.resolved_by == SYSTEM:
                continue  # the log no longer shows it
            out[a.package_id].append(Finding(a.id, a.kind, a.status, loads(a.facts_json),
                                             a.detail))
    return out


def _presented(session: Session, receiver: Location, start, end) -> list[Presented]:
    """Return the bad labels scanned at the receiver in the window (forged, unknown, superseded)."""
    q = (select(Anomaly.id, Anomaly.kind, Anomaly.status, Anomaly.facts_json, Anomaly.detail,
                Anomaly.claimed_package, Anomaly.detected_at)
         .where(Anomaly.location_id == receiver.id, Anomaly.kind.in_(PRESENTED_KINDS))
         .order_by(Anomaly.detected_at, Anomaly.id))
    if start is not None:
        q = q.where(Anomaly.detected_at >= start, Anomaly.detected_at < end)
    return [Presented(a.claimed_package or "-", a.kind,
                      Finding(a.id, a.kind, a.status, loads(a.facts_json), a.detail),
                      a.detected_at) for a in session.execute(q)]


# How each level's office is named: its body, and the body with the kind of place for a
# name that does not say it ("Sukapura" -> "PPK Kecamatan Sukapura"; "Kabupaten
# Probolinggo" -> "KPU Kabupaten Probolinggo", never "KPU Kabupaten/Kota Kabupaten ...").
OFFICES = {"province": ("KPU", N_("KPU Province"), ("provinsi",)),
           "regency": ("KPU", N_("KPU Regency/City"), ("kabupaten", "kota", "kab.")),
           "district": ("PPK", N_("PPK District"), ("kecamatan",)),
           "village": ("PPS", N_("PPS Village"), ("desa", "kelurahan")),
           "tps": ("KPPS", N_("KPPS at TPS"), ("tps",))}


def party_name(p: Party, translate: Translate = lambda s: s) -> str:
    """Return a party as the BAST names it: office and place, each word once, and its code."""
    body, office, prefixes = OFFICES.get(p.level, ("", p.level, ()))
    first = p.name.split(" ", 1)[0].lower()
    head = body if first in prefixes else translate(office)
    return f"{head} {p.name} ({p.code})".strip()


OUTCOME_WORDS = {"good": N_("good"), "damaged": N_("damaged"), "problem": N_("problem"),
                 "short": N_("short")}


# Returns the thumbnail (JPEG bytes) of a photo by (sha256, media type), None when its file is gone.
PhotoSource = Callable[[str, str], "bytes | None"]


def bast_pdf(data: Bast, out, translate: Translate = lambda s: s, lang: str = "id",
             made_at: dt.datetime | None = None, tz: dt.tzinfo = UTC,
             photo: PhotoSource | None = None) -> None:
    """Draw the Berita Acara Serah Terima of a handoff as an A4 PDF (times local to ``tz``).

    ``photo`` gives the thumbnails of ``data.photos`` (without it, or for a file
    that is gone, the photo is listed by its SHA-256 without the picture).
    """
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
    s, r = data.sender, data.receiver

    def esc(value) -> str:
        return (str(value) if value is not None else "-").replace("&", "&amp;") \
            .replace("<", "&lt;").replace(">", "&gt;")

    def minute(value: dt.datetime) -> str:
        return local_text(value, tz, seconds=False)

    def number(n: int) -> str:
        return f"{n:,}".replace(",", "." if lang == "id" else ",")

    day = data.day.isoformat() if data.day else t(N_("all dates"))
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
        [t(N_("First party (sender)")), Paragraph(esc(party_name(s, t)), body)],
        [t(N_("Second party (receiver)")), Paragraph(esc(party_name(r, t)), body)],
        [t(N_("Date of handover")), day],
        [t(N_("Receipts scanned")),
         f"{esc(local_text(data.first, tz))} - {esc(local_text(data.last, tz))}"],
        [t(N_("Received by (operators)")), Paragraph(esc(", ".join(data.operators) or "-"), body)],
    ]
    ft = Table(facts, colWidths=[48 * mm, 122 * mm])
    ft.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9.5), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#444444"))]))
    story += [ft, Paragraph(esc(t(N_("Packages (koli) handed over, by item type"))), h2)]
    bold = ParagraphStyle("bold", parent=small, fontName="Helvetica-Bold")
    narrow = ParagraphStyle("narrow", parent=bold, fontSize=7.5)
    rows = [[Paragraph(esc(t(w)), narrow) for w in (
        N_("Item type"), N_("Dispatched"), N_("Short"), N_("Extra"), N_("Received"),
        N_("Damaged"), N_("Problem"), N_("Good"), N_("Quantity"))]]
    for tl in data.lines:
        name = tl.name_en if lang == "en" else tl.name_id
        rows.append([Paragraph(f"{esc(name)} <font size=7>({esc(tl.item_type)})</font>", small),
                     *[number(getattr(tl, k)) for k in FIGURES]])
    totals = data.totals
    rows.append([t(N_("Total")), *[number(totals[k]) for k in FIGURES]])
    tt = Table(rows, colWidths=[42 * mm] + [16 * mm] * 8, repeatRows=1)
    tt.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5), ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [tt, Spacer(1, 2 * mm), Paragraph(esc(t(N_(
        "Received = dispatched - short + extra; good = received - damaged - problem. "
        "Extra: received without a dispatch scan by the first party towards the second."))),
        small), Paragraph(esc(t(N_("Discrepancies"))), h2)]

    def what(row: PackageRow) -> str:
        parts = []
        if row.outcome == "short" and not row.findings:
            parts.append(esc(t(N_("dispatched by the first party, no receipt scanned"))))
        elif row.extra:
            parts.append(esc(t(N_("received without a dispatch from the first party"))))
        if row.condition != "ok" and not any(f.kind == "damaged" for f in row.findings):
            cond = t(N_("damaged")) if row.condition == "damaged" else t(N_("seal broken"))
            parts.append(esc(cond + (f" ({t(N_('seal'))} {row.seal})" if row.seal else "")))
        for f in sorted(row.findings, key=lambda f: row.kinds.index(f.kind)
                        if f.kind in row.kinds else 99):
            parts.append(esc(text_of({"kind": f.kind, "facts": f.facts, "detail": f.detail},
                                     t, minute)))
        return "<br/>".join(parts)

    notes = []
    for row in data.packages:
        kinds = ", ".join(t(KIND_WORDS[k]) for k in row.kinds) or "-"
        notes.append([Paragraph(esc(row.package_id), small),
                      Paragraph(esc(t(OUTCOME_WORDS[row.outcome])), small),
                      Paragraph(esc(kinds), small), Paragraph(what(row), small)])
    story.append(_table(notes, [N_("Package"), N_("Counted as"), N_("Kind"), N_("What")],
                        [42 * mm, 22 * mm, 26 * mm, 80 * mm], t, esc, bold)
                 if notes else Paragraph(esc(t(N_("No discrepancies were recorded."))), body))
    if data.presented:
        # Texts that named no package to take over: never counted, listed for the record.
        refused = [[Paragraph(esc(p.claimed), small),
                    Paragraph(esc(t(KIND_WORDS[p.kind])), small),
                    Paragraph(esc(text_of({"kind": p.kind, "facts": p.finding.facts,
                                           "detail": p.finding.detail}, t, minute)), small)]
                   for p in data.presented]
        story += [Paragraph(esc(t(N_("Labels not accepted"))), h2),
                  _table(refused, [N_("Label names"), N_("Kind"), N_("What")],
                         [42 * mm, 26 * mm, 102 * mm], t, esc, bold)]
    story += parties_flowables(data.shipments, t, esc, tz, body, small, bold, h2)
    if data.photos:
        story += _photo_section(data.photos, photo, t, esc, small, bold, h2, tz)
    first, second = t(N_("First party (hands over)")), t(N_("Second party (receives)"))
    name_line = t(N_("Name")) + ": ______________________"
    position_line = t(N_("Position")) + ": ____________________"
    sign = [[Paragraph(f"<b>{esc(first)}</b><br/>{esc(party_name(s, t))}", small), "",
             Paragraph(f"<b>{esc(second)}</b><br/>{esc(party_name(r, t))}", small)],
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
    if data.seal:
        story.append(seal_flowable(data.seal, t, esc, small))
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm,
                            title=f"BAST {s.code} - {r.code}", author="Jejak",
                            # A copy of the QR's text, for readers without a renderer.
                            subject=data.seal)
    doc.build(story)


def _photo_section(photos: list[BastPhoto], photo: PhotoSource | None, t: Translate, esc,
                   small, bold, h2, tz: dt.tzinfo) -> list:
    """Return the flowables of the photos taken at the handover: thumbnail, scan, SHA-256."""
    # reportlab only when a BAST is drawn.
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, Spacer

    size = 30 * mm
    rows = []
    for p in photos:
        data = photo(p.sha256, p.media_type) if photo is not None else None
        if data:
            picture = Image(io.BytesIO(data))
            scale = min(size / picture.imageWidth, size / picture.imageHeight)
            picture.drawWidth, picture.drawHeight = (picture.imageWidth * scale,
                                                     picture.imageHeight * scale)
        else:
            picture = Paragraph(esc(t(N_("(file not available)"))), small)
        words = (f"{esc(p.package_id)}<br/>{esc(local_text(p.scanned_at, tz, seconds=False))}"
                 f"{(' - ' + esc(p.operator)) if p.operator else ''}")
        rows.append([picture, Paragraph(words, small),
                     Paragraph(f"<font face='Courier'>{esc(p.sha256[:16])}</font>", small)])
    return [Paragraph(esc(t(N_("Photos taken at the handover"))), h2),
            _table(rows, [N_("Photo"), N_("Package and scan"), N_("SHA-256 (first 16)")],
                   [36 * mm, 84 * mm, 50 * mm], t, esc, bold), Spacer(1, 1.5 * mm),
            Paragraph(esc(t(N_("The SHA-256 of each original photo is chained in the log; "
                               "the originals are kept unchanged on the server."))), small)]


def seal_flowable(seal: str, t: Translate, esc, small):
    """Return the BAST's QR with the words that say how to check it against the log."""
    # reportlab only when a BAST is drawn.
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Table, TableStyle

    words = Paragraph(esc(t(N_(
        "This QR code seals this report: it carries the digest of each shipment, the ledger "
        "entries of both parties' confirmations and the position of the log, signed with the "
        "server's ledger key. Anyone can check it against the log offline: "
        "jejak-server verify-log --bast FILE (the PDF, or the QR's text)."))), small)
    table = Table([[qr_flowable(seal, 55 * mm), words]], colWidths=[60 * mm, 110 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return KeepTogether([table])


def _table(rows: list, header: list[str], widths: list, t: Translate, esc, bold):
    """Return a gridded table of paragraphs with a repeated header row."""
    # reportlab only when a BAST is drawn.
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    table = Table([[Paragraph(esc(t(w)), bold) for w in header]] + rows, colWidths=widths,
                  repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
                               ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def receipt_days(session: Session, receiver: Location, tz: dt.tzinfo = UTC) -> list[dt.date]:
    """Return the local dates on which the receiver recorded receipts, newest first."""
    days = set()
    for (when,) in session.execute(
            select(ScanEvent.scanned_at).where(and_(ScanEvent.location_id == receiver.id,
                                                    ScanEvent.province == province_of(receiver.path),
                                                    ScanEvent.action.in_(RECEIVE_ACTIONS)))
            .order_by(ScanEvent.scanned_at.desc()).limit(5000)):
        days.add(local(when, tz).date())
    return sorted(days, reverse=True)
