"""A small world for ingest and reconciliation tests: a plan, its labels, journeys, a clock.

The schedule (``make_schedule`` from 8 Feb 2024) wants packages at the regency by
8 Feb 00:00, the district by 9 Feb, the village by 10 Feb and the TPS by 11 Feb
(UTC).  ``journey`` walks a package down its route on time: received and
dispatched at each level the day before that level's deadline.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from server.ingest.batch import ingest_batch
from server.models import Package, ScanEvent
from server.reconcile.anomalies import list_anomalies
from server.reconcile.custody import chain
from server.reconcile.progress import progress
from tests.factories import label_text, make_plan, make_schedule, principal, scan, trust_key

UTC = dt.timezone.utc
SCHEDULE_START = dt.datetime(2024, 2, 8)
# Server time during the tests: after every deadline.
NOW = dt.datetime(2024, 2, 13, 12, 0)


def at(day: int, hour: int = 8, minute: int = 0) -> dt.datetime:
    """Return 2024-02-<day> <hour>:<minute> UTC (aware, as a scanner sends it)."""
    return dt.datetime(2024, 2, day, hour, minute, tzinfo=UTC)


class World:
    """The test region with a plan, trusted labels and helpers to post scans and read results."""

    def __init__(self, session, region, key, tps=("3513010001001",), items=("SS-DPR",),
                 schedule=True, quantity=300):
        """Load the plan for these TPS and items, the schedule and the signing key."""
        self.session, self.region, self.key = session, region, key
        self.plan = make_plan(session, region, tps_codes=list(tps), item_types=items,
                              quantity=quantity)
        if schedule:
            make_schedule(session, region, SCHEDULE_START)
        trust_key(session, key)
        session.commit()

    def add(self, package_id: str, item_type: str, destination: str, dapil: str = "",
            quantity: int = 1) -> Package:
        """Add a package (e.g. a container) to the plan."""
        pkg = Package(package_id=package_id, item_type=item_type, quantity=quantity,
                      destination_id=self.region[destination].id, dapil=dapil)
        self.session.add(pkg)
        self.session.commit()
        self.plan[package_id] = pkg
        return pkg

    def label(self, package_id: str, version: int | None = None) -> str:
        """Return the signed label text of a planned package."""
        return label_text(self.plan[package_id], self.key, version)

    def route(self, package_id: str) -> list[str]:
        """Return the codes from the regency down to the package's destination."""
        return self.plan[package_id].destination.ancestor_codes[1:]

    def journey(self, package_id: str, skip=(), upto: str | None = None, first_day: int = 7,
                code: str | None = None, **extra) -> list[dict]:
        """Return on-time receive+dispatch scans down the route (skipping codes in ``skip``)."""
        code = code or self.label(package_id)
        scans = []
        for day, loc in enumerate(self.route(package_id), start=first_day):
            if loc not in skip:
                scans.append(scan(code, loc, "receive", at(day, 8), **extra))
                if loc != self.route(package_id)[-1]:
                    scans.append(scan(code, loc, "dispatch", at(day, 12), **extra))
            if loc == upto:
                break
        return scans

    def post(self, scans: list, who=None, now=NOW) -> list[dict]:
        """Ingest scans (admin of the province by default) and commit."""
        results = ingest_batch(self.session, scans, who or principal(), now=now)
        self.session.commit()
        return results

    def anomalies(self, region: str = "35", **kw) -> list[dict]:
        """Return every anomaly of a region (all pages)."""
        items, after = [], None
        while True:
            page, after = list_anomalies(self.session, self.region[region], after_id=after,
                                         limit=50, **kw)
            items += page
            if after is None:
                self.session.commit()
                return items

    def found(self, status: str | None = "open", **kw) -> set[tuple[str, str | None]]:
        """Return {(kind, package id)} of the region's anomalies (open ones by default)."""
        return {(a["kind"], a["package_id"]) for a in self.anomalies(status=status, **kw)}

    def scan_row(self, uuid: str) -> ScanEvent:
        """Return the recorded scan with this UUID."""
        return self.session.scalar(select(ScanEvent).where(ScanEvent.uuid == uuid))

    def chain(self, package_id: str) -> dict:
        """Return a package's chain of custody."""
        return chain(self.session, package_id)

    def progress(self, region: str = "3513", **kw) -> dict:
        """Return progress of a region's children, by code."""
        result = progress(self.session, self.region[region], **kw)
        self.session.commit()
        return {c["code"]: c for c in result["children"]}
