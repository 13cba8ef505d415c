"""Who is looking at the dashboard: the logged-in user, CSRF on every form, region checks.

The dashboard uses a signed Flask session cookie holding the user's id; the
user row is read once per request and turned into an ``access.Principal``, so
pages and the JSON API judge roles and regions the same way.  Every POST
carries a per-session CSRF token (``WTF_CSRF_ENABLED`` turns the check off,
the name kept from Flask-WTF so test configs read the same).
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import select

from server.access import Principal, principal_for_user
from server.db import get_session
from server.models import Location, User

CSRF_FIELD = "csrf_token"
SESSION_VERSION = "sv"  # the user's session_version the cookie was issued under


def current_principal() -> Principal | None:
    """Return the logged-in user's principal, or None when nobody is logged in."""
    if "principal" in g:
        return g.principal
    principal = None
    user_id = session.get("user_id")
    if user_id is not None:
        user = get_session().get(User, user_id)
        # A cookie from before a logout, a new password or a deactivation carries an old version.
        if (user is not None and user.active
                and session.get(SESSION_VERSION) == user.session_version):
            principal = principal_for_user(user)
    g.principal = principal
    return principal


def login_required() -> None:
    """Send anonymous visitors to the login page (a before_request hook)."""
    if current_principal() is None:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401)
    return None


def csrf_token() -> str:
    """Return this session's CSRF token, making it on first use."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(24)
    return token


def check_csrf() -> None:
    """Refuse a POST whose CSRF token is missing or wrong (a before_request hook)."""
    if request.method != "POST" or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token", "")
    expected = session.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")


def may_change(principal: Principal) -> bool:
    """Tell whether this user may acknowledge or resolve (supervisor or admin)."""
    return principal.may_resolve


def require_resolver(view):
    """Refuse the view with 403 unless the user may change things (observers never may)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        principal = current_principal()
        if principal is None or not may_change(principal):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def region_or_abort(code: str | None) -> Location:
    """Return the region asked for (default: the user's), 404 if unknown or out of reach."""
    principal = current_principal()
    code = (code or "").strip() or principal.region_code
    loc = get_session().scalar(select(Location).where(Location.code == code))
    # Out of reach answers 404 like unknown: a regency user learns nothing of another.
    if loc is None or not principal.covers(loc.path):
        abort(404)
    return loc


def safe_next(target: str | None) -> str:
    """Return a path on this site to go to after login or a switch (never another site).

    Browsers drop tabs and newlines from addresses and read a backslash as a slash,
    so ``/%09/evil.example`` would leave the site: only printable ASCII without spaces
    or backslashes, a path that is not protocol-relative, and no scheme or host.
    """
    if (target and target.startswith("/") and not target.startswith("//")
            and all(33 <= ord(c) < 127 for c in target) and "\\" not in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("overview.index")
