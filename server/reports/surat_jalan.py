"""The surat jalan: the printable delivery note of one shipment, with its QR and its koli.

``surat_jalan_pdf(data, out)`` draws the A4 PDF from ``server.shipments.records.
shipment_dict`` (plus the places' names); the QR carries the shipment's
reference (``labels.shipment``), which the receiver scans before the koli.
The QR is encoded by ``labels.qr`` (the labels' encoder) and drawn as vector
rectangles, so it prints sharp at any size.  Visible words are English msgids
marked with ``N_``, translated by the caller's ``translate``.
"""

from __future__ import annotations

import datetime as dt

from server.reports.localtime import N_, UTC, Translate, local_text
from server.reports.qr import qr_flowable

QR_SIZE_MM = 38


def surat_jalan_pdf(data: dict, out, translate: Translate = lambda s: s,
                    made_at: dt.datetime | None = None, tz: dt.tzinfo = UTC) -> None:
    """Draw a shipment's surat jalan as an A4 PDF (times local to ``tz``)."""
    # reportlab only when a surat jalan is drawn (qr_flowable loads the QR encoder then too).
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    t = translate
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["Normal"], fontSize=9.5, leading=13)
    head = ParagraphStyle("head", parent=styles["Title"], fontSize=14, leading=18, spaceAfter=2)
    mono = ParagraphStyle("mono", parent=body, fontName="Courier", fontSize=7, leading=9)

    def esc(value) -> str:
        return (str(value) if value is not None else "-").replace("&", "&amp;") \
            .replace("<", "&lt;").replace(">", "&gt;")

    made = made_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    facts = [
        [t(N_("Shipment number")), Paragraph(f"<b>{esc(data['number'])}</b>", body)],
        [t(N_("From")), Paragraph(esc(f"{data.get('from_name', '')} ({data['from']})"), body)],
        [t(N_("To")), Paragraph(esc(f"{data.get('to_name', '')} ({data['to']})"), body)],
        [t(N_("Closed by the sender")), esc(local_text(data["closed_at"], tz))],
        [t(N_("Operator")), esc(data.get("operator") or "-")],
        [t(N_("Packages (koli)")), str(len(data["koli"]))],
    ]
    ft = Table(facts, colWidths=[42 * mm, 80 * mm])
    ft.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9.5),
                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#444444"))]))
    top = Table([[ft, qr_flowable(data["reference"], QR_SIZE_MM * mm)]], colWidths=[125 * mm, 45 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    rows = [["#", t(N_("Package")), t(N_("Received"))]]
    rows += [[str(i), esc(p), ""] for i, p in enumerate(data["koli"], 1)]
    kt = Table(rows, colWidths=[12 * mm, 110 * mm, 30 * mm], repeatRows=1)
    kt.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
                            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold")]))
    story = [
        Paragraph(esc(t(N_("DELIVERY NOTE (SURAT JALAN)"))), head),
        Spacer(1, 4 * mm), top, Spacer(1, 2 * mm),
        Paragraph(esc(data["reference"]), mono),
        Paragraph(esc(t(N_("The receiver scans this QR code, then every package received, "
                           "then closes the receipt: packages missing or not on this list "
                           "are recorded at once."))), body),
        Spacer(1, 4 * mm), kt, Spacer(1, 12 * mm),
        Table([[t(N_("Sender")), t(N_("Driver")), t(N_("Receiver"))],
               ["\n\n\n(................................)"] * 3],
              colWidths=[56 * mm] * 3,
              style=TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                ("FONTSIZE", (0, 0), (-1, -1), 9)])),
        Spacer(1, 6 * mm),
        Paragraph(esc(t(N_("Printed")) + f" {local_text(made, tz)}"), body),
    ]
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm,
                            title=f"Surat jalan {data['number']}", author="Jejak")
    doc.build(story)
