"""The ``jejak-server`` command: Flask's command group plus Jejak's own commands.

``jejak-server run --host H --port P`` serves the app; ``init-db``, ``trust-key``
and the commands registered by other modules (imports, demo, users, tokens)
all honour ``JEJAK_DATABASE_URL``.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import select

from labels.keys import KeyFileError, load_public_key, public_pem
from labels.payload import key_id_for


def main(args=None) -> int:
    """Run the jejak-server command group."""
    from server import create_app

    group = FlaskGroup(create_app=create_app, add_version_option=False,
                       help="Jejak server: scan log, reconciliation, dashboard.")
    return group.main(args=args, prog_name="jejak-server")


def init_app(app: Flask) -> None:
    """Register init-db and trust-key."""
    from server.db import get_db
    from server.models import LabelKey

    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the database schema (idempotent)."""
        db = get_db()
        db.upgrade()
        click.echo(f"database ready at revision {db.current_revision()}: {_safe_url(db.url)}")

    @app.cli.command("trust-key")
    @click.argument("public_key_file", type=click.Path(dir_okay=False))
    @click.option("--name", default="", help="whose key it is, e.g. 'KPU Kab. Probolinggo 2024'")
    def trust_key_command(public_key_file, name):
        """Accept labels signed with the key in PUBLIC_KEY_FILE."""
        try:
            key = load_public_key(public_key_file)
        except KeyFileError as exc:
            raise click.UsageError(str(exc)) from None
        key_id = key_id_for(key)
        with get_db().session() as session:
            row = session.get(LabelKey, key_id)
            if row is None:
                session.add(LabelKey(key_id=key_id, public_key_pem=public_pem(key), name=name))
                verb = "now trusted"
            else:
                row.revoked_at = None
                verb = "already trusted"
            session.commit()
        click.echo(f"label key {key_id} {verb}")

    @app.cli.command("list-keys")
    def list_keys_command():
        """List the trusted label keys."""
        with get_db().session() as session:
            for row in session.scalars(select(LabelKey).order_by(LabelKey.created_at)):
                state = "revoked" if row.revoked_at else "trusted"
                click.echo(f"{row.key_id}\t{state}\t{row.name}")


def _safe_url(url: str) -> str:
    """Return a database URL with any password masked, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
