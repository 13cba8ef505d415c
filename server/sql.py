"""Query helpers every part uses: IN-lists in chunks, bulk inserts, dialect checks, per-statement settings."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import any_, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# Larger IN lists are split: SQLite allows 32,766 parameters, and plans stay sane.
CHUNK = 2000



# session.info key: True on a session reading a replica (server.db.Database.read_session).
READ_ONLY_KEY = "jejak.read_only"


class PrimaryNeeded(Exception):
    """A read on a replica reached a write only the primary may do (a due missing-sweep).

    Raised before anything is written; the caller reads again on the primary.
    """


def is_postgres(session) -> bool:
    """Tell whether a session (or connection) talks to PostgreSQL; elsewhere it is SQLite."""
    return session.get_bind().dialect.name == "postgresql"


def read_only(session) -> bool:
    """Tell whether a session reads a replica (no writes: they go to the primary)."""
    return bool(session.info.get(READ_ONLY_KEY))


def member(session: Session, column, values):
    """Return ``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter not N."""
    values = list(values)
    if is_postgres(session):
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def chunks(values: Iterable, size: int = CHUNK):
    """Yield lists of at most ``size`` values."""
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def core(session: Session, query):
    """Run a column SELECT on the session's connection: plain rows, no ORM processing.

    Per row the ORM layer cost more than the query (these run for every scan of a
    batch).  Pending ORM changes are flushed first, as the ORM's autoflush would.
    """
    session.flush()
    return session.connection().execute(query)


def bulk_insert(session: Session, table, rows: list[dict]) -> None:
    """Insert many rows at once: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if not is_postgres(session):
        session.execute(table.insert(), rows)
        return
    session.flush()
    names = list(rows[0])
    raw = session.connection().connection.driver_connection
    columns = ", ".join(f'"{n}"' for n in names)
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    import psycopg  # only on PostgreSQL, whose driver this is

    try:
        with raw.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[n] for n in names])
    except psycopg.Error as exc:
        # COPY runs on the driver's own connection, so its errors arrive unwrapped:
        # wrap them like every other statement's, so callers handle one family
        # (a lost connection is then a retryable 503, not a 500).
        if raw.broken:
            session.connection().invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, psycopg.Error,
                                  dialect=session.get_bind().dialect) from exc


# PostgreSQL settings for one read statement.  A region's range reads are priced above
# jit_above_cost and JIT-compiled: 12-14 ms each to run a 50-100 ms query.
NO_JIT = {"jit": "off"}


NO_HASH_JOIN = {"enable_hashjoin": "off", "enable_mergejoin": "off"}


def _run_with(session: Session, statement, settings: dict[str, str]) -> list:
    """Return the rows of one statement run with these PostgreSQL settings, restored after."""
    if not settings or not is_postgres(session):
        return session.execute(statement).all()
    # set_config(..., true) is undone by the transaction's end at the latest.
    old = {name: session.scalar(text("SELECT current_setting(:n)"), {"n": name})
           for name in settings}
    for name, value in settings.items():
        session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    rows = session.execute(statement).all()
    for name, value in old.items():
        session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    return rows
