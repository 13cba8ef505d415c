"""The way back after voting: TPS -> PPS -> PPK, judged as its own leg, with return deadlines."""

from __future__ import annotations

import datetime as dt

from server.models import Deadline
from server.reconcile.rules import DeadlineBook
from tests.factories import scan
from tests.server.scan_world import World, at

TPS = "3513010001001"
BOX = f"{TPS}-KOTAK"


def return_deadlines(world, village=at(13, 6), district=at(13, 10), item_type="KOTAK"):
    """Schedule the boxes back at the village and the district (UTC)."""
    for level, when in (("village", village), ("district", district)):
        world.session.add(Deadline(region_id=world.region["3513"].id, level=level,
                                   deadline=when.replace(tzinfo=None), direction="return",
                                   item_type=item_type))
    world.session.commit()


def back(world, package_id=BOX, village="3513010001", district="351301", seals=("", "", "")):
    """Return the scans of a box's way back: TPS return, village receive+return, district receive."""
    code = world.label(package_id)
    tps = world.plan[package_id].destination.code
    extra = [{"seal": s} if s else {} for s in seals]
    return [scan(code, tps, "return", at(12, 20), **extra[0]),
            scan(code, village, "receive", at(12, 22), **extra[0]),
            scan(code, village, "return", at(12, 23), **extra[1]),
            scan(code, district, "receive", at(13, 2), **extra[2])]


def test_a_box_received_back_at_its_village_and_district_is_not_a_duplicate(session, region,
                                                                           label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("KOTAK",))
    return_deadlines(world)
    world.post(world.journey(BOX))
    results = world.post(back(world))
    assert [r["anomalies"] for r in results] == [[], [], [], []]
    assert world.found(status=None) == set()
    assert all(world.scan_row(r["id"]).counted for r in results)


def test_a_second_receipt_on_the_way_back_is_still_a_duplicate(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("KOTAK",))
    world.post(world.journey(BOX))
    way_back = back(world)
    again = scan(world.label(BOX), "3513010001", "receive", at(12, 22, 5))
    world.post(way_back)
    [result] = world.post([again])
    assert result["anomalies"] == ["duplicate_scan"]
    assert world.found() == {("duplicate_scan", BOX)}
    assert not world.scan_row(again["id"]).counted
    [anomaly] = world.anomalies()
    assert "on its way back" in anomaly["detail"]


def test_a_box_that_never_comes_back_is_missing_where_it_was_last_seen(session, region,
                                                                     label_key):
    world = World(session, region, label_key, tps=(TPS, "3513010001002"), items=("KOTAK",))
    return_deadlines(world)
    kept = f"{TPS}-KOTAK"
    home = "3513010001002-KOTAK"
    world.post(world.journey(kept) + [scan(world.label(kept), TPS, "return", at(12, 20))])
    world.post(world.journey(home) + back(world, home))
    assert world.found() == {("missing_return", kept)}
    [anomaly] = world.anomalies()
    assert anomaly["location"] == TPS  # last seen there: the TPS kept it
    assert anomaly["detected_at"] == dt.datetime(2024, 2, 13, 6, 0)
    assert "due back at village 3513010001" in anomaly["detail"]

    # It turns up late, at the village and then the district: the system closes each level.
    code = world.label(kept)
    world.post([scan(code, "3513010001", "receive", at(13, 15)),
                scan(code, "3513010001", "return", at(13, 16)),
                scan(code, "351301", "receive", at(13, 18))])
    assert world.found() == set()
    closed = [a for a in world.anomalies(status=None) if a["kind"] == "missing_return"]
    assert closed and all(a["resolved_by"] == "system" and "received" in a["resolution_note"]
                          for a in closed)


def test_a_box_not_yet_due_back_is_not_missing(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("KOTAK",))
    return_deadlines(world, village=at(13, 6) + dt.timedelta(days=3650),
                     district=at(13, 10) + dt.timedelta(days=3650))
    world.post(world.journey(BOX))
    assert world.found(status=None) == set()


def test_return_deadlines_of_another_item_type_do_not_apply(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("SS-DPR",))
    return_deadlines(world)
    world.post(world.journey(f"{TPS}-SS-DPR"))
    assert world.found(status=None) == set()


