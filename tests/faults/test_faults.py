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

from pathlib import Path

import pytest

from tests.faults.harness import Served, assert_exactly_once, make_world, pending, verify_log
from tests.faults.scenarios import (
    Stage,
    database_restarted,
    network_dropped,
    same_backlog_twice,
    scanner_killed,
    server_killed,
)

pytestmark = pytest.mark.slow
BACKLOG = 3000  # six batches of 500: faults land between and inside them
BUDGET = 60.0  # hard cap on delivering everything (typically 3-15 s; the machine may be loaded)


@pytest.fixture
def stage(app, db, database_url, tmp_path):
    """Return a running gunicorn server on the test database, with a world loaded (killed at the end)."""
    world = make_world(app)
    served = Served(database_url, Path(app.instance_path))
    served.start(world.token)
    yield Stage(world, served, db, tmp_path, database_url, BUDGET)
    served.kill()


def check(app, db, outcome) -> None:
    """Every scan on the server exactly once, nothing pending, the log verifies."""
    for outbox in outcome.outboxes:
        assert pending(outbox) == 0
    assert_exactly_once(db, outcome.uuids)
    code, output = verify_log(app)
    assert code == 0, output


def test_scanner_killed_at_random_points_while_uploading(app, db, stage):
    outcome = scanner_killed(stage, BACKLOG, seed=1)
    assert outcome.runs > len(outcome.faults) >= 1
    assert all(0 < left < BACKLOG for left in outcome.faults)  # killed mid-upload
    check(app, db, outcome)


def test_server_killed_in_the_middle_of_a_batch(app, db, stage):
    outcome = server_killed(stage, BACKLOG, seed=2)
    assert len(outcome.faults) >= 1 and all(left > 0 for left in outcome.faults)
    check(app, db, outcome)


def test_network_dropped_and_restored(app, db, stage):
    outcome = network_dropped(stage, BACKLOG, seed=3)
    assert len(outcome.faults) >= 1
    check(app, db, outcome)


def test_two_scanners_uploading_the_same_offline_backlog(app, db, stage):
    outcome = same_backlog_twice(stage, BACKLOG, seed=4, copies=3)
    check(app, db, outcome)


def test_database_restart_during_uploads(app, db, stage):
    outcome = database_restarted(stage, BACKLOG, seed=5)
    assert len(outcome.faults) >= 1
    if db.is_postgres:
        assert sum(outcome.faults) > 0, "no server connection was terminated"
    check(app, db, outcome)
