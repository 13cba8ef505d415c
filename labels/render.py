"""Render signed labels for packages: PDF sheets or rolls, ZPL for Zebra printers, or the codes.

:func:`render_packages` is the one entry point: ``jejak-labels render``, the
server's ``print-labels``/``reprint`` commands and the dashboard all call it,
so a label looks the same wherever it was printed.

Speed and size come from drawing each QR code as text in an embedded font
whose glyphs are runs of modules, clipped and filled once as a single vector
shape (``labels.pdf_qrfont``), reportlab's C accelerator, no ASCII85 stream
encoding, and a fixed QR data mask (``labels.qr``).
Memory is bounded by splitting runs larger than ``max_per_file`` labels into
numbered parts (``out-part001.pdf``...), since reportlab keeps a whole
document in memory until it is saved.  Output is byte-for-byte deterministic
for the same packages and key: reportlab runs with ``invariant=1`` and Ed25519
signatures are deterministic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import i18n, pdf_qrfont, qr
from .layout import label_fields, layout_label
from .payload import SignedLabel, sign
from .templates import DEFAULT_PDF_TEMPLATE, DEFAULT_ZPL_TEMPLATE, MM, Template, get

FORMATS = ("pdf", "zpl", "codes")
DEFAULT_MAX_PER_FILE = 5000
PROGRESS_FROM = 1000  # labels: smaller runs finish before a bar is useful


class RenderError(ValueError):
    """The options cannot produce labels (unknown format, bad --start, payload too long...)."""


def _configure_reportlab() -> None:
    """Switch off ASCII85 stream encoding (measured faster, and the PDF is smaller)."""
    from reportlab import rl_config

    rl_config.useA85 = 0


def sign_all(packages, key) -> list[SignedLabel]:
    """Sign every package's label with the private key."""
    return [sign(p.label(), key) for p in packages]


def _symbol(text: str) -> tuple[int, str]:
    """Return (modules including quiet zone, PDF operators drawing the code) for one payload."""
    matrix = qr.encode(text)
    return qr.modules_with_quiet_zone(matrix), pdf_qrfont.text_ops(matrix)


def part_paths(out, count: int, per_file: int) -> list[Path]:
    """Return the output file names: out itself, or out-part001.pdf... when split."""
    out = Path(out)
    if count <= per_file:
        return [out]
    parts = (count + per_file - 1) // per_file
    return [out.with_name(f"{out.stem}-part{i:03d}{out.suffix or '.pdf'}") for i in range(1, parts + 1)]


def _progress(total: int, enabled: bool | None, desc: str):
    """Return a tqdm bar on stderr for big runs, or None."""
    if enabled is False or (enabled is None and total < PROGRESS_FROM):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="label", desc=desc, file=sys.stderr, leave=False)


def draw_label(canvas, template: Template, x_mm: float, y_mm: float, row, signed: SignedLabel,
               symbol: tuple[int, str], lang: str, destination_name: str,
               item_names=None) -> None:
    """Draw one label with its lower-left corner at (x_mm, y_mm) on the page."""
    n_modules, ops = symbol
    fields = label_fields(row, signed, lang, destination_name, large=template.layout == "stacked",
                          item_names=item_names)
    lay = layout_label(template, n_modules, fields)
    m = lay.module * MM
    ox = (x_mm + lay.qr_x) * MM + qr.QUIET_ZONE * m
    oy = (y_mm + lay.qr_y) * MM + qr.QUIET_ZONE * m
    pdf_qrfont.font_resource(canvas)
    canvas.addLiteral(f"q {m:.5f} 0 0 {m:.5f} {ox:.3f} {oy:.3f} cm\n{ops}\nQ")
    current = None
    for line in lay.lines:
        if (line.font, line.size) != current:
            canvas.setFont(line.font, line.size)
            current = (line.font, line.size)
        canvas.drawString((x_mm + line.x) * MM, (y_mm + line.y) * MM, line.text)


