"""Where everything goes on one label: the QR square and the fitted text lines, in mm.

The PDF renderer and the ZPL writer draw the same :class:`LabelLayout`, so a
label reads the same on a sheet and on a thermal roll.

Text is fitted by measurement (reportlab's ``stringWidth`` on the font that is
drawn): each field starts at its largest size and shrinks together with the
others down to 6 pt; a field that still does not fit wraps (ids at their
hyphens), then a low-priority field is ellipsized, then omitted.  A field is
never drawn past the label's edge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import i18n
from .templates import MM, Template, module_mm

MIN_PT = 6.0
LEADING = 1.2  # line pitch / font size: DejaVu's ascent + descent is 1.0 em
ASCENT = 0.76  # DejaVu Sans ascent in em (cap height is 0.73)
ELLIPSIS = "\u2026"
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
              "mono": "DejaVuSansMono-Bold.ttf"}
FALLBACK_FONTS = {"regular": "Helvetica", "bold": "Helvetica-Bold", "mono": "Courier-Bold"}
_fonts: dict[str, str] = {}


def fonts() -> dict[str, str]:
    """Register DejaVu Sans with reportlab once and return {role: font name}.

    DejaVu covers all of Latin (apostrophes, accented place names); Helvetica
    is the fallback only when fonts-dejavu-core is not installed.
    """
    if _fonts:
        return _fonts
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    paths = {role: os.path.join(FONT_DIR, name) for role, name in FONT_FILES.items()}
    if all(os.path.exists(p) for p in paths.values()):
        for role, path in paths.items():
            name = "Jejak-" + FONT_FILES[role].removesuffix(".ttf")
            pdfmetrics.registerFont(TTFont(name, path))
            _fonts[role] = name
    else:
        _fonts.update(FALLBACK_FONTS)
    return _fonts


@dataclass(frozen=True)
class Field:
    """A piece of text to place: lower priority numbers are kept longest."""

    key: str
    text: str
    role: str  # "regular", "bold" or "mono"
    max_pt: float
    max_lines: int
    priority: int
    ellipsize: bool  # may be cut with an ellipsis (names); ids and codes never are
    min_scale: float = 0.0  # never shrink below this share of max_pt (the id stays large)


@dataclass(frozen=True)
class Line:
    """One drawn line of text: baseline position in mm from the label's lower-left corner."""

    key: str
    text: str
    font: str
    size: float
    x: float
    y: float


@dataclass(frozen=True)
class LabelLayout:
    """The QR square (lower-left corner and module size, quiet zone included) and the text."""

    qr_x: float
    qr_y: float
    module: float
    lines: tuple[Line, ...]


