"""QR symbols for labels: encode a payload into a module matrix and draw it as one vector path.

The encoder is zxing-cpp's (``zxingcpp.create_barcode``): on the benchmark of
``docs/label-format.md`` it encodes a label payload about 15x faster than
``qrcode`` or ``segno`` and yields the same version and mask-independent
readability.  Error correction is level Q (25 % of codewords recoverable: a torn
corner, a smudge, a staple) and every symbol keeps a 4-module quiet zone inside
its label.

A symbol is drawn as PDF path operators in *module units* with integer
coordinates (one ``re`` per run of dark modules, identical runs in
consecutive rows merged into one rectangle), placed with one ``cm`` transform:
this is what measured fastest and smallest.
"""

from __future__ import annotations

import numpy as np

ECC_LEVEL = "Q"
QUIET_ZONE = 4  # modules of white around the symbol, kept inside the label


class QrError(ValueError):
    """A payload cannot be encoded as a QR code."""


def encode(text: str) -> np.ndarray:
    """Return the QR module matrix of text (True = dark), without quiet zone."""
    import zxingcpp

    try:
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=ECC_LEVEL)
    except Exception as exc:  # zxing raises plain ValueError/RuntimeError
        raise QrError(f"cannot encode {text[:40]!r} as QR: {exc}") from None
    image = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False))
    return image == 0


def version_of(matrix: np.ndarray) -> int:
    """Return the QR version of a module matrix."""
    return (matrix.shape[0] - 17) // 4


def rectangles(matrix: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Return dark rectangles (x, y, w, h) covering the matrix, y counted from the top row.

    Runs of dark modules in a row become rectangles; a run with exactly the
    same columns in the next row extends the rectangle downward (finder and
    alignment patterns collapse to a few rectangles).
    """
    size = matrix.shape[1]
    padded = np.zeros((matrix.shape[0], size + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    edges = np.diff(padded, axis=1)
    open_runs: dict[tuple[int, int], int] = {}  # (x0, x1) -> top row
    done: list[tuple[int, int, int, int]] = []
    for y in range(matrix.shape[0]):
        row = edges[y]
        starts = np.flatnonzero(row == 1).tolist()
        ends = np.flatnonzero(row == -1).tolist()
        current = set(zip(starts, ends))
        for run in [r for r in open_runs if r not in current]:
            top = open_runs.pop(run)
            done.append((run[0], top, run[1] - run[0], y - top))
        for run in zip(starts, ends):
            if run not in open_runs:
                open_runs[run] = y
    height = matrix.shape[0]
    for run, top in open_runs.items():
        done.append((run[0], top, run[1] - run[0], height - top))
    return done


def pdf_path(matrix: np.ndarray) -> str:
    """Return PDF path operators filling the dark modules, in module units, y up from the bottom.

    The caller sets the transform (``cm``) that maps one unit to one module
    and (0, 0) to the symbol's lower-left corner.
    """
    n = matrix.shape[0]
    parts = [f"{x} {n - y - h} {w} {h} re" for x, y, w, h in rectangles(matrix)]
    parts.append("f")
    return "\n".join(parts)


def modules_with_quiet_zone(matrix: np.ndarray) -> int:
    """Return the side of the symbol in modules including both quiet zones."""
    return matrix.shape[0] + 2 * QUIET_ZONE
