"""Browser fixtures: the demo region on the test database, the real server, Chromium."""

from __future__ import annotations

import pytest

from tests.browser.live import chromium, load_demo_into, serving


@pytest.fixture(scope="session")
def browser():
    """Return a Chromium shared by the session's browser tests."""
    with chromium() as b:
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
