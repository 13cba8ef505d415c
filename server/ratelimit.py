"""Request limits shared by every app instance: a sliding window kept in the database.

Each API token may make ``RATE_LIMIT_PER_MINUTE`` requests in any 60-second
window; the next one is answered 429 with ``Retry-After``.  The dashboard's
login throttle counts failed logins the same way (``server.dashboard.sessions``).

The window is the table ``rate_limit_hits`` (one row per counted request: scope,
key, instant), so every gunicorn worker and every instance behind the load
balancer counts against the same limit.  A hit runs in its own short transaction
on the primary, apart from the request's session (a request that fails later
still counted; a 429 is never rolled back):

1. the key's lock - a transaction-level advisory lock on PostgreSQL (released at
   commit, so it works behind pgbouncer's transaction pooling), SQLite's write
   lock there (the first statement is a write) - so two instances never both
   take the last place in the window;
2. the key's rows that left the window are deleted, the rest counted;
3. under the limit a row is added; at it nothing is (a client that waits as told
   gets through) and the answer is the seconds until the oldest row leaves.

Instants are the app's wall clock (seconds since the epoch): instances must keep
their clocks in step (NTP), as they must for the scan log anyway.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from server.models import RateLimitHit
from server.sql import is_postgres

WINDOW_SECONDS = 60.0

# The int4 namespace of the two-key advisory locks of rate-limit keys ("RL").
RATE_SPACE = 0x524C

# Forget idle keys' rows every this many hits of one process.
SWEEP_EVERY = 1000

# A hit on PostgreSQL in one statement, after the key's lock (a statement of its own, so this
# one's snapshot sees what the lock's previous holder committed): forget the key's expired
# rows, count the rest, add one while under the limit.
_HIT = text("""
    WITH gone AS (
        DELETE FROM rate_limit_hits WHERE scope = :scope AND key = :key AND at <= :horizon
    ), live AS (
        SELECT count(*) AS n, min(at) AS oldest FROM rate_limit_hits
        WHERE scope = :scope AND key = :key AND at > :horizon
    ), added AS (
        INSERT INTO rate_limit_hits (scope, key, at)
        SELECT :scope, :key, :now FROM live WHERE n < :limit
    )
    SELECT n, oldest FROM live
""")


def lock_key(scope: str, key: str) -> int:
    """Return the int4 advisory-lock key of a scope's key."""
    digest = hashlib.blake2b(f"{scope}\0{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class SharedWindowLimiter:
    """Count requests per key over the last ``window`` seconds in the database; refuse over ``limit``.

    ``sessions`` opens a session on the primary (``Database.session``).
    """

    def __init__(self, sessions: Callable[[], Session], scope: str, limit: int,
                 window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.time):
        self.sessions = sessions
        self.scope = scope
        self.limit = int(limit)
        self.window = float(window)
        self.clock = clock
        self._calls = 0

    def hit(self, key) -> float:
        """Record a request by key; return 0 if allowed, else the seconds to wait before retrying."""
        if self.limit <= 0:
            return 0.0
        key = str(key)[:200]
        now = self.clock()
        horizon = now - self.window
        session = self.sessions()
        try:
            self._lock(session, key)
            if is_postgres(session):
                count, oldest = session.execute(_HIT, {
                    "scope": self.scope, "key": key, "now": now, "horizon": horizon,
                    "limit": self.limit}).one()
            else:
                count, oldest = self._hit_portably(session, key, now, horizon)
            self._calls += 1
            if self._calls % SWEEP_EVERY == 0:
                session.execute(delete(RateLimitHit).where(
                    RateLimitHit.scope == self.scope, RateLimitHit.at <= horizon))
            session.commit()
        except DBAPIError:
            # A connection that failed mid-transaction (a reset at commit) goes, not back to
            # the pool; the caller answers 503 and the client retries.
            session.invalidate()
            raise
        finally:
            session.close()
        if count >= self.limit:
            # Refused requests are not counted: a client that waits as told gets through.
            return max(oldest + self.window - now, 0.001)
        return 0.0

    def _hit_portably(self, session: Session, key: str, now: float, horizon: float):
        """Forget the key's expired rows, count the rest, add one under the limit (SQLite)."""
        session.execute(delete(RateLimitHit).where(
            RateLimitHit.scope == self.scope, RateLimitHit.key == key,
            RateLimitHit.at <= horizon))
        count, oldest = session.execute(
            select(func.count(), func.min(RateLimitHit.at)).where(
                RateLimitHit.scope == self.scope, RateLimitHit.key == key)).one()
        if count < self.limit:
            session.execute(insert(RateLimitHit).values(scope=self.scope, key=key, at=now))
        return count, oldest

    def wait(self, key) -> float:
        """Return the seconds before key may make a request (0: now), without counting one."""
        if self.limit <= 0:
            return 0.0
        key = str(key)[:200]
        now = self.clock()
        with self.sessions() as session:
            # The (limit)-th newest row inside the window: once it leaves, a place is free.
            row = session.scalar(
                select(RateLimitHit.at).where(
                    RateLimitHit.scope == self.scope, RateLimitHit.key == key,
                    RateLimitHit.at > now - self.window)
                .order_by(RateLimitHit.at.desc()).offset(self.limit - 1).limit(1))
        if row is None:
            return 0.0
        return max(row + self.window - now, 0.001)

    def retry_after_header(self, wait: float) -> str:
        """Return the Retry-After value (whole seconds, at least 1) for a wait."""
        return str(max(1, math.ceil(wait)))

    def _lock(self, session: Session, key: str) -> None:
        """Serialise hits of one key until this transaction ends."""
        if is_postgres(session):
            # A hit lost in a crash costs nothing: no waiting for the WAL flush at commit.
            session.execute(text("SELECT set_config('synchronous_commit', 'off', true), "
                                 "pg_advisory_xact_lock(:space, :k)"),
                            {"space": RATE_SPACE, "k": lock_key(self.scope, key)})
        else:
            # A write first: SQLite's write lock is taken before anything is counted.
            session.execute(text("UPDATE rate_limit_hits SET at = at WHERE 1 = 0"))
