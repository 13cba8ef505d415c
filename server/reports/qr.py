"""A QR code as a reportlab flowable, for the printed reports (the BAST's seal, the surat jalan)."""

from __future__ import annotations


def qr_flowable(text: str, size: float):
    """Return a flowable drawing text's QR symbol (with its quiet zone) in a size x size square."""
    # reportlab and the QR encoder only when a report is drawn.
    from reportlab.lib import colors
    from reportlab.platypus import Flowable

    # zxing-cpp and numpy, through labels.qr: only when a QR is drawn.
    from labels.qr import QUIET_ZONE, encode

    matrix = encode(text)

    class Qr(Flowable):
        """The symbol, each horizontal run of dark modules one filled rectangle."""

        def __init__(self):
            super().__init__()
            self.width = self.height = size

        def draw(self):
            n = matrix.shape[0]
            unit = self.width / (n + 2 * QUIET_ZONE)
            self.canv.setFillColor(colors.black)
            for y in range(n):
                row, x = matrix[y], 0
                while x < n:
                    if not row[x]:
                        x += 1
                        continue
                    start = x
                    while x < n and row[x]:
                        x += 1
                    self.canv.rect((QUIET_ZONE + start) * unit, (QUIET_ZONE + n - 1 - y) * unit,
                                   (x - start) * unit, unit, stroke=0, fill=1)

    return Qr()
