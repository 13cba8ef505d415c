"""`jejak-server partitions`: make PostgreSQL's missing partitions and show the layout."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import text

from server.db import get_db
from server.partitions import ensure_partitions, partitioned, partitions


def register(app: Flask) -> None:
    """Register ``jejak-server partitions``."""
    @app.cli.command("partitions")
    @click.option("--province", "provinces", multiple=True,
                  help="make this province's partition (default: every root location's)")
    def partitions_command(provinces):
        """Make the scan_events partition of each province and the next ledger block (cron)."""
        with get_db().session() as session:
            connection = session.connection()
            if not partitioned(connection):
                raise click.UsageError("this database has no partitions (SQLite, or PostgreSQL "
                                       "before migration 0017: run jejak-server init-db)")
            # Making a partition locks the table against ingest until this commits; waiting
            # behind a long read would stall every scanner: give up after 10 s (cron retries).
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            made = ensure_partitions(connection, provinces or None)
            session.commit()
            for name in made:
                click.echo(f"made {name}")
            for table, name, bounds in partitions(session.connection()):
                click.echo(f"{table}\t{name}\t{bounds}")
