"""Log in, log out and choose the dashboard's language."""

from __future__ import annotations

import math

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from server.access import authenticate_user, end_sessions
from server.api.errors import error_response
from server.dashboard.clock import typed
from server.dashboard.guard import SESSION_VERSION, current_principal, safe_next
from server.dashboard.language import LANGUAGES
from server.dashboard.sessions import throttle
from server.db import get_session
from server.models import User

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; log the user in with a fresh session."""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        guard = throttle(current_app)
        address = request.remote_addr or ""
        wait = guard.wait(username, address)
        if wait > 0:
            # Refused before the password is looked at: the right one does not get through either.
            return _too_many_failures(username, wait)
        user = authenticate_user(get_session(), username, password)
        if user is None:
            guard.failed(username, address)
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", username=username), 401
        lang = session.get("lang")
        # A new session on login: nothing from before survives but the language.
        session.clear()
        session["user_id"] = user.id
        session[SESSION_VERSION] = user.session_version
        if lang:
            session["lang"] = lang
        return redirect(safe_next(request.args.get("next")))
    if current_principal() is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


def _too_many_failures(username: str, wait: float):
    """Answer a throttled login: 429 with Retry-After, as a page or in the API's error shape."""
    seconds = max(1, math.ceil(wait))
    headers = {"Retry-After": str(seconds)}
    message = _("Too many failed logins. Try again in %(minutes)d minutes.",
                minutes=max(1, math.ceil(seconds / 60)))
    if request.accept_mimetypes.best == "application/json":
        return error_response(429, message, code="too_many_logins",
                              details={"retry_after": seconds}, headers=headers)
    flash(message, "error")
    return render_template("auth/login.html", username=username), 429, headers


@bp.route("/logout", methods=["POST"])
def logout():
    """Log the user out, ending every session they have (a saved cookie included)."""
    principal = current_principal()
    if principal is not None:
        db_session = get_session()
        user = db_session.get(User, principal.user_id)
        end_sessions(user)
        db_session.commit()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>")
def language(code: str):
    """Switch the dashboard's language and go back where the user was."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))


@bp.route("/as-of")
def choose_as_of():
    """Look at the situation at another instant (or now) and go back where the user was."""
    raw = (request.args.get("as_of") or "").strip()
    if raw == "now" or not raw:
        session["as_of"] = "now"
    elif typed(raw) is not None:
        # Typed in the display zone (WIB); kept as naive UTC, as the queries take it.
        session["as_of"] = typed(raw).isoformat(timespec="minutes")
    else:
        flash(_("Not a date and time: %(value)s", value=raw[:40]), "error")
    return redirect(safe_next(request.args.get("next")))
