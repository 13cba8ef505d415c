"""`jejak-server init-db`: create or upgrade the schema."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy.engine import make_url

from server.db import get_db


def _safe_url(url: str) -> str:
    """Return a database URL with any password masked, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def register(app: Flask) -> None:
    """Register init-db."""

    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the database schema (idempotent)."""
        db = get_db()
        db.upgrade()
        click.echo(f"database ready at revision {db.current_revision()}: {_safe_url(db.url)}")

