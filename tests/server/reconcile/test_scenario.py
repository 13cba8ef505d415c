"""End to end: a small regency's distribution with planted problems; exactly those are listed.

Scans are posted as devices would, one batch per location in the order the
devices come online, long after the fact (server time is now, device times are
February 2024): retries of whole batches, a re-scan, an offline backlog that
arrives last, a cloned label, a forged label, ballots packed into a box of
another dapil, a skipped level, damage and a package that never left the
regency warehouse.
"""

from __future__ import annotations

from collections import defaultdict

from server.reconcile.progress import progress
from tests.factories import scan, tamper
from tests.server.scan_world import World, at

TPS = ("3513010001001", "3513010001002", "3513010002001", "3513020001001")
ITEMS = ("SS-DPR", "SS-DPRDK", "KOTAK")


def pid(tps: str, item: str) -> str:
    return f"{tps}-{item}"


def test_the_planted_problems_and_nothing_else(session, region, label_key):
    world = World(session, region, label_key, tps=TPS, items=ITEMS)
    scans: list[dict] = []
    planted = set()

    # Ballots of Ngadisari 001 (DPRDK-3513-1) packed into Patokan's box (DPRDK-3513-2).
    wrong = pid("3513010001001", "SS-DPRDK")
    patokan_box = pid("3513020001001", "KOTAK")
    scans += [scan(world.label(wrong), "3513", "receive", at(7, 8)),
              scan(world.label(wrong), "3513", "pack", at(7, 10),
                   container=world.label(patokan_box), seal="SEGEL-PTK")]
    planted.add(("wrong_dapil", wrong))

    # The box that never leaves the regency warehouse.
    stuck = pid("3513010002001", "KOTAK")
    scans += world.journey(stuck, upto="3513")[:1]
    planted.add(("missing", stuck))

    # Patokan's DPR ballots skip the district.
    skipped = pid("3513020001001", "SS-DPR")
    scans += world.journey(skipped, skip=("351302",))
    planted.add(("custody_gap", skipped))

    # Ngadisari 001's box is damaged on arrival at the village.
    damaged = pid("3513010001001", "KOTAK")
    trip = world.journey(damaged)
    next(s for s in trip if s["location"] == "3513010001")["disposition"] = "damaged"
    scans += trip
    planted.add(("damaged", damaged))

    # Wonotoro's DPR ballots: the village's scans were made offline and arrive last.
    late_village = pid("3513010002001", "SS-DPR")
    trip = world.journey(late_village)
    backlog = [s for s in trip if s["location"] == "3513010002"]
    for s in backlog:
        s["offline"] = True
    scans += [s for s in trip if s not in backlog]

    everything_else = {pid(t, i) for t in TPS for i in ITEMS} - {
        wrong, stuck, skipped, damaged, late_village, patokan_box}
    for package_id in sorted(everything_else):
        scans += world.journey(package_id)
    box_trip = world.journey(patokan_box)
    box_trip[2]["seal"] = "SEGEL-PTK"
    scans += box_trip

    # Ngadisari 002's DPR label is copied and received at Wonotoro's TPS as well.
    cloned = pid("3513010001002", "SS-DPR")
    scans.append(scan(world.label(cloned), "3513010002001", "receive", at(10, 9)))
    planted.add(("cloned_label", cloned))

    # The PPK of Sukapura scans one label twice.
    rescanned = pid("3513010001002", "KOTAK")
    scans.append(scan(world.label(rescanned), "351301", "receive", at(8, 8, 1)))
    planted.add(("duplicate_scan", rescanned))

    # A forged label (one character changed) turns up at the regency.
    genuine = world.label(pid("3513010001002", "SS-DPRDK"))
    forged = genuine[:40] + ("7" if genuine[40] != "7" else "8") + genuine[41:]
    scans.append(scan(forged, "3513", "receive", at(7, 9)))
    planted.add(("forged_label", pid("3513010001002", "SS-DPRDK")))

    by_place = defaultdict(list)
    for s in scans:
        by_place[s["location"]].append(s)
    for place in sorted(by_place, key=len):  # regency first, TPS last, like the handoffs
        results = world.post(by_place[place], now=None)
        assert all(r["status"] == "recorded" for r in results), results
        retried = world.post(by_place[place], now=None)  # the device did not get the answer
        assert all(r["status"] == "already_recorded" for r in retried)
    world.post(backlog, now=None)

    assert world.found() == planted
    # What later scans disproved stays listed, closed by the system: the custody gap the
    # offline backlog filled, and the copy first seen as a misrouted package (when the
    # TPS of the copy uploads before the TPS of the original).
    listed = world.anomalies(status=None)
    closed = {(a["kind"], a["package_id"]) for a in listed if a["status"] != "open"}
    assert ("custody_gap", late_village) in closed
    assert closed <= {("custody_gap", late_village), ("misrouted", cloned)}
    assert all(a["resolved_by"] == "system" and "closed by the system" in a["resolution_note"]
               for a in listed if a["status"] != "open")

    report = progress(session, region["3513"])
    children = {c["code"]: c for c in report["children"]}
    # Where each happened: the wrong-dapil packing and the forged label at the regency's
    # own warehouse; the rest in the district.  Apart: all of them, by destination.
    assert report["here"]["anomalies"] == {"wrong_dapil": 1, "forged_label": 1}
    assert children["351301"]["anomalies"] == {"missing": 1, "damaged": 1,
                                               "cloned_label": 1, "duplicate_scan": 1}
    assert children["351301"]["anomalies_bound_here"] == {
        "wrong_dapil": 1, "missing": 1, "damaged": 1, "cloned_label": 1, "duplicate_scan": 1,
        "forged_label": 1}
    assert children["351302"]["anomalies"] == {"custody_gap": 1}
    assert children["351301"]["expected"] == 9 and children["351302"]["expected"] == 3
    assert children["351301"]["received"]["tps"] == 7  # the wrong-dapil ballots and the stuck box


