"""Partitions by province (PostgreSQL, migration 0017): a region's reads touch its province only.

Two provinces are loaded (35 of the test region and a small 36); each read a
region's page makes is captured as it runs and EXPLAINed with its own
parameters: on PostgreSQL only the region's province partition of
``scan_events`` may appear in the plan, on SQLite the one plain table.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import event, func, select, text

from server.access import Principal
from server.models import Location, ProgressSummary, ScanEvent
from server.reconcile.anomalies import _page
from server.reconcile.progress import _progress
from server.reconcile.summary import national, refresh_all
from server.reports.bast import bast_data, receipt_days
from server.reports.scanlog import ScanFilter, scan_log_page, scan_log_select
from tests.factories import REGION_ROWS, label_text, make_plan, make_region, post, scan, trust_key

SECOND = [
    ("36", "Banten", "province", None, ""),
    ("3601", "Kabupaten Pandeglang", "regency", "36", ""),
    ("360101", "Sumur", "district", "3601", ""),
    ("3601010001", "Tamanjaya", "village", "360101", ""),
    ("3601010001001", "TPS 001 Tamanjaya", "tps", "3601010001",
     "DPR-BANTEN-1;DPRDP-BANTEN-1;DPRDK-3601-1"),
]
NATIONAL = Principal(role="admin", region_code="", region_path="/", name="test-national")
AT = dt.datetime(2024, 2, 10, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def no_second_partition(db):
    """Drop province 36's partition if an earlier test made it (PostgreSQL keeps partitions)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS scan_events_p36"))


@pytest.fixture
def two(session, label_key):
    """Two provinces, a KOTAK package per TPS, each received at its regency and district."""
    region = make_region(session, REGION_ROWS + SECOND)
    trust_key(session, label_key)
    plan = make_plan(session, region, tps_codes=[c for c, loc in region.locations.items()
                                                 if loc.level == "tps"], item_types=("KOTAK",))
    session.commit()
    scans = []
    for pid, pkg in plan.items():
        code = label_text(pkg, label_key)
        scans.append(scan(code, pid[:4], "receive", AT))
        scans.append(scan(code, pid[:6], "receive", AT + dt.timedelta(hours=5)))
    results = post(session, scans, NATIONAL)
    assert {r["status"] for r in results} == {"recorded"}
    return region


def _partitions_made(runner, db, session) -> None:
    """Run ``jejak-server partitions`` where there are partitions; check its SQLite answer."""
    session.rollback()  # making a partition waits for every open reader of the table
    result = runner.invoke(args=["partitions"])
    if db.engine.dialect.name == "postgresql":
        assert result.exit_code == 0, result.output
        for code in ("35", "36"):
            assert f"scan_events\tscan_events_p{code}\tFOR VALUES IN ('{code}')" in result.output
    else:
        assert result.exit_code == 2 and "this database has no partitions" in result.output
    return result.output


def test_the_partitions_command_moves_a_new_provinces_scans_out_of_the_default(
        no_second_partition, two, runner, db, session):
    # The test region is inserted without the importer, so province 36's scans went to the
    # default partition; the command makes its partition and moves them, losing none.
    before = session.execute(select(ScanEvent.province, func.count())
                             .group_by(ScanEvent.province)).all()
    assert dict(before) == {"35": 10, "36": 2}
    if db.engine.dialect.name == "postgresql":
        assert session.scalar(text("SELECT count(*) FROM scan_events_default")) >= 2
    output = _partitions_made(runner, db, session)
    if db.engine.dialect.name == "postgresql":
        assert "made scan_events_p36" in output
    session.rollback()
    after = session.execute(select(ScanEvent.province, func.count())
                            .group_by(ScanEvent.province)).all()
    assert dict(after) == dict(before)
    if db.engine.dialect.name == "postgresql":
        where = dict(session.execute(text(
            "SELECT tableoid::regclass::text, count(*) FROM scan_events GROUP BY 1")).all())
        assert where == {"scan_events_p35": 10, "scan_events_p36": 2}
        # Run again: nothing left to make, the layout listed.
        session.rollback()
        again = runner.invoke(args=["partitions"])
        assert again.exit_code == 0 and "made" not in again.output
        assert "scan_events\tscan_events_p36\tFOR VALUES IN ('36')" in again.output


