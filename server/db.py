"""Database access: one engine per app, one session per request, schema by Alembic only.

With ``READ_DATABASE_URL`` (a PostgreSQL streaming replica) a second engine serves
the reads that may be a little behind: views marked ``replica_read`` take their
session from ``get_read_session()``, which is the replica's while it is reachable,
at most ``READ_MAX_LAG_SECONDS`` behind and has replayed the reader's own last
write (the primary's WAL position after a dashboard POST, kept in the session
cookie); otherwise the primary's.  A read that finds a write due first (the
missing sweep) stops before writing (``server.locks``) and runs again on the
primary.  Everything else - ingest, logins, resolutions, commands - uses the
primary (``get_session()``).
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flask import Flask, current_app, g, has_request_context
from flask import session as cookie
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter

from server.config import RULES_KEY, Rules, rules_for
from server.sql import READ_ONLY_KEY, PrimaryNeeded

MIGRATIONS = Path(__file__).with_name("migrations")

# The largest id an Integer column holds (PostgreSQL's int4): a larger one in an address is 404.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<row_id:name>`` in a route: a positive id the database can hold, else no match (404)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


# The replica's lag is measured at most this often per process (seconds).
LAG_CHECK_SECONDS = 1.0
# Seconds to wait for the replica to answer before reading on the primary.
REPLICA_CONNECT_TIMEOUT = 2
# The session-cookie key holding the primary's WAL position after the reader's last write.
WAL_COOKIE = "wal"


@dataclass(frozen=True)
class ReadSource:
    """Where a request's reads went, and why: shown on the page (``replica N s behind``).

    ``reason``: ``replica`` (read there), ``none`` (no replica configured),
    ``unreachable``, ``behind`` (over READ_MAX_LAG_SECONDS), ``own-write`` (the
    reader's last write not replayed yet), ``write-due`` (a sweep was due first).
    """

    replica: bool
    reason: str
    lag: float | None = None

    @property
    def configured(self) -> bool:
        """Tell whether a replica is configured at all."""
        return self.reason != "none"

    @property
    def lag_seconds(self) -> int | None:
        """Return the lag in whole seconds, rounded up (None: unknown)."""
        if self.lag is None or math.isinf(self.lag):
            return None
        return math.ceil(self.lag)


NO_REPLICA = ReadSource(False, "none")


def lsn(value: str | None) -> int | None:
    """Return a PostgreSQL WAL position (``16/B374D848``) as a number, None for None."""
    if not value:
        return None
    high, low = value.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class Database:
    """An engine and its session factory, made from a URL; a second engine for a read replica.

    ``transaction_pooling``: the URLs lead to pgbouncer in transaction pooling, where
    consecutive transactions of one connection may run on different server
    connections: psycopg's automatic server-side prepared statements are turned off.
    """

    def __init__(self, url: str, echo: bool = False, rules: Callable[[], Rules] = Rules,
                 read_url: str | None = None, max_lag: float = 30.0,
                 transaction_pooling: bool = False):
        self.url = url
        self.rules = rules  # called per session: a setting changed before it opens applies
        self.engine: Engine = _engine(url, echo, transaction_pooling)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.max_lag = float(max_lag)
        self.read_engine: Engine | None = None
        if read_url:
            if not (url.startswith("postgresql") and read_url.startswith("postgresql")):
                raise ValueError("READ_DATABASE_URL needs PostgreSQL for both it and DATABASE_URL "
                                 "(a streaming replica of the primary)")
            self.read_engine = _engine(read_url, echo, transaction_pooling,
                                       connect_timeout=REPLICA_CONNECT_TIMEOUT)
            self.read_sessionmaker = sessionmaker(self.read_engine, expire_on_commit=False)
            event.listen(self.engine, "before_cursor_execute", _note_write)
        self._status: tuple[float, float | None, int | None] | None = None
        self._status_lock = threading.Lock()

    @property
    def is_postgres(self) -> bool:
        """Tell whether the database is PostgreSQL."""
        return self.engine.dialect.name == "postgresql"

    def session(self) -> Session:
        """Return a new session."""
        session = self.sessionmaker()
        session.info[RULES_KEY] = self.rules()
        return session

    def read_session(self) -> Session:
        """Return a new session on the replica: reads only (``server.sql.read_only``)."""
        session = self.read_sessionmaker()
        session.info[RULES_KEY] = self.rules()
        session.info[READ_ONLY_KEY] = True
        return session

    def replica_status(self) -> tuple[float | None, int | None]:
        """Return (seconds the replica is behind, WAL position it has replayed); (None, None) if down.

        Behind is 0 when it has replayed everything the primary had written when
        asked; else the time since the last transaction it replayed was committed.
        Measured at most every ``LAG_CHECK_SECONDS`` per process.
        """
        if self.read_engine is None:
            return None, None
        now = time.monotonic()
        with self._status_lock:
            if self._status is not None and now - self._status[0] < LAG_CHECK_SECONDS:
                return self._status[1], self._status[2]
        lag, replayed = self._measure()
        with self._status_lock:
            self._status = (now, lag, replayed)
        return lag, replayed

    def forget_replica_status(self) -> None:
        """Measure the replica afresh on the next read."""
        with self._status_lock:
            self._status = None

    def _measure(self) -> tuple[float | None, int | None]:
        """Ask the primary where its WAL is and the replica how far it has replayed."""
        try:
            with self.engine.connect() as conn:
                written = lsn(conn.scalar(text("SELECT pg_current_wal_lsn()::text")))
            with self.read_engine.connect() as conn:
                standby, replayed, since = conn.execute(text(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
                )).one()
        except DBAPIError:
            return None, None
        if not standby:
            return 0.0, written  # a promoted replica (or the primary itself): nothing to wait for
        replayed = lsn(replayed)
        if replayed is not None and replayed >= written:
            return 0.0, replayed
        return (float(since) if since is not None else math.inf), replayed or 0

    def read_source(self, written: int | None = None) -> ReadSource:
        """Decide where a read goes: the replica if reachable, recent enough and past ``written``."""
        if self.read_engine is None:
            return NO_REPLICA
        lag, replayed = self.replica_status()
        if lag is None:
            return ReadSource(False, "unreachable")
        if lag > self.max_lag:
            return ReadSource(False, "behind", lag)
        if written is not None and (replayed is None or replayed < written):
            return ReadSource(False, "own-write", lag)
        return ReadSource(True, "replica", lag)

    def wal_position(self) -> int | None:
        """Return the primary's current WAL position (PostgreSQL; None on SQLite)."""
        if not self.is_postgres:
            return None
        with self.engine.connect() as conn:
            return lsn(conn.scalar(text("SELECT pg_current_wal_lsn()::text")))

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
        if self.read_engine is not None:
            self.read_engine.dispose()


def _engine(url: str, echo: bool, transaction_pooling: bool, connect_timeout: int | None = None):
    """Create an engine with our settings for SQLite or PostgreSQL."""
    kwargs: dict = {}
    if url.startswith("sqlite"):
        # Flask may serve requests from several threads.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True  # survive a database restart
        connect_args: dict = {}
        if transaction_pooling:
            # psycopg prepares a statement run 5 times on a connection; behind pgbouncer's
            # transaction pooling the next transaction may land on another server connection.
            connect_args["prepare_threshold"] = None
        if connect_timeout:
            connect_args["connect_timeout"] = connect_timeout
        if connect_args:
            kwargs["connect_args"] = connect_args
    engine = create_engine(url, echo=echo, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "do_connect", lambda *_args: _private_sqlite_file(url))
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


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


def get_read_session() -> Session:
    """Return the request's session for reads that may lag: the replica's when it may serve them.

    Only views marked ``replica_read`` call it; the choice is made once per request
    and kept in ``g.read_source`` for the page to show.
    """
    if "db_read_session" not in g:
        db = get_db()
        if g.get("read_on_primary"):
            source = ReadSource(False, "write-due", getattr(g.get("read_source"), "lag", None))
        else:
            written = cookie.get(WAL_COOKIE) if "user_id" in cookie else None
            source = db.read_source(written if isinstance(written, int) else None)
        g.read_source = source
        g.db_read_session = db.read_session() if source.replica else get_session()
    return g.db_read_session


def read_source() -> ReadSource | None:
    """Return where this request's lagging reads went (None: it made none)."""
    return g.get("read_source")


def replica_read(view):
    """Mark a view whose reads may come from the replica (``get_read_session``).

    If its reads find a write due (``server.sql.PrimaryNeeded``: the missing sweep
    before a progress read), nothing was written: it runs again on the primary.
    """
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except PrimaryNeeded:
            _close(g.pop("db_read_session", None), keep=g.get("db_session"))
            g.read_on_primary = True
            return view(*args, **kwargs)

    return wrapper


def _close(session: Session | None, keep: Session | None = None) -> None:
    """Close a session unless it is ``keep``, discarding a connection that died."""
    if session is None or session is keep:
        return
    try:
        session.close()
    except DBAPIError:
        # The connection died mid-request (database restart): the request has
        # already been answered; drop the connection instead of failing again.
        current_app.logger.warning("database connection lost; discarding it")
        session.invalidate()


def close_session(_exc=None) -> None:
    """Close the request's sessions, rolling back anything uncommitted."""
    primary = g.pop("db_session", None)
    _close(g.pop("db_read_session", None), keep=primary)
    _close(primary)


WRITES = ("INSERT", "UPDATE", "DELETE", "COPY")


def _note_write(_conn, _cursor, statement, _params, _context, _executemany) -> None:
    """Mark the request as having written to the primary (with a replica configured).

    The rate limits' own bookkeeping (``rate_limit_hits``) is no change of the user's.
    """
    if (has_request_context() and statement.lstrip()[:6].upper().startswith(WRITES)
            and "rate_limit_hits" not in statement):
        g.wrote_primary = True


def _remember_write(response):
    """After a logged-in user's write, keep the primary's WAL position in their cookie.

    Their next reads go to the replica only once it has replayed that far: a
    resolution is on the page that follows it.  Only with a replica configured.
    """
    if g.get("wrote_primary") and "user_id" in cookie:
        cookie[WAL_COOKIE] = get_db().wal_position()
    return response


def init_app(app: Flask) -> None:
    """Attach the database to the app and close sessions after each request."""
    app.url_map.converters["row_id"] = RowIdConverter
    app.extensions["jejak.db"] = Database(
        app.config["DATABASE_URL"], app.config.get("SQL_ECHO", False),
        rules=lambda: rules_for(app), read_url=app.config.get("READ_DATABASE_URL") or None,
        max_lag=float(app.config.get("READ_MAX_LAG_SECONDS") or 0),
        transaction_pooling=bool(app.config.get("DATABASE_TRANSACTION_POOLING")))
    app.after_request(_remember_write)
    app.teardown_appcontext(close_session)
