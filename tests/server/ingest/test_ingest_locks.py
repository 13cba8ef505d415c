"""Concurrent ingest: a batch that touches a package sees every batch committed before it."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select, text

from server.ingest.batch import ingest_batch
from server.ledger.chain import LOCK_KEY
from server.models import Anomaly, Package, ScanEvent
from tests.factories import label_text, make_plan, principal, scan, trust_key
from tests.server.scan_world import at


def plan_of(db, region, label_key) -> dict[str, str]:
    """Trust the key, load a plan for one TPS and return {package id: label text}."""
    with db.session() as s:
        trust_key(s, label_key)
        plan = make_plan(s, region, tps_codes=["3513010001001", "3513010001002"],
                         item_types=("SS-DPR", "KOTAK"))
        labels = {pid: label_text(p, label_key) for pid, p in plan.items()}
        s.commit()
    return labels


def racing(session, scans) -> tuple[threading.Thread, list]:
    """Start ingesting scans on session in another thread; return it and where its results go."""
    done = []
    racer = threading.Thread(target=lambda: done.append(ingest_batch(session, scans, principal())))
    racer.start()
    return racer, done


def test_a_batch_waits_for_the_one_holding_its_package_then_sees_its_scan(db, region, label_key):
    labels = plan_of(db, region, label_key)
    ballots = labels["3513010001001-SS-DPR"]
    first, second = db.session(), db.session()
    try:
        ingest_batch(first, [scan(ballots, "3513", "receive", at(7))], principal())
        # The same handoff again from another worker, while the first is not committed yet.
        racer, done = racing(second, [scan(ballots, "3513", "receive", at(7, 9))])
        racer.join(1.0)
        assert racer.is_alive(), "the second batch did not wait for the first"
        first.commit()
        racer.join(30)
        second.commit()
        assert done[0][0]["anomalies"] == ["duplicate_scan"]
    finally:
        first.close()
        second.close()
    with db.session() as s:
        assert sorted(s.scalars(select(ScanEvent.counted))) == [False, True]
        assert s.scalar(select(Anomaly.kind)) == "duplicate_scan"


def test_batches_of_different_packages_wait_only_for_the_ledger_append(db, region, label_key):
    labels = plan_of(db, region, label_key)
    first, second = db.session(), db.session()
    try:
        ingest_batch(first, [scan(labels["3513010001001-SS-DPR"], "3513", "receive", at(7))],
                     principal())
        racer, done = racing(second, [scan(labels["3513010001002-SS-DPR"], "3513", "receive",
                                           at(7))])
        if db.engine.dialect.name == "postgresql":  # SQLite has one writer at a time by design
            # Everything but the chain append ran beside the uncommitted first batch.
            assert waiting_for(first) == [("advisory", LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF)]
        first.commit()
        racer.join(30)
        second.commit()
    finally:
        first.close()
        second.close()
    assert [r["status"] for r in done[0]] == ["recorded"]


def waiting_for(session, seconds: float = 10.0) -> list[tuple]:
    """Return (locktype, classid, objid) of the locks someone waits for in this database."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = session.execute(text(
            "SELECT locktype, classid::bigint, objid::bigint FROM pg_locks WHERE NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )).all()
        if rows:
            return [tuple(r) for r in rows]
        time.sleep(0.05)
    return []


def test_a_box_handed_over_while_its_contents_are_scanned_is_judged_with_both(
        db, region, label_key):
    labels = plan_of(db, region, label_key)
    ballots, box = labels["3513010001001-SS-DPR"], labels["3513010001001-KOTAK"]
    with db.session() as s:
        ingest_batch(s, [scan(ballots, "3513", "receive", at(7)),
                         scan(ballots, "3513", "pack", at(7, 9), container=box)], principal())
        s.commit()
    first, second = db.session(), db.session()
    try:
        # The box arrives at the district (for the ballots inside it too) ...
        ingest_batch(first, [scan(box, "351301", "receive", at(8))], principal())
        # ... while another device scans the ballots themselves there again.
        racer, done = racing(second, [scan(ballots, "351301", "inspect", at(8, 10))])
        racer.join(1.0)
        waited = racer.is_alive()
        first.commit()
        racer.join(30)
        second.commit()
    finally:
        first.close()
        second.close()
    if db.engine.dialect.name == "postgresql":
        assert waited, "the ballots' batch did not wait for their box's"
    with db.session() as s:
        from server.models import PackageState

        pid = s.scalar(select(Package.id).where(Package.package_id == "3513010001001-SS-DPR"))
        state = s.get(PackageState, pid)
        assert (state.district_at, state.last_scanned_at) == (at(8).replace(tzinfo=None),
                                                               at(8, 10).replace(tzinfo=None))
