"""The Jejak server: records scans, reconciles them against the plan, serves the dashboard.

``create_app()`` is a plain WSGI factory (``gunicorn 'server:create_app()'``);
nothing is created at import time.
"""

from __future__ import annotations

import os

from flask import Flask
from flask.cli import FlaskGroup
from werkzeug.middleware.proxy_fix import ProxyFix

from server import api, cli, config, dashboard, db, scan


def create_app(test_config: dict | None = None) -> Flask:
    """Build and configure the Flask app."""
    instance_path = os.environ.get("JEJAK_INSTANCE_PATH") or None
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = test_config["INSTANCE_PATH"]
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)

    config.load(app, test_config)
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops > 0:
        # Only then are X-Forwarded-For/-Proto/-Host believed: client address (login
        # throttle), https (Secure cookies) and host come from the proxy's headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    db.init_app(app)
    cli.init_app(app)
    api.init_app(app)
    dashboard.init_app(app)
    scan.init_app(app)
    return app


def main(args=None) -> int:
    """Run the jejak-server command group (the console script)."""
    group = FlaskGroup(create_app=create_app, add_version_option=False,
                       help="Jejak server: scan log, reconciliation, dashboard.")
    return group.main(args=args, prog_name="jejak-server")
