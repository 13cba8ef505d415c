"""Each anomaly kind, planted alone, is found with the right kind and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from server.models import Anomaly, Deadline, LabelKey, Package, utc_now
from server.reconcile.anomalies import resolve
from tests.factories import principal, scan
from tests.server.scan_world import NOW, World, at

DPR = "3513010001001-SS-DPR"


@pytest.fixture
def world(session, region, label_key):
    """One DPR ballot package for TPS 001 Ngadisari, with the schedule."""
    return World(session, region, label_key)


def test_a_clean_journey_raises_nothing_and_counts_every_level(world):
    results = world.post(world.journey(DPR))
    assert {r["status"] for r in results} == {"recorded"}
    assert all(r["anomalies"] == [] for r in results)
    assert world.anomalies(status=None) == []
    child = world.progress()["351301"]
    assert child["expected"] == 1 and child["dispatched"] == 1 and child["overdue"] == 0
    assert child["received"] == {"regency": 1, "district": 1, "village": 1, "tps": 1}


def test_a_rescan_is_a_duplicate_recorded_but_not_counted(world):
    scans = world.journey(DPR)
    again = scan(world.label(DPR), "351301", "receive", at(8, 9))
    results = world.post(scans + [again])
    assert results[-1]["anomalies"] == ["duplicate_scan"]
    assert world.found() == {("duplicate_scan", DPR)}
    assert world.scan_row(again["id"]).counted is False
    assert world.progress()["351301"]["received"]["district"] == 1


def test_a_copied_label_at_a_second_tps_is_a_cloned_label_only(world):
    copy = scan(world.label(DPR), "3513010002001", "receive", at(10, 9))
    world.post(world.journey(DPR) + [copy])
    assert world.found() == {("cloned_label", DPR)}
    (anomaly,) = world.anomalies()
    assert anomaly["location"] == "3513010002001"
    assert copy["id"] in anomaly["evidence"]


def test_a_copy_seen_far_away_minutes_after_the_original_is_a_cloned_label(world):
    copy = scan(world.label(DPR), "3514", "receive", at(8, 8, 5))
    world.post(world.journey(DPR) + [copy])
    assert world.found() == {("cloned_label", DPR)}


def test_a_package_at_the_wrong_district_then_corrected_is_misrouted_only(world):
    code = world.label(DPR)
    scans = [s for s in world.journey(DPR) if s["location"] != "3513" or s["action"] != "dispatch"]
    detour = [scan(code, "3513", "dispatch", at(7, 10)),
              scan(code, "351302", "receive", at(7, 12)),
              scan(code, "351302", "dispatch", at(7, 14))]
    world.post(scans + detour)
    assert world.found() == {("misrouted", DPR)}
    (anomaly,) = world.anomalies()
    assert anomaly["location"] == "351302"


def test_ballots_received_at_a_tps_of_another_dapil_are_wrong_dapil(session, region, label_key):
    # TPS 001 Patokan votes in DPRDK-3513-2; these DPRDK ballots are for DPRDK-3513-1.
    world = World(session, region, label_key, items=("SS-DPRDK",))
    ballots = "3513010001001-SS-DPRDK"
    code = world.label(ballots)
    world.post([scan(code, "3513", "receive", at(7)), scan(code, "3513", "dispatch", at(7, 12)),
                scan(code, "3513020001001", "receive", at(8))])
    assert world.found() == {("wrong_dapil", ballots)}
    assert world.anomalies()[0]["location"] == "3513020001001"


def test_ballots_taken_down_another_district_are_misrouted_then_wrong_dapil(
        session, region, label_key):
    world = World(session, region, label_key, items=("SS-DPRDK",))
    ballots = "3513010001001-SS-DPRDK"
    code = world.label(ballots)
    world.post([scan(code, "3513", "receive", at(7)), scan(code, "3513", "dispatch", at(7, 12)),
                scan(code, "351302", "receive", at(8)),
                scan(code, "3513020001", "receive", at(9)),
                scan(code, "3513020001001", "receive", at(10))])
    assert world.found() == {("misrouted", ballots), ("wrong_dapil", ballots)}
    where = {a["kind"]: a["location"] for a in world.anomalies()}
    assert where == {"misrouted": "351302", "wrong_dapil": "3513020001001"}


def test_packing_ballots_into_a_box_for_a_tps_of_another_dapil_is_wrong_dapil_only(
        session, region, label_key):
    world = World(session, region, label_key, items=("SS-DPRDK",))
    ballots = "3513010001001-SS-DPRDK"  # dapil DPRDK-3513-1
    box = world.add("BOX-PTK-1", "KOTAK", "3513020001001")  # Patokan: DPRDK-3513-2
    world.post([scan(world.label(ballots), "3513", "receive", at(7)),
                scan(world.label(ballots), "3513", "pack", at(7, 9),
                     container=world.label(box.package_id))]
               + world.journey(box.package_id))
    assert world.found() == {("wrong_dapil", ballots)}
    custody = world.chain(ballots)["custody"]
    assert [c["via_container"] for c in custody][-1] == box.package_id
    assert custody[-1]["location"] == "3513020001001"


def test_an_altered_and_an_unknown_key_label_are_forged_and_recorded(world):
    from labels.keys import generate

    good = world.label(DPR)
    altered = good[:-5] + ("A" if good[-5] != "A" else "B") + good[-4:]
    stranger = World.__new__(World)
    stranger.plan, stranger.key = world.plan, generate()
    foreign = stranger.label(DPR)
    garbage = "HELLO WORLD"
    scans = [scan(t, "3513", "receive", at(7)) for t in (altered, foreign, garbage)]
    results = world.post(world.journey(DPR) + scans)
    assert [r["status"] for r in results[-3:]] == ["recorded"] * 3
    assert [r["anomalies"] for r in results[-3:]] == [["forged_label"]] * 3
    row = world.scan_row(scans[0]["id"])
    assert row.package_id is None and row.claimed_package == DPR
    assert world.found() == {("forged_label", DPR), ("forged_label", "HELLO WORLD")}
    assert len(world.anomalies()) == 3


def test_a_genuine_label_not_in_the_plan_is_an_unknown_package(world):
    from labels.payload import Label, sign

    text = sign(Label("GHOST-1", "KOTAK", "3513010001001", 1), world.key).text
    results = world.post(world.journey(DPR) + [scan(text, "3513", "receive", at(7))])
    assert results[-1]["anomalies"] == ["unknown_package"]
    assert world.found() == {("unknown_package", "GHOST-1")}


def test_the_old_label_after_a_reprint_is_superseded(world, session):
    old = world.label(DPR)
    world.plan[DPR].label_version = 2
    session.commit()
    results = world.post(world.journey(DPR) + [scan(old, "351301", "inspect", at(8, 9))])
    assert results[-1]["anomalies"] == ["superseded_label"]
    assert world.found() == {("superseded_label", DPR)}
    assert world.scan_row(results[-1]["id"]).package_id is None


def test_a_skipped_level_is_a_custody_gap_and_not_missing(world):
    world.post(world.journey(DPR, skip=("351301",)))
    assert world.found() == {("custody_gap", DPR)}
    (anomaly,) = world.anomalies()
    assert anomaly["location"] == "3513010001"


def test_a_late_offline_backlog_closes_the_custody_gap_it_explains(world):
    journey = world.journey(DPR)
    backlog = [s for s in journey if s["location"] == "351301"]
    for s in backlog:
        s["offline"] = True
    world.post([s for s in journey if s not in backlog])
    assert world.found() == {("custody_gap", DPR)}
    world.post(backlog, now=NOW + dt.timedelta(days=1))
    assert world.found() == set()
    (closed,) = world.anomalies(status="resolved")
    assert closed["kind"] == "custody_gap" and closed["resolved_by"] == "system"
    assert backlog[0]["id"] in closed["resolution_note"]


def test_a_receipt_after_the_deadline_is_late(world):
    scans = world.journey(DPR)
    tps = scans[-1]
    tps["scanned_at"] = at(11, 15).isoformat()  # TPS deadline: 11 Feb 00:00
    world.post(scans)
    assert world.found() == {("late", DPR)}
    assert world.found(as_of=dt.datetime(2024, 2, 11, 12)) == set()


def test_a_package_not_received_by_the_deadline_is_missing_until_it_comes(world):
    world.post(world.journey(DPR, upto="351301"))
    assert world.found() == {("missing", DPR)}
    (anomaly,) = world.anomalies()
    assert anomaly["location"] == "3513010001"
    # Not yet missing before the village deadline (10 Feb 00:00).
    assert world.found(as_of=dt.datetime(2024, 2, 9, 23)) == set()
    rest = [s for s in world.journey(DPR) if s["location"] not in ("3513", "351301")]
    rest[0]["scanned_at"] = at(10, 6).isoformat()
    rest[1]["scanned_at"] = at(10, 7).isoformat()
    world.post(rest, now=NOW + dt.timedelta(hours=1))
    assert world.found() == {("late", DPR)}
    (closed,) = world.anomalies(status="resolved")
    assert closed["kind"] == "missing" and "received" in closed["resolution_note"]
    # As of a moment inside the episode it was still missing.
    assert world.found(as_of=dt.datetime(2024, 2, 10, 3)) == {("missing", DPR)}


def test_a_package_never_scanned_is_missing_at_the_regency(world):
    assert world.found() == {("missing", DPR)}
    assert world.anomalies()[0]["location"] == "3513"
    assert world.progress()["351301"]["overdue"] == 1


def test_damage_at_receipt_is_damaged(world):
    scans = world.journey(DPR)
    scans[2]["disposition"] = "damaged"
    results = world.post(scans)
    assert results[2]["anomalies"] == ["damaged"]
    assert world.found() == {("damaged", DPR)}


def test_a_box_received_with_another_seal_is_a_seal_mismatch(world):
    box = world.add("BOX-NGD-1", "KOTAK", "3513010001001")
    scans = world.journey(box.package_id)
    scans[1]["seal"] = "SEAL-0001"  # dispatch from the regency
    scans[2]["seal"] = "SEAL-0002"  # received at the district
    world.post(world.journey(DPR) + scans)
    assert world.found() == {("seal_mismatch", box.package_id)}


def test_a_label_stating_another_quantity_than_the_plan_is_a_quantity_mismatch(world, session):
    from labels.payload import Label, sign

    pkg: Package = world.plan[DPR]
    wrong = sign(Label(pkg.package_id, pkg.item_type, "3513010001001", 250, pkg.dapil, 1),
                 world.key).text
    world.post(world.journey(DPR, code=wrong))
    assert world.found() == {("quantity_mismatch", DPR)}


def test_resolving_keeps_who_when_and_the_note(world, session):
    scans = world.journey(DPR)
    scans[2]["disposition"] = "damaged"
    world.post(scans)
    (anomaly,) = world.anomalies()
    supervisor = principal("supervisor", "/35/3513/")
    done = resolve(session, anomaly["id"], supervisor, "box replaced, BAST 12", status="acknowledged")
    assert done["status"] == "acknowledged"
    done = resolve(session, anomaly["id"], supervisor, "replaced and recounted")
    session.commit()
    assert done["status"] == "resolved" and done["resolved_by"] == "test-supervisor"
    assert "box replaced" in done["resolution_note"] and "recounted" in done["resolution_note"]
    assert world.found(status="resolved") == {("damaged", DPR)}


def test_resolve_refuses_outside_the_region_bad_status_and_empty_notes(world, session):
    world.post([scan("NOT A LABEL", "3513", "receive", at(7))])
    anomaly = world.anomalies(kind="forged_label")[0]
    with pytest.raises(PermissionError, match="outside your region"):
        resolve(session, anomaly["id"], principal("supervisor", "/35/3514/"), "not mine")
    with pytest.raises(PermissionError, match="may not resolve"):
        resolve(session, anomaly["id"], principal("observer", "/35/3513/"), "looked")
    with pytest.raises(ValueError, match="note"):
        resolve(session, anomaly["id"], principal("supervisor", "/35/3513/"), "   ")
    with pytest.raises(ValueError, match="'deleted'"):
        resolve(session, anomaly["id"], principal("supervisor", "/35/3513/"), "x", status="deleted")
    with pytest.raises(LookupError):
        resolve(session, 999999, principal("supervisor", "/35/3513/"), "x")


def test_a_region_sees_anomalies_at_its_places_and_of_its_packages_only(world):
    copy = scan(world.label(DPR), "3514010001001", "receive", at(12))
    world.post(world.journey(DPR) + [copy])
    assert ("cloned_label", DPR) in world.found(region="3514")
    assert ("cloned_label", DPR) in world.found(region="3513")
    assert world.found(region="351302") == set()


def test_paging_returns_every_anomaly_once(world):
    scans = [scan(f"JUNK-{i}", "3513", "receive", at(7)) for i in range(120)]
    world.post(scans)
    ids = [a["id"] for a in world.anomalies(kind="forged_label")]
    assert len(ids) == 120 == len(set(ids)) and ids == sorted(ids)


def test_as_of_in_the_future_tells_what_will_be_missing_without_storing_it(world, session):
    later = utc_now() + dt.timedelta(days=30)
    for row in session.scalars(select(Deadline)):
        row.deadline = later
    session.commit()
    assert world.found() == set()
    assert world.found(as_of=later + dt.timedelta(days=1)) == {("missing", DPR)}
    ahead = world.progress(as_of=later + dt.timedelta(days=1))["351301"]
    # Not received at the regency: missing there, and apart under the district it is bound for.
    assert ahead["anomalies"] == {} and ahead["overdue"] == 1
    assert ahead["anomalies_bound_here"] == {"missing": 1}
    assert world.progress()["351301"]["anomalies_bound_here"] == {}
    assert session.scalar(select(func.count()).select_from(Anomaly)) == 0
    assert world.found() == set()


def test_a_revoked_key_makes_its_labels_forged(world, session):
    for key in session.scalars(select(LabelKey)):
        key.revoked_at = NOW
    session.commit()
    results = world.post([scan(world.label(DPR), "3513", "receive", at(7))])
    assert results[0]["anomalies"] == ["forged_label"]


def test_rebuilding_from_the_log_gives_the_same_state_and_anomalies(world, session):
    from server.models import PackageState
    from server.reconcile.sweep import rebuild_states

    scans = world.journey(DPR, skip=("351301",))
    world.post(scans)
    before = (world.progress(), world.found(status=None))
    session.query(PackageState).delete()
    session.commit()
    assert world.progress()["351301"]["received"]["tps"] == 0
    assert rebuild_states(session) == 1
    session.commit()
    assert (world.progress(), world.found(status=None)) == before


def test_the_sweep_judges_packages_added_or_scanned_after_it_ran(world):
    world.post(world.journey(DPR))
    assert world.found() == set()
    world.add("LATE-ADDED-1", "KOTAK", "3513010001001")
    assert world.found() == {("missing", "LATE-ADDED-1")}
    world.add("LATE-ADDED-2", "KOTAK", "3513010001001")
    world.post([scan(world.label("LATE-ADDED-2"), "3513", "receive", at(7))])
    # Received at the regency on time, never at the district: missing there, seen by the sweep.
    assert world.found() == {("missing", "LATE-ADDED-1"), ("missing", "LATE-ADDED-2")}
    (later,) = [a for a in world.anomalies() if a["package_id"] == "LATE-ADDED-2"]
    assert later["location"] == "351301"


def test_a_package_seen_after_the_sweep_is_judged_again_at_the_next_read(session, region,
                                                                          label_key):
    world = World(session, region, label_key, items=("SS-DPR", "KOTAK"))
    box = "3513010001001-KOTAK"
    world.post(world.journey(DPR))
    assert world.found() == {("missing", box)}  # the full sweep: never scanned
    world.post([scan(world.label(box), "3513", "receive", at(7))])
    # Ingest closed the regency episode; the next read's sweep opens the district one.
    assert world.found() == {("missing", box)}
    assert [a["location"] for a in world.anomalies(status="open")] == ["351301"]
    assert [a["location"] for a in world.anomalies(status="resolved")] == ["3513"]
