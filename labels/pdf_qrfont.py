"""Draw QR symbols as text in an embedded font whose glyphs are runs of dark modules.

A QR code drawn as one path of rectangles costs about 1.5 kB of compressed
content stream per version-9 symbol (one ``x y w 1 re`` per run of dark
modules), which put 10,000 labels at 17 MB.  Here each glyph of a small
embedded TrueType font is one pattern of ``GLYPH_MODULES`` horizontal modules
(rectangles in whole module units), a QR row is a short string of glyph codes,
and a version-9 symbol costs about 0.4 kB::

    BT /FQR 125 Tf ... 7 Tr 1 TL 0 <n> Td (row 0)' (row 1)' ... ET 0 0 <n> <n> re f

under the caller's ``cm`` (one unit = one module).

Why text render mode 7 (add the glyph outlines to the clipping path) and one
fill, rather than simply showing the glyphs: glyphs painted one by one abut at
module edges, and anti-aliasing renderers (pdftoppm, browsers, screen viewers)
blend each fill's partial edge pixels separately, leaving light hairline seams
between rows; at 150 dpi that cost pyzbar a code in a test.  With mode 7 the
outlines of every glyph become one clipping path, filled once, so the code is a
single shape exactly as the one-path form was.  Clipping text (PDF 1.0) and
embedded TrueType fonts (PDF 1.1) are core features of every PDF viewer and
PostScript/PDF printer RIP; checked module by module with poppler, Ghostscript
(also through its PostScript output) and MuPDF.  A Type 3 font cannot be used:
clip modes do not apply to Type 3 glyphs.

Other choices:

* Seven modules per glyph, so the 128 codes stay ASCII (reportlab writes
  page streams as text); parentheses, backslash, CR and LF are escaped (a raw
  line break inside a string made Ghostscript misplace the rest of that row).
* Units: 128 font units per module and 16,000 per em, so every outline
  coordinate and every PDF width (8 thousandths of the font size per module)
  is a whole number and glyphs abut exactly.  The em is 125 modules (font size
  125 under a ``cm`` of one module), about 130-490 pt for the modules of our
  templates: large enough that MuPDF draws the glyphs as outlines rather than
  as cached bitmaps (which it does below 256 device pixels per em and which
  leave hairlines between glyphs), small enough for poppler, which dropped
  the text clip in tests at a font size of 1,000 or an em of about 1,600 pt.
  ``tests/labels/test_qr_vector.py`` checks every module's position.
* The font is symbolic (codes map straight to glyphs through a (3,0) and a
  (1,0) cmap) and built deterministically (fixed timestamps), so output stays
  byte-for-byte reproducible.
* A ToUnicode map sends every code to a space, so text extraction (copy and
  paste, ``pdftotext``, screen readers) sees no text in the code.
* Character and word spacing, horizontal scaling and rise are reset inside each
  symbol (word spacing would otherwise apply to code 32).
"""

from __future__ import annotations

import functools

import numpy as np

GLYPH_MODULES = 7
GLYPHS = 1 << GLYPH_MODULES  # 128 codes: 0-127, ASCII
UNITS_PER_MODULE = 128  # see the module docstring for why the em is 125 modules
UNITS_PER_EM = 16000
FONT_SIZE = UNITS_PER_EM // UNITS_PER_MODULE  # so one module = one text-space unit
FONT_RESOURCE = "FQR"  # reportlab names its own fonts F1, F2, ...
FONT_NAME = "JejakQRModules"
_WEIGHTS = (1 << np.arange(GLYPH_MODULES - 1, -1, -1)).astype(np.uint8)  # leftmost = high bit
# Bytes a literal string should not carry bare: parentheses, backslash, CR (read
# back as LF) and LF (Ghostscript misplaced the glyphs after one).
_ESCAPES = str.maketrans({"(": "\\(", ")": "\\)", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})
_FIXED_TIME = 3_000_000_000  # font timestamps (seconds since 1904): fixed for reproducible PDFs


def dark_runs(code: int) -> list[tuple[int, int]]:
    """Return (first module, length) of each run of dark modules in a glyph code."""
    runs, x = [], 0
    while x < GLYPH_MODULES:
        if code >> (GLYPH_MODULES - 1 - x) & 1:
            start = x
            while x < GLYPH_MODULES and code >> (GLYPH_MODULES - 1 - x) & 1:
                x += 1
            runs.append((start, x - start))
        else:
            x += 1
    return runs


