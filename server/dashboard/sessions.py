"""The dashboard's session cookie and the login throttle.

The cookie is Flask's signed session: ``SameSite=Lax`` and ``HttpOnly`` always,
``Secure`` when the app is configured for https (``PREFERRED_URL_SCHEME``) or
the request came over https - directly, or through a proxy the app trusts
(``TRUSTED_PROXIES``, which makes Werkzeug's ``ProxyFix`` believe
``X-Forwarded-Proto``).  It carries the user's ``session_version``; logout, a
new password and deactivation bump the version, so a cookie saved earlier
stops working (``server.dashboard.guard.current_principal``).

Failed logins are counted per username (unknown ones too: the answer must not
tell which exist) and per client address over 15 minutes; past
``LOGIN_MAX_FAILURES`` or ``LOGIN_MAX_FAILURES_PER_ADDRESS`` every login there,
right password or not, is answered 429 with ``Retry-After`` until the window
passes.  The counts live in the database (``server.ratelimit``), like the API's
rate limit: every worker and every instance counts against the same window.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from server.ratelimit import SharedWindowLimiter

LOGIN_WINDOW_SECONDS = 15 * 60
THROTTLE_KEY = "jejak.login_throttle"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request itself is https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Tell whether the cookie must only travel over https."""
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


class LoginThrottle:
    """Failed logins per username and per client address over a sliding window."""

    def __init__(self, sessions, per_user: int, per_address: int,
                 window: float = LOGIN_WINDOW_SECONDS):
        self.users = SharedWindowLimiter(sessions, "login-user", per_user, window)
        self.addresses = SharedWindowLimiter(sessions, "login-address", per_address, window)

    def wait(self, username: str, address: str) -> float:
        """Return the seconds before this username may try from this address (0: now)."""
        return max(self.users.wait(_user_key(username)), self.addresses.wait(address))

    def failed(self, username: str, address: str) -> None:
        """Count one failed login."""
        self.users.hit(_user_key(username))
        self.addresses.hit(address)


def _user_key(username: str) -> str:
    """Return the key a username is counted under (case and spaces do not make a new one)."""
    return username.strip().casefold()[:80]


def throttle(app: Flask) -> LoginThrottle:
    """Return the app's login throttle."""
    return app.extensions[THROTTLE_KEY]


def init_app(app: Flask) -> None:
    """Set the cookie's flags and make the login throttle."""
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if str(app.config.get("PREFERRED_URL_SCHEME", "")).lower() == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.session_interface = SessionInterface()
    app.extensions[THROTTLE_KEY] = LoginThrottle(lambda: app.extensions["jejak.db"].session(),
                                                 int(app.config["LOGIN_MAX_FAILURES"]),
                                                 int(app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]))
