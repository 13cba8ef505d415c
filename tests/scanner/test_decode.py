"""Tests for scanner.decode: real QR codes rendered with segno, placed in synthetic frames, degraded.

Self-contained (no shared benchmark data) and fast: every frame is made here, at 640x480.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import segno
import zxingcpp

from scanner.decode import Decoded, read_codes, read_codes_with_positions

# shaped like the product's label payloads: QR alphanumeric mode, ~180 characters
LABEL = ("JJK1.PKG-3509-000184.KAB-PROBOLINGGO.KEC-KRAKSAAN.DESA-ASEMBAGUS.TPS-007.BALLOT-BOX."
         "SEQ-0004-OF-0012.ISSUED-20261128.SIG-4K7Q2M9X1B8N3V6C5Z0L7H2J9D4F1S8A3G6")
PAYLOADS = [f"PKG-35{i:02d}-{1000 + 37 * i:07d};T=TOTE;S=abc{i}xyz" for i in range(8)]


def code_image(text: str, module_px: int = 5, paper: int = 235, ink: int = 25) -> np.ndarray:
    """Return a grey image of a QR code for `text` with its 4-module quiet zone."""
    m = np.array(segno.make_qr(text, error="m").matrix, dtype=bool)
    m = np.pad(m, 4)
    img = np.where(np.kron(m, np.ones((module_px, module_px), bool)), ink, paper)
    return img.astype(np.uint8)


def scene(size=(480, 640), seed=0) -> np.ndarray:
    """Return a grey background with a gradient and some clutter, like a warehouse frame."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = np.tile(np.linspace(70, 150, h, dtype=np.float32)[:, None], (1, w))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(6):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(20, 120)), y + int(rng.integers(20, 90))),
                      int(rng.integers(40, 200)), -1)
    for _ in range(4):
        cv2.line(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                 (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(0, 255)), 2)
    return img


def place(frame: np.ndarray, img: np.ndarray, x: int, y: int) -> np.ndarray:
    """Paste `img` into `frame` with its top-left corner at (x, y); return the frame."""
    frame[y:y + img.shape[0], x:x + img.shape[1]] = img
    return frame


def one_code(text: str = PAYLOADS[0], module_px: int = 5, **kw) -> np.ndarray:
    """Return a 640x480 grey frame with one code near the middle."""
    code = code_image(text, module_px, **kw)
    return place(scene(), code, 320 - code.shape[1] // 2, 240 - code.shape[0] // 2)


def plain_zxing(frame: np.ndarray) -> list[str]:
    """Return what a single plain zxing-cpp pass reads: the baseline the fallbacks must beat."""
    return [b.text for b in zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormat.QRCode,
                                                   try_rotate=False, try_downscale=False, try_invert=False)]


def rotate(img: np.ndarray, deg: float) -> np.ndarray:
    """Return img rotated about its centre, corners filled by replication."""
    h, w = img.shape[:2]
    M = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def noisy(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    """Return img with Gaussian sensor noise."""
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def test_reads_a_clean_code_in_grey():
    assert read_codes(one_code()) == [PAYLOADS[0]]


def test_bgr_and_grey_input_give_the_same_codes():
    gray = one_code()
    assert read_codes(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)) == read_codes(gray) == [PAYLOADS[0]]


def test_reads_colour_frames_and_non_contiguous_views():
    bgr = cv2.cvtColor(one_code(), cv2.COLOR_GRAY2BGR)
    bgr[:, :, 0] //= 2  # a colour cast must not matter
    assert read_codes(bgr) == [PAYLOADS[0]]
    wide = np.zeros((480, 1280), np.uint8)
    wide[:, ::2] = one_code()
    assert read_codes(wide[:, ::2]) == [PAYLOADS[0]]


def test_reads_a_product_label_payload():
    assert read_codes(one_code(LABEL, module_px=4)) == [LABEL]


@pytest.mark.parametrize("deg", [17, 90, 135, 200, 315])
def test_reads_rotated_codes(deg):
    assert read_codes(rotate(one_code(), deg)) == [PAYLOADS[0]]


def test_reads_a_code_seen_at_an_angle():
    frame = one_code()
    src = np.float32([[0, 0], [640, 0], [640, 480], [0, 480]])
    dst = np.float32([[60, 20], [600, 70], [560, 440], [90, 470]])
    warped = cv2.warpPerspective(frame, cv2.getPerspectiveTransform(src, dst), (640, 480),
                                 borderMode=cv2.BORDER_REPLICATE)
    assert read_codes(warped) == [PAYLOADS[0]]