def test_a_resent_scan_is_recorded_once_in_its_provinces_partition(two, runner, db, session,
                                                                  label_key):
    _partitions_made(runner, db, session)
    pkg = session.scalar(select(ScanEvent).where(ScanEvent.province == "36")).package
    resent = scan(label_text(pkg, label_key), "3601010001", "receive", AT + dt.timedelta(days=1))
    assert post(session, [resent], NATIONAL)[0]["status"] == "recorded"
    assert post(session, [resent], NATIONAL)[0]["status"] == "already_recorded"
    rows = session.execute(select(ScanEvent.province).where(ScanEvent.uuid == resent["id"])).all()
    assert rows == [("36",)]


class Captured:
    """The statements that read scan_events while a read ran, with their parameters."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, parameters, _context, executemany):
        if "scan_events" in statement and not executemany:
            self.statements.append((statement, parameters))


def _relations(session, statement, parameters) -> set[str]:
    """Return the tables a statement's plan reads (EXPLAIN, not run)."""
    cursor = session.connection().connection.driver_connection.cursor()
    if session.get_bind().dialect.name == "postgresql":
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
        found = set()

        def walk(node):
            if "Relation Name" in node:
                found.add(node["Relation Name"])
            for child in node.get("Plans", []):
                walk(child)
        plan = cursor.fetchone()[0]
        walk((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
        return found
    cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
    return {m.group(1) for row in cursor.fetchall()
            for m in [re.search(r"(?:SCAN|SEARCH) (\w+)", row[-1])] if m}


def test_a_regions_reads_touch_only_its_provinces_partition(two, runner, db, session):
    _partitions_made(runner, db, session)
    for table in ("scan_events", "locations", "packages"):
        session.execute(text(f"ANALYZE {table}"))
    regency, district = (session.scalar(select(Location).where(Location.code == c))
                         for c in ("3601", "360101"))
    f = ScanFilter(region_path=regency.path)
    with Captured(db.engine) as captured:
        # The dashboard's scan log: the newest page, then a page of older ones (the
        # per-place walk), and the CSV export's SELECT.
        page = scan_log_page(session, f, None, 50)
        scan_log_page(session, f, page[-1].id, 50, window=1)
        exported = session.execute(scan_log_select(
            f, newest_first=False, as_text=db.engine.dialect.name == "postgresql")).all()
        bast_data(session, regency, district)
        receipt_days(session, district)
        _page(session, regency, None, None, dt.datetime(2024, 3, 1), None, 50)
        _progress(session, regency, dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1))
    assert len(page) == 2 and len(exported) == 2
    expected = ({"scan_events_p36"} if db.engine.dialect.name == "postgresql"
                else {"scan_events"})
    assert len(captured.statements) >= 5
    for statement, parameters in captured.statements:
        touched = {r for r in _relations(session, statement, parameters)
                   if r.startswith("scan_events")}
        assert touched == expected, statement


def test_the_national_rollup_sums_each_provinces_progress(two, session, runner):
    assert runner.invoke(args=["progress-summary"]).exit_code == 1  # empty: says to refresh
    refresh_all(session)
    rollup = national(session)
    assert [p["code"] for p in rollup["provinces"]] == ["35", "36"]
    by_code = {p["code"]: p for p in rollup["provinces"]}
    assert by_code["35"]["expected"] == 5 and by_code["36"]["expected"] == 1
    assert by_code["35"]["received_regency"] == 5 and by_code["36"]["received_district"] == 1
    assert rollup["total"]["expected"] == 6 and rollup["total"]["received_district"] == 6
    # A regency's row is its page's figures.
    row = session.get(ProgressSummary, two["3513"].id)
    assert (row.expected, row.received_regency) == (4, 4)
    out = runner.invoke(args=["progress-summary"])
    assert out.exit_code == 0 and out.output.splitlines()[-1].startswith("total\t\t6\t")