def test_the_same_through_http_with_device_tokens(app, client, session, region, label_key):
    """Devices post over the API; the supervisor's anomaly list names exactly the planted problems."""
    from tests.factories import device_token, token

    world = World(session, region, label_key, tps=("3513010001001", "3513020001001"),
                  items=("SS-DPR", "KOTAK"))
    devices = {code: device_token(session, code) for code in
               ("3513", "351301", "351302", "3513010001", "3513020001", "3513010001001",
                "3513020001001")}
    supervisor = token(session, "supervisor", "3513")
    session.commit()
    skipped = pid("3513020001001", "SS-DPR")
    missing = pid("3513020001001", "KOTAK")
    damaged = pid("3513010001001", "KOTAK")
    scans = world.journey(pid("3513010001001", "SS-DPR")) + world.journey(skipped, skip=("351302",))
    trip = world.journey(damaged)
    trip[-1]["disposition"] = "damaged"
    scans += trip
    forged = tamper(world.label(damaged))
    scans.append(scan(forged, "3513", "receive", at(7, 9)))
    by_place = defaultdict(list)
    for s in scans:
        by_place[s["location"]].append(s)
    for place, batch in by_place.items():
        for _attempt in range(2):  # every batch retried once
            response = client.post("/api/v1/scans", json={"scans": batch},
                                   headers={"Authorization": f"Bearer {devices[place]}"})
            assert response.status_code == 200, response.get_json()
    response = client.get("/api/v1/anomalies?region=3513&status=open",
                          headers={"Authorization": f"Bearer {supervisor}"})
    assert response.status_code == 200, response.get_json()
    found = {(a["kind"], a["package_id"]) for a in response.get_json()["anomalies"]}
    assert found == {("custody_gap", skipped), ("missing", missing), ("damaged", damaged),
                     ("forged_label", damaged)}
