"""A region's anomalies and progress read from the paths stored on each anomaly (migration 0006).

The region filter means: anomalies at a place in the region, or of a package
bound for it.  These tests compare what the reads return with that definition
computed from the locations and packages themselves, for every location of the
test region, on anomalies stored each way the server stores them (the sweep's
bulk rows, ingest's label anomalies, rows added through the ORM).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Anomaly, Location, Package, utc_now
from server.reconcile.progress import progress
from tests.factories import tamper
from tests.server.scan_world import World, at, scan

TPS = "3513010001001"
PATOKAN = "3513020001001"
COWEK = "3514010001001"


@pytest.fixture
def world(session, region, label_key):
    """Ballots and boxes for a TPS in each district of 3513 and one in 3514, with the schedule."""
    return World(session, region, label_key, tps=(TPS, PATOKAN, COWEK), items=("SS-DPR", "KOTAK"))


def planted(world) -> None:
    """Post scans that raise anomalies inside and across regions, then let a read sweep."""
    forged = tamper(world.label(f"{TPS}-SS-DPR"))
    world.post(world.journey(f"{TPS}-KOTAK")
               # Bound for 3513, received in 3514: misrouted at a place of the other regency.
               + [scan(world.label(f"{PATOKAN}-SS-DPR"), "351401", "receive", at(8))]
               # Bound for 3514, received at 3513's office.
               + [scan(world.label(f"{COWEK}-KOTAK"), "3513", "receive", at(7))]
               # No package: forged labels at a TPS and garbage at a district.
               + [scan(forged, TPS, "receive", at(10)), scan("HELLO WORLD", "351302", "inspect", at(9))])
    world.session.add(Anomaly(kind="damaged", dedup_key="damaged:by-hand", location_id=world.region[COWEK].id,
                              claimed_package="X", detected_at=utc_now(), evidence=[]))
    world.session.commit()
    world.anomalies()  # the read sweeps: `missing` rows stored in bulk


def expected_ids(session, code: str) -> list[int]:
    """Return the ids of anomalies at a place in the region or of a package bound for it (by joins)."""
    low = session.scalar(select(Location.path).where(Location.code == code))
    ids = []
    for a in session.scalars(select(Anomaly).order_by(Anomaly.id)):
        place = session.get(Location, a.location_id).path if a.location_id else None
        package = session.get(Package, a.package_id) if a.package_id else None
        bound = session.get(Location, package.destination_id).path if package else None
        if any(p is not None and p.startswith(low) for p in (place, bound)):
            ids.append(a.id)
    return ids


def test_every_region_lists_exactly_its_anomalies_on_every_page(world):
    planted(world)
    session = world.session
    kinds = {a.kind for a in session.scalars(select(Anomaly))}
    assert {"missing", "misrouted", "forged_label", "damaged"} <= kinds
    for code in world.region.locations:
        want = expected_ids(session, code)
        got = [a["id"] for a in world.anomalies(code)]  # pages of 50
        assert got == want, code
    assert len(expected_ids(session, "35")) == session.query(Anomaly).count()


def test_anomalies_without_a_package_are_listed_where_they_happened(world):
    planted(world)
    forged = [a for a in world.anomalies(TPS, kind="forged_label")]
    assert forged and all(a["location"] == TPS for a in forged)
    garbage = world.anomalies("351302", kind="forged_label")
    assert [a["package_id"] for a in garbage] == ["HELLO WORLD"]
    assert world.anomalies("3514", kind="forged_label") == []
    assert [a["location"] for a in world.anomalies("3514", kind="damaged")] == [COWEK]


def test_a_misrouted_package_shows_in_both_regencies(world):
    planted(world)
    wrong = f"{PATOKAN}-SS-DPR"
    assert [a["location"] for a in world.anomalies("3514", kind="misrouted")
            if a["package_id"] == wrong] == ["351401"]
    assert [a["location"] for a in world.anomalies("351302", kind="misrouted")
            if a["package_id"] == wrong] == ["351401"]
    assert world.anomalies("351301", kind="misrouted") == []


def test_stored_paths_are_those_of_the_place_and_the_destination(world):
    planted(world)
    session = world.session
    for a in session.scalars(select(Anomaly)):
        place = session.get(Location, a.location_id).path if a.location_id else None
        bound = (session.get(Location, session.get(Package, a.package_id).destination_id).path
                 if a.package_id else None)
        assert (a.location_path, a.destination_path) == (place, bound), a.dedup_key


def test_progress_counts_open_anomalies_where_they_happened_and_apart_at_the_destination(world):
    planted(world)
    session = world.session
    for code in ("35", "3513", "351302"):
        region = world.region[code]
        want: dict[str, dict[str, dict[str, int]]] = {"anomalies": {}, "anomalies_bound_here": {}}
        children = {c.path: c.code for c in session.scalars(select(Location)
                                                            .where(Location.parent_id == region.id))}
        children[region.path] = "here"  # the region's own office, after its children

        def child(path):
            """Return the code of the child region a path lies in (or 'here'), if any."""
            return next((c for p, c in children.items() if path and path.startswith(p)), None)

        for a in session.scalars(select(Anomaly).where(Anomaly.status == "open")):
            place = session.get(Location, a.location_id).path if a.location_id else None
            package = session.get(Package, a.package_id) if a.package_id else None
            bound = session.get(Location, package.destination_id).path if package else None
            # Where it happened; and, apart, under the child its package was bound for.
            for key, path in (("anomalies", place), ("anomalies_bound_here", bound)):
                where = child(path)
                if where is not None:
                    want[key].setdefault(where, {}).setdefault(a.kind, 0)
                    want[key][where][a.kind] += 1
        report = progress(session, region)
        session.commit()
        rows = {c["code"]: c for c in report["children"]} | {"here": report["here"]}
        for key in want:
            got = {c: p[key] for c, p in rows.items() if p[key]}
            assert got == want[key], (code, key)
