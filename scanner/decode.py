"""QR decoding for camera frames: the only module that talks to zxing-cpp and OpenCV's decoders.

`read_codes(frame)` returns the text of every QR code in a camera frame; `read_codes_with_positions`
returns the same codes with their corner points, for the camera window to draw a box per code.

The design is a cascade with a bounded budget, measured with the shared decode benchmark
(see docs/decoding.md for the figures and how to reproduce them):

1. zxing-cpp on the grey frame, QR only, no rotate/downscale/invert retries (~0.5 ms at 720p).
   It is asked to return unreadable symbols too: their positions are "candidates", codes it
   found but could not read.  If something was read and every candidate was read, we are
   done; that is the path nearly every frame of a working scanner takes.
2. Only when nothing at all was read does the frame get whole-frame fallbacks, cheapest and
   most productive first, stopping at the first that reads something: zxing's global-histogram
   binarizer (0.2 ms); a local threshold against a Gaussian mean after a 3x3 blur (faint ink,
   dim light, cardboard, heavy noise, shadows); an unsharp mask (defocus, small modules); the
   local threshold at a finer scale; contrast-limited histogram equalisation (deep shadows).
   Each adds the candidates it saw.
3. Candidates still unread (codes located but not read, e.g. the one blurred label of twenty,
   or a label tilted 60 degrees) are cropped and retried with passes too slow for a whole
   frame: unsharp mask, a 2x cubic upscale with unsharp mask (1.5 px modules), then zbar,
   whose sampling copes with steep perspective.

Every fallback checks a deadline (BUDGET_MS of the calling thread's CPU time from the start of
the call), so a frame nobody can read costs a bounded time.  Garbled text never leaves this module: zxing results that are not
`valid` or carry an `error` are never returned as text, zbar results must be UTF-8, and
only QR symbols are asked for (no 1-D false positives from clutter).

Not used, measured: OpenCV's WeChat decoder reads curved and textured codes but takes 10-170 ms
on frames (and even 150 px crops) it cannot read; OpenCV's QRCodeDetector is slower and weaker.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

__all__ = ["Decoded", "read_codes", "read_codes_with_positions"]

_QR = zxingcpp.BarcodeFormat.QRCode
_LOCAL = zxingcpp.Binarizer.LocalAverage

# Budget for the fallbacks, in CPU time of the calling thread from the start of the call.  The
# first pass always runs; later passes start only while budget is left, so a hopeless frame
# stops after roughly this long (a pass that has started is not interrupted).  CPU time, not
# wall time: what a frame gets must not depend on what else the machine is doing, or the same
# frame would read on a quiet machine and not on a busy one (and the benchmark would drift).
BUDGET_MS = 11.0
# Crops larger than this share of the frame are not "regions" any more: full-frame passes
# cover them better.
_MAX_CROP_SHARE = 0.5
# At most this many unread candidates get crop passes per frame (a 20-label frame with a few
# unread labels needs several; more than this is a scene the camera should be re-aimed at).
_MAX_CROPS = 6
# Crops with a longer side than this are not upscaled (see _crop_up2_usm).
_MAX_UPSCALE_SIDE = 240


@dataclass(frozen=True)
class Decoded:
    """One decoded QR code: its text and its 4 corners (x, y) in frame pixels.

    Corners run top-left, top-right, bottom-right, bottom-left of the symbol as the decoder saw
    it (for a rotated code "top-left" is the corner with the finder pattern, not the one nearest
    the image origin).
    """

    text: str
    corners: tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]

    def center(self) -> tuple[float, float]:
        """Return the mean of the four corners."""
        return (sum(p[0] for p in self.corners) / 4.0, sum(p[1] for p in self.corners) / 4.0)


def read_codes(frame: np.ndarray) -> list[str]:
    """Return the texts of all QR codes in a BGR or grey uint8 frame, deduplicated, in order found."""
    return [d.text for d in read_codes_with_positions(frame)]


def read_codes_with_positions(frame: np.ndarray, budget_ms: float = BUDGET_MS) -> list[Decoded]:
    """Return every QR code in a BGR or grey uint8 frame with its corners, one entry per text.

    `budget_ms` bounds the fallbacks (the first pass always runs).  A live camera loop that will
    see the code again in 30 ms anyway can pass less; a single still photo can afford more.
    """
    t0 = time.thread_time()
    gray = _to_gray(frame)
    if gray.size == 0:
        return []
    found = _Found()
    cands: list[np.ndarray] = []

    _zxing(gray, found, cands)
    if found.items and not _unread(cands, found):
        return found.result()

    deadline = t0 + budget_ms / 1000.0
    if not found.items:
        # Nothing read: whole-frame passes first (they fix what hits the whole frame: contrast,
        # noise, defocus), each adding the symbols it saw but could not read.
        for prep, binarizer in _FULL_FRAME_PASSES:
            if time.thread_time() > deadline:
                break
            _zxing(prep(gray), found, cands, binarizer=binarizer)
            if found.items:
                break
    _crops(gray, _unread(cands, found), found, deadline)
    return found.result()


# ---------------------------------------------------------------------------
# passes
# ---------------------------------------------------------------------------
class _Found:
    """Decoded codes in the order found, one per text."""

    def __init__(self) -> None:
        self.items: dict[str, Decoded] = {}
        self.quads: list[np.ndarray] = []

    def add(self, text: str, quad: np.ndarray) -> None:
        """Record a decoded text with its corners (float array 4x2, frame pixels)."""
        self.quads.append(quad)
        if text not in self.items:
            corners = tuple((int(round(x)), int(round(y))) for x, y in quad)
            self.items[text] = Decoded(text, corners)  # type: ignore[arg-type]

    def result(self) -> list[Decoded]:
        """Return the codes as a list."""
        return list(self.items.values())


def _to_gray(frame: np.ndarray) -> np.ndarray:
    """Return a contiguous uint8 grey image of a BGR, BGRA or grey frame."""
    if frame.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.size == 0:
        return np.zeros((0, 0), np.uint8)  # an empty grab from a camera: nothing to read
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected HxW or HxWx3 image, got shape {frame.shape}")


def _quad(pos) -> np.ndarray:
    """Return a zxing Position as a 4x2 float array."""
    return np.array([[pos.top_left.x, pos.top_left.y], [pos.top_right.x, pos.top_right.y],
                     [pos.bottom_right.x, pos.bottom_right.y], [pos.bottom_left.x, pos.bottom_left.y]],
                    np.float32)


def _zxing(img: np.ndarray, found: _Found, cands: list[np.ndarray] | None,
           scale: float = 1.0, offset: tuple[int, int] = (0, 0), binarizer=_LOCAL) -> None:
    """Decode `img` with zxing; add valid codes to `found` and unreadable symbols to `cands`.

    `scale` and `offset` map `img` coordinates back to the frame (img = crop of frame scaled by
    `scale`, crop origin at `offset`).
    """
    for b in zxingcpp.read_barcodes(img, formats=_QR, try_rotate=False, try_downscale=False,
                                    try_invert=False, binarizer=binarizer, return_errors=cands is not None):
        q = _quad(b.position) / scale + np.array(offset, np.float32)
        if b.valid and not b.error and b.text:
            found.add(b.text, q)
        elif cands is not None:
            cands.append(q)


def _unread(cands: list[np.ndarray], found: _Found) -> list[np.ndarray]:
    """Return candidates whose centre is inside neither a decoded code nor an earlier candidate."""
    out: list[np.ndarray] = []
    for q in cands:
        c = q.mean(axis=0)
        pt = (float(c[0]), float(c[1]))
        if any(cv2.pointPolygonTest(d, pt, False) >= 0 for d in found.quads):
            continue
        if any(cv2.pointPolygonTest(s, pt, False) >= 0 for s in out):
            continue  # several candidates for one symbol (e.g. blur) need one crop
        out.append(q)
    return out


def _crops(gray: np.ndarray, cands: list[np.ndarray], found: _Found, deadline: float) -> None:
    """Retry each unread candidate on a crop with passes that are too slow for a whole frame."""
    H, W = gray.shape
    for q in cands[:_MAX_CROPS]:
        x0, y0 = q.min(axis=0)
        x1, y1 = q.max(axis=0)
        side = max(x1 - x0, y1 - y0)
        # the candidate is the symbol itself (or a guess at it): keep a quiet zone and room for
        # a misplaced guess around it
        m = 0.35 * side + 8
        x0, y0 = int(max(0, x0 - m)), int(max(0, y0 - m))
        x1, y1 = int(min(W, x1 + m + 1)), int(min(H, y1 + m + 1))
        if x1 - x0 < 16 or y1 - y0 < 16 or (x1 - x0) * (y1 - y0) > _MAX_CROP_SHARE * W * H:
            continue
        crop = np.ascontiguousarray(gray[y0:y1, x0:x1])
        before = len(found.items)
        for fn in _CROP_PASSES:
            if time.thread_time() > deadline:
                return
            fn(crop, found, (x0, y0))
            if len(found.items) > before:
                break


def _unsharp(img: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """Return img sharpened by an unsharp mask (undoes defocus and pixel-size blur)."""
    return cv2.addWeighted(img, 1.0 + amount, cv2.GaussianBlur(img, (0, 0), sigma), -amount, 0)


def _crop_usm(crop: np.ndarray, found: _Found, off: tuple[int, int]) -> None:
    """Try an unsharp-masked crop."""
    _zxing(_unsharp(crop, 2.0, 1.5), found, None, 1.0, off)


def _crop_up2_usm(crop: np.ndarray, found: _Found, off: tuple[int, int]) -> None:
    """Try a 2x cubic upscale, sharpened: modules of 1.5 px become readable."""
    if max(crop.shape) > _MAX_UPSCALE_SIDE:
        return  # a crop this big holds a code with big modules: upscaling costs and cannot help
    big = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    _zxing(_unsharp(big, 3.0, 1.5), found, None, 2.0, off)


def _crop_zbar(crop: np.ndarray, found: _Found, off: tuple[int, int]) -> None:
    """Try zbar, whose sampling grid copes with steep tilt (60 degrees) where zxing's does not."""
    zbar = _zbar()
    if zbar is None:
        return
    for sym in zbar.decode(crop, symbols=[zbar.ZBarSymbol.QRCODE]):
        try:
            text = sym.data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text we can return faithfully: better nothing than a garbled string
        if text and len(sym.polygon) == 4:
            found.add(text, np.array([(p.x, p.y) for p in sym.polygon], np.float32) + np.array(off, np.float32))


