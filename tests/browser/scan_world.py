"""The phone scanner's test world: a plan, labels rendered by `jejak-labels`, a fake camera video.

Labels are made the way a regency makes them: `jejak-labels render` signs the packages of a CSV
with the private key and draws an A4 PDF; pdftoppm rasterises it; each label (its QR and the text
around it) is cut out around the QR zxing-cpp finds, and shown to Chromium's fake camera in an
MJPEG (concatenated JPEG frames; Chromium plays it at 30 fps and loops it).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

FPS = 30
SIZE = (1280, 720)
BACKGROUND = (86, 118, 150)  # BGR: brown cardboard
LOCATION = "3513010001"      # the village Ngadisari: its two TPS' packages are expected there
ITEMS = ("SS-DPR", "KOTAK", "SS-PPWP")
FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@dataclass
class Labels:
    """Label images and texts by package id, and one forged label (signed by an untrusted key)."""

    images: dict[str, Path] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    forged_image: Path | None = None
    forged_text: str = ""
    forged_package: str = ""


def planned_packages(tps=("3513010001001", "3513010001002")) -> list[dict]:
    """Return the packages tests.factories.make_plan makes for these TPS (ids, types, dapils)."""
    from tests.factories import BALLOTS

    rows = []
    for code in tps:
        for item in ITEMS:
            prefix = BALLOTS.get(item)
            rows.append({"package_id": f"{code}-{item}", "item_type": item, "quantity": 300,
                         "destination": code, "dapil": f"{prefix}JATIM-2" if prefix else ""})
    return rows


def render_labels(packages: list[dict], private_pem: Path, out: Path) -> dict[str, tuple[str, Path]]:
    """Render packages with `jejak-labels render`; return {package_id: (QR text, label PNG)}."""
    import cv2
    import zxingcpp

    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "packages.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["package_id", "item_type", "quantity", "destination", "dapil"])
        writer.writeheader()
        writer.writerows(packages)
    cli = Path(sys.executable).with_name("jejak-labels")
    pdf = out / "labels.pdf"
    subprocess.run([str(cli), "render", str(manifest), "--key", str(private_pem), "-o", str(pdf),
                    "--template", "a4-2x7"], check=True, capture_output=True)
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(pdf), str(out / "page")], check=True)
    found = {}
    for page in sorted(out.glob("page-*.png")):
        image = cv2.imread(str(page))
        for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
            p = code.position
            xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
            ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
            side = max(xs) - min(xs)
            x0, x1 = max(0, min(xs) - side // 5), min(image.shape[1], max(xs) + int(side * 1.6))
            y0, y1 = max(0, min(ys) - side // 5), min(image.shape[0], max(ys) + side // 3)
            package_id = code.text.split(".")[2]
            path = out / f"{package_id}.png"
            cv2.imwrite(str(path), image[y0:y1, x0:x1])
            found[package_id] = (code.text, path)
    missing = {p["package_id"] for p in packages} - set(found)
    assert not missing, f"labels not found on the rendered pages: {missing}"
    return found


def make_labels(out: Path, trusted_key, forger_key) -> Labels:
    """Render the plan's labels with the trusted key, and one forged label with another key."""
    from labels.keys import write_key_pair

    packages = planned_packages()
    private, _public = write_key_pair(trusted_key, out / "trusted-key")
    labels = Labels()
    for pid, (text, png) in render_labels(packages, Path(private), out / "trusted").items():
        labels.texts[pid], labels.images[pid] = text, png
    forged_private, _ = write_key_pair(forger_key, out / "forger-key")
    victim = packages[0]
    (text, png), = render_labels([victim], Path(forged_private), out / "forged").values()
    labels.forged_text, labels.forged_image, labels.forged_package = text, png, victim["package_id"]
    return labels


def _frame(image_path: Path | None, label_height: int = 460):
    import cv2
    import numpy as np

    frame = np.full((SIZE[1], SIZE[0], 3), BACKGROUND, np.uint8)
    if image_path is not None:
        label = cv2.imread(str(image_path))
        scale = label_height / label.shape[0]
        label = cv2.resize(label, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = label.shape[:2]
        w = min(w, SIZE[0] - 40)
        y, x = (SIZE[1] - h) // 2, (SIZE[0] - w) // 2
        frame[y:y + h, x:x + w] = label[:, :w]
    return frame


def write_mjpeg(path: Path, segments: list[tuple[Path | None, float]]) -> float:
    """Write an MJPEG of (label image or None for nothing in view, seconds) segments; return its length."""
    import cv2

    encoded = {}
    frames = 0
    with path.open("wb") as fh:
        for image, seconds in segments:
            if image not in encoded:
                ok, jpeg = cv2.imencode(".jpg", _frame(image), [cv2.IMWRITE_JPEG_QUALITY, 85])
                assert ok
                encoded[image] = jpeg.tobytes()
            n = round(seconds * FPS)
            fh.write(encoded[image] * n)
            frames += n
    return frames / FPS


def camera_args(video: Path) -> list[str]:
    """Chromium flags for a fake camera that plays this MJPEG."""
    return FAKE_CAMERA_ARGS + [f"--use-file-for-fake-video-capture={video}"]


def standalone_world(tmp: Path):
    """An app on a new SQLite file with the test plan, a trusted key and a device at LOCATION.

    For the screenshot script and the benchmark (not tests, which use the conftest fixtures).
    Returns (app, device token, Labels).
    """
    from labels.keys import generate
    from server import create_app
    from tests.factories import device_token, make_plan, make_region, trust_key

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'jejak.sqlite3'}", "SECRET_KEY": "scan",
                      "INSTANCE_PATH": str(tmp / "instance"), "RATE_LIMIT_PER_MINUTE": 0})
    db = app.extensions["jejak.db"]
    db.upgrade()
    key = generate()
    with db.session() as session:
        region = make_region(session)
        make_plan(session, region, tps_codes=["3513010001001", "3513010001002"], item_types=ITEMS)
        trust_key(session, key)
        token = device_token(session, LOCATION)
        session.commit()
    return app, token, make_labels(tmp / "labels", key, generate())