class _Fitter:
    """Wrap and measure text, caching results (names repeat across thousands of labels)."""

    def __init__(self):
        """Bind reportlab's stringWidth and start an empty cache."""
        from reportlab.pdfbase.pdfmetrics import stringWidth

        self.width = stringWidth
        self.cache: dict = {}

    def wrap(self, text: str, font: str, size: float, width_pt: float, max_lines: int,
             ellipsize: bool):
        """Return the lines of text within width_pt, or None when it does not fit."""
        key = (text, font, size, width_pt, max_lines, ellipsize)
        if key not in self.cache:
            if len(self.cache) > 20000:  # ids are unique: keep memory flat on long runs
                self.cache.clear()
            self.cache[key] = self._wrap(text, font, size, width_pt, max_lines, ellipsize)
        return self.cache[key]

    def _fits(self, s: str, font: str, size: float, width_pt: float) -> bool:
        """Tell whether s fits width_pt at this font and size."""
        return self.width(s, font, size) <= width_pt

    def _pieces(self, text: str, font: str, size: float, width_pt: float) -> list[str]:
        """Split text into pieces that each fit: words, then at hyphens/slashes, then characters."""
        pieces = []
        for word in text.split():
            if self._fits(word, font, size, width_pt):
                pieces.append(word)
                continue
            current = ""
            for ch in word:
                if current and not self._fits(current + ch, font, size, width_pt):
                    cut = max(current.rfind("-"), current.rfind("/"))
                    if 0 < cut < len(current) - 1:
                        pieces.append(current[:cut + 1] + "\0")  # \0: joins without a space
                        current = current[cut + 1:]
                    else:
                        pieces.append(current + "\0")
                        current = ""
                current += ch
            pieces.append(current)
        return pieces

    def _wrap(self, text, font, size, width_pt, max_lines, ellipsize):
        """Wrap text greedily; ellipsize or give up (None) past max_lines."""
        if self._fits(text, font, size, width_pt):
            return (text,)
        lines: list[str] = []
        current = ""
        glue = " "
        for piece in self._pieces(text, font, size, width_pt):
            joined = piece.rstrip("\0")
            candidate = current + glue + joined if current else joined
            if current and not self._fits(candidate, font, size, width_pt):
                lines.append(current)
                current = joined
            else:
                current = candidate
            glue = "" if piece.endswith("\0") else " "
        lines.append(current)
        if len(lines) <= max_lines:
            return tuple(lines)
        if not ellipsize:
            return None
        kept = lines[:max_lines]
        last = kept[-1]
        while last and not self._fits(last + ELLIPSIS, font, size, width_pt):
            last = last[:-1]
        kept[-1] = last.rstrip() + ELLIPSIS
        return tuple(kept)


_FITTER: _Fitter | None = None


def _fitter() -> _Fitter:
    """Return the process-wide fitter (its cache is shared by every label)."""
    global _FITTER
    if _FITTER is None:
        _FITTER = _Fitter()
    return _FITTER


def fit(fields: list[Field], width_mm: float, height_mm: float):
    """Return [(field, size, lines)] for the fields that fit the box, in field order.

    Shrinks every field together (never below 6 pt), then ellipsizes and drops
    fields from the highest priority number.  Fields with priority 0 are
    always kept (they may wrap onto extra lines).
    """
    fitter, names = _fitter(), fonts()
    width_pt, height_pt = width_mm * MM, height_mm * MM
    # A field that cannot fit its lines even at 6 pt goes first, before it
    # pushes better-behaved fields off the label.
    active = [f for f in fields if f.priority == 0 or fitter.wrap(
        f.text, names[f.role], MIN_PT, width_pt, f.max_lines, f.ellipsize) is not None]
    while True:
        for scale in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3):
            placed = _place(active, scale, fitter, names, width_pt)
            if placed is not None and _height(placed) <= height_pt:
                return placed
            if all(f.max_pt * scale <= MIN_PT for f in active):
                break
        droppable = [f for f in active if f.priority > 0]
        if not droppable:
            # Essentials only, at 6 pt, with as many lines as they need.
            essentials = [Field(f.key, f.text, f.role, MIN_PT, 9, 0, False) for f in active]
            return _place(essentials, 1.0, fitter, names, width_pt) or []
        active.remove(max(droppable, key=lambda f: (f.priority, fields.index(f))))
        if not active:
            return []


def _place(fields, scale, fitter, names, width_pt):
    """Wrap each field at its scaled size; None when an unellipsizable field cannot fit."""
    placed = []
    for f in fields:
        size = max(MIN_PT, int(f.max_pt * max(scale, f.min_scale) * 2) / 2)
        lines = fitter.wrap(f.text, names[f.role], size, width_pt, f.max_lines, f.ellipsize)
        if lines is None:
            return None
        placed.append((f, size, lines))
    return placed


def _height(placed) -> float:
    """Return the height in points of fitted fields."""
    return sum(size * LEADING * len(lines) for _, size, lines in placed)


