"""Counts at the door: counted_quantity and damaged_quantity on receive, unpack and inspect."""

from __future__ import annotations

import pytest

from tests.factories import scan
from tests.server.scan_world import World, at

TPS = "3513010001001"
BALLOTS = f"{TPS}-SS-DPR"


def test_ballots_counted_short_at_the_tps_are_a_quantity_mismatch_there(session, region,
                                                                         label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",), quantity=300)
    trip = world.journey(BALLOTS)
    trip[-1]["counted_quantity"] = 297
    results = world.post(trip)
    assert results[-1]["anomalies"] == ["quantity_mismatch"]
    assert world.found() == {("quantity_mismatch", BALLOTS)}
    [anomaly] = world.anomalies()
    assert anomaly["location"] == TPS
    assert "counted 297" in anomaly["detail"] and "label says 300 (-3)" in anomaly["detail"]
    row = world.scan_row(trip[-1]["id"])
    assert (row.counted_quantity, row.damaged_quantity) == (297, None)
    custody = world.chain(BALLOTS)["custody"]
    assert custody[-1]["counted_quantity"] == 297


def test_a_recount_that_agrees_closes_the_mismatch(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",), quantity=300)
    trip = world.journey(BALLOTS)
    trip[-1]["counted_quantity"] = 290
    world.post(trip)
    world.post([scan(world.label(BALLOTS), TPS, "inspect", at(10, 9), counted_quantity=300)])
    assert world.found() == set()
    [closed] = world.anomalies(status=None)
    assert closed["kind"] == "quantity_mismatch" and closed["resolved_by"] == "system"


def test_a_count_that_agrees_raises_nothing(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",), quantity=300)
    trip = world.journey(BALLOTS)
    for s in trip:
        if s["action"] == "receive":
            s["counted_quantity"] = 300
            s["damaged_quantity"] = 0
    world.post(trip)
    assert world.found(status=None) == set()


def test_damaged_units_are_damaged_with_the_number(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",), quantity=300)
    trip = world.journey(BALLOTS)
    trip[-1].update(counted_quantity=300, damaged_quantity=4)
    results = world.post(trip)
    assert results[-1]["anomalies"] == ["damaged"]
    [anomaly] = world.anomalies()
    assert anomaly["kind"] == "damaged" and anomaly["location"] == TPS
    assert "reported damaged (4 of 300 units)" in anomaly["detail"]


@pytest.mark.parametrize("extra, error", [
    ({"counted_quantity": -1}, "counted_quantity -1 must be from 0"),
    ({"counted_quantity": "297"}, "field 'counted_quantity' must be a whole number"),
    ({"counted_quantity": True}, "field 'counted_quantity' must be a whole number"),
    ({"counted_quantity": 2.5}, "field 'counted_quantity' must be a whole number"),
    ({"damaged_quantity": 10_000_000}, "damaged_quantity 10000000 must be from 0"),
    ({"counted_quantity": 3, "damaged_quantity": 4}, "damaged_quantity 4 is more than"),
])
def test_bad_counts_are_rejected_with_the_reason(session, region, label_key, extra, error):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",))
    [result] = world.post([scan(world.label(BALLOTS), "3513", "receive", at(7), **extra)])
    assert result["status"] == "rejected" and error in result["error"]


def test_counts_belong_to_receive_unpack_and_inspect(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",))
    [result] = world.post([scan(world.label(BALLOTS), "3513", "dispatch", at(7),
                                counted_quantity=300)])
    assert result["status"] == "rejected"
    assert "counted on receive, unpack, inspect, not on 'dispatch'" in result["error"]


def test_the_ledger_covers_the_counts(session, region, label_key):
    from server.ledger.verify import verify_database

    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",))
    trip = world.journey(BALLOTS)
    trip[-1].update(counted_quantity=299, damaged_quantity=1)
    world.post(trip)
    assert verify_database(session).ok


def test_progress_sums_the_counts_made_where_packages_were_bound(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR", "SS-PPWP"),
                  quantity=300)
    for package, counted, damaged in ((BALLOTS, 290, 2), (f"{TPS}-SS-PPWP", 300, None)):
        trip = world.journey(package)
        trip[-1]["counted_quantity"] = counted
        if damaged is not None:
            trip[-1]["damaged_quantity"] = damaged
        # A count on the way (at the regency) is not what reached the TPS.
        trip[0]["counted_quantity"] = 1
        world.post(trip)
    district = next(iter(world.progress("3513")))
    expected = {"packages": 2, "labelled": 600, "units": 590, "damaged": 2}
    assert world.progress("3513")[district]["counted"] == expected
    # The same sums at every level up to the TPS itself.
    assert world.progress("35")["3513"]["counted"] == expected
    # A recount that agrees replaces the miscount, as the quantity_mismatch rule reads it.
    world.post([scan(world.label(BALLOTS), TPS, "inspect", at(10, 9), counted_quantity=300)])
    assert world.progress("3513")[district]["counted"] == expected | {"units": 600, "damaged": 0}
    # What the plan holds but nobody counted is not in the sums.
    assert world.progress("3513")[district]["expected"] == 2
