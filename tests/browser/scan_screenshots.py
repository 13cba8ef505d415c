"""Take the phone scanner screenshots of docs/scanner-phone.md (390x844, a phone's size).

    .venv/bin/python -m tests.browser.scan_screenshots     # writes docs/screenshots/scan-*.png

Not a test: builds the test world in a temporary SQLite file, serves it with the real server and
shows rendered labels to Chromium's fake camera, as tests/browser/test_scan_phone.py does.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, serving
from tests.browser.scan_world import camera_args, standalone_world, write_mjpeg

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}


def shoot(page, name: str) -> None:
    page.wait_for_timeout(400)
    page.screenshot(path=str(OUT / f"{name}.png"))
    print("wrote", OUT / f"{name}.png")


def wait_until(page, predicate: str, timeout: float = 30) -> None:
    """Poll an async JS predicate (wait_for_function does not await a promise)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise TimeoutError(predicate)
        time.sleep(0.2)


def wait_scans(page, n: int, timeout: float = 30) -> None:
    wait_until(page, f"async () => (await window.jejakScan.store.all()).length >= {n}", timeout)


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        app, token, labels = standalone_world(tmp)
        ids = list(labels.images)
        video = tmp / "shots.mjpeg"
        write_mjpeg(video, [(None, 4.0), (labels.images[ids[0]], 1.2), (None, 2.5),
                            (labels.images[ids[1]], 1.2), (None, 4.0), (labels.forged_image, 1.5),
                            (None, 60.0)])
        with serving(app) as base, sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(tmp / "profile"), executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_ARGS + camera_args(video), permissions=["camera"], viewport=PHONE,
                device_scale_factor=2, is_mobile=True, has_touch=True)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.route("**/api/**", lambda route: route.abort())
            page.goto(f"{base}/scan#token={token}")
            page.wait_for_function("() => window.jejakScan && window.jejakScan.ready")
            page.evaluate("""(text) => { for (const key of [...text, 'Enter'])
                document.body.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true})); }""",
                          labels.texts[ids[3]])
            wait_scans(page, 1)
            shoot(page, "scan-never-synced")
            page.unroute("**/api/**")
            page.evaluate("() => window.jejakScan.uploader.kick(true)")
            page.reload()
            page.wait_for_function("() => window.jejakScan.synced === true", timeout=20000)
            wait_scans(page, 3)  # the camera shows the first two labels
            wait_until(page, "async () => (await window.jejakScan.store.counts()).pending === 0")
            shoot(page, "scan-accepted")
            ctx.set_offline(True)
            wait_scans(page, 4)  # the forged label, offline
            time.sleep(0.3)
            shoot(page, "scan-forged-offline")
            page.click("button.lang")
            shoot(page, "scan-english")
            ctx.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
