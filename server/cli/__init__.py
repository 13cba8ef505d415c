"""Every ``jejak-server`` command, registered here (the command group itself is ``server.main``).

``jejak-server run --host H --port P`` is Flask's; every other command
(``init-db``, users and devices, imports, labels, ``sweep``, the ledger, ``demo``)
is registered by :func:`init_app` from one module of this package each, so the
domain packages never import click or flask.  All honour ``JEJAK_DATABASE_URL``.
"""

from __future__ import annotations

from flask import Flask

from server.cli import database, demo, imports, labels, ledger, partitions, sweep, users


def init_app(app: Flask) -> None:
    """Register every jejak-server command on the app."""
    for part in (database, users, imports, labels, sweep, ledger, demo, partitions):
        part.register(app)