def label_fields(row, signed, lang: str, destination_name: str, large: bool,
                 item_names=None) -> list[Field]:
    """Return the text fields of a package label, most important first.

    ``item_names`` (code -> name) overrides the built-in catalogue, e.g. with
    the item types a regency added on the server.
    """
    t = i18n.text
    scale = 2.0 if large else 1.0
    qty = f"{t('quantity', lang)}: {row.quantity}   {t('version', lang)}: {row.version}"
    fields = [
        Field("package_id", row.package_id, "mono", 11 * scale, 3, 0, False, 0.75),
        Field("item", (item_names or {}).get(row.item_type) or i18n.item_name(row.item_type, lang), "bold", 8 * scale, 2, 3, True),
        Field("destination", f"{t('destination', lang)}: {row.destination}", "regular",
              7.5 * scale, 3, 1, False),
    ]
    if destination_name:
        fields.append(Field("destination_name", destination_name, "regular", 7.5 * scale, 2, 5,
                            True))
    if row.dapil:
        fields.append(Field("dapil", f"{t('dapil', lang)}: {row.dapil}", "regular", 7.5 * scale,
                            3, 2, False))
    fields.append(Field("quantity", qty, "regular", 7.5 * scale, 2, 2, False))
    fields.append(Field("vcode", f"{t('vcode_short', lang)}: {signed.verification_code}", "mono",
                        9 * scale, 1, 0, False, 0.75))
    return fields


def _prefer_one_line(fields: list[Field], width_mm: float) -> list[Field]:
    """Keep the package id on one line when that costs it at most 15 % of its size."""
    out = []
    for f in fields:
        if f.key == "package_id":
            from reportlab.pdfbase.pdfmetrics import stringWidth

            one_pt = width_mm * MM / stringWidth(f.text, fonts()[f.role], 1.0)
            if one_pt >= 0.85 * f.max_pt:
                f = Field(f.key, f.text, f.role, min(f.max_pt, one_pt - 0.01), f.max_lines,
                          f.priority, f.ellipsize, f.min_scale)
        out.append(f)
    return out


def layout_label(template: Template, n_modules: int, fields: list[Field]) -> LabelLayout:
    """Place the QR square (n_modules including the quiet zone) and fit the fields around it."""
    pad, w, h = template.padding, template.label_w, template.label_h
    module = module_mm(template, n_modules)
    side = module * n_modules
    text_w = w - 2 * pad if template.layout == "stacked" else w - pad - (pad + side)
    fields = _prefer_one_line(fields, text_w)
    if template.layout == "side":
        qr_x, qr_y = pad, (h - side) / 2
        text_x = qr_x + side
        placed = fit(fields, w - text_x - pad, h - 2 * pad)
        top = h - pad - max(0.0, (h - 2 * pad - _height(placed) / MM) / 2)  # centred column
        return LabelLayout(qr_x, qr_y, module, _lines(placed, text_x, top))
    # stacked: package id above the QR code, the rest below it
    head = [f for f in fields if f.key == "package_id"]
    rest = [f for f in fields if f.key != "package_id"]
    head_placed = fit(head, w - 2 * pad, 22.0)
    head_h = _height(head_placed) / MM
    qr_x, qr_y = (w - side) / 2, h - pad - head_h - side
    placed = fit(rest, w - 2 * pad, qr_y - pad)
    # Centre the QR code and the text under it in the space below the id.
    spare = (qr_y - pad - _height(placed) / MM) / 2
    qr_y -= spare
    lines = _lines(head_placed, pad, h - pad) + _lines(placed, pad, qr_y)
    return LabelLayout(qr_x, qr_y, module, lines)


def _lines(placed, x: float, top: float) -> tuple[Line, ...]:
    """Turn fitted fields into baselines, top-down from top (mm)."""
    out = []
    y = top
    for field, size, texts in placed:
        for text in texts:
            line_h = size * LEADING / MM
            baseline = y - (line_h - size / MM) / 2 - ASCENT * size / MM - 0.1 * size / MM
            out.append(Line(field.key, text, fonts()[field.role], size, x, baseline))
            y -= line_h
    return tuple(out)
