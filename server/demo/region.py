"""Facts and synthetic data for the demo region and the province generator.

Kabupaten Probolinggo (BPS 3513, under Jawa Timur 35): its 24 real kecamatan
with their BPS district numbers and desa counts (325 desa + 5 kelurahan = 330).
Village names are real where listed here, synthetic (Javanese-style, from a
seeded generator) elsewhere.  The DPRD Kabupaten dapil grouping below is
illustrative, not the official one.  ``tps_equipment`` is what every TPS gets,
shared by ``jejak-server demo`` and ``benchmarks/province.py`` so both plan
the same way.
"""

from __future__ import annotations

import math
import random

PROVINCE = ("35", "Jawa Timur")


REGENCY = ("3513", "Kabupaten Probolinggo")


DPR_DAPIL = "DPR-JATIM-2"      # Probolinggo votes in East Java's DPR dapil 2


DPRDP_DAPIL = "DPRDP-JATIM-11"  # one provincial DPRD dapil for the whole regency


# (district number, name, villages, DPRD Kabupaten dapil number)
KECAMATAN = [
    (1, "Sukapura", 12, 1), (2, "Sumber", 9, 1), (3, "Kuripan", 7, 1), (4, "Bantaran", 10, 2),
    (5, "Leces", 10, 2), (6, "Tegalsiwalan", 12, 2), (7, "Banyuanyar", 14, 4), (8, "Tiris", 16, 4),
    (9, "Krucil", 14, 4), (10, "Gading", 19, 4), (11, "Pakuniran", 17, 6), (12, "Kotaanyar", 13, 6),
    (13, "Paiton", 20, 6), (14, "Besuk", 17, 5), (15, "Kraksaan", 18, 5), (16, "Krejengan", 17, 5),
    (17, "Pajarakan", 12, 3), (18, "Maron", 18, 3), (19, "Gending", 13, 3), (20, "Dringu", 14, 3),
    (21, "Wonomerto", 11, 1), (22, "Lumbang", 10, 1), (23, "Tongas", 14, 2), (24, "Sumberasih", 13, 2),
]


# Village names known to us; the rest are generated.  Kraksaan's first five are its kelurahan.
KNOWN_VILLAGES = {
    1: ["Ngadisari", "Wonotoro", "Jetak", "Ngadas", "Wonokerto", "Ngadirejo", "Sapikerep",
        "Sukapura", "Pakel", "Kalianan", "Sariwani", "Ngepung"],
    13: ["Binor", "Sumberrejo", "Randumerak", "Karanganyar", "Sukodadi", "Kalikajar Kulon",
         "Kalikajar Wetan", "Paiton", "Pondok Kelor", "Sumberanyar"],
    15: ["Patokan", "Semampir", "Kandangjati Kulon", "Kandangjati Wetan", "Sidomukti",
         "Asembagus", "Asembakor", "Bulu", "Kalibuntu", "Kebonagung", "Kalirejo", "Rondokuning",
         "Sumberlele", "Taman", "Kregenan", "Alassumur Lor", "Alassumur Kulon", "Sidopekso"],
    23: ["Tongas Wetan", "Tongas Kulon", "Curahdringu", "Klampok", "Bayeman", "Dungun"],
}


KELURAHAN = {15: 5}  # kecamatan -> how many of its first villages are kelurahan


# Ballots: item type -> the dapil prefix it carries (None: same ballot everywhere).
BALLOTS = (("SS-PPWP", None), ("SS-DPR", "DPR-"), ("SS-DPD", None), ("SS-DPRDP", "DPRDP-"),
           ("SS-DPRDK", "DPRDK-"))


RESERVE = 0.02  # ballots = voters + 2% reserve (PKPU 14/2023)


_FIRST = ["Sumber", "Karang", "Wringin", "Tegal", "Banyu", "Kedung", "Gunung", "Pandan", "Randu",
          "Jati", "Krajan", "Sido", "Watu", "Asem", "Kali", "Curah", "Ngadi", "Suko", "Tambak",
          "Bades", "Gili", "Wono", "Klampok", "Alas"]


_SECOND = ["rejo", "anyar", "agung", "sari", "mulyo", "kidul", "lor", "wetan", "kulon", "anom",
           "asri", "jaya", "makmur", "tengah", "harjo", "kerto", "wangi", "bendo", "gedang", "dadi"]


def village_names(district: int, count: int, rng: random.Random) -> list[str]:
    """Return the names of a kecamatan's villages: the known ones, then synthetic unique ones."""
    names = list(KNOWN_VILLAGES.get(district, []))[:count]
    taken = set(names)
    while len(names) < count:
        name = rng.choice(_FIRST) + rng.choice(_SECOND)
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def village_number(district: int, index: int) -> int:
    """Return the BPS village number: kelurahan 1001.., desa 2001.. within the kecamatan."""
    kelurahan = KELURAHAN.get(district, 0)
    return 1001 + index if index < kelurahan else 2001 + index - kelurahan