@functools.lru_cache(maxsize=1)
def font_program() -> bytes:
    """Return the TrueType font: glyph m<code> is its dark modules, one rectangle per run."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib.tables._c_m_a_p import cmap_format_0, cmap_format_4

    u = UNITS_PER_MODULE
    names = [".notdef"] + [f"m{code}" for code in range(GLYPHS)]
    glyphs = {".notdef": TTGlyphPen(None).glyph()}
    for code in range(GLYPHS):
        pen = TTGlyphPen(None)
        for start, length in dark_runs(code):
            # Clockwise, as TrueType outer contours are: all rectangles wind the
            # same way, so abutting ones merge under the nonzero rule.
            pen.moveTo((start * u, 0))
            pen.lineTo((start * u, u))
            pen.lineTo(((start + length) * u, u))
            pen.lineTo(((start + length) * u, 0))
            pen.closePath()
        glyphs[f"m{code}"] = pen.glyph()
    fb = FontBuilder(UNITS_PER_EM, isTTF=True)
    fb.font.recalcTimestamp = False
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({})
    fb.setupGlyf(glyphs)
    width = GLYPH_MODULES * u
    # The left side bearing must equal each glyph's xMin: TrueType places the
    # outline by it, and a zero would slide every glyph to its first dark module.
    metrics = {".notdef": (0, 0)}
    for code in range(GLYPHS):
        runs = dark_runs(code)
        metrics[f"m{code}"] = (width, runs[0][0] * u if runs else 0)
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=u, descent=0)
    fb.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=u, sTypoDescender=0, usWinAscent=u, usWinDescent=0)
    fb.setupPost()
    fb.setupHead(unitsPerEm=UNITS_PER_EM, created=_FIXED_TIME, modified=_FIXED_TIME)
    # Symbolic font: codes reach glyphs through (3,0) at 0xF000 + code and (1,0) directly.
    windows = cmap_format_4(4)
    windows.platformID, windows.platEncID, windows.language = 3, 0, 0
    windows.cmap = {0xF000 + code: f"m{code}" for code in range(GLYPHS)}
    mac = cmap_format_0(0)
    mac.platformID, mac.platEncID, mac.language = 1, 0, 0
    mac.cmap = {code: (f"m{code}" if code < GLYPHS else ".notdef") for code in range(256)}
    fb.font["cmap"].tables = [mac, windows]
    import io

    out = io.BytesIO()
    fb.font.save(out)
    return out.getvalue()


def _to_unicode_cmap() -> str:
    """Return a ToUnicode CMap that maps every code to U+0020 (no extractable text)."""
    spaces = " ".join(["<0020>"] * GLYPHS)
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Jejak-QR-UCS def\n/CMapType 2 def\n"
            f"1 begincodespacerange\n<00> <{GLYPHS - 1:02X}>\nendcodespacerange\n"
            f"1 beginbfrange\n<00> <{GLYPHS - 1:02X}> [{spaces}]\nendbfrange\n"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")


def font_resource(canvas) -> str:
    """Add the module font to the canvas's document once; return its resource name."""
    doc = canvas._doc
    if getattr(doc, "_jejak_qr_font", False):
        return FONT_RESOURCE
    from reportlab.pdfbase import pdfdoc

    program = font_program()
    file2 = pdfdoc.PDFStream(pdfdoc.PDFDictionary({"Length1": len(program)}), program,
                             filters=[pdfdoc.PDFZCompress])
    # PDF font metrics are in thousandths of the font size, i.e. of a module here.
    module = 1000 * UNITS_PER_MODULE // UNITS_PER_EM
    width = GLYPH_MODULES * module
    descriptor = pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("FontDescriptor"),
        "FontName": pdfdoc.PDFName(FONT_NAME),
        "Flags": 4,  # symbolic
        "FontBBox": pdfdoc.PDFArrayCompact([0, 0, width, module]),
        "ItalicAngle": 0,
        "Ascent": module,
        "Descent": 0,
        "CapHeight": module,
        "StemV": module,
        "FontFile2": doc.Reference(file2),
    })
    font = pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("Font"),
        "Subtype": pdfdoc.PDFName("TrueType"),
        "BaseFont": pdfdoc.PDFName(FONT_NAME),
        "FirstChar": 0,
        "LastChar": GLYPHS - 1,
        "Widths": pdfdoc.PDFArrayCompact([width] * GLYPHS),
        "FontDescriptor": doc.Reference(descriptor),
        "ToUnicode": doc.Reference(pdfdoc.PDFStream(content=_to_unicode_cmap())),
    })
    ref = doc.Reference(font, FONT_RESOURCE)
    doc.idToObject[pdfdoc.BasicFonts].dict[FONT_RESOURCE] = ref
    doc._jejak_qr_font = True
    return FONT_RESOURCE


def glyph_rows(matrix: np.ndarray) -> np.ndarray:
    """Return the glyph codes of every row (rows top to bottom), shape (n, ceil(n / 7))."""
    n = matrix.shape[0]
    per_row = -(-n // GLYPH_MODULES)
    padded = np.zeros((n, per_row * GLYPH_MODULES), dtype=np.uint8)
    padded[:, :n] = matrix
    return padded.reshape(n, per_row, GLYPH_MODULES) @ _WEIGHTS


def text_ops(matrix: np.ndarray) -> str:
    """Return PDF operators drawing the symbol in module units, (0, 0) at its lower-left.

    The glyphs only clip (render mode 7); one rectangle fill then paints the
    dark modules as a single shape.  The caller wraps the result in ``q``/``Q``
    (the clip must not outlive the symbol) with a ``cm`` that maps one unit to
    one module.  Trailing all-light glyphs of a row are left off.
    """
    n = matrix.shape[0]
    rows = [row.tobytes().rstrip(b"\0").decode("ascii").translate(_ESCAPES)
            for row in glyph_rows(matrix)]
    body = ")'\n(".join(rows)
    return (f"BT /{FONT_RESOURCE} {FONT_SIZE} Tf 0 Tc 0 Tw 100 Tz 0 Ts 7 Tr 1 TL 0 {n} Td\n"
            f"({body})'\nET\n0 0 {n} {n} re f")
