"""Counting at the door on the desktop scanner: the count sheet's digits, or a typed #297/3."""

from __future__ import annotations

import io
import sqlite3

from labels import commands
from scanner.feedback import Feedback
from scanner.outbox import Outbox
from scanner.session import Session
from scanner.station import Station
from tests.scanner.conftest import DISTRICT, make_label


def _station(outbox, **session):
    out, err = io.StringIO(), io.StringIO()
    station = Station(outbox, Session(location=DISTRICT, **session), Feedback(out, err))
    return station, out, err


def test_count_sheet_digits_count_the_next_package_only(cached_outbox, label_key):
    station, _, err = _station(cached_outbox, action="receive")
    for text in (commands.COUNT_DIGITS[2], commands.COUNT_DIGITS[9], commands.COUNT_DIGITS[7],
                 commands.COUNT_DAMAGED, commands.COUNT_DIGITS[3]):
        station.handle(text)
    counted = station.handle(make_label(label_key, "P-1"))
    after = station.handle(make_label(label_key, "P-3"))
    assert (counted.counted_quantity, counted.damaged_quantity) == (297, 3)
    assert (after.counted_quantity, after.damaged_quantity) == (None, None)
    assert counted.to_api()["counted_quantity"] == 297
    assert counted.to_api()["damaged_quantity"] == 3
    assert "counted_quantity" not in after.to_api()
    assert "next package: counted 297, damaged 3" in err.getvalue()


def test_a_typed_count_and_clear(cached_outbox, label_key):
    station, _, err = _station(cached_outbox, action="inspect")
    station.handle("#300/2")
    assert station.handle(make_label(label_key, "P-1")).to_api()["counted_quantity"] == 300
    station.handle("#12")
    station.handle(commands.COUNT_CLEAR)
    assert "counted_quantity" not in station.handle(make_label(label_key, "P-3")).to_api()
    assert "count cleared" in err.getvalue()


def test_counts_are_refused_where_the_server_takes_none(cached_outbox, label_key):
    station, _, err = _station(cached_outbox, action="dispatch")
    station.handle(commands.COUNT_DIGITS[5])
    station.handle("#5")
    assert "counts are taken on receive, unpack, inspect, not on dispatch" in err.getvalue()
    assert station.handle(make_label(label_key, "P-1")).counted_quantity is None
    station.handle(commands.ACTION_RECEIVE)
    station.handle("#3/4")
    assert "more damaged units than counted" in err.getvalue()


def test_an_outbox_of_the_previous_version_is_upgraded_with_its_queue(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE scans (seq INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE,
          code TEXT NOT NULL, package_id TEXT, location TEXT NOT NULL, action TEXT NOT NULL,
          scanned_at TEXT NOT NULL, container TEXT, disposition TEXT NOT NULL, seal TEXT,
          operator TEXT, device TEXT, offline INTEGER NOT NULL, rescan INTEGER NOT NULL DEFAULT 0,
          signal TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT
          'pending', attempts INTEGER NOT NULL DEFAULT 0, error TEXT, server_status TEXT,
          anomalies TEXT, sent_at TEXT);
        INSERT INTO scans (uuid, code, location, action, scanned_at, disposition, offline, signal)
          VALUES ('u-1', 'J1.X', '351301', 'receive', '2024-02-10T08:00:00+00:00', 'ok', 1, 'accepted');
        PRAGMA user_version = 1;
    """)
    db.commit()
    db.close()
    outbox = Outbox(path)
    [old] = outbox.scans()
    assert old.uuid == "u-1" and old.counted_quantity is None
    assert "counted_quantity" not in old.to_api()
    outbox.close()
