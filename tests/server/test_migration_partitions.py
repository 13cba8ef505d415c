"""Migration 0017 on a database with data: every scan and ledger entry kept, the province filled."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from server.db import Database, alembic_config
from tests.conftest import PG_URL
from tests.factories import REGION_ROWS, make_plan, make_region
from tests.faults.harness import ensure_database
from tests.server.test_partitions import SECOND


@pytest.fixture
def old_db(tmp_path, worker_id):
    """Return a database migrated to 0016_rate_limit_hits (the revision before partitions), empty."""
    if PG_URL:
        url = make_url(PG_URL)
        url = url.set(database=f"{url.database}_mig_{worker_id}").render_as_string(
            hide_password=False)
        ensure_database(url)
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    command.upgrade(alembic_config(db), "0016_rate_limit_hits")
    yield db
    db.dispose()


def _scans(db, region, plan) -> list[str]:
    """Insert a scan per package at its regency as the schema before partitions has them; return the uuids."""
    uuids = []
    with db.engine.begin() as conn:
        for pid, pkg in plan.items():
            u = str(uuid.uuid4())
            uuids.append(u)
            conn.execute(text(
                "INSERT INTO scan_events (uuid, package_id, claimed_package, raw_code, location_id, "
                "action, disposition, container_raw, seal, operator, scanned_at, received_at, "
                "offline, counted, client_device) VALUES (:u, :p, :c, 'J1.X', :loc, 'receive', "
                "'ok', '', '', 'Siti', :t, :t, :f, :tr, '')"),
                {"u": u, "p": pkg.id, "c": pid, "loc": region[pid[:4]].id,
                 "t": dt.datetime(2024, 2, 9), "f": False, "tr": True})
    return uuids


def test_upgrading_keeps_every_row_and_fills_the_province(old_db):
    with old_db.session() as s:
        region = make_region(s, REGION_ROWS + SECOND)
        plan = make_plan(s, region, tps_codes=[c for c, loc in region.locations.items()
                                               if loc.level == "tps"], item_types=("KOTAK",))
        s.commit()
        uuids = _scans(old_db, region, plan)
    with old_db.engine.connect() as conn:
        ledger_before = conn.execute(text("SELECT seq, chain FROM ledger_entries ORDER BY seq")).all()
        scans_before = conn.execute(text("SELECT id, uuid FROM scan_events ORDER BY id")).all()
    assert len(ledger_before) > 10 and len(scans_before) == 6

    command.upgrade(alembic_config(old_db), "head")
    postgres = old_db.engine.dialect.name == "postgresql"
    with old_db.engine.connect() as conn:
        assert conn.execute(text("SELECT seq, chain FROM ledger_entries ORDER BY seq")).all() \
            == ledger_before
        assert conn.execute(text("SELECT id, uuid FROM scan_events ORDER BY id")).all() == scans_before
        provinces = dict(conn.execute(text("SELECT uuid, province FROM scan_events")).all())
        assert sorted(provinces.values()) == ["35"] * 5 + ["36"]
        if postgres:
            where = dict(conn.execute(text(
                "SELECT tableoid::regclass::text, count(*) FROM scan_events GROUP BY 1")).all())
            assert where == {"scan_events_p35": 5, "scan_events_p36": 1}
            blocks = conn.execute(text(
                "SELECT tableoid::regclass::text, count(*) FROM ledger_entries GROUP BY 1")).all()
            assert blocks == [("ledger_entries_s0", len(ledger_before))]
    # The id sequence goes on after the old rows; a re-sent uuid in its province is refused.
    insert = text(
        "INSERT INTO scan_events (uuid, claimed_package, raw_code, location_id, action, "
        "disposition, container_raw, seal, operator, scanned_at, received_at, offline, counted, "
        "client_device, province) VALUES (:u, 'X', 'J1.X', :loc, 'receive', 'ok', '', '', '', "
        ":t, :t, :f, :f, '', '36') RETURNING id")
    resent = next(u for u, p in provinces.items() if p == "36")
    assert resent in uuids
    params = {"u": resent, "loc": region["3601"].id, "t": dt.datetime(2024, 2, 9), "f": False}
    with pytest.raises(IntegrityError):
        with old_db.engine.begin() as conn:
            conn.execute(insert, params)
    with old_db.engine.begin() as conn:
        new_id = conn.execute(insert, {**params, "u": str(uuid.uuid4())}).scalar()
    assert new_id > scans_before[-1][0]

    command.downgrade(alembic_config(old_db), "0016_rate_limit_hits")
    with old_db.engine.connect() as conn:
        assert "province" not in {c["name"] for c in inspect(conn).get_columns("scan_events")}
        assert len(conn.execute(text("SELECT id FROM scan_events")).all()) == 7
        assert conn.execute(text("SELECT seq, chain FROM ledger_entries ORDER BY seq")).all() \
            == ledger_before
        if postgres:
            assert conn.scalar(text("SELECT count(*) FROM pg_partitioned_table")) == 0
        # The photos' foreign key into scan_events, dropped while it was partitioned, is back.
        assert [fk["referred_table"] for fk in inspect(conn).get_foreign_keys("scan_photos")
                if fk["constrained_columns"] == ["scan_id"]] == ["scan_events"]
