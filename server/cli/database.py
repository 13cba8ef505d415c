"""`jejak-server init-db`: create or upgrade the schema."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy.engine import make_url

from server.db import get_db
from server.ledger.chain import backfill_records


def _safe_url(url: str) -> str:
    """Return a database URL with any password masked, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def register(app: Flask) -> None:
    """Register init-db."""

    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the schema, and chain the records the ledger has never seen (idempotent)."""
        db = get_db()
        db.upgrade()
        # The seeded item types on a new database; the whole plan on one older than
        # chained records (a kind is chained once: later rows chain as they are written).
        with db.session() as session:
            chained = backfill_records(session)
        if any(chained.values()):
            click.echo("chained records that predate the ledger: "
                       + ", ".join(f"{n} {kind}" for kind, n in chained.items() if n))
        click.echo(f"database ready at revision {db.current_revision()}: {_safe_url(db.url)}")

