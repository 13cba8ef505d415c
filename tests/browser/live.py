"""The real server in a thread and Debian's Chromium, for browser tests and screenshots."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def serving(app):
    """Serve the app on a free local port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def chromium(playwright=None):
    """Launch Debian's Chromium through Playwright (never a downloaded browser).

    Pass a running Playwright to share it; else one is started for the browser's lifetime.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (make test does)")
    if playwright is None:
        with sync_playwright() as p, chromium(p) as browser:
            yield browser
        return
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


def load_demo_into(app, scale: str = "small") -> dict:
    """Load the demo region into the app's (empty) database; return the planted problems."""
    import json

    from server.demo.load import load_demo

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    with app.extensions["jejak.db"].session() as session:
        load_demo(session, instance, scale=scale)
    return json.loads((instance / "demo-planted.json").read_text(encoding="utf-8"))


def log_in(page, base: str, username: str = "supervisor", password: str = "demo-probolinggo"):
    """Log in through the login form."""
    page.goto(base + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_selector("nav.main")
