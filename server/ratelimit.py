"""Per-token request limits for the JSON API: an in-process sliding window.

Each API token may make ``RATE_LIMIT_PER_MINUTE`` requests in any 60-second
window; the next one is answered 429 with ``Retry-After``.  The window lives
in the memory of one process, so several app instances (or gunicorn workers)
each count separately: with N workers a token can make up to N times the
limit.  That is deliberate - the limit is a guard against a runaway client,
not a quota - and it keeps the app free of shared state (docs/api.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0


class SlidingWindowLimiter:
    """Count requests per key over the last ``window`` seconds and refuse those over ``limit``."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[object, deque] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, key) -> float:
        """Record a request by key; return 0 if allowed, else the seconds to wait before retrying."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            horizon = now - self.window
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) >= self.limit:
                # Refused requests are not counted: a client that waits as told gets through.
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            self._calls += 1
            if self._calls % 1000 == 0:
                self._forget_idle(horizon)
            return 0.0

    def wait(self, key) -> float:
        """Return the seconds before key may make a request (0: now), without counting one."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if not hits:
                return 0.0
            horizon = now - self.window
            while hits and hits[0] <= horizon:
                hits.popleft()
            if len(hits) < self.limit:
                return 0.0
            return max(hits[0] + self.window - now, 0.001)

    def retry_after_header(self, wait: float) -> str:
        """Return the Retry-After value (whole seconds, at least 1) for a wait."""
        return str(max(1, math.ceil(wait)))

    def _forget_idle(self, horizon: float) -> None:
        """Drop keys with no request inside the window, so memory follows active tokens only."""
        idle = [k for k, hits in self._hits.items() if not hits or hits[-1] <= horizon]
        for key in idle:
            del self._hits[key]