def test_reads_a_defocused_code_the_plain_pass_misses():
    # sigma 2.9 px on 5 px modules: zxing alone reads nothing; the sharpening fallback does
    frame = cv2.GaussianBlur(one_code(), (0, 0), 2.9)
    assert plain_zxing(frame) == []
    assert read_codes(frame) == [PAYLOADS[0]]


def test_reads_a_motion_blurred_code():
    k = np.zeros((9, 9), np.float32)
    k[4, 2:7] = 1 / 5  # 5 px horizontal shake
    assert read_codes(cv2.filter2D(one_code(), -1, k)) == [PAYLOADS[0]]


def test_reads_a_noisy_code():
    assert read_codes(noisy(one_code(), 30)) == [PAYLOADS[0]]


@pytest.mark.parametrize("seed", [1, 2])
def test_reads_faint_ink_under_noise(seed):
    # 10 grey levels between ink and paper, sensor noise on top: the adaptive-threshold fallback
    frame = noisy(one_code(paper=170, ink=160), 2.0, seed)
    assert plain_zxing(frame) == []
    assert read_codes(frame) == [PAYLOADS[0]]


def test_reads_a_code_in_a_dim_frame():
    frame = noisy((one_code().astype(np.float32) * 0.08).astype(np.uint8), 1.0)  # ink-paper: 17 levels
    assert plain_zxing(frame) == []
    assert read_codes(frame) == [PAYLOADS[0]]


def test_reads_a_code_across_a_cast_shadow():
    frame = one_code().astype(np.float32)
    frame[:, 330:] *= 0.25  # a hard shadow edge through the middle of the code
    frame = frame.astype(np.uint8)
    assert plain_zxing(frame) == []
    assert read_codes(frame) == [PAYLOADS[0]]


@pytest.mark.parametrize("module_px", [2.0, 1.4])
def test_reads_small_modules(module_px):
    # 1.4 px modules (with lens blur) need the upscaled crop retry
    code = code_image(PAYLOADS[1], module_px=6)
    small = cv2.resize(code, None, fx=module_px / 6, fy=module_px / 6, interpolation=cv2.INTER_AREA)
    frame = cv2.GaussianBlur(place(scene(), small, 250, 180), (0, 0), 0.6)
    assert read_codes(frame) == [PAYLOADS[1]]


