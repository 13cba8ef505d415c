"""QR codes in label PDFs are vector shapes with every module exactly where the encoder put it."""

from __future__ import annotations

import re
import subprocess
import zlib

import numpy as np
import pytest

from labels import qr
from labels.manifest import read_packages
from labels.payload import sign
from labels.render import render_packages

from .conftest import decode_both, rasterize

PDF_OBJECT = re.compile(rb"\d+ 0 obj\n(.*?)endobj", re.S)
STREAM = re.compile(rb"<<(.*?)>>\s*stream\n(.*?)endstream", re.S)


def pdf_parts(pdf) -> tuple[list[bytes], list[bytes]]:
    """Return (object dictionaries, decompressed streams) of a reportlab PDF."""
    data = pdf.read_bytes()
    dictionaries, streams = [], []
    for body in PDF_OBJECT.findall(data):
        match = STREAM.search(body)
        if match:
            head, content = match.groups()
            dictionaries.append(head)
            streams.append(zlib.decompress(content) if b"FlateDecode" in head else content)
        else:
            dictionaries.append(body)
    return dictionaries, streams


@pytest.mark.parametrize("template", ["a4-3x8", "thermal-100x150"])
def test_pages_hold_no_images_only_vector_codes(tmp_path, manifest, test_key, template):
    rows = read_packages(manifest)
    [pdf] = render_packages(rows, tmp_path / "l.pdf", test_key, template)
    dictionaries, streams = pdf_parts(pdf)
    assert not [d for d in dictionaries if re.search(rb"/Subtype\s*/Image|/XObject", d)], (
        "a label PDF holds an image or XObject")
    pages = [s for s in streams if b" Td" in s and b"/FQR" in s]
    assert pages, "no page draws its codes with the module font"
    for content in streams:
        assert not re.search(rb"(^|\s)(BI|Do)(\s|$)", content), "inline image or XObject drawn"
    codes = sum(page.count(b"/FQR") for page in pages)
    assert codes == len(rows)


def test_every_module_sits_exactly_where_the_encoder_put_it(tmp_path, manifest, test_key):
    """Sample every module's centre at 600 dpi without anti-aliasing (ECC would hide a few wrong ones)."""
    from PIL import Image

    rows = read_packages(manifest)[:1]
    [pdf] = render_packages(rows, tmp_path / "one.pdf", test_key, "a4-3x8")
    matrix = qr.encode(sign(rows[0].label(), test_key).text)
    n, dpi = matrix.shape[0], 600
    [found] = decode_both(rasterize(pdf, 150)[0])[0]
    corners = [found.position.top_left, found.position.top_right, found.position.bottom_left,
               found.position.bottom_right]
    scale = dpi / 150
    prefix = tmp_path / "hi"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-aa", "no", "-aaVector", "no", "-png", "-f", "1",
                    "-l", "1", "-singlefile", str(pdf), str(prefix)], check=True)
    image = np.asarray(Image.open(f"{prefix}.png").convert("L")) < 128
    # The decoder's corners, widened by two modules (inside the 4-module quiet
    # zone): the dark pixels there are the symbol, bounded by its three finders.
    margin = 2 * 0.56 / 25.4 * dpi
    x0 = int(min(c.x for c in corners) * scale - margin)
    x1 = int(max(c.x for c in corners) * scale + margin)
    y0 = int(min(c.y for c in corners) * scale - margin)
    y1 = int(max(c.y for c in corners) * scale + margin)
    ys, xs = np.nonzero(image[y0:y1, x0:x1])
    left, right, top, bottom = x0 + xs.min(), x0 + xs.max() + 1, y0 + ys.min(), y0 + ys.max() + 1
    module = ((right - left) + (bottom - top)) / 2 / n
    assert module / dpi * 25.4 == pytest.approx(0.56, abs=0.06)  # mm, docs/label-format.md
    centres = (np.arange(n) + 0.5) * module
    sampled = image[np.ix_((top + centres).astype(int), (left + centres).astype(int))]
    assert (sampled == matrix).all(), f"{(sampled != matrix).sum()} modules differ from the encoder's"


def test_every_glyph_in_every_context_lands_on_its_modules(tmp_path):
    """Random module patterns (every glyph code, every neighbour) render module-exact."""
    from PIL import Image
    from reportlab.pdfgen.canvas import Canvas

    from labels import pdf_qrfont

    rng = np.random.default_rng(7)
    matrices = [rng.random((57, 57)) < 0.5 for _ in range(16)]
    codes = {int(c) for m in matrices for c in pdf_qrfont.glyph_rows(m).ravel()}
    assert codes == set(range(pdf_qrfont.GLYPHS))
    scale, cell = 4, 64 * 4  # 4 points (pixels at 72 dpi) per module
    pdf = tmp_path / "random.pdf"
    canvas = Canvas(str(pdf), pagesize=(4 * cell, 4 * cell), invariant=1)
    for i, m in enumerate(matrices):
        ops = pdf_qrfont.text_ops(m)
        assert ops.count("\n") == m.shape[0] + 2, "a raw line break inside a row string"
        pdf_qrfont.font_resource(canvas)
        canvas.addLiteral(f"q {scale} 0 0 {scale} {i % 4 * cell + 8} {i // 4 * cell + 8} cm\n{ops}\nQ")
    canvas.showPage()
    canvas.save()
    subprocess.run(["pdftoppm", "-r", "72", "-aa", "no", "-aaVector", "no", "-png", "-singlefile",
                    str(pdf), str(tmp_path / "random")], check=True)
    image = np.asarray(Image.open(tmp_path / "random.png").convert("L")) < 128
    height = image.shape[0]
    for i, m in enumerate(matrices):
        n = m.shape[0]
        x, y = i % 4 * cell + 8, i // 4 * cell + 8
        centres = np.arange(n) * scale + scale // 2
        rows = height - y - n * scale + centres  # image rows run down from the top
        sampled = image[np.ix_(rows, x + centres)]
        assert (sampled == m).all(), f"symbol {i}: {(sampled != m).sum()} modules misplaced"