def ballot_quantity(voters: int) -> int:
    """Return the ballots a TPS gets for one contest: its voters plus the 2% reserve."""
    return voters + math.ceil(voters * RESERVE)


def ballot_dapil(dapils: list[str], prefix: str | None) -> str:
    """Return the TPS's dapil for a ballot prefix ('' for ballots without a dapil)."""
    if prefix is None:
        return ""
    return next(d for d in dapils if d.startswith(prefix))


def tps_equipment(tps_code: str, voters: int, dapils: list[str]) -> list[tuple[str, str, int, str]]:
    """Return (package_id, item_type, quantity, dapil) of everything one TPS gets: 14 packages.

    Five ballot packages (one per contest, with the TPS's dapil where the
    ballot has one), five ballot boxes (one per contest, each labelled), one
    bundle of four booths, and one package each of ink, seals and forms.
    """
    ballots = ballot_quantity(voters)
    packages = [(f"{tps_code}-{item}", item, ballots, ballot_dapil(dapils, prefix))
                for item, prefix in BALLOTS]
    packages += [(f"{tps_code}-KOTAK-{n}", "KOTAK", 1, "") for n in range(1, 6)]
    packages += [(f"{tps_code}-BILIK", "BILIK", 4, ""), (f"{tps_code}-TINTA", "TINTA", 2, ""),
                 (f"{tps_code}-SEGEL", "SEGEL", 40, ""),
                 (f"{tps_code}-FORMULIR", "FORMULIR", math.ceil(voters / 50) + 10, "")]
    return packages


def apportion(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """Split total into len(weights) whole parts of at least ``minimum``, proportional to weights."""
    n = len(weights)
    spare = total - minimum * n
    if spare < 0:
        raise ValueError(f"cannot split {total} into {n} parts of at least {minimum}")
    scale = spare / sum(weights)
    raw = [w * scale for w in weights]
    parts = [int(r) for r in raw]
    # Largest remainders get the units lost to rounding down (deterministic order on ties).
    order = sorted(range(n), key=lambda i: (parts[i] - raw[i], i))
    for i in order[:spare - sum(parts)]:
        parts[i] += 1
    return [p + minimum for p in parts]


class Tps:
    """A polling station: its code, name, voters, dapil codes and planned packages."""

    __slots__ = ("code", "name", "voters", "dapils", "packages")

    def __init__(self, code: str, name: str, voters: int, dapils: list[str]):
        self.code, self.name, self.voters, self.dapils = code, name, voters, dapils
        self.packages = tps_equipment(code, voters, dapils)


class Village:
    """A desa or kelurahan and its TPS."""

    def __init__(self, code: str, name: str, tps: list[Tps]):
        self.code, self.name, self.tps = code, name, tps


class District:
    """A kecamatan, its DPRD Kabupaten dapil and its villages."""

    def __init__(self, code: str, name: str, dapil: str, villages: list[Village]):
        self.code, self.name, self.dapil, self.villages = code, name, dapil, villages

    @property
    def tps(self) -> list[Tps]:
        """Return every TPS of the kecamatan."""
        return [t for v in self.villages for t in v.tps]


SCALES = {
    # scale -> (kecamatan numbers or None for all, villages per kecamatan or None, TPS per village range)
    "full": (None, None, (4, 14)),
    "small": ((1, 15), 4, (3, 3)),
}


def build_region(scale: str, seed: int) -> list[District]:
    """Return the demo region's kecamatan with villages and TPS, deterministic for a seed."""
    only, village_cap, (low, high) = SCALES[scale]
    rng = random.Random(seed)
    districts = []
    for number, name, villages, dapil_k in KECAMATAN:
        names = village_names(number, villages, rng)  # drawn for all so a seed means one region
        counts = [rng.randint(low, high) for _ in range(villages)]
        if only is not None and number not in only:
            continue
        code = f"{REGENCY[0]}{number:02d}"
        dapils = [DPR_DAPIL, DPRDP_DAPIL, f"DPRDK-{REGENCY[0]}-{dapil_k}"]
        vs = []
        for index, vname in enumerate(names[:village_cap or villages]):
            vcode = f"{code}{village_number(number, index):04d}"
            tps = [Tps(f"{vcode}{t:03d}", f"TPS {t:03d} {vname}", rng.randint(230, 300), dapils)
                   for t in range(1, counts[index] + 1)]
            vs.append(Village(vcode, vname, tps))
        districts.append(District(code, name, dapils[2], vs))
    return districts
