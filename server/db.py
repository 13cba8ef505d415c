"""Database access: one engine per app, one session per request, schema by Alembic only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter

from server.config import RULES_KEY, Rules, rules_for

MIGRATIONS = Path(__file__).with_name("migrations")

# The largest id an Integer column holds (PostgreSQL's int4): a larger one in an address is 404.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<row_id:name>`` in a route: a positive id the database can hold, else no match (404)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


class Database:
    """An engine and its session factory, made from a URL."""

    def __init__(self, url: str, echo: bool = False, rules: Callable[[], Rules] = Rules):
        self.url = url
        self.rules = rules  # called per session: a setting changed before it opens applies
        kwargs = {}
        if url.startswith("sqlite"):
            # Flask may serve requests from several threads.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True  # survive a database restart
        self.engine: Engine = create_engine(url, echo=echo, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "do_connect", lambda *_args: _private_sqlite_file(url))
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        """Tell whether the database is PostgreSQL."""
        return self.engine.dialect.name == "postgresql"

    def session(self) -> Session:
        """Return a new session."""
        session = self.sessionmaker()
        session.info[RULES_KEY] = self.rules()
        return session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        # Alembic is needed to migrate, not to serve: imported when used.
        from alembic import command

        command.upgrade(alembic_config(self), "head")

    def current_revision(self) -> str | None:
        """Return the schema's migration revision (None before init-db)."""
        # Alembic is needed to migrate, not to serve: imported when used.
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _private_sqlite_file(url: str) -> None:
    """Create a SQLite database file readable by its owner only (it holds password hashes).

    SQLite gives its -wal and -shm files the database file's mode; a file made
    before this (0644 by the umask) is tightened.
    """
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if os.stat(path).st_mode & 0o077 and os.stat(path).st_uid == os.getuid():
            os.chmod(path, 0o600)
    except FileNotFoundError:
        return  # no such folder: SQLite says so when it connects
    else:
        os.close(fd)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """Turn on WAL, foreign keys and a busy timeout for every SQLite connection."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def alembic_config(database: Database):
    """Return an Alembic config pointing at our migrations and this database."""
    # Alembic is needed to migrate, not to serve: imported when used.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = database.engine
    return cfg


def get_db() -> Database:
    """Return the current app's Database."""
    return current_app.extensions["jejak.db"]


def get_session() -> Session:
    """Return the request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def close_session(_exc=None) -> None:
    """Close the request's session, rolling back anything uncommitted."""
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except DBAPIError:
        # The connection died mid-request (database restart): the request has
        # already been answered; drop the connection instead of failing again.
        current_app.logger.warning("database connection lost; discarding it")
        session.invalidate()


def init_app(app: Flask) -> None:
    """Attach the database to the app and close sessions after each request."""
    app.url_map.converters["row_id"] = RowIdConverter
    app.extensions["jejak.db"] = Database(app.config["DATABASE_URL"], app.config.get("SQL_ECHO", False),
                                          rules=lambda: rules_for(app))
    app.teardown_appcontext(close_session)