def render_pdf(packages, signed, out, template: Template, *, start: int = 0,
               offset_x: float = 0.0, offset_y: float = 0.0, names=None, lang: str = "id",
               max_per_file: int = DEFAULT_MAX_PER_FILE, progress: bool | None = None,
               item_names=None) -> list[Path]:
    """Write labels to one PDF (or numbered parts); return the paths written."""
    _configure_reportlab()
    from reportlab.pdfgen.canvas import Canvas

    names = names or {}
    paths = part_paths(out, len(packages), max_per_file)
    symbols = map(_symbol, (s.text for s in signed))
    bar = _progress(len(packages), progress, "labels")
    index = 0
    try:
        for part, path in enumerate(paths):
            chunk = range(index, min(index + max_per_file, len(packages)))
            canvas = Canvas(str(path), pagesize=(template.page_w * MM, template.page_h * MM),
                            invariant=1, pageCompression=1)
            canvas.setTitle(f"Jejak labels, part {part + 1} of {len(paths)}")
            canvas.setCreator("jejak-labels")
            position = start if part == 0 else 0
            for i in chunk:
                if position == template.per_page:
                    canvas.showPage()
                    position = 0
                x, y = template.label_origin(position, offset_x, offset_y)
                row = packages[i]
                draw_label(canvas, template, x, y, row, signed[i], next(symbols), lang,
                           names.get(row.destination, ""), item_names)
                position += 1
                if bar is not None:
                    bar.update(1)
            canvas.showPage()
            canvas.save()
            index = chunk.stop
    finally:
        if bar is not None:
            bar.close()
    return paths


def write_codes(packages, signed, out) -> list[Path]:
    """Write one JSON line {"package_id", "code"} per label: the exact text of each QR code."""
    lines = (json.dumps({"package_id": p.package_id, "code": s.text}) + "\n"
             for p, s in zip(packages, signed))
    return _write_text(out, lines)


def _write_text(out, lines) -> list[Path]:
    """Write text lines to out ('-' is standard output)."""
    if str(out) == "-":
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return []
    path = Path(out)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(lines)
    return [path]


def render_packages(packages, out, key, template: str | None = None, fmt: str = "pdf", *,
                    start: int = 0, offset_x: float = 0.0, offset_y: float = 0.0,
                    names=None, lang: str = i18n.DEFAULT_LANGUAGE,
                    max_per_file: int = DEFAULT_MAX_PER_FILE, progress: bool | None = None,
                    item_names=None, signed: list[SignedLabel] | None = None) -> list[Path]:
    """Sign and render labels for packages (objects with .label() and the label fields).

    ``names`` maps destination codes to names, ``item_names`` item type codes
    to words (default: the built-in catalogue in ``lang``); ``signed``, when a
    caller needs the signed labels too, is :func:`sign_all` of the same packages
    (so they are signed once); ``out`` is the file to write
    (PDF runs above ``max_per_file`` labels become ``<stem>-partNNN.pdf``).
    Returns the paths written.
    """
    if fmt not in FORMATS:
        raise RenderError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    i18n.check_language(lang)
    chosen = get(template or (DEFAULT_ZPL_TEMPLATE if fmt == "zpl" else DEFAULT_PDF_TEMPLATE))
    if fmt == "zpl" and not chosen.thermal:
        raise RenderError(f"ZPL is for thermal printers: choose a thermal template, not {chosen.name!r}")
    if not 0 <= start < chosen.per_page:
        raise RenderError(f"--start {start} is outside the {chosen.per_page} positions of one "
                          f"{chosen.name} page (0-{chosen.per_page - 1})")
    if max_per_file < 1:
        raise RenderError(f"--max-per-file must be at least 1, got {max_per_file}")
    packages = list(packages)
    if not packages:
        raise RenderError("no packages to label")
    if signed is None:
        signed = sign_all(packages, key)
    elif len(signed) != len(packages):
        raise RenderError(f"{len(signed)} signed label(s) for {len(packages)} package(s)")
    if fmt == "codes":
        return write_codes(packages, signed, out)
    if fmt == "zpl":
        from .zpl import zpl_labels

        return _write_text(out, zpl_labels(packages, signed, chosen, names=names or {}, lang=lang,
                                           offset_x=offset_x, offset_y=offset_y,
                                           item_names=item_names))
    return render_pdf(packages, signed, out, chosen, start=start, offset_x=offset_x,
                      offset_y=offset_y, names=names, lang=lang, max_per_file=max_per_file,
                      progress=progress, item_names=item_names)
