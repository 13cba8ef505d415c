"""The printable A4 command sheet: one large QR code per scanner mode, with its name.

Staff scan these instead of touching the keyboard (receive, dispatch, pack,
unpack, inspect, handover, return; condition ok, damaged, seal broken; end of
container).  A second page is the count sheet: digits 0-9 that build the count of
the next package scanned, DAMAGED UNITS (the digits after it count damaged units)
and CLEAR COUNT.  A third page opens and closes a shipment (the surat jalan).  The texts are the constants of :mod:`labels.commands`.
"""

from __future__ import annotations

from . import commands, i18n, qr
from .layout import fonts
from .templates import MM

# (command text, i18n key), in sheet order: actions first, then conditions, then end of container.
SHEET = [
    (commands.ACTION_RECEIVE, "cmd_receive"),
    (commands.ACTION_DISPATCH, "cmd_dispatch"),
    (commands.ACTION_PACK, "cmd_pack"),
    (commands.ACTION_UNPACK, "cmd_unpack"),
    (commands.ACTION_INSPECT, "cmd_inspect"),
    (commands.ACTION_HANDOVER, "cmd_handover"),
    (commands.ACTION_RETURN, "cmd_return"),
    (commands.DISPOSITION_OK, "cmd_ok"),
    (commands.DISPOSITION_DAMAGED, "cmd_damaged"),
    (commands.DISPOSITION_SEAL_BROKEN, "cmd_seal_broken"),
    (commands.END_CONTAINER, "cmd_end_container"),
]
# The second page: counting at the door (digits of the next package's count).
COUNT_SHEET = [(text, f"cmd_count_{d}") for d, text in enumerate(commands.COUNT_DIGITS)] + [
    (commands.COUNT_DAMAGED, "cmd_count_damaged"),
    (commands.COUNT_CLEAR, "cmd_count_clear"),
]
# The third page: the surat jalan (open a shipment, close the open shipment or receipt).
SHIPMENT_SHEET = [(commands.SHIPMENT_OPEN, "cmd_shipment_open"),
                  (commands.SHIPMENT_CLOSE, "cmd_shipment_close")]
PAGES = [(SHEET, "sheet_title", "sheet_hint"), (COUNT_SHEET, "count_title", "count_hint"),
         (SHIPMENT_SHEET, "shipment_title", "shipment_hint")]
COLS, ROWS = 3, 4
CELL_W, CELL_H = 66.0, 64.0  # mm
MARGIN_X, MARGIN_TOP = 6.0, 26.0
QR_MM = 40.0


def cell_origin(index: int) -> tuple[float, float]:
    """Return the lower-left corner (mm) of a command's cell on the A4 page."""
    col, row = index % COLS, index // COLS
    return MARGIN_X + col * CELL_W, 297.0 - MARGIN_TOP - (row + 1) * CELL_H


def render_command_sheet(out, lang: str = i18n.DEFAULT_LANGUAGE) -> None:
    """Write the command sheet PDF to out: the modes, then the count sheet."""
    from reportlab.pdfgen.canvas import Canvas

    f = fonts()
    canvas = Canvas(str(out), pagesize=(210 * MM, 297 * MM), invariant=1)
    canvas.setTitle(i18n.text("sheet_title", lang))
    for cells, title, hint in PAGES:
        _page(canvas, f, cells, title, hint, lang)
    canvas.save()


def _page(canvas, f, cells, title: str, hint: str, lang: str) -> None:
    """Draw one page of command codes, three by four."""
    from reportlab.pdfbase.pdfmetrics import stringWidth  # reportlab only when a sheet is drawn

    canvas.setFont(f["bold"], 16)
    canvas.drawString(MARGIN_X * MM, (297 - 14) * MM, i18n.text(title, lang))
    canvas.setFont(f["regular"], 10)
    canvas.drawString(MARGIN_X * MM, (297 - 20) * MM, i18n.text(hint, lang))
    for index, (text, key) in enumerate(cells):
        x, y = cell_origin(index)
        matrix = qr.encode(text)
        n = qr.modules_with_quiet_zone(matrix)
        m = QR_MM / n * MM
        ox = (x + (CELL_W - QR_MM) / 2) * MM + qr.QUIET_ZONE * m
        oy = (y + CELL_H - QR_MM - 2) * MM + qr.QUIET_ZONE * m
        canvas.addLiteral(f"q {m:.5f} 0 0 {m:.5f} {ox:.3f} {oy:.3f} cm\n{qr.pdf_path(matrix)}\nQ")
        name = i18n.text(key, lang)
        size = 12.0
        while size > 7 and stringWidth(name, f["bold"], size) > (CELL_W - 4) * MM:
            size -= 0.5
        canvas.setFont(f["bold"], size)
        canvas.drawCentredString((x + CELL_W / 2) * MM, (y + CELL_H - QR_MM - 8) * MM, name)
        canvas.setFont(f["regular"], 7)
        canvas.drawCentredString((x + CELL_W / 2) * MM, (y + CELL_H - QR_MM - 13) * MM, text)
    canvas.showPage()