def test_a_box_returned_to_the_wrong_village_is_misrouted(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("KOTAK",))
    return_deadlines(world)
    world.post(world.journey(BOX))
    code = world.label(BOX)
    world.post([scan(code, TPS, "return", at(12, 20)),
                scan(code, "3513010002", "receive", at(12, 22))])
    assert world.found() == {("misrouted", BOX)}
    [anomaly] = world.anomalies()
    assert anomaly["location"] == "3513010002" and "on its way back" in anomaly["detail"]


def test_a_seal_changed_on_the_way_back_is_a_seal_mismatch(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("KOTAK",))
    world.post(world.journey(BOX, seal="JTM-0000042"))
    world.post(back(world, seals=("JTM-R-1", "JTM-R-1", "JTM-R-2")))
    assert world.found() == {("seal_mismatch", BOX)}
    [anomaly] = world.anomalies()
    assert anomaly["location"] == "351301"
    assert "'JTM-R-2'" in anomaly["detail"] and "'JTM-R-1'" in anomaly["detail"]


def test_new_seals_at_the_tps_are_not_a_mismatch_with_the_way_there(session, region, label_key):
    world = World(session, region, label_key, tps=(TPS,), items=("KOTAK",))
    world.post(world.journey(BOX, seal="JTM-0000042"))
    world.post(back(world, seals=("JTM-R-1", "JTM-R-1", "JTM-R-1")))
    assert world.found(status=None) == set()


def test_the_nearest_region_and_then_the_item_type_choose_the_deadline():
    t1, t2, t3 = dt.datetime(2024, 2, 15), dt.datetime(2024, 2, 16), dt.datetime(2024, 2, 17)
    book = DeadlineBook([(None, "village", t1, "return", ""),
                         ("/35/", "village", t2, "return", "KOTAK"),
                         ("/35/3513/", "village", t3, "return", ""),
                         (None, "village", t1)])
    assert book.for_level("/35/3514/x/", "village", "KOTAK", "return") == t2
    assert book.for_level("/35/3514/x/", "village", "SS-DPR", "return") == t1
    assert book.for_level("/35/3513/x/", "village", "KOTAK", "return") == t3
    assert book.for_level("/35/3513/x/", "village", "KOTAK") == t1
    assert book.returns("/35/3514/x/", "KOTAK") == {"village": t2}


def test_a_regency_after_voting_the_planted_problems_and_nothing_else(app, client, session,
                                                                     region, label_key):
    """Return deadlines for ballot boxes: one never comes back, others do; ballots counted short.

    Every scan goes through ingest as devices send them, the way back included;
    each problem is found at the handoff where it happened, and nothing else.
    """
    from server.access import create_user
    from server.reconcile.returns import return_progress
    from tests.server.dashboard_data import PASSWORD, login

    tps = ("3513010001001", "3513010001002", "3513020001001")
    world = World(session, region, label_key, tps=tps, items=("KOTAK", "SS-DPR"))
    return_deadlines(world)
    kept, home, other = (f"{t}-KOTAK" for t in tps)
    short = "3513010001002-SS-DPR"
    for package_id in world.plan:
        trip = world.journey(package_id)
        if package_id == short:
            trip[-1]["counted_quantity"] = 295
        world.post(trip)
    world.post([scan(world.label(kept), "3513010001001", "return", at(12, 20))])
    world.post(back(world, home))
    world.post(back(world, other, village="3513020001", district="351302"))

    assert world.found() == {("missing_return", kept), ("quantity_mismatch", short)}
    where = {a["kind"]: a["location"] for a in world.anomalies()}
    assert where == {"missing_return": "3513010001001", "quantity_mismatch": "3513010001002"}

    report = {c["code"]: c for c in return_progress(session, region["3513"])["children"]}
    assert report["351301"]["returned"] == 2 and report["351301"]["back"] == {
        "regency": 0, "district": 1, "village": 1}
    assert report["351302"]["returned"] == 1 and report["351302"]["back"]["district"] == 1

    create_user(session, "sup", PASSWORD, "supervisor", "3513")
    session.commit()
    login(client)
    page = client.get("/overview?region=3513").get_data(as_text=True)
    assert "Perjalanan kembali" in page and "Diterima kembali di" in page  # Indonesian first
