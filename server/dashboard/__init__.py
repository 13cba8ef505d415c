"""The supervisor dashboard: server-rendered pages for supervisors, observers and admins.

One Blueprint per page group (auth, overview, anomalies, scans, packages, live,
labels, exports); templates in ``server/templates/<blueprint>/``; one CSS file
and a little vanilla JavaScript in ``server/static/``.  Indonesian by default,
English switchable (Flask-Babel, catalogues in ``server/translations/``).
Views are thin: they check who is asking, call the domain functions of
``server.reconcile``, ``server.reconcile.custody`` and ``server.reports``, and render.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from server.dashboard import (
    anomalies,
    auth,
    exports,
    guard,
    labels,
    live,
    overview,
    packages,
    photos,
    scans,
    sessions,
    shipments,
)
from server.dashboard.clock import as_of, zone_label
from server.dashboard.formatting import register_filters
from server.dashboard.language import LANGUAGES, select_locale  # noqa: F401 (templates, tests)
from server.db import read_source
from server.reports.localtime import zone

ERROR_PAGES = {
    400: (_l("Bad request"), _l("Something in the address or the form is not understood.")),
    401: (_l("Not logged in"), _l("Log in first.")),
    403: (_l("Not allowed"), _l("Your role may not do this.")),
    404: (_l("Not found"), _l("There is nothing here, or it is outside your region.")),
    405: (_l("Not allowed"), _l("This address does not take that kind of request.")),
}
BLUEPRINTS = ("auth", "overview", "anomalies", "scans", "packages", "live", "labels", "exports",
              "shipments", "photos")


def error_page(exc: HTTPException):
    """Answer a dashboard error with a page in the user's language, never a traceback."""
    title, message = ERROR_PAGES.get(exc.code, (exc.name, exc.description))
    if exc.code == 400 and exc.description == "csrf":
        message = _l("The form expired; reload the page and try again.")
    return render_template("error.html", code=exc.code, title=title, message=message), exc.code


def init_app(app: Flask) -> None:
    """Register the dashboard's blueprints, translations, CSRF check and template helpers."""
    app.config.setdefault("WTF_CSRF_ENABLED", True)
    sessions.init_app(app)
    zone(app.config.get("DISPLAY_TIMEZONE"))  # an unknown zone fails at start, quoting the name
    Babel(app, locale_selector=select_locale)
    for module in (auth, overview, anomalies, scans, packages, live, labels, exports, shipments,
                   photos):
        # Blueprints are module-level and outlive one app: add the handlers only once.
        if not getattr(module.bp, "_jejak_error_pages", False):
            for code in ERROR_PAGES:
                module.bp.register_error_handler(code, error_page)
            module.bp._jejak_error_pages = True
        app.register_blueprint(module.bp)

    @app.before_request
    def _dashboard_guard():
        if request.blueprint in BLUEPRINTS:
            guard.check_csrf()
            if request.blueprint != "auth":
                return guard.login_required()
        return None

    @app.context_processor
    def _template_globals():
        if request.blueprint not in BLUEPRINTS:
            return {}
        return {"principal": guard.current_principal(), "csrf_token": guard.csrf_token,
                "lang": select_locale(), "languages": LANGUAGES, "as_of": as_of(),
                "zone": zone_label(), "read_source": read_source()}

    register_filters(app)
