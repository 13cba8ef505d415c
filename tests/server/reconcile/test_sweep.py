"""The missing sweep off the read path: reads do bounded work, `jejak-server sweep` the rest."""

from __future__ import annotations

from sqlalchemy import select

from server.models import Anomaly, Package
from server.reconcile import sweep
from server.reconcile.sweep import sweep_missing
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


def test_a_read_leaves_a_big_sweep_to_the_command_and_does_a_small_one(
        session, region, label_key, monkeypatch, runner):
    world = unseen_world(session, region, label_key)
    monkeypatch.setattr(sweep, "READ_SWEEP_LIMIT", 4)
    assert world.found() == set()  # five due, more than a read may judge
    assert world.progress()["351301"]["anomalies"] == {}
    assert runner.invoke(args=["sweep"]).exit_code == 0
    session.expire_all()
    assert world.found() == {("missing", p) for p in UNSEEN}
    world.add("UNSEEN-LATE", "KOTAK", "3513010001001")
    assert world.found() == {("missing", p) for p in [*UNSEEN, "UNSEEN-LATE"]}
    for n in range(5):  # more added since the last sweep than a read may judge
        world.add(f"UNSEEN-LATER-{n}", "KOTAK", "3513010001001")
    assert len(world.found()) == 6
    assert runner.invoke(args=["sweep"]).exit_code == 0
    session.expire_all()
    assert len(world.found()) == 11


def test_the_sweep_command_raises_what_a_read_would_have(session, region, label_key, runner):
    unseen_world(session, region, label_key)
    session.commit()
    result = runner.invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "sweep done: 5 packages judged"
    session.expire_all()
    assert stored_missing(session) == set(UNSEEN)
    assert runner.invoke(args=["sweep"]).output.strip() == "sweep done: 0 packages judged"


def test_a_cut_short_sweep_marks_done_the_deadlines_with_nothing_left(session, region, label_key):
    from server.models import Deadline, DeadlineSweep

    world = unseen_world(session, region, label_key)
    for package_id in UNSEEN:  # all of them reached the district, none the village
        world.post(world.journey(package_id, upto="351301"))
    assert sweep_missing(session, limit=2) == 2
    session.commit()
    marks = dict(session.execute(select(Deadline.level, DeadlineSweep.max_package_id)
                                 .join(DeadlineSweep, DeadlineSweep.deadline_id == Deadline.id)).all())
    last = session.scalar(select(Package.id).order_by(Package.id.desc()).limit(1))
    second = session.scalar(select(Package.id).where(Package.package_id == UNSEEN[1]))
    assert marks["regency"] == marks["district"] == last
    assert marks["village"] == marks["tps"] == second