def test_reads_several_codes_in_one_frame_in_a_stable_order():
    frame = scene(seed=3)
    for i, text in enumerate(PAYLOADS[:6]):
        place(frame, code_image(text, 4), 15 + (i % 3) * 210, 30 + (i // 3) * 230)
    first = read_codes(frame)
    assert sorted(first) == sorted(PAYLOADS[:6])
    assert read_codes(frame) == first
    assert read_codes(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)) == first


def test_the_same_code_twice_is_returned_once():
    frame = scene()
    code = code_image(PAYLOADS[2], 4)
    place(frame, code, 20, 40)
    place(frame, code, 360, 200)
    assert read_codes(frame) == [PAYLOADS[2]]


def test_one_blurred_code_among_sharp_ones_is_still_read():
    frame = scene(seed=5)
    place(frame, code_image(PAYLOADS[3], 5), 20, 30)
    place(frame, code_image(PAYLOADS[4], 5), 220, 30)
    blurred = cv2.GaussianBlur(code_image(PAYLOADS[5], 5), (0, 0), 2.9)
    place(frame, blurred, 420, 200)
    assert PAYLOADS[5] not in plain_zxing(frame)  # located but unread: the crop retry reads it
    assert sorted(read_codes(frame)) == sorted(PAYLOADS[3:6])


# ---------------------------------------------------------------------------
# positions
# ---------------------------------------------------------------------------
def test_positions_are_integer_corners_on_the_code():
    code = code_image(PAYLOADS[0], 5)
    frame = place(scene(), code, 200, 100)
    [d] = read_codes_with_positions(frame)
    assert isinstance(d, Decoded) and d.text == PAYLOADS[0]
    assert len(d.corners) == 4 and all(isinstance(v, int) for p in d.corners for v in p)
    inner = 4 * 5  # the symbol starts after the quiet zone
    xs, ys = [p[0] for p in d.corners], [p[1] for p in d.corners]
    assert abs(min(xs) - (200 + inner)) <= 3 and abs(max(xs) - (200 + code.shape[1] - inner)) <= 3
    assert abs(min(ys) - (100 + inner)) <= 3 and abs(max(ys) - (100 + code.shape[0] - inner)) <= 3
    cx, cy = d.center()
    assert abs(cx - (200 + code.shape[1] / 2)) <= 3 and abs(cy - (100 + code.shape[0] / 2)) <= 3


def test_positions_of_a_code_read_by_a_fallback_are_in_frame_pixels():
    code = code_image(PAYLOADS[6], 5)
    frame = cv2.GaussianBlur(place(scene(), code, 300, 150), (0, 0), 2.5)
    [d] = read_codes_with_positions(frame)
    cx, cy = d.center()
    assert abs(cx - (300 + code.shape[1] / 2)) <= 4 and abs(cy - (150 + code.shape[0] / 2)) <= 4


def test_texts_and_positions_agree():
    frame = scene(seed=4)
    for i, text in enumerate(PAYLOADS[:4]):
        place(frame, code_image(text, 4), 20 + i * 155, 150)
    assert [d.text for d in read_codes_with_positions(frame)] == read_codes(frame)


# ---------------------------------------------------------------------------
# nothing to read, nothing invented
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("frame", [
    np.zeros((480, 640), np.uint8),
    np.full((480, 640, 3), 255, np.uint8),
    scene(seed=7),
    np.zeros((1, 1), np.uint8),
    np.zeros((0, 0), np.uint8),
    np.zeros((0, 640, 3), np.uint8),
], ids=["black", "white-bgr", "clutter", "1x1", "empty", "empty-bgr"])
def test_a_frame_without_a_code_returns_nothing(frame):
    assert read_codes(frame) == []


def test_garbage_never_yields_text():
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, (480, 640), dtype=np.uint8),                       # white noise
              np.kron(rng.integers(0, 2, (96, 128)), np.ones((5, 5))).astype(np.uint8) * 255,  # QR-like blocks
              np.kron((np.indices((48, 64)).sum(0) % 2), np.ones((10, 10))).astype(np.uint8) * 255]  # checkerboard
    # finder patterns with random modules in between: a "code" that decodes to nothing valid
    fake = code_image(PAYLOADS[0], 5)
    inner = fake[40:-40, 40:-40]
    inner[:] = np.kron(rng.integers(0, 2, (inner.shape[0] // 5 + 1, inner.shape[1] // 5 + 1)),
                       np.ones((5, 5)))[:inner.shape[0], :inner.shape[1]] * 210 + 25
    frames.append(place(scene(), fake, 200, 120))
    for frame in frames:
        assert read_codes(frame) == []


def test_a_damaged_code_is_read_correctly_or_not_at_all():
    rng = np.random.default_rng(5)
    m = np.array(segno.make_qr(PAYLOADS[7], error="m").matrix, dtype=bool)
    for flips in (10, 40, 80, 160, 320):
        bad = m.copy()
        ij = rng.integers(0, m.shape[0], (flips, 2))
        bad[ij[:, 0], ij[:, 1]] ^= True
        img = np.where(np.kron(np.pad(bad, 4), np.ones((5, 5), bool)), 25, 235).astype(np.uint8)
        assert read_codes(place(scene(), img, 180, 100)) in ([], [PAYLOADS[7]])


def test_rejects_non_uint8_frames():
    with pytest.raises(TypeError):
        read_codes(np.zeros((48, 64), np.float32))


def test_a_smaller_budget_still_reads_what_the_first_pass_reads():
    assert read_codes_with_positions(one_code(), budget_ms=0)[0].text == PAYLOADS[0]
    assert read_codes_with_positions(cv2.GaussianBlur(one_code(), (0, 0), 2.9), budget_ms=0) == []


def test_a_hopeless_frame_costs_bounded_time():
    # noise everywhere makes every fallback run; the deadline must stop them
    frame = np.random.default_rng(2).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    read_codes(frame)  # warm-up
    t0 = time.perf_counter()
    assert read_codes(frame) == []
    assert time.perf_counter() - t0 < 0.25  # generous for a loaded CI machine; ~15 ms typical