_ZBAR: list = []


def _zbar():
    """Return the pyzbar module, or None when libzbar is not installed (the pass is then skipped)."""
    if not _ZBAR:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError):
            pyzbar = None
        _ZBAR.append(pyzbar)
    return _ZBAR[0]


_CROP_PASSES = (_crop_usm, _crop_up2_usm, _crop_zbar)


def _local_threshold(gray: np.ndarray, sigma: float = 5.0, offset: int = 0) -> np.ndarray:
    """Binarise against a Gaussian-weighted local mean: faint ink, dim light, texture, noise, shadow.

    The light 3x3 box blur takes out sensor noise and cardboard fibres; comparing with a wide
    Gaussian mean (sigma ~ one module) is a difference-of-Gaussians, so it also sharpens a
    little.  The mean is computed at quarter resolution: a smooth field needs no more, and it
    makes the pass ~1 ms at 720p instead of ~3.
    """
    b = cv2.blur(gray, (3, 3))
    h, w = gray.shape
    small = cv2.resize(b, ((w + 3) // 4, (h + 3) // 4), interpolation=cv2.INTER_AREA)
    mean = cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / 4.0), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.compare(b, cv2.subtract(mean, offset), cv2.CMP_GT)


def _sharpen(gray: np.ndarray) -> np.ndarray:
    """Return an unsharp-masked frame (defocus, 1.5-1.6 px modules)."""
    return _unsharp(gray, 2.0, 1.5)


def _equalise(gray: np.ndarray) -> np.ndarray:
    """Return a tile-wise equalised frame (cast shadows, steep light gradients)."""
    # a CLAHE object per call: it is cheap to make and not safe to share between threads
    return cv2.createCLAHE(clipLimit=8.0, tileGridSize=(16, 16)).apply(gray)


def _unchanged(gray: np.ndarray) -> np.ndarray:
    """Return the frame as it is (for a pass that only changes zxing's binarizer)."""
    return gray


def _fine_local_threshold(gray: np.ndarray) -> np.ndarray:
    """Binarise against a narrower local mean: steeper shadows and more blur than _local_threshold."""
    return _local_threshold(gray, sigma=3.0)


# (preprocessing, zxing binarizer), in the order tried; the first that reads anything ends the
# list.  Cheapest and most productive first: one global threshold (0.1-0.4 ms at 720p; reads some
# codes the local-average binarizer breaks up, e.g. on curved labels), then the image fixes at
# 1-3 ms each.
_FULL_FRAME_PASSES = (
    (_unchanged, zxingcpp.Binarizer.GlobalHistogram),
    (_local_threshold, _LOCAL),
    (_sharpen, _LOCAL),
    (_fine_local_threshold, _LOCAL),
    (_equalise, _LOCAL),
)
