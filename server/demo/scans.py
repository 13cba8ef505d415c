"""The demo's scan story: a few days of handoffs in Kabupaten Probolinggo, with planted problems.

Plain Python over the demo region (no database): :func:`build_scans` returns
the scans, batched per device as scanners would upload them, and the list of
:class:`Planted` problems, each naming the anomaly kind the server must find
and the packages it must find it on.  ``jejak-server demo`` feeds the scans to
``server.ingest.batch.ingest_batch`` so every anomaly is the product's own finding;
tests check each planted problem was found and nothing unplanned was.

The story (times WIB, the demo's "now" is 12 Feb 2024 12:00, mid-distribution):

* 5-7 Feb: the regency warehouse (KPU Kab. Probolinggo) receives every TPS's
  14 packages, packs the ballots, ink, seals and forms into the TPS's first
  ballot box (KOTAK-1, sealed), and on 8-9 Feb dispatches KOTAK-1..5 and the
  booth bundle to the kecamatan (PPK);
* 8-10 Feb: each PPK receives them (deadline 10 Feb);
* 11-12 Feb: in the kecamatan further along, PPK dispatches to the villages
  (PPS), which receive; in a few villages the TPS (KPPS) have theirs already,
  and count what they open (one counts ballots short, one finds some spoilt);
  one village sends a TPS its pieces as a shipment (surat jalan) whose list
  and load differ.

A scan of a container stands for everything packed in it, so a TPS costs 6
scans per handoff instead of 14.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Callable

from server.demo.region import District, Tps

WIB = dt.timezone(dt.timedelta(hours=7))


DEMO_NOW = dt.datetime(2024, 2, 12, 12, 0, tzinfo=WIB)


BATCH = 1000


CONTENTS = ("SS-PPWP", "SS-DPR", "SS-DPD", "SS-DPRDP", "SS-DPRDK", "TINTA", "SEGEL", "FORMULIR")


@dataclass(frozen=True)
class Planted:
    """A problem planted in the demo: the anomaly kind expected on each of ``packages``.

    ``kind`` is None for a scenario that must record cleanly without an anomaly
    (an offline backlog).  ``packages`` are package ids (for a forged or
    unknown label: the id the label claims).
    """

    kind: str | None
    packages: tuple[str, ...]
    location: str
    note: str
    scans: tuple[str, ...] = ()  # scan ids, for scenarios judged by their scans


@dataclass
class DemoShipment:
    """A shipment (surat jalan) of the demo and its receipt, as the two scanners upload them.

    ``shipment`` is the body of ``POST /api/v1/shipments`` (the giver's closed list);
    ``receipt`` the body of the receipt, without its ``reference``, which only the
    server's number completes.
    """

    shipment: dict
    receipt: dict


@dataclass
class ScanPlan:
    """The scans to ingest, as (device location code, scans) batches, and what was planted."""

    batches: list[tuple[str, list[dict]]] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)
    reprinted: dict[str, int] = field(default_factory=dict)  # package id -> current label version
    shipments: list[DemoShipment] = field(default_factory=list)

    @property
    def scan_count(self) -> int:
        """Return how many scans the plan holds."""
        return sum(len(scans) for _loc, scans in self.batches)


def pid(tps: Tps, item: str) -> str:
    """Return the package id of one of a TPS's packages (KOTAK-n, or an item type)."""
    return f"{tps.code}-{item}"


class _Story:
    """Collects scans in device-time order per device, then batches them."""

    def __init__(self, sign: Callable[..., str], rng: random.Random, versions: dict[str, int]):
        self._sign, self.rng, self.versions = sign, rng, versions
        self.scans: list[tuple[dt.datetime, str, dict]] = []  # (time, device location, scan)
        self.offline: dict[str, list[dict]] = {}  # village -> its offline backlog
        self.planted: list[Planted] = []
        self.shipments: list[DemoShipment] = []

    def new_id(self) -> str:
        """Return a repeatable random UUID (scans, shipments and receipts take theirs here)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def scan(self, package_id: str, location: str, action: str, at: dt.datetime,
             device: str | None = None, code: str | None = None, container: str | None = None,
             seal: str = "", disposition: str = "ok", operator: str = "",
             offline_batch: list | None = None, counted: int | None = None,
             damaged: int | None = None) -> dict:
        """Add one scan (by the device at ``device``, default the scan's location)."""
        body = {"id": self.new_id(),
                "code": code or self.label(package_id), "location": location, "action": action,
                "scanned_at": at.isoformat(), "disposition": disposition,
                "operator": operator or f"petugas-{location}", "offline": offline_batch is not None}
        if container:
            body["container"] = self.label(container)
        if seal:
            body["seal"] = seal
        if counted is not None:
            body["counted_quantity"] = counted
        if damaged is not None:
            body["damaged_quantity"] = damaged
        if offline_batch is not None:
            offline_batch.append(body)
        else:
            self.scans.append((at, device or location, body))
        return body

    def backlog(self, village: str) -> list[dict]:
        """Return the offline backlog of a village's device, starting it if needed."""
        return self.offline.setdefault(village, [])

    def plant_backlogs(self) -> None:
        """Record each offline backlog as a scenario that must record cleanly."""
        for village, scans in self.offline.items():
            self.plant(None, sorted({b["code"].split(".")[2] for b in scans}), village,
                       f"offline backlog of {len(scans)} receipts at PPS {village}, uploaded "
                       "after everything else", [b["id"] for b in scans])

    def label(self, package_id: str, version: int | None = None, **kwargs) -> str:
        """Return a package's label text, of its current version unless told otherwise."""
        return self._sign(package_id, version=version or self.versions.get(package_id, 1), **kwargs)

    def quantity(self, package_id: str) -> int:
        """Return the quantity a package's label states."""
        return int(self.label(package_id).split(".")[6])

    def plant(self, kind: str | None, packages, location: str, note: str, scans=()) -> None:
        """Remember a planted problem."""
        self.planted.append(Planted(kind, tuple(packages), location, note, tuple(scans)))

    def find(self, package_id: str, location: str, action: str) -> dict:
        """Return the first scan of a package at a location and action already in the story."""
        code = self.label(package_id)
        return next(body for _at, _dev, body in sorted(self.scans, key=lambda s: s[0])
                    if body["code"] == code and body["location"] == location
                    and body["action"] == action)

    def batches(self) -> list[tuple[str, list[dict]]]:
        """Return the scans as per-device batches in upload order: online ones, then backlogs."""
        self.scans.sort(key=lambda s: s[0])
        out: list[tuple[str, list[dict]]] = []
        pending: dict[str, list[dict]] = {}
        last_time: dict[str, dt.datetime] = {}
        for at, device, body in self.scans:
            # A device uploads when its batch is full or after a pause of an hour.
            batch = pending.get(device)
            if batch and (len(batch) >= BATCH or at - last_time[device] > dt.timedelta(hours=1)):
                out.append((device, batch))
                batch = None
            if batch is None:
                batch = pending[device] = []
            batch.append(body)
            last_time[device] = at
        out += [(device, batch) for device, batch in pending.items() if batch]
        return out + [(village, scans) for village, scans in self.offline.items()]


def _at(day: int, hour: float, rng: random.Random, spread_min: int = 50) -> dt.datetime:
    """Return a WIB time on a February 2024 day, jittered by up to spread_min minutes."""
    base = dt.datetime(2024, 2, day, tzinfo=WIB) + dt.timedelta(hours=hour)
    return base + dt.timedelta(minutes=rng.randrange(spread_min))


def _seal(tps: Tps) -> str:
    """Return the numbered cable-tie seal put on a TPS's KOTAK-1."""
    return f"JTM-{int(tps.code[-9:]) % 10_000_000:07d}"


def build_scans(districts: list[District], regency: str, label: Callable[..., str],
                seed: int, scale: str) -> ScanPlan:
    """Return the demo's scans and planted problems for the region."""
    rng = random.Random(seed + 7)
    special = _choose_special(districts, random.Random(seed + 11))
    story = _Story(label, rng, special["reprinted"])
    everything = [t for d in districts for t in d.tps]
    district_of = {t.code: d for d in districts for t in d.tps}
    village_of = {t.code: v for d in districts for v in d.villages for t in v.tps}
    # Who reaches how far by "now": (kecamatan index in the region -> depth).
    depth = _depths(districts, scale)
    skip = special["skip"]  # (tps code, package id, stage) scans the story leaves out or bends

    for d_index, district in enumerate(districts):
        truck_day = 8 + (d_index % 2)        # the regency sends kecamatan trucks over two days
        truck_hour = 6 + (d_index * 37 % 9)
        for v_index, village in enumerate(district.villages):
            for tps in village.tps:
                _regency_stage(story, tps, regency, truck_day, truck_hour, skip, rng)
                _district_stage(story, tps, district.code, truck_day, truck_hour + 3, skip, rng)
                reach = depth[d_index]
                if reach >= 2 or (reach == 1 and v_index == 0):
                    # Village 0 of some kecamatan sits where the signal is poor.
                    _village_stage(story, tps, district.code, village.code, skip, rng,
                                   offline=(reach in (1, 2) and v_index == 0 and d_index % 4 in (1, 3)))
                if reach >= 3 and v_index < 2:
                    _tps_stage(story, tps, village.code, skip, rng)
    _plant(story, special, regency, district_of, village_of, rng)
    _plant_at_tps(story, special, village_of)
    story.plant_backlogs()
    plan = ScanPlan(story.batches(), story.planted, special["reprinted"], story.shipments)
    assert len(everything) >= 8, "the demo region needs at least 8 TPS for its planted problems"
    return plan


def _depths(districts: list[District], scale: str) -> list[int]:
    """Return how far distribution has got in each kecamatan: 0 PPK, 1 some PPS, 2 PPS, 3 KPPS."""
    if scale == "small":
        return [3, 2][:len(districts)] + [2] * max(0, len(districts) - 2)
    # Mid-distribution: two kecamatan are at the TPS, a few at the villages, one village in
    # some more, the rest at the PPK (sized so the demo loads in under a minute).
    return [3 if i in (0, 14) else 2 if i in (6, 18) else 1 if i % 3 == 1 else 0
            for i in range(len(districts))]


def _regency_stage(story: _Story, tps: Tps, regency: str, day: int, hour: int, skip, rng) -> None:
    """Pack a TPS's KOTAK-1 at the warehouse, take the six pieces into stock, dispatch them.

    The receipt of the sealed KOTAK-1 stands for everything packed in it, so
    the warehouse scans 8 + 6 + 6 labels per TPS instead of 14 + 8 + 6.
    """
    packed = _at(5 + rng.randrange(3), 8 + rng.randrange(7), rng)
    box = pid(tps, "KOTAK-1")
    for item in CONTENTS:
        if (tps.code, pid(tps, item), "pack") in skip:
            continue
        story.scan(pid(tps, item), regency, "pack", packed, container=box, seal=_seal(tps),
                   operator="gudang-kpu")
    received = packed + dt.timedelta(minutes=30)
    for piece in _pieces(tps):
        if (tps.code, piece, "regency") not in skip:
            story.scan(piece, regency, "receive", received, operator="gudang-kpu",
                       seal=_seal(tps) if piece == box else "")
    sent = _at(day, hour, rng, 30)
    for piece in _pieces(tps):
        if (tps.code, piece, "dispatch") not in skip:
            story.scan(piece, regency, "dispatch", sent,
                       seal=_seal(tps) if piece == box else "", operator="gudang-kpu")


def _pieces(tps: Tps) -> list[str]:
    """Return what travels as separate pieces: the five boxes (KOTAK-1 holding the rest) and the booths."""
    return [pid(tps, f"KOTAK-{n}") for n in range(1, 6)] + [pid(tps, "BILIK")]


def _district_stage(story, tps: Tps, district: str, day: int, hour: int, skip, rng) -> None:
    """Receive the six pieces at the PPK."""
    at = _at(day, hour, rng, 90)
    for piece in _pieces(tps):
        if (tps.code, piece, "district") not in skip:
            story.scan(piece, district, "receive", at, seal=_seal(tps) if piece.endswith("KOTAK-1")
                       else "", operator=f"ppk-{district}")


def _village_stage(story, tps: Tps, district: str, village: str, skip, rng, offline: bool) -> None:
    """Dispatch from the PPK and receive at the PPS (as an offline backlog where the signal is poor)."""
    sent = _at(11, 7, rng, 120)
    backlog = story.backlog(village) if offline else None
    for piece in _pieces(tps):
        if (tps.code, piece, "district_out") not in skip:
            story.scan(piece, district, "dispatch", sent, operator=f"ppk-{district}",
                       seal=_seal(tps) if piece.endswith("KOTAK-1") else "")
        if (tps.code, piece, "village") not in skip:
            story.scan(piece, village, "receive", sent + dt.timedelta(hours=3),
                       seal=_seal(tps) if piece.endswith("KOTAK-1") else "",
                       operator=f"pps-{village}", offline_batch=backlog)


def _tps_stage(story, tps: Tps, village: str, skip, rng) -> None:
    """Dispatch from the PPS and receive at the TPS on the morning of 12 Feb."""
    sent = _at(12, 7, rng, 60)
    for piece in _pieces(tps):
        if (tps.code, piece, "village_out") not in skip:
            story.scan(piece, village, "dispatch", sent, operator=f"pps-{village}",
                       seal=_seal(tps) if piece.endswith("KOTAK-1") else "")
        if (tps.code, piece, "tps") not in skip:
            story.scan(piece, tps.code, "receive", sent + dt.timedelta(hours=1),
                       seal=_seal(tps) if piece.endswith("KOTAK-1") else "",
                       operator=f"kpps-{tps.code}")


def _choose_special(districts: list[District], rng: random.Random) -> dict:
    """Pick the TPS the problems are planted at (deterministic for the seed)."""
    first, last = districts[0], districts[-1]
    # The first village of each kecamatan reaches the PPS in every scale; planting there
    # lets the village- and TPS-level problems happen.
    a = first.villages[0].tps
    b = last.villages[0].tps
    # Two TPS of the first kecamatan's second village (which reaches the TPS in every
    # scale) are kept for what happens at the TPS: a count and a shipment.
    counted, shipped = first.villages[1].tps[:2]
    pool_first = [t for v in first.villages[1:] for t in v.tps if t not in (counted, shipped)]
    pool_last = [t for v in last.villages[1:] for t in v.tps]
    rng.shuffle(pool_first)
    rng.shuffle(pool_last)
    return {
        "wrong_dapil": (a[0], b[0]),          # a's DPRDK ballots packed into b's box
        "wrong_dapil_2": (b[1 % len(b)], a[1 % len(a)]),
        "misrouted_box": (pool_first[0], last),   # a whole KOTAK-1 to the wrong PPK
        "misrouted_bilik": (pool_last[0], first),
        "seal": pool_first[1],
        "damaged_box": pool_last[1],
        "damaged_ink": pool_first[2],
        "broken_seal": a[-1],
        "custody_gap": pool_last[2],
        "late_regency": pool_last[6],
        "late_district": pool_last[3],
        "missing": pool_first[4],
        "duplicate": pool_last[4],
        "cloned": (a[0], b[-1]),
        "forged": pool_last[7],
        "superseded": pool_last[5],
        "reprinted": {pid(pool_last[5], "KOTAK-3"): 2},
        "counted": counted,
        "shipped": shipped,
    } | _skips(a, b, pool_first, pool_last, shipped)


def _skips(a, b, pool_first, pool_last, shipped) -> dict:
    """Return the scans the normal flow leaves out so the planted ones replace them."""
    skip = set()

    def stop(tps, piece: str) -> None:
        """Leave out every scan of a piece after it left the warehouse."""
        for stage in ("district", "district_out", "village", "village_out", "tps"):
            skip.add((tps.code, pid(tps, piece), stage))

    w_from = a[0]
    skip.add((w_from.code, pid(w_from, "SS-DPRDK"), "pack"))
    w2_from = b[1 % len(b)]
    skip.add((w2_from.code, pid(w2_from, "SS-DPRDK"), "pack"))
    stop(pool_first[0], "KOTAK-1")                       # misrouted box
    stop(pool_last[0], "BILIK")                          # misrouted booths
    seal_tps = pool_first[1]
    skip.add((seal_tps.code, pid(seal_tps, "KOTAK-1"), "district"))
    skip.add((pool_last[1].code, pid(pool_last[1], "KOTAK-2"), "district"))
    stop(pool_last[2], "KOTAK-3")                        # custody gap: only the village receipt
    skip.add((pool_last[6].code, pid(pool_last[6], "BILIK"), "regency"))
    stop(pool_last[3], "KOTAK-1")                        # late at the PPK
    stop(pool_first[4], "KOTAK-4")                       # missing
    stop(pool_last[5], "KOTAK-3")                        # superseded label
    broken = a[-1]
    skip.add((broken.code, pid(broken, "KOTAK-5"), "village"))
    # The shipment to a TPS: KOTAK-5 is on the list but stays behind; the booths ride
    # along unlisted (nobody scanned them out).
    skip.add((shipped.code, pid(shipped, "KOTAK-5"), "tps"))
    skip.add((shipped.code, pid(shipped, "BILIK"), "village_out"))
    return {"skip": skip}


def _plant(story: _Story, s: dict, regency: str, district_of, village_of, rng) -> None:
    """Add the scans that make each planted problem, and record it."""
    # wrong_dapil: another TPS's DPRD Kabupaten ballots packed into a TPS's box (Surabaya 2024).
    for key in ("wrong_dapil", "wrong_dapil_2"):
        src, dst = s[key]
        ballots = pid(src, "SS-DPRDK")
        # Packed with the rest of dst's box, before the box is taken into stock.
        packed = dt.datetime.fromisoformat(story.find(pid(dst, "SS-PPWP"), regency, "pack")["scanned_at"])
        story.scan(ballots, regency, "pack", packed + dt.timedelta(minutes=1),
                   container=pid(dst, "KOTAK-1"), seal=_seal(dst), operator="gudang-kpu")
        story.plant("wrong_dapil", [ballots], regency,
                    f"{ballots} ({src.dapils[2]}) packed into {pid(dst, 'KOTAK-1')} for TPS "
                    f"{dst.code} ({dst.dapils[2]})")
    # misrouted: a whole KOTAK-1 (and all it holds) unloaded at the wrong PPK.
    tps, wrong = s["misrouted_box"]
    box = pid(tps, "KOTAK-1")
    story.scan(box, wrong.code, "receive", _at(9, 14, rng), seal=_seal(tps), operator=f"ppk-{wrong.code}")
    story.plant("misrouted", [box] + [pid(tps, i) for i in CONTENTS], wrong.code,
                f"{box} with its contents, bound for {district_of[tps.code].code}, received at PPK {wrong.code}")
    tps, wrong = s["misrouted_bilik"]
    bilik = pid(tps, "BILIK")
    story.scan(bilik, wrong.code, "receive", _at(9, 15, rng), operator=f"ppk-{wrong.code}")
    story.plant("misrouted", [bilik], wrong.code,
                f"{bilik} bound for {district_of[tps.code].code} received at PPK {wrong.code}")
    # seal_mismatch: KOTAK-1 arrives at the PPK with another seal number than it left with.
    tps = s["seal"]
    box, district = pid(tps, "KOTAK-1"), district_of[tps.code].code
    story.scan(box, district, "receive", _at(9, 16, rng), seal="JTM-9" + _seal(tps)[5:],
               operator=f"ppk-{district}")
    story.plant("seal_mismatch", [box], district, f"{box} sealed {_seal(tps)} at the warehouse, "
                f"received at PPK {district} with seal JTM-9{_seal(tps)[5:]}")
    # damaged: a crushed ballot box at the PPK, ink leaking found at the warehouse,
    # a box whose seal was broken on arrival at the PPS.
    tps = s["damaged_box"]
    box, district = pid(tps, "KOTAK-2"), district_of[tps.code].code
    story.scan(box, district, "receive", _at(9, 17, rng), disposition="damaged",
               operator=f"ppk-{district}")
    story.plant("damaged", [box], district, f"{box} received crushed at PPK {district}")
    tps = s["damaged_ink"]
    ink = pid(tps, "TINTA")
    story.scan(ink, regency, "inspect", _at(7, 18, rng), disposition="damaged", operator="gudang-kpu")
    story.plant("damaged", [ink], regency, f"{ink}: leaking ink found at the warehouse")
    tps = s["broken_seal"]
    box, village, district = pid(tps, "KOTAK-5"), village_of[tps.code].code, district_of[tps.code].code
    story.scan(box, village, "receive", _at(11, 13, rng), disposition="seal_broken",
               operator=f"pps-{village}")
    story.plant("damaged", [box], village, f"{box} arrived at PPS {village} with its seal broken")
    # custody_gap: KOTAK-3 skipped the PPK: the truck drove it straight to the village.
    tps = s["custody_gap"]
    box, village = pid(tps, "KOTAK-3"), village_of[tps.code].code
    story.scan(box, village, "receive", _at(10, 9, rng), operator=f"pps-{village}")
    story.plant("custody_gap", [box], village,
                f"{box} received at PPS {village} with no receipt at its PPK before")
    # late: a booth bundle reached the warehouse after the 8 Feb deadline; a KOTAK-1 the PPK after 10 Feb.
    tps = s["late_regency"]
    bilik = pid(tps, "BILIK")
    story.scan(bilik, regency, "receive", _at(9, 4, rng), operator="gudang-kpu")
    story.plant("late", [bilik], regency, f"{bilik} received at the warehouse early on 9 Feb "
                "(deadline 8 Feb)")
    tps = s["late_district"]
    box, district = pid(tps, "KOTAK-1"), district_of[tps.code].code
    story.scan(box, district, "receive", _at(11, 10, rng), seal=_seal(tps), operator=f"ppk-{district}")
    story.plant("late", [box] + [pid(tps, i) for i in CONTENTS], district,
                f"{box} with its contents received at PPK {district} on 11 Feb (deadline 10 Feb)")
    # missing: KOTAK-4 left the warehouse and never reached its PPK.
    tps = s["missing"]
    box = pid(tps, "KOTAK-4")
    story.plant("missing", [box], district_of[tps.code].code,
                f"{box} dispatched from the warehouse, never received at PPK {district_of[tps.code].code}")
    # duplicate_scan: the PPK scanned a box twice.
    tps = s["duplicate"]
    box, district = pid(tps, "KOTAK-2"), district_of[tps.code].code
    story.scan(box, district, "receive", _at(10, 12, rng), operator=f"ppk-{district}")
    story.plant("duplicate_scan", [box], district, f"{box} scanned twice on receipt at PPK {district}")
    # cloned_label: a photocopy of a box label scanned at another village minutes after the original.
    tps, other = s["cloned"]
    box, village, elsewhere = pid(tps, "KOTAK-2"), village_of[tps.code].code, village_of[other.code].code
    original = dt.datetime.fromisoformat(story.find(box, village, "receive")["scanned_at"])
    story.scan(box, elsewhere, "receive", original + dt.timedelta(minutes=4),
               operator=f"pps-{elsewhere}")
    story.plant("cloned_label", [box], elsewhere,
                f"label of {box} (at PPS {village}) also scanned at PPS {elsewhere}")
    # forged_label: a label with its quantity altered, and one signed by an unknown key.
    tps = s["forged"]
    ballots = pid(tps, "SS-PPWP")
    genuine = story.label(ballots)
    parts = genuine.split(".")
    parts[6] = str(int(parts[6]) + 50)
    district = district_of[tps.code].code
    story.scan(ballots, district, "inspect", _at(10, 11, rng), code=".".join(parts),
               operator=f"ppk-{district}")
    story.plant("forged_label", [ballots], district,
                f"label of {ballots} with its quantity changed to {parts[6]} (signature no longer matches)")
    fake = story.label(pid(tps, "SS-DPD"), foreign=True)
    story.scan(pid(tps, "SS-DPD"), district, "inspect", _at(10, 11, rng), code=fake,
               operator=f"ppk-{district}")
    story.plant("forged_label", [pid(tps, "SS-DPD")], district,
                f"label of {pid(tps, 'SS-DPD')} signed by a key the server does not trust")
    unknown = f"{tps.code}-SS-DPD-X"
    story.scan(unknown, district, "inspect", _at(10, 11, rng), operator=f"ppk-{district}",
               code=story.label(unknown, fields=("SS-DPD", tps.code, 100, "")))
    story.plant("unknown_package", [unknown], district,
                f"genuinely signed label for {unknown}, which is not in the plan")
    # superseded_label: KOTAK-3 was reprinted (version 2); the old label turns up at the PPK.
    tps = s["superseded"]
    box, district = pid(tps, "KOTAK-3"), district_of[tps.code].code
    story.scan(box, district, "receive", _at(9, 18, rng), code=story.label(box, version=1),
               operator=f"ppk-{district}")
    story.plant("superseded_label", [box], district,
                f"old label (version 1) of reprinted {box} scanned at PPK {district}")


def _plant_at_tps(story: _Story, s: dict, village_of) -> None:
    """Plant what the KPPS find when they open and count, and the shipment that differs.

    quantity_mismatch: the KPPS count the presidential ballots short when they
    unpack them; damaged: they find some DPR ballots spoilt (a damaged count, the
    package itself fine).  short_shipment / not_in_shipment: the PPS sends the
    TPS its pieces on one surat jalan listing KOTAK-1..5; KOTAK-5 is left behind
    and the booths, not on the list, come along.  The receipt, closed at the TPS,
    names both at once.
    """
    tps = s["counted"]
    box = pid(tps, "KOTAK-1")
    opened = dt.datetime.fromisoformat(story.find(box, tps.code, "receive")["scanned_at"])
    ballots = pid(tps, "SS-PPWP")
    labelled = story.quantity(ballots)
    story.scan(ballots, tps.code, "unpack", opened + dt.timedelta(minutes=20), container=box,
               counted=labelled - 25, operator=f"kpps-{tps.code}")
    story.plant("quantity_mismatch", [ballots], tps.code,
                f"{ballots}: the KPPS counted {labelled - 25} ballots on unpacking, the label "
                f"says {labelled}")
    spoilt = pid(tps, "SS-DPR")
    labelled = story.quantity(spoilt)
    story.scan(spoilt, tps.code, "unpack", opened + dt.timedelta(minutes=25), container=box,
               counted=labelled, damaged=3, operator=f"kpps-{tps.code}")
    story.plant("damaged", [spoilt], tps.code,
                f"{spoilt}: 3 of {labelled} DPR ballots found spoilt on unpacking")

    tps = s["shipped"]
    village = village_of[tps.code].code
    listed = [pid(tps, f"KOTAK-{n}") for n in range(1, 6)]
    sent = dt.datetime.fromisoformat(story.find(listed[0], village, "dispatch")["scanned_at"])
    got = dt.datetime.fromisoformat(story.find(listed[0], tps.code, "receive")["scanned_at"])
    received = listed[:4] + [pid(tps, "BILIK")]
    story.shipments.append(DemoShipment(
        shipment={"id": story.new_id(), "from": village, "to": tps.code,
                  "koli": [story.label(p) for p in listed],
                  "closed_at": (sent + dt.timedelta(minutes=5)).isoformat(),
                  "operator": f"pps-{village}"},
        receipt={"id": story.new_id(), "location": tps.code,
                 "koli": [story.label(p) for p in received],
                 "closed_at": (got + dt.timedelta(minutes=10)).isoformat(),
                 "operator": f"kpps-{tps.code}"}))
    story.plant("short_shipment", [listed[4]], tps.code,
                f"{listed[4]} on the surat jalan from PPS {village}, not in the load the TPS "
                "received")
    story.plant("not_in_shipment", [pid(tps, "BILIK")], tps.code,
                f"{pid(tps, 'BILIK')} received at TPS {tps.code} with the shipment from PPS "
                f"{village}, not on its surat jalan")
