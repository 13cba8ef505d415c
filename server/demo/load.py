"""``jejak-server demo``: Kabupaten Probolinggo mid-distribution, with problems to find.

Loads into an empty database, through the product's own paths:

1. the plan - 24 real kecamatan, 330 villages, ~3,000 TPS and 14 packages
   per TPS - written as import CSVs into ``<instance>/demo-plan/`` and loaded
   with the importers (so the files double as examples of the format), and
   the February 2024 schedule;
2. a demo signing key (private key in ``<instance>/demo-keys/``, public key
   trusted), users ``admin``, ``supervisor`` and ``observer`` (credentials
   printed and written to ``<instance>/demo-login.txt``) and a device per
   scanning location;
3. a few days of scans (``server.demo.scans``) through
   ``server.ingest.batch.ingest_batch``, and a shipment with its receipt
   through ``server.shipments.records``, so every anomaly is the server's own
   finding.  The planted problems are printed and written to
   ``<instance>/demo-planted.json`` for tests and the curious.

``--scale small`` (two kecamatan) is for tests; ``--seed`` makes it repeatable.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
from sqlalchemy import func, select, update

from labels.keys import generate, public_pem, write_key_pair
from labels.payload import Label, key_id_for, sign
from server.access import create_device, create_user, principal_for_token
from server.demo.region import PROVINCE, REGENCY, build_region
from server.demo.scans import DEMO_NOW, Planted, build_scans
from server.errors import DomainError
from server.importers.locations import import_locations
from server.importers.plan import import_packages, import_schedule
from server.ingest.batch import ingest_batch
from server.ledger.chain import append_records
from server.ledger.records import LABEL_KEYS, PACKAGES
from server.models import Anomaly, LabelKey, Location, Package
from server.reconcile.sweep import sweep_missing
from server.shipments.records import record_receipt, record_shipment, reference_of

DEMO_PASSWORD = "demo-probolinggo"


USERS = (("admin", "admin", PROVINCE[0]), ("supervisor", "supervisor", REGENCY[0]),
         ("observer", "observer", REGENCY[0]))


# Deadlines per level (WIB), the 2024 timeline: everything at the TPS the day before voting.
SCHEDULE = (("regency", "2024-02-08"), ("district", "2024-02-10"), ("village", "2024-02-12"),
            ("tps", "2024-02-13"))


# After voting the ballot boxes go back with the results: at the PPS by the 15th, at the
# PPK by the 16th (the recapitulation there starts the 15th).  Not due at the demo's "now":
# the dashboard shows the return leg at 0 of its boxes, with its deadlines ahead.
RETURN_SCHEDULE = (("village", "2024-02-15", "KOTAK"), ("district", "2024-02-16", "KOTAK"))


VOTING_DAY = dt.date(2024, 2, 14)


class DemoError(DomainError):
    """The demo cannot be loaded here (e.g. the database already holds a region)."""


@dataclass
class DemoResult:
    """What the demo loaded and planted."""

    locations: int = 0
    packages: int = 0
    scans: int = 0
    statuses: Counter = field(default_factory=Counter)
    anomalies: Counter = field(default_factory=Counter)
    planted: list[Planted] = field(default_factory=list)
    key_id: str = ""
    seconds: float = 0.0
    missing: int = 0


class LabelMaker:
    """Sign the label text of a demo package (cached: each label is signed once)."""

    def __init__(self, key, packages: dict[str, tuple]):
        self.key, self.packages = key, packages
        self._cache: dict[tuple, str] = {}
        self._foreign = None

    def __call__(self, package_id: str, version: int | None = None, foreign: bool = False,
                 fields: tuple | None = None) -> str:
        """Return the QR text of a package's label (another key's when ``foreign``)."""
        version = version or 1
        cache_key = (package_id, version, foreign)
        text = self._cache.get(cache_key)
        if text is None:
            item, dest, quantity, dapil = fields or self.packages[package_id]
            if foreign and self._foreign is None:
                self._foreign = generate()  # a key nobody trusts: what a forger would use
            key = self._foreign if foreign else self.key
            text = sign(Label(package_id, item, dest, quantity, dapil, version), key).text
            self._cache[cache_key] = text
        return text


def _write_plan(folder: Path, districts) -> dict[str, tuple]:
    """Write the plan as import CSVs; return package id -> (type, destination, quantity, dapil)."""
    folder.mkdir(parents=True, exist_ok=True)
    packages: dict[str, tuple] = {}
    with open(folder / "locations.csv", "w", newline="", encoding="utf-8") as lf, \
            open(folder / "packages.csv", "w", newline="", encoding="utf-8") as pf:
        lw, pw = csv.writer(lf), csv.writer(pf)
        lw.writerow(["code", "name", "level", "parent_code", "dapil"])
        pw.writerow(["package_id", "item_type", "quantity", "destination", "dapil"])
        lw.writerow([PROVINCE[0], PROVINCE[1], "province", "", ""])
        lw.writerow([REGENCY[0], REGENCY[1], "regency", PROVINCE[0], ""])
        for district in districts:
            lw.writerow([district.code, district.name, "district", REGENCY[0], ""])
            for village in district.villages:
                lw.writerow([village.code, village.name, "village", district.code, ""])
                for tps in village.tps:
                    lw.writerow([tps.code, tps.name, "tps", village.code, ";".join(tps.dapils)])
                    for package_id, item, quantity, dapil in tps.packages:
                        pw.writerow([package_id, item, quantity, tps.code, dapil])
                        packages[package_id] = (item, tps.code, quantity, dapil)
    with open(folder / "schedule.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["level", "deadline", "region", "direction", "item_type"])
        w.writerows([level, deadline, "", "outbound", ""] for level, deadline in SCHEDULE)
        w.writerows([level, deadline, "", "return", item]
                    for level, deadline, item in RETURN_SCHEDULE)
    return packages


def _key(session, instance: Path):
    """Generate the demo signing key, keep its private half in the instance, trust its public half."""
    key = generate()
    write_key_pair(key, instance / "demo-keys")
    key_id = key_id_for(key.public_key())
    session.add(LabelKey(key_id=key_id, public_key_pem=public_pem(key.public_key()),
                         name="Demo: KPU Kabupaten Probolinggo"))
    append_records(session, LABEL_KEYS, LabelKey.key_id == key_id)
    return key, key_id


def load_demo(session, instance: Path, seed: int = 2024, scale: str = "full",
              echo=lambda line: None) -> DemoResult:
    """Load the demo region, plan, users, devices and scans; commits as it goes."""
    start = time.perf_counter()
    existing = session.scalar(select(func.count()).select_from(Location))
    if existing:
        raise DemoError(f"the database already holds {existing} locations; the demo loads into an "
                        "empty database (delete instance/jejak.sqlite3 and run init-db, or point "
                        "JEJAK_DATABASE_URL at a new database)")
    result = DemoResult()
    districts = build_region(scale, seed)
    plan_dir = instance / "demo-plan"
    packages = _write_plan(plan_dir, districts)
    result.locations = import_locations(session, plan_dir / "locations.csv").total
    result.packages = import_packages(session, plan_dir / "packages.csv").total
    import_schedule(session, plan_dir / "schedule.csv")
    echo(f"plan: {result.locations} locations, {result.packages} packages "
         f"(CSV files in {plan_dir})")

    key, result.key_id = _key(session, instance)
    label = LabelMaker(key, packages)
    plan = build_scans(districts, REGENCY[0], label, seed, scale)
    for package_id, version in plan.reprinted.items():
        session.execute(update(Package).where(Package.package_id == package_id)
                        .values(label_version=version))
    append_records(session, PACKAGES, Package.package_id.in_(list(plan.reprinted)))
    for username, role, region in USERS:
        create_user(session, username, DEMO_PASSWORD, role, region)
    principals = {}
    names = {loc.code: loc.name for loc in session.scalars(
        select(Location).where(Location.level != "tps"))}
    for device_location in dict.fromkeys(loc for loc, _scans in plan.batches):
        _device, token = create_device(session, device_location,
                                       f"demo {names.get(device_location, 'KPPS ' + device_location)}")
        principals[device_location] = token
    session.commit()
    principals = {loc: principal_for_token(session, token) for loc, token in principals.items()}

    demo_now = _naive_utc(DEMO_NOW)
    with click.progressbar(plan.batches, label="scans", file=None) if echo is click.echo \
            else _quiet(plan.batches) as batches:
        for device_location, scans in batches:
            # A device uploads a few minutes after its last scan; a backlog at "now".
            uploaded = min(demo_now, max(_naive_utc(dt.datetime.fromisoformat(s["scanned_at"]))
                                         for s in scans) + dt.timedelta(minutes=3))
            if any(s["offline"] for s in scans):
                uploaded = demo_now
            for answer in ingest_batch(session, scans, principals[device_location], now=uploaded):
                result.statuses[answer.get("status")] += 1
                result.anomalies.update(answer.get("anomalies") or ())
            session.commit()
    for shipped in plan.shipments:
        # Through the same domain calls as POST /api/v1/shipments and .../receipt.
        shipment, _new = record_shipment(session, principals[shipped.shipment["from"]],
                                         shipped.shipment)
        receipt = shipped.receipt | {"reference": reference_of(shipment)}
        _receipt, _new, raised = record_receipt(session, principals[receipt["location"]],
                                                shipment.number, receipt)
        result.anomalies.update(anomaly.kind for anomaly in raised)
        session.commit()
        echo(f"shipment {shipment.number}: {shipped.shipment['from']} -> "
             f"{shipped.shipment['to']}, {len(shipped.shipment['koli'])} koli on its surat jalan")
    # Judge the deadlines as of the demo's "now", as the dashboard would have then.
    sweep_missing(session, demo_now)
    session.commit()
    result.missing = session.scalar(select(func.count()).select_from(Anomaly)
                                    .where(Anomaly.kind == "missing"))
    result.scans = plan.scan_count
    result.planted = plan.planted
    (instance / "demo-planted.json").write_text(json.dumps(
        {"seed": seed, "scale": scale, "demo_now": DEMO_NOW.isoformat(),
         "planted": [asdict(p) for p in plan.planted]}, indent=1), encoding="utf-8")
    result.seconds = time.perf_counter() - start
    return result


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    """Return an aware time as naive UTC, the storage convention."""
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


class _quiet:
    """A stand-in for click.progressbar that shows nothing."""

    def __init__(self, items):
        self.items = items

    def __enter__(self):
        return self.items

    def __exit__(self, *exc):
        return False
