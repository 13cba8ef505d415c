"""Times as Indonesian staff read them: shown and typed in DISPLAY_TIMEZONE (WIB by default)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from server import create_app
from server.models import Location, Package
from tests.server import dashboard_data as data

AT = dt.datetime(2024, 2, 12, 5, 0)  # stored naive UTC: 12:00 WIB, 13:00 WITA


@pytest.fixture
def noon(session, client, label_key):
    """Load the story and one more receipt at the village, at 05:00 UTC on 12 February."""
    story = data.build(session, client, label_key)
    village = session.scalar(select(Location).where(Location.code == "3513010001"))
    pkg = session.scalar(select(Package).where(Package.package_id == "3513010001002-KOTAK"))
    data.add_scan(session, pkg, village, "receive", AT, operator="pps-siang")
    session.commit()
    return story


def test_scan_log_and_package_page_show_local_time_with_its_abbreviation(client, noon):
    data.login(client)
    log = client.get("/scans/?operator=pps-siang").get_data(as_text=True)
    assert "2024-02-12 12:00:00 WIB" in log and "05:00:00" not in log
    assert "Dari (WIB)" in log and "UTC" not in log
    timeline = client.get("/packages/3513010001002-KOTAK").get_data(as_text=True)
    assert "2024-02-12 12:00:00 WIB" in timeline


def test_another_zone_shows_its_own_abbreviation(app, client, noon):
    app.config["DISPLAY_TIMEZONE"] = "Asia/Makassar"
    data.login(client)
    log = client.get("/scans/?operator=pps-siang").get_data(as_text=True)
    assert "2024-02-12 13:00:00 WITA" in log and "Dari (WITA)" in log


def test_scan_log_time_range_is_typed_in_local_time(client, noon):
    data.login(client)
    # 11:59-12:01 WIB holds the 05:00 UTC scan; the same clock times read as UTC would not.
    page = client.get("/scans/?since=2024-02-12T11:59&until=2024-02-12T12:01").get_data(as_text=True)
    assert "pps-siang" in page
    page = client.get("/scans/?since=2024-02-12T04:59&until=2024-02-12T05:01").get_data(as_text=True)
    assert "pps-siang" not in page
    # An explicit offset is honoured as written.
    page = client.get("/scans/?since=2024-02-12T04:59Z&until=2024-02-12T05:01Z").get_data(as_text=True)
    assert "pps-siang" in page


def test_as_of_picker_reads_wib_and_keeps_utc(client, noon):
    data.login(client)
    rv = client.get("/as-of?as_of=2024-02-12T12:00&next=/")
    assert rv.status_code == 302
    with client.session_transaction() as s:
        assert s["as_of"] == "2024-02-12T05:00"  # what the deadline queries take
    page = client.get("/").get_data(as_text=True)
    assert "Keadaan per (WIB)" in page and 'value="2024-02-12T12:00"' in page


def test_csv_export_carries_the_offset(client, noon):
    data.login(client)
    rv = client.get("/reports/scans.csv?operator=pps-siang")
    rows = list(csv.reader(io.StringIO(rv.get_data().decode("utf-8-sig"))))
    header, [row] = rows[0], rows[1:]
    assert row[header.index("scanned_at")] == "2024-02-12T12:00:00+07:00"
    assert row[header.index("received_at")] == "2024-02-12T12:01:00+07:00"


def test_an_unknown_display_timezone_stops_the_start_naming_it(database_url, tmp_path):
    with pytest.raises(ValueError, match="Asia/Jakrta"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                    "INSTANCE_PATH": str(tmp_path / "i"), "DISPLAY_TIMEZONE": "Asia/Jakrta"})
