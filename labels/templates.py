"""Label templates: every size in millimetres, in this one place.

A template is a page with a grid of identical labels.  Sheet templates (A4)
carry many labels per page; thermal templates are one label per page (and per
``^XA...^XZ`` in ZPL).  ``layout`` says where the QR code goes: ``side`` puts it
on the left with the text to its right, ``stacked`` puts the package id on top,
the QR code under it and the text below.

Sheet geometry follows the common stock: ``a4-3x8`` is 70 x 37 mm labels edge to
edge (3 x 8 = 24 per sheet), ``a4-2x7`` is 99.1 x 38.1 mm labels with 2.5 mm
between columns (2 x 7 = 14 per sheet).  ``--offset-x/--offset-y`` shift the
whole grid to calibrate a printer that feeds off-centre.
"""

from __future__ import annotations

from dataclasses import dataclass

MM = 72 / 25.4  # points per millimetre
THERMAL_DPI = 203
DOT_MM = 25.4 / THERMAL_DPI  # one thermal printer dot


@dataclass(frozen=True)
class Template:
    """A label sheet or roll: page size, grid, label size and inner layout, in mm."""

    name: str
    page_w: float
    page_h: float
    cols: int
    rows: int
    label_w: float
    label_h: float
    margin_left: float  # page edge to the first label
    margin_top: float
    gap_x: float  # between labels
    gap_y: float
    padding: float  # label edge to its content (the QR's quiet zone is extra)
    layout: str  # "side" or "stacked"
    thermal: bool
    max_qr_mm: float  # largest QR square including its quiet zone

    @property
    def per_page(self) -> int:
        """Return how many labels a page holds."""
        return self.cols * self.rows

    def label_origin(self, position: int, offset_x: float = 0.0, offset_y: float = 0.0) -> tuple[float, float]:
        """Return the (x, y) in mm of a label's lower-left corner, y up from the page bottom.

        Positions run left to right, then top to bottom, from 0.
        """
        col, row = position % self.cols, position // self.cols
        x = self.margin_left + col * (self.label_w + self.gap_x) + offset_x
        top = self.margin_top + row * (self.label_h + self.gap_y) + offset_y
        return x, self.page_h - top - self.label_h


TEMPLATES = {
    t.name: t for t in (
        Template("a4-3x8", 210.0, 297.0, 3, 8, 70.0, 37.0, 0.0, 0.5, 0.0, 0.0,
                 1.5, "side", False, 34.0),
        Template("a4-2x7", 210.0, 297.0, 2, 7, 99.1, 38.1, 4.65, 15.15, 2.5, 0.0,
                 1.5, "side", False, 35.1),
        Template("thermal-100x150", 100.0, 150.0, 1, 1, 100.0, 150.0, 0.0, 0.0, 0.0, 0.0,
                 3.0, "stacked", True, 80.0),
        Template("thermal-50x30", 50.0, 30.0, 1, 1, 50.0, 30.0, 0.0, 0.0, 0.0, 0.0,
                 1.0, "side", True, 28.0),
    )
}
DEFAULT_PDF_TEMPLATE = "a4-3x8"
DEFAULT_ZPL_TEMPLATE = "thermal-100x150"
# Below this a 720p webcam at reading distance stops resolving modules reliably
# (about 2 printer dots at 203 dpi); a payload that would need smaller modules
# on a template is refused rather than printed unreadable.
MIN_MODULE_MM = 0.3


class TemplateError(ValueError):
    """An unknown template name or a template that cannot carry a payload."""


def get(name: str) -> Template:
    """Return the template called name."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise TemplateError(f"unknown template {name!r}; choose one of "
                            f"{', '.join(sorted(TEMPLATES))}") from None


def module_mm(template: Template, modules_with_quiet_zone: int) -> float:
    """Return the module size in mm a symbol of this many modules gets on the template.

    Thermal templates snap the module to whole printer dots, so a 203 dpi
    printer renders every module the same width.
    """
    size = template.max_qr_mm / modules_with_quiet_zone
    if template.thermal:
        size = max(1, int(size / DOT_MM)) * DOT_MM
    if size < MIN_MODULE_MM:
        raise TemplateError(
            f"a QR code of {modules_with_quiet_zone} modules would get {size:.2f} mm modules on "
            f"{template.name}, below the {MIN_MODULE_MM} mm a webcam reads; use a larger template "
            "or shorter package/destination ids")
    return size
