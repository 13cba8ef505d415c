"""The Jejak server: records scans, reconciles them against the plan, serves the dashboard.

``create_app()`` is a plain WSGI factory (``gunicorn 'server:create_app()'``);
nothing is created at import time.
"""

from __future__ import annotations

import os

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build and configure the Flask app."""
    instance_path = os.environ.get("JEJAK_INSTANCE_PATH") or None
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = test_config["INSTANCE_PATH"]
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)

    from server import config
    config.load(app, test_config)

    from server import access, cli, db, errors
    db.init_app(app)
    errors.init_app(app)
    access.init_app(app)
    cli.init_app(app)

    from server import demo, importers, label_print, ledger_cli, reconcile
    importers.init_app(app)
    reconcile.init_app(app)
    demo.init_app(app)
    label_print.init_app(app)
    ledger_cli.init_app(app)

    from server import api
    api.init_app(app)

    from server import dashboard
    dashboard.init_app(app)
    return app
