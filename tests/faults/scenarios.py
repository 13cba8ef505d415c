"""The five fault scenarios, each: write an offline backlog, deliver it while doing harm.

Shared by tests/faults/test_faults.py (small backlogs) and benchmarks/faults.py (100,000
scans).  Each returns the backlog's uuids, the outboxes used and what was done; the caller
checks that the server holds every scan exactly once and that the log verifies.

Faults are timed off the scanner's own progress (a batch just went through), plus a
random delay, so they land while the next batch is on the wire or being judged.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from .harness import CuttableProxy, Served, World, pending, sync_until_done, write_backlog

# A fault waits at most this long after a batch went through: less than one batch of 500
# takes even when ingest is fast, so it lands before the backlog is done.
BATCH_SECONDS = 0.08


@dataclass
class Stage:
    """Where a scenario runs: the world, the server, the database, a work folder, a time cap."""

    world: World
    served: Served
    db: object
    workdir: Path
    database_url: str
    budget: float = 60.0


@dataclass
class Outcome:
    """What one scenario did."""

    name: str
    uuids: list[str]
    outboxes: list[Path]
    faults: list = field(default_factory=list)
    runs: int = 0
    seconds: float = 0.0


def wait_for_progress(outbox, proc, before: int, timeout: float = 30.0) -> bool:
    """Wait until the outbox has fewer pending scans than before (a batch went through)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if pending(outbox) < before:
            return True
        time.sleep(0.02)
    return False


def _backlog(stage: Stage, name: str, n: int, seed: int) -> tuple[Path, list[str]]:
    """Write a scenario's backlog into its own outbox file."""
    outbox = stage.workdir / f"{name}-outbox.sqlite3"
    return outbox, write_backlog(outbox, stage.world, n, seed=seed, start=None)


def _deliver(stage: Stage, url: str, outbox: Path, disturb=None) -> int:
    """Sync until done within the stage's budget; return the number of sync runs."""
    return sync_until_done(url, stage.world.token, outbox, time.monotonic() + stage.budget, disturb)


def scanner_killed(stage: Stage, n: int, seed: int, max_faults: int = 4) -> Outcome:
    """SIGKILL ``jejak-scan sync`` at random points while it uploads."""
    outbox, uuids = _backlog(stage, "scanner-killed", n, seed)
    out = Outcome("scanner killed (SIGKILL)", uuids, [outbox])
    rng = random.Random(seed)

    def disturb(proc):
        if len(out.faults) >= max_faults:
            return
        if wait_for_progress(outbox, proc, pending(outbox)):
            time.sleep(rng.uniform(0.0, BATCH_SECONDS))  # somewhere inside the next batch's round trip
            left = pending(outbox)
            if left and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                out.faults.append(left)

    started = time.monotonic()
    out.runs = _deliver(stage, stage.served.url, outbox, disturb)
    out.seconds = time.monotonic() - started
    return out


def server_killed(stage: Stage, n: int, seed: int, max_faults: int = 3) -> Outcome:
    """SIGKILL gunicorn (master and workers) in the middle of a batch, then restart it."""
    outbox, uuids = _backlog(stage, "server-killed", n, seed)
    out = Outcome("server killed mid-batch", uuids, [outbox])
    rng = random.Random(seed)
    served = stage.served

    def disturb(proc):
        if len(out.faults) >= max_faults:
            return
        if wait_for_progress(outbox, proc, pending(outbox)):
            time.sleep(rng.uniform(0.0, BATCH_SECONDS))  # the next batch is being judged and written
            left = pending(outbox)
            if left == 0 or proc.poll() is not None:
                return  # it finished first: nothing to interrupt
            served.kill()
            out.faults.append(left)
            proc.wait()
            served.start(stage.world.token)

    started = time.monotonic()
    out.runs = _deliver(stage, served.url, outbox, disturb)
    out.seconds = time.monotonic() - started
    return out


def network_dropped(stage: Stage, n: int, seed: int, max_faults: int = 4) -> Outcome:
    """Cut the network (reset every connection, refuse new ones) for a while, then restore it."""
    outbox, uuids = _backlog(stage, "network-dropped", n, seed)
    out = Outcome("network dropped and restored", uuids, [outbox])
    rng = random.Random(seed)
    proxy = CuttableProxy(stage.served.port)

    def disturb(proc):
        while len(out.faults) < max_faults and wait_for_progress(outbox, proc, pending(outbox)):
            time.sleep(rng.uniform(0.0, BATCH_SECONDS))
            left = pending(outbox)
            if left == 0:
                return
            proxy.cut()
            down = rng.uniform(0.2, 1.0)  # the link stays down a while
            time.sleep(down)
            proxy.restore()
            out.faults.append(round(down, 2))

    started = time.monotonic()
    try:
        out.runs = _deliver(stage, proxy.url, outbox, disturb)
    finally:
        proxy.close()
    out.seconds = time.monotonic() - started
    return out


def same_backlog_twice(stage: Stage, n: int, seed: int, copies: int = 3) -> Outcome:
    """Upload one offline backlog from several scanners at once (an outbox copied to laptops)."""
    first, uuids = _backlog(stage, "same-backlog", n, seed)
    boxes = [first]
    for k in range(2, copies + 1):
        boxes.append(first.with_name(f"same-backlog-{k}-outbox.sqlite3"))
        shutil.copy(first, boxes[-1])
    out = Outcome(f"one backlog from {copies} scanners", uuids, boxes)
    runs: dict[Path, int] = {}

    def deliver(box):
        runs[box] = _deliver(stage, stage.served.url, box)

    started = time.monotonic()
    threads = [threading.Thread(target=deliver, args=(box,)) for box in boxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.seconds = time.monotonic() - started
    assert len(runs) == copies, "a scanner did not finish"
    out.runs = sum(runs.values())
    out.faults = [copies]
    return out


def database_restarted(stage: Stage, n: int, seed: int, max_faults: int = 3) -> Outcome:
    """Take the database away under the server: PostgreSQL connections terminated, or
    (SQLite) the write lock held by someone else for a while."""
    outbox, uuids = _backlog(stage, "database-restarted", n, seed)
    out = Outcome("database connections terminated" if stage.db.is_postgres
                  else "database write-locked", uuids, [outbox])
    rng = random.Random(seed)

    def outage():
        if stage.db.is_postgres:
            with stage.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                killed = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
            out.faults.append(killed)
        else:
            lock = sqlite3.connect(stage.database_url.removeprefix("sqlite:///"), timeout=30)
            lock.execute("BEGIN EXCLUSIVE")
            time.sleep(rng.uniform(0.5, 1.5))
            lock.rollback()
            lock.close()
            out.faults.append(1)

    def disturb(proc):
        while len(out.faults) < max_faults and wait_for_progress(outbox, proc, pending(outbox)):
            time.sleep(rng.uniform(0.0, BATCH_SECONDS))
            if pending(outbox) == 0:
                return
            outage()

    started = time.monotonic()
    out.runs = _deliver(stage, stage.served.url, outbox, disturb)
    out.seconds = time.monotonic() - started
    return out


SCENARIOS = {
    "scanner-killed": scanner_killed,
    "server-killed": server_killed,
    "network-dropped": network_dropped,
    "same-backlog": same_backlog_twice,
    "database-restarted": database_restarted,
}
