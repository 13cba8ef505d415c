"""The missing sweep off the read path: reads do bounded work, `jejak-server sweep` the rest."""

from __future__ import annotations

from sqlalchemy import select

from server import reconcile
from server.models import Anomaly, Package
from server.reconcile import sweep_missing
from tests.server.scan_world import World

DPR = "3513010001001-SS-DPR"
UNSEEN = [f"UNSEEN-{i}" for i in range(5)]


def unseen_world(session, region, label_key) -> World:
    """A delivered DPR package and five boxes nobody scanned, all past their deadlines."""
    world = World(session, region, label_key)
    for package_id in UNSEEN:
        world.add(package_id, "KOTAK", "3513010001001")
    world.post(world.journey(DPR))
    return world


def stored_missing(session) -> set[str]:
    """Return the package ids with a stored missing anomaly."""
    return set(session.scalars(select(Package.package_id)
                               .join(Anomaly, Anomaly.package_id == Package.id)
                               .where(Anomaly.kind == "missing")))


def test_a_bounded_sweep_carries_on_where_it_stopped(session, region, label_key):
    unseen_world(session, region, label_key)
    judged = []
    for _ in range(4):
        judged.append(sweep_missing(session, limit=2))
        session.commit()
    assert judged == [2, 2, 1, 0]
    assert stored_missing(session) == set(UNSEEN)


def test_each_read_judges_a_bounded_number_of_packages(session, region, label_key, monkeypatch):
    world = unseen_world(session, region, label_key)
    monkeypatch.setattr(reconcile, "READ_SWEEP_LIMIT", 2)
    assert world.found() == {("missing", p) for p in UNSEEN[:2]}
    assert world.found() == {("missing", p) for p in UNSEEN[:4]}
    world.progress()
    assert world.found() == {("missing", p) for p in UNSEEN}


def test_the_sweep_command_raises_what_a_read_would_have(session, region, label_key, runner):
    unseen_world(session, region, label_key)
    session.commit()
    result = runner.invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "sweep done: 5 packages judged"
    session.expire_all()
    assert stored_missing(session) == set(UNSEEN)
    assert runner.invoke(args=["sweep"]).output.strip() == "sweep done: 0 packages judged"
