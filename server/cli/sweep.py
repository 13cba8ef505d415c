"""`jejak-server sweep`: run the missing sweep to the end (cron)."""

from __future__ import annotations

import click
from flask import Flask

from server.db import get_db
from server.reconcile.sweep import sweep_all


def register(app: Flask) -> None:
    """Register ``jejak-server sweep``."""
    @app.cli.command("sweep")
    def sweep_command():
        """Raise `missing` for packages past a deadline (run it every few minutes from cron)."""
        with get_db().session() as session:
            total = sweep_all(session, echo=click.echo)
        click.echo(f"sweep done: {total} packages judged")
