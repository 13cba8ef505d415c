"""Locks of the ingest path: writers of different packages do not wait for each other.

On PostgreSQL an ingest batch takes

1. the write lock (``WRITE_LOCK_KEY``) in *shared* mode: batches run
   side by side, while the missing sweep, ``rebuild_states`` and resolutions,
   which take it exclusively, run alone;
2. a row lock (``FOR NO KEY UPDATE``) on each package whose timeline it reads
   or writes (the packages its scans name, the containers they travelled in,
   what was packed in those), taken in one statement in id order so two batches
   never deadlock on them - row locks live in the rows, not in PostgreSQL's
   shared lock table, so 1,000-scan batches on many workers cannot exhaust it;
   ``NO KEY`` so foreign-key checks of scans referencing a package never wait;
   then one advisory lock per label-anomaly ``dedup_key`` it may extend (a few);
3. at the end, the ledger's lock (``LOCK_KEY``) for the chain append only.

So a batch that touches a package waits for the one before it to commit and then
judges on its scans (READ COMMITTED: each statement sees the last commit).  A
container relation found only once the first locks are held is locked after them
(out of order: a rare deadlock, which PostgreSQL breaks by failing one batch; the
API retries it).  On SQLite a writer holds the database's write lock anyway, so
``lock_writes`` is all it takes.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from server.sql import PrimaryNeeded, is_postgres, read_only

# The int4 namespace of the two-key advisory locks of label dedup keys.
LABEL_SPACE = 0x4A4B


_LOCK_PACKAGES = text(
    "SELECT id FROM packages WHERE id = ANY(:ids) ORDER BY id FOR NO KEY UPDATE"
).bindparams(bindparam("ids", type_=postgresql.ARRAY(postgresql.INTEGER)))


_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) FROM "
    "(SELECT k FROM unnest(:keys) AS t(k) ORDER BY k) AS sorted"
).bindparams(bindparam("keys", type_=postgresql.ARRAY(postgresql.INTEGER)))


def per_package(session: Session) -> bool:
    """Tell whether this database locks per package (PostgreSQL) or serialises writers (SQLite)."""
    return is_postgres(session)


def key_of(dedup_key: str) -> int:
    """Return the int4 lock key of a label anomaly's dedup key."""
    return int.from_bytes(hashlib.blake2b(dedup_key.encode("utf-8"), digest_size=4).digest(),
                          "big", signed=True)


def lock_batch(session: Session, package_ids, dedup_keys=()) -> None:
    """Take the shared write lock, then the packages' and dedup keys' locks in sorted order.

    On SQLite: the database's write lock (``lock_writes``).
    """
    _writable(session)
    if not per_package(session):
        lock_writes(session)
        return
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": WRITE_LOCK_KEY})
    lock_more(session, package_ids, dedup_keys)


def lock_more(session: Session, package_ids, dedup_keys=()) -> None:
    """Lock more packages, then dedup keys, in this transaction, each in sorted order (PostgreSQL)."""
    ids = sorted({int(p) for p in package_ids})
    if ids:
        session.execute(_LOCK_PACKAGES, {"ids": ids})
    keys = sorted({key_of(k) for k in dedup_keys})
    if keys:
        session.execute(_LOCK_KEYS, {"space": LABEL_SPACE, "keys": keys})


# Any constant: every writer of the scan log and anomalies takes this lock - ingest in
# shared mode, with row locks on the packages it touches (server/locks.py), the
# sweep, rebuilds and resolutions exclusively (PostgreSQL; SQLite serialises writers).
WRITE_LOCK_KEY = 0x4A454A414B


def lock_writes(session: Session) -> None:
    """Serialise writers of the log: an advisory lock on PostgreSQL, the write lock on SQLite."""
    _writable(session)
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
    else:
        # A write statement takes SQLite's write lock (waiting on busy_timeout)
        # before anything is read, so the reads that follow are not stale.
        session.execute(text("UPDATE deadline_sweeps SET deadline_id = deadline_id WHERE 1 = 0"))


def _writable(session: Session) -> None:
    """Refuse to lock for writing on a replica's session: every writer of the log passes here.

    A read routed to the replica that finds a write due (the missing sweep before
    a progress or anomaly read) stops here, before writing, and is read again on
    the primary (``server.db.replica_read``).
    """
    if read_only(session):
        raise PrimaryNeeded("a write is due before this read: read on the primary")
