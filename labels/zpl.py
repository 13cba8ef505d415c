"""ZPL II for Zebra-type thermal printers at 203 dpi: one label per ``^XA...^XZ``.

Each label is laid out exactly like the PDF of the same thermal template
(:mod:`labels.layout`), converted to printer dots.  The QR code is the printer's
own ``^BQ`` field (model 2, error correction Q, automatic data mode) with a
whole-dot magnification, so the printer renders it at full sharpness.  Text
uses the scalable font 0 with ``^CI28`` (UTF-8), so apostrophes and non-ASCII
place names print; ``^FH`` escapes ``^``, ``~`` and ``_`` in field data.
Widths were fitted with DejaVu Sans metrics, which are wider than font 0, so
text measured to fit does fit.
"""

from __future__ import annotations

from typing import Iterator

from . import qr
from .layout import label_fields, layout_label
from .templates import DOT_MM, Template


def dots(mm: float) -> int:
    """Return a length in mm as whole 203 dpi printer dots."""
    return int(round(mm / DOT_MM))


def _field_data(text: str) -> str:
    """Escape ZPL control characters for a ^FH field (hex escapes with '_')."""
    return (text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E"))


def zpl_label(template: Template, row, signed, lang: str, destination_name: str,
              offset_x: float = 0.0, offset_y: float = 0.0, item_names=None) -> str:
    """Return the ZPL of one label."""
    text = signed.text
    n_modules = qr.modules_with_quiet_zone(qr.encode(text))
    fields = label_fields(row, signed, lang, destination_name, large=template.layout == "stacked",
                          item_names=item_names)
    lay = layout_label(template, n_modules, fields)
    height = template.label_h
    magnification = dots(lay.module)
    # ^FO is the symbol's top-left corner (y down), inside the quiet zone.
    qx = dots(lay.qr_x + offset_x) + qr.QUIET_ZONE * magnification
    qy = dots(height - lay.qr_y - lay.module * n_modules + offset_y) + qr.QUIET_ZONE * magnification
    out = ["^XA", "^CI28", f"^PW{dots(template.label_w)}", f"^LL{dots(template.label_h)}", "^LH0,0",
           f"^FO{qx},{qy}^BQN,2,{magnification}^FDQA,{text}^FS"]
    for line in lay.lines:
        size = dots(line.size * 25.4 / 72)
        top = height - line.y - 0.76 * line.size * 25.4 / 72  # ^FO of text is its top
        out.append(f"^FO{dots(line.x + offset_x)},{max(0, dots(top + offset_y))}"
                   f"^A0N,{size},{size}^FH_^FD{_field_data(line.text)}^FS")
    out.append("^XZ")
    return "\n".join(out) + "\n"


def zpl_labels(packages, signed, template: Template, *, names, lang: str,
               offset_x: float = 0.0, offset_y: float = 0.0, item_names=None) -> Iterator[str]:
    """Yield the ZPL of every label, in order."""
    for row, s in zip(packages, signed):
        yield zpl_label(template, row, s, lang, names.get(row.destination, ""), offset_x, offset_y,
                        item_names)
