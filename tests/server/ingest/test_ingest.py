"""Ingest: what is recorded, what is rejected, retries, region scope, containers, clocks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from server.models import Anomaly, ScanEvent
from tests.factories import principal, scan
from tests.server.scan_world import NOW, World, at

DPR = "3513010001001-SS-DPR"
KOTAK = "3513010001001-KOTAK"


@pytest.fixture
def world(session, region, label_key):
    """DPR ballots and a ballot box for TPS 001 Ngadisari, with the schedule."""
    return World(session, region, label_key, items=("SS-DPR", "KOTAK"))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("change, error", [
    ({"id": None}, "'id'"),
    ({"id": "not-a-uuid"}, "not a UUID"),
    ({"location": "9999"}, "no location with code '9999'"),
    ({"action": "steal"}, "action 'steal'"),
    ({"disposition": "wet"}, "disposition 'wet'"),
    ({"scanned_at": "yesterday"}, "not an ISO-8601"),
    ({"scanned_at": None}, "'scanned_at'"),
    ({"offline": "yes"}, "'offline'"),
    ({"operator": 42}, "'operator' must be a string"),
    ({"code": "X" * 1001}, "more than 1000"),
    ({"code": "   "}, "code is empty"),
    ({"code": "J1.\x00"}, "NUL"),
    ({"operator": "Siti \udc80"}, "invalid Unicode"),
    ({"id": 12345}, "must be a UUID string"),
    ({"seal": "S" * 65}, "more than 64"),
    ({"action": "pack"}, "needs 'container'"),
])
def test_an_item_that_cannot_be_understood_is_rejected_and_the_rest_recorded(
        world, session, change, error):
    good = scan(world.label(DPR), "3513", "receive", at(7))
    bad = {**scan(world.label(KOTAK), "3513", "receive", at(7)), **change}
    if change.get("id", "") is None:
        del bad["id"]
    results = world.post([bad, good])
    assert results[0]["status"] == "rejected" and error in results[0]["error"]
    assert results[1]["status"] == "recorded" and results[1]["error"] is None
    assert count(session, ScanEvent) == 1


def test_a_non_object_item_is_rejected(world):
    results = world.post(["J1.ABC", scan(world.label(DPR), "3513", "receive", at(7))])
    assert results[0] == {"id": None, "status": "rejected", "anomalies": [],
                          "error": "a scan must be a JSON object, not str"}
    assert results[1]["status"] == "recorded"


def test_a_retried_uuid_is_already_recorded_and_changes_nothing(world, session):
    scans = world.journey(DPR)
    scans[2]["disposition"] = "damaged"
    first = world.post(scans)
    before = ([a["evidence"] for a in world.anomalies(status=None)],
              count(session, ScanEvent), count(session, Anomaly))
    again = world.post(scans, now=NOW + dt.timedelta(hours=3))
    assert [r["status"] for r in again] == ["already_recorded"] * len(scans)
    assert [r["id"] for r in again] == [r["id"] for r in first]
    after = ([a["evidence"] for a in world.anomalies(status=None)],
             count(session, ScanEvent), count(session, Anomaly))
    assert after == before


def test_the_same_uuid_twice_in_one_batch_is_recorded_once(world, session):
    one = scan(world.label(DPR), "3513", "receive", at(7))
    results = world.post([one, dict(one)])
    assert [r["status"] for r in results] == ["recorded", "already_recorded"]
    assert count(session, ScanEvent) == 1


def test_the_uuid_is_matched_whatever_its_case(world, session):
    one = scan(world.label(DPR), "3513", "receive", at(7))
    world.post([one])
    assert world.post([{**one, "id": one["id"].upper()}])[0]["status"] == "already_recorded"


def test_device_time_with_an_offset_is_stored_as_utc_and_without_one_taken_as_utc(world):
    wib = scan(world.label(DPR), "3513", "receive")
    wib["scanned_at"] = "2024-02-07T15:00:00+07:00"
    naive = scan(world.label(KOTAK), "3513", "receive")
    naive["scanned_at"] = "2024-02-07T08:00:00"
    world.post([wib, naive])
    assert world.scan_row(wib["id"]).scanned_at == dt.datetime(2024, 2, 7, 8, 0)
    assert world.scan_row(naive["id"]).scanned_at == dt.datetime(2024, 2, 7, 8, 0)


def test_a_token_of_another_regency_cannot_write_here(world, session):
    pasuruan = principal("operator", "/35/3514/")
    results = world.post([scan(world.label(DPR), "3513", "receive", at(7)),
                          scan(world.label(DPR), "3514", "receive", at(7))], who=pasuruan)
    assert results[0]["status"] == "rejected" and "outside region '3514'" in results[0]["error"]
    assert results[1]["status"] == "recorded"


def test_a_device_may_scan_only_at_its_location(world, region):
    device = principal("operator", "/35/3513/", location_path=region["351301"].path)
    results = world.post([scan(world.label(DPR), "3513", "receive", at(7)),
                          scan(world.label(DPR), "351301", "receive", at(8))], who=device)
    assert results[0]["status"] == "rejected" and "device's location" in results[0]["error"]
    assert results[1]["status"] == "recorded"


def test_an_observer_cannot_record_scans(world, session):
    results = world.post([scan(world.label(DPR), "3513", "receive", at(7))],
                         who=principal("observer", "/35/3513/"))
    assert results[0]["status"] == "rejected" and "may not record scans" in results[0]["error"]
    assert count(session, ScanEvent) == 0


def test_scan_rows_keep_who_where_and_the_raw_text(world):
    one = scan(world.label(DPR), "3513", "receive", at(7), operator="Siti", offline=True,
               device="gudang-1", seal="S-1")
    world.post([one])
    row = world.scan_row(one["id"])
    assert (row.operator, row.offline, row.client_device, row.seal) == ("Siti", True, "gudang-1",
                                                                          "S-1")
    assert row.raw_code == one["code"] and row.received_at == NOW
    assert row.package.package_id == DPR and row.counted is True


def test_scan_rows_are_numbered_in_request_order(world):
    scans = world.journey(DPR) + world.journey(KOTAK)
    world.post(scans)
    ids = [world.scan_row(s["id"]).id for s in scans]
    assert ids == sorted(ids)


def test_a_box_scanned_at_each_handoff_stands_for_what_is_packed_in_it(world, session):
    box = world.add("BOX-NGD-1", "KOTAK", "3513010001001")
    packs = [scan(world.label(p), "3513", "receive", at(7)) for p in (DPR, KOTAK)]
    packs += [scan(world.label(p), "3513", "pack", at(7, 10), container=world.label("BOX-NGD-1"),
                   seal="SEGEL-77") for p in (DPR, KOTAK)]
    box_trip = world.journey("BOX-NGD-1")
    box_trip[2]["seal"] = "SEGEL-77"  # received at the district with the seal it was packed with
    results = world.post(packs + box_trip)
    assert all(r["anomalies"] == [] for r in results), results
    assert world.found() == set()
    assert world.progress()["351301"]["received"] == {"regency": 3, "district": 3, "village": 3,
                                                       "tps": 3}
    custody = world.chain(DPR)["custody"]
    assert [c["via_container"] for c in custody[-5:]] == ["BOX-NGD-1"] * 5
    assert world.chain("BOX-NGD-1")["package"]["contents"] == sorted([DPR, KOTAK])
    assert world.chain(DPR)["package"]["container"] == "BOX-NGD-1"


def test_a_box_received_with_another_seal_than_it_was_packed_with_is_a_seal_mismatch(world):
    world.add("BOX-NGD-1", "KOTAK", "3513010001001")
    pack = scan(world.label(DPR), "3513", "pack", at(7, 10), container=world.label("BOX-NGD-1"),
                seal="SEGEL-77")
    box_trip = world.journey("BOX-NGD-1")
    box_trip[2]["seal"] = "SEGEL-99"
    results = world.post([scan(world.label(DPR), "3513", "receive", at(7)), pack] + box_trip
                         + world.journey(KOTAK))
    assert results[4]["anomalies"] == ["seal_mismatch"]
    assert world.found() == {("seal_mismatch", "BOX-NGD-1")}


def test_packing_into_a_forged_box_label_records_the_scan_and_flags_the_label(world):
    fake_box = "J1.AAAAAAAA.BOX-X.KOTAK.3513010001001..1.1." + "A" * 103
    pack = scan(world.label(DPR), "3513", "pack", at(7, 10), container=fake_box)
    results = world.post(world.journey(DPR) + world.journey(KOTAK) + [pack])
    assert results[-1]["status"] == "recorded" and results[-1]["anomalies"] == ["forged_label"]
    row = world.scan_row(pack["id"])
    assert row.container_id is None and row.container_raw == fake_box
    assert world.found() == {("forged_label", "BOX-X")}


def test_a_device_clock_far_ahead_shows_in_the_detail(world):
    ahead = world.journey(DPR)
    ahead[-1]["scanned_at"] = at(20).isoformat()  # 7 days after NOW; also past the deadline
    world.post(ahead + world.journey(KOTAK))
    (late,) = world.anomalies(kind="late")
    assert "device clock" in late["detail"] and ahead[-1]["id"] in late["detail"]


def test_a_hand_typed_package_id_and_code_is_recorded_against_the_package(world):
    from labels.payload import parse

    code = parse(world.label(DPR)).verification_code
    typed = scan(f"{DPR} {code}", "3513", "receive", at(7))
    world.post([typed])
    assert world.scan_row(typed["id"]).package.package_id == DPR


def test_repacking_into_another_box_is_not_a_duplicate_but_packing_twice_is(world):
    world.add("BOX-NGD-1", "KOTAK", "3513010001001")
    world.add("BOX-NGD-2", "KOTAK", "3513010001001")
    first, second = world.label("BOX-NGD-1"), world.label("BOX-NGD-2")
    code = world.label(DPR)
    results = world.post([scan(code, "3513", "pack", at(7, 9), container=first),
                          scan(code, "3513", "pack", at(7, 10), container=second),
                          scan(code, "3513", "pack", at(7, 11), container=second)])
    assert [r["anomalies"] for r in results] == [[], [], ["duplicate_scan"]]
    assert world.chain(DPR)["package"]["container"] == "BOX-NGD-2"


def test_a_package_packed_into_itself_is_rejected(world, session):
    code = world.label(DPR)
    results = world.post([scan(code, "3513", "pack", at(7, 9), container=code)])
    assert results[0]["status"] == "rejected" and "the package itself" in results[0]["error"]
    assert count(session, ScanEvent) == 0


def test_two_uploads_of_the_same_backlog_at_once_record_it_once(world, db, session):
    import threading

    from server.ingest.batch import ingest_batch

    scans = world.journey(DPR)
    first = db.session()
    results_first = ingest_batch(first, scans, principal())  # holds the write lock, uncommitted
    answers = {}

    def second_upload():
        with db.session() as other:
            answers["second"] = ingest_batch(other, scans, principal())
            other.commit()

    worker = threading.Thread(target=second_upload)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive(), "the second upload must wait for the first to commit"
    first.commit()
    first.close()
    worker.join(timeout=30)
    assert {r["status"] for r in results_first} == {"recorded"}
    assert {r["status"] for r in answers["second"]} == {"already_recorded"}
    assert count(session, ScanEvent) == len(scans)
