"""Browser fixtures: the demo region on the test database, the real server, Chromium."""

from __future__ import annotations

import pytest

from tests.browser.live import chromium, load_demo_into, serving


@pytest.fixture(scope="session")
def playwright():
    """Start Playwright once per test process: a second sync_playwright() beside a running one
    fails ("Sync API inside the asyncio loop"), so the phone tests and the dashboard tests share it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    """Return a Chromium shared by the session's browser tests."""
    with chromium(playwright) as b:
        yield b


@pytest.fixture
def planted(app):
    """Load the small demo into the test database; return its planted problems."""
    return load_demo_into(app, "small")


@pytest.fixture
def live(app, planted):
    """Serve the app with the demo loaded; return its base URL."""
    with serving(app) as base:
        yield base


@pytest.fixture
def page(browser):
    """Return a fresh page (own cookies) that accepts downloads."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(15000)
    yield p
    context.close()
