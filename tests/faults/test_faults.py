"""Fault runs: kill the scanner, kill the server, drop the network, upload one backlog twice,
take the database away - and still every scan is recorded exactly once and the log verifies.

Each test runs a real gunicorn server and real ``jejak-scan sync`` processes on a small
offline backlog (see tests/faults/harness.py), stays well under 30 s, and is marked slow.
The 100,000-scan version is ``benchmarks/faults.py``.

The "database restart" on PostgreSQL terminates every connection of the test database
(``pg_terminate_backend``) instead of restarting the shared cluster: the server sees
exactly what a restart does to it (its pooled connections die mid-use) and must reconnect.
On SQLite, which has no server, the same test holds the database's write lock for a while.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import PG_URL
from tests.faults.harness import (CuttableProxy, Served, assert_exactly_once, make_world,
                                  pending, sync_until_done, verify_log, write_backlog)

pytestmark = pytest.mark.slow
BACKLOG = 2000
BUDGET = 60.0  # hard cap on delivering everything (typically 3-15 s; the machine may be loaded)


@pytest.fixture
def world(app):
    """Return the region, plan, label key and operator token, loaded into the test database."""
    return make_world(app)


@pytest.fixture
def served(app, database_url, world):
    """Return a running gunicorn server on the test database (killed at the end)."""
    server = Served(database_url, Path(app.instance_path))
    server.start(world.token)
    yield server
    server.kill()


def wait_for_progress(outbox, proc, before: int, timeout: float = 15.0) -> bool:
    """Wait until the outbox has fewer pending scans than before (a batch went through)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if pending(outbox) < before:
            return True
        time.sleep(0.02)
    return False


def check(app, db, uuids, *outboxes) -> None:
    """Every scan on the server exactly once, nothing pending, the log verifies."""
    for outbox in outboxes:
        assert pending(outbox) == 0
    assert_exactly_once(db, uuids)
    code, output = verify_log(app)
    assert code == 0, output


def test_scanner_killed_at_random_points_while_uploading(app, db, world, served, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"
    uuids = write_backlog(outbox, world, BACKLOG, seed=1)
    rng = random.Random(11)
    mid_upload_kills = []

    def disturb(proc):
        if len(mid_upload_kills) >= 4:
            return
        left = pending(outbox)
        if wait_for_progress(outbox, proc, left):
            time.sleep(rng.uniform(0.0, 0.3))  # somewhere inside the next batch's round trip
            left = pending(outbox)
            if left and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                mid_upload_kills.append(left)

    runs = sync_until_done(served.url, world.token, outbox, time.monotonic() + BUDGET, disturb)
    assert runs > len(mid_upload_kills) >= 1
    assert all(0 < left < BACKLOG for left in mid_upload_kills)
    check(app, db, uuids, outbox)


def test_server_killed_in_the_middle_of_a_batch(app, db, world, served, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"
    uuids = write_backlog(outbox, world, BACKLOG, seed=2)
    rng = random.Random(12)
    kills = []

    def disturb(proc):
        if len(kills) >= 3:
            return
        if wait_for_progress(outbox, proc, pending(outbox)):
            time.sleep(rng.uniform(0.05, 0.4))  # the next batch is being judged and written
            left = pending(outbox)
            if left == 0 or proc.poll() is not None:
                return  # it finished first: nothing to interrupt
            served.kill()
            kills.append(left)
            proc.wait()
            served.start(world.token)

    sync_until_done(served.url, world.token, outbox, time.monotonic() + BUDGET + 10, disturb)
    assert len(kills) >= 1 and all(left > 0 for left in kills)
    check(app, db, uuids, outbox)


def test_network_dropped_and_restored(app, db, world, served, tmp_path):
    outbox = tmp_path / "outbox.sqlite3"
    uuids = write_backlog(outbox, world, BACKLOG, seed=3)
    proxy = CuttableProxy(served.port)
    rng = random.Random(13)

    def disturb(proc):
        while proxy.cuts < 4 and wait_for_progress(outbox, proc, pending(outbox)):
            time.sleep(rng.uniform(0.0, 0.4))
            if pending(outbox) == 0:
                return
            proxy.cut()
            time.sleep(rng.uniform(0.2, 1.0))  # the link stays down a while
            proxy.restore()

    try:
        sync_until_done(proxy.url, world.token, outbox, time.monotonic() + BUDGET, disturb)
    finally:
        proxy.close()
    assert proxy.cuts >= 1
    check(app, db, uuids, outbox)


def test_two_scanners_uploading_the_same_offline_backlog(app, db, world, served, tmp_path):
    first, second, third = (tmp_path / f"outbox-{n}.sqlite3" for n in (1, 2, 3))
    uuids = write_backlog(first, world, BACKLOG, seed=4)
    shutil.copy(first, second)  # e.g. a device image restored onto a second laptop
    shutil.copy(first, third)
    deadline = time.monotonic() + BUDGET
    runs = {}

    def deliver(box):
        runs[box] = sync_until_done(served.url, world.token, box, deadline)

    threads = [threading.Thread(target=deliver, args=(box,)) for box in (first, second, third)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 3, "a scanner did not finish"
    check(app, db, uuids, first, second, third)


def test_database_restart_during_uploads(app, db, world, served, tmp_path, database_url):
    outbox = tmp_path / "outbox.sqlite3"
    uuids = write_backlog(outbox, world, BACKLOG, seed=5)
    rng = random.Random(15)
    outages = []

    def outage():
        if db.is_postgres:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                killed = conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
            outages.append(killed)
        else:
            lock = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30)
            lock.execute("BEGIN EXCLUSIVE")
            time.sleep(rng.uniform(0.5, 1.5))
            lock.rollback()
            lock.close()
            outages.append(1)

    def disturb(proc):
        while len(outages) < 3 and wait_for_progress(outbox, proc, pending(outbox)):
            time.sleep(rng.uniform(0.05, 0.4))
            if pending(outbox) == 0:
                return
            outage()

    sync_until_done(served.url, world.token, outbox, time.monotonic() + BUDGET, disturb)
    assert len(outages) >= 1
    if db.is_postgres:
        assert sum(outages) > 0, "no server connection was terminated"
    check(app, db, uuids, outbox)
