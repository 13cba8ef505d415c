"""`jejak-server sweep` and `progress-summary`: the missing sweep and the national summary (cron)."""

from __future__ import annotations

import click
from flask import Flask

from server.db import get_db
from server.reconcile.summary import FIGURES, national, refresh_all
from server.reconcile.sweep import sweep_all


def register(app: Flask) -> None:
    """Register ``jejak-server sweep`` and ``jejak-server progress-summary``."""
    @app.cli.command("sweep")
    def sweep_command():
        """Raise `missing` for packages past a deadline (run it every few minutes from cron)."""
        with get_db().session() as session:
            total = sweep_all(session, echo=click.echo)
        click.echo(f"sweep done: {total} packages judged")

    @app.cli.command("progress-summary")
    @click.option("--refresh", is_flag=True, help="recompute every province's rows first")
    def progress_summary_command(refresh):
        """Print the national progress rollup from the maintained summary (--refresh: from cron)."""
        with get_db().session() as session:
            if refresh:
                rows = refresh_all(session, echo=click.echo)
                click.echo(f"refreshed {rows} rows")
            result = national(session)
        if not result["provinces"]:
            raise click.ClickException("the summary is empty: run jejak-server progress-summary "
                                       "--refresh")
        click.echo("\t".join(("province", "name", *FIGURES, "as_of")))
        for p in result["provinces"]:
            click.echo("\t".join([p["code"], p["name"], *(str(p[f]) for f in FIGURES),
                                  p["as_of"].isoformat(sep=" ", timespec="seconds")]))
        click.echo("\t".join(["total", "", *(str(result["total"][f]) for f in FIGURES),
                              result["oldest_as_of"].isoformat(sep=" ", timespec="seconds")]))
