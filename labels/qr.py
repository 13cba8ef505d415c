"""QR symbols for labels: encode a payload into a module matrix; draw it as one vector path.

The encoder is zxing-cpp's (``zxingcpp.create_barcode``): on the benchmark of
``docs/label-format.md`` it encodes a label payload about 15x faster than
``qrcode`` or ``segno`` and yields the same version and mask-independent
readability.  Error correction is level Q (25 % of codewords recoverable: a torn
corner, a smudge, a staple) and every symbol keeps a 4-module quiet zone inside
its label.

``pdf_path`` draws a symbol as PDF path operators in *module units* with
integer coordinates (one ``re`` per horizontal run of dark modules, one fill per
symbol), placed with one ``cm`` transform; the command sheet uses it.  Label
PDFs use ``labels.pdf_qrfont`` instead (the same single filled shape, a third
of the bytes).
"""

from __future__ import annotations

import numpy as np

ECC_LEVEL = "Q"
QUIET_ZONE = 4  # modules of white around the symbol, kept inside the label
# A fixed data mask: choosing the best of 8 masks costs 85 % of the encoding
# time, and on label payloads mask 0 scores within 1 % of the chosen mask's
# penalty on average (docs/label-format.md); every decoder reads any mask.
DATA_MASK = 0


class QrError(ValueError):
    """A payload cannot be encoded as a QR code."""


def encode(text: str) -> np.ndarray:
    """Return the QR module matrix of text (True = dark), without quiet zone."""
    import zxingcpp

    try:
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ECC_LEVEL,
                                          data_mask=DATA_MASK)
    except Exception as exc:  # zxing raises plain ValueError/RuntimeError
        raise QrError(f"cannot encode {text[:40]!r} as QR: {exc}") from None
    image = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    return image == 0


def pdf_path(matrix: np.ndarray) -> str:
    """Return PDF path operators filling the dark modules, in module units, y up from the bottom.

    One ``x y w 1 re`` per horizontal run of dark modules, then one fill: a
    single path, so adjacent modules never show hairline seams.  The caller
    sets the transform (``cm``) that maps one unit to one module and (0, 0) to
    the symbol's lower-left corner.
    """
    n = matrix.shape[0]
    padded = np.zeros((n, n + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    edges = np.diff(padded, axis=1).ravel()
    starts = np.flatnonzero(edges == 1)
    lengths = (np.flatnonzero(edges == -1) - starts).tolist()
    width = n + 1  # np.diff leaves n + 1 columns per row
    xs = (starts % width).tolist()
    ys = (n - 1 - starts // width).tolist()
    return " re\n".join([f"{x} {y} {w} 1" for x, y, w in zip(xs, ys, lengths)]) + " re\nf"


def modules_with_quiet_zone(matrix: np.ndarray) -> int:
    """Return the side of the symbol in modules including both quiet zones."""
    return matrix.shape[0] + 2 * QUIET_ZONE


def read_texts(gray: np.ndarray) -> list[str]:
    """Return the texts of the QR codes zxing-cpp reads in a greyscale image (rows x columns)."""
    import zxingcpp

    return [r.text for r in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)]


def read_pgm_texts(data: bytes) -> list[str]:
    """Return the QR texts in a binary greyscale PGM image (as ``pdftoppm -gray`` writes it)."""
    fields, pos = [], 2
    if not data.startswith(b"P5"):
        raise QrError("not a binary PGM image")
    while len(fields) < 3:  # width, height, maxval, separated by whitespace (and comments)
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    width, height, _maxval = fields
    pixels = np.frombuffer(data, dtype=np.uint8, count=width * height, offset=pos + 1)
    return read_texts(pixels.reshape(height, width))
