"""Chain of custody: every scan of a package or of the box holding it, oldest first."""

from __future__ import annotations

import pytest

from server.reconcile.progress import expected_at
from tests.factories import scan
from tests.server.scan_world import World, at

DPR = "3513010001001-SS-DPR"


@pytest.fixture
def world(session, region, label_key):
    """DPR ballots for TPS 001 Ngadisari and a box bound for the same TPS."""
    w = World(session, region, label_key, schedule=False)
    w.add("BOX-NGD-1", "KOTAK", "3513010001001")
    return w


def test_an_unknown_package_has_no_chain(world):
    assert world.chain("NOPE-1") is None


def test_the_chain_is_in_device_time_order_whatever_the_upload_order(world):
    journey = world.journey(DPR)
    world.post(list(reversed(journey)))
    custody = world.chain(DPR)["custody"]
    assert [c["scan_id"] for c in custody] == [s["id"] for s in journey]
    first = custody[0]
    assert (first["location"], first["location_name"], first["action"]) == (
        "3513", "Kabupaten Probolinggo", "receive")
    assert first["via_container"] is None and first["counted"] is True


def test_box_scans_count_only_while_the_package_is_packed(world):
    box = world.label("BOX-NGD-1")
    code = world.label(DPR)
    world.post([
        scan(box, "3513", "receive", at(7, 7)),                    # before packing: not its custody
        scan(code, "3513", "receive", at(7, 8)),
        scan(code, "3513", "pack", at(7, 9), container=box, seal="S-1"),
        scan(box, "3513", "dispatch", at(7, 12), seal="S-1"),
        scan(box, "351301", "receive", at(8, 8), seal="S-1"),
        scan(code, "351301", "unpack", at(8, 9), container=box),
        scan(box, "351301", "dispatch", at(8, 12)),                # after unpacking: not its custody
    ])
    custody = world.chain(DPR)["custody"]
    assert [(c["action"], c["location"], c["via_container"]) for c in custody] == [
        ("receive", "3513", None), ("pack", "3513", None), ("dispatch", "3513", "BOX-NGD-1"),
        ("receive", "351301", "BOX-NGD-1"), ("unpack", "351301", None)]
    package = world.chain(DPR)["package"]
    assert package["container"] is None and package["destination_name"] == "TPS 001 Ngadisari"


def test_entries_say_who_where_when_and_how(world):
    one = scan(world.label(DPR), "3513", "receive", at(7), operator="Budi", offline=True,
               device="hp-gudang", disposition="damaged")
    world.post([one])
    (entry,) = world.chain(DPR)["custody"]
    assert entry["operator"] == "Budi" and entry["offline"] is True
    assert entry["device"] == "hp-gudang" and entry["disposition"] == "damaged"
    assert entry["scanned_at"].isoformat() == "2024-02-07T08:00:00"
    assert entry["received_at"] > entry["scanned_at"]


def test_expected_lists_what_a_location_should_receive(world, region):
    rows = expected_at(world.session, region["351301"])
    assert {r["package_id"] for r in rows} == {DPR, "BOX-NGD-1"}
    dpr = next(r for r in rows if r["package_id"] == DPR)
    assert dpr == {"package_id": DPR, "item_type": "SS-DPR", "quantity": 300,
                   "destination": "3513010001001", "dapil": "DPR-JATIM-2", "label_version": 1,
                   "verification_code": None}
    assert expected_at(world.session, region["351302"]) == []
    first, second = sorted(r["package_id"] for r in rows)
    assert [r["package_id"] for r in expected_at(world.session, region["351301"], limit=1)] == [first]
    assert [r["package_id"] for r in expected_at(world.session, region["351301"],
                                                 after=first)] == [second]


def _marks(world, package_id=DPR) -> dict[str, list[str]]:
    """Return {scan id: kinds it is marked with} of a package's chain."""
    return {c["scan_id"]: [m["kind"] for m in c["anomalies"]]
            for c in world.chain(package_id)["custody"]}


def test_a_cloned_copys_scan_is_marked_and_normal_handovers_are_not(world):
    journey = world.journey(DPR)
    copy = scan(world.label(DPR), "3513010002001", "receive", at(10, 9))
    world.post(journey + [copy])
    marks = _marks(world)
    assert marks[copy["id"]] == ["cloned_label"]
    # The clone's other half - the original's receipt at its TPS - is evidence too; the
    # handovers before it are not.
    (anomaly,) = world.anomalies()
    assert set(anomaly["evidence"]) == {k for k, v in marks.items() if v}
    assert all(marks[s["id"]] == [] for s in journey[:-1])
    entry = next(c for c in world.chain(DPR)["custody"] if c["scan_id"] == copy["id"])
    (mark,) = entry["anomalies"]
    assert mark == {"id": anomaly["id"], "kind": "cloned_label", "status": "open",
                    "location": "3513010002001"}  # the suspect copy's place


def test_a_damaged_receipt_is_marked_damaged(world):
    journey = world.journey(DPR)
    journey[2]["disposition"] = "damaged"
    world.post(journey)
    marks = _marks(world)
    assert marks[journey[2]["id"]] == ["damaged"]
    assert [s["id"] for s in journey if marks[s["id"]]] == [journey[2]["id"]]


def test_a_misrouted_box_marks_the_packages_inside_it(world):
    box, code = world.label("BOX-NGD-1"), world.label(DPR)
    wrong = scan(box, "351302", "receive", at(8, 8), seal="S-1")
    world.post([scan(code, "3513", "receive", at(7, 8)),
                scan(code, "3513", "pack", at(7, 9), container=box, seal="S-1"),
                scan(box, "3513", "dispatch", at(7, 12), seal="S-1"), wrong])
    assert "misrouted" in _marks(world, "BOX-NGD-1")[wrong["id"]]
    assert "misrouted" in _marks(world)[wrong["id"]]


def test_an_anomaly_later_scans_disproved_marks_nothing(world):
    journey = world.journey(DPR)
    backlog = [s for s in journey if s["location"] == "351301"]
    world.post([s for s in journey if s not in backlog])
    assert any(_marks(world).values())  # the custody gap, while it stands
    world.post(backlog)
    assert not any(_marks(world).values())
