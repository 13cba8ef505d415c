"""Take the dashboard screenshots of docs/dashboard.md from a demo instance.

    jejak-server init-db && jejak-server demo          # once, into $JEJAK_INSTANCE_PATH
    .venv/bin/python -m tests.browser.screenshots      # writes docs/screenshots/*.png

Not a test: it serves the instance's database with the real server and walks
the pages in Debian's Chromium, as tests/browser does.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.browser.live import chromium, log_in, serving

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shoot(page, name: str, full: bool = False) -> None:
    """Save the page as docs/screenshots/<name>.png."""
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print("wrote", OUT / f"{name}.png")


def main() -> int:
    """Walk the main pages and save a screenshot of each."""
    from server import create_app

    app = create_app()
    OUT.mkdir(parents=True, exist_ok=True)
    with serving(app) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 860})
        page.goto(base + "/login")
        shoot(page, "login")
        log_in(page, base)
        shoot(page, "overview-regency")
        page.goto(base + "/overview?region=351301")
        shoot(page, "overview-district")
        page.click("a.badge:has-text('salah tujuan')")
        page.wait_for_selector("table.anomalies")
        shoot(page, "anomalies")
        page.locator("table.anomalies tbody tr td a").first.click()
        page.wait_for_selector("table.evidence")
        shoot(page, "anomaly")
        # The chain of a package whose label was copied: the copy's receipt is marked.
        page.goto(base + "/anomalies/?kind=cloned_label")
        page.locator("table.anomalies tbody tr td a").first.click()
        page.wait_for_selector("table.evidence")
        page.locator("dl.facts a[href^='/packages/']").first.click()
        page.wait_for_selector("ol.timeline .marks")
        shoot(page, "package-timeline", full=True)
        page.goto(base + "/overview?region=3513012001001")
        shoot(page, "tps")
        page.goto(base + "/scans/")
        shoot(page, "scan-log")
        page.goto(base + "/live/")
        page.wait_for_selector("#live-scans li")
        shoot(page, "live")
        page.goto(base + "/labels/")
        shoot(page, "labels")
        page.goto(base + "/reports/bast?to=351301")
        shoot(page, "bast-form")
        with page.expect_download() as info:
            page.click("main form button[type=submit]")
        with tempfile.TemporaryDirectory() as tmp:
            pdf = Path(tmp) / "bast.pdf"
            info.value.save_as(pdf)
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                            str(pdf), str(OUT / "bast")], check=True)
            print("wrote", OUT / "bast.png")
        page.goto(base + "/lang/en?next=/overview")
        shoot(page, "overview-english")
        page.goto(base + "/lang/id?next=/overview")
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    device_scale_factor=1).new_page()
        log_in(phone, base)
        shoot(phone, "phone-overview")
        phone.goto(base + "/overview?region=3513012001001")
        shoot(phone, "phone-tps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
