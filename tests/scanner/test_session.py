"""Command-sheet codes change the session: action, one-shot disposition, containers."""

from __future__ import annotations

import io

import pytest

from labels import commands
from scanner.feedback import Feedback
from scanner.session import CommandError, Session, parse_command
from scanner.station import Station
from tests.scanner.conftest import DISTRICT, make_label


def _station(outbox, **session):
    out, err = io.StringIO(), io.StringIO()
    station = Station(outbox, Session(location=DISTRICT, **session), Feedback(out, err))
    return station, out, err


def test_action_sheet_switches_the_action_of_following_scans(cached_outbox, label_key):
    station, out, _ = _station(cached_outbox, action="receive")
    first = station.handle(make_label(label_key, "P-1"))
    station.handle(commands.ACTION_DISPATCH)
    second = station.handle(make_label(label_key, "P-3"))
    assert (first.action, second.action) == ("receive", "dispatch")
    assert [line.split("\t")[2] for line in out.getvalue().splitlines()] == ["receive", "dispatch"]


def test_disposition_sheet_applies_to_the_next_package_only(cached_outbox, label_key):
    station, _, err = _station(cached_outbox, action="receive")
    station.handle(commands.DISPOSITION_SEAL_BROKEN)
    broken = station.handle(make_label(label_key, "P-1"))
    after = station.handle(make_label(label_key, "P-3"))
    assert (broken.disposition, after.disposition) == ("seal_broken", "ok")
    assert "next package: seal_broken" in err.getvalue()


def test_command_codes_are_not_recorded_as_scans(cached_outbox):
    station, out, _ = _station(cached_outbox, action="receive")
    for text in commands.COMMANDS:
        station.handle(text)
    assert cached_outbox.counts()["pending"] == 0
    assert out.getvalue() == ""


def test_pack_opens_the_first_label_as_container_until_end(cached_outbox, label_key):
    station, out, err = _station(cached_outbox, action="receive")
    box = make_label(label_key, "P-3", item_type="KOTAK", dapil="")
    station.handle(commands.ACTION_PACK)
    assert station.handle(box) is None          # opens the container, records nothing
    packed = station.handle(make_label(label_key, "P-1"))
    assert station.handle(box) is None          # the open container again: not packed into itself
    station.handle(commands.END_CONTAINER)
    assert station.session.container is None
    assert packed.action == "pack" and packed.container == box
    assert "container P-3 open" in err.getvalue()
    assert len(out.getvalue().splitlines()) == 1


def test_unknown_command_is_refused_with_its_text(cached_outbox):
    station, _, err = _station(cached_outbox, action="receive")
    station.handle("JJK-CMD.ACTION.DANCE")
    assert station.session.action == "receive"
    assert "JJK-CMD.ACTION.DANCE" in err.getvalue()
    with pytest.raises(CommandError, match="DANCE"):
        parse_command("JJK-CMD.ACTION.DANCE")


def test_every_printed_sheet_code_parses():
    for text, (kind, value) in commands.COMMANDS.items():
        command = parse_command(text.lower())
        assert (command.kind, command.value) == (("end-container", "") if kind == "container"
                                                 else (kind, value))


def test_a_scan_that_cannot_be_written_gets_no_accepted_line(cached_outbox, label_key):
    from scanner.outbox import Outbox

    station, out, err = _station(cached_outbox, action="receive")
    station.handle(commands.DISPOSITION_DAMAGED)
    cached_outbox._db.execute("PRAGMA query_only = ON")      # the disk refuses writes
    assert station.feed_text(make_label(label_key, "P-1"), 0.0) is None
    assert out.getvalue() == "" and "NOT RECORDED" in err.getvalue()
    cached_outbox._db.execute("PRAGMA query_only = OFF")     # space freed; scanned again at once
    scan = station.feed_text(make_label(label_key, "P-1"), 0.5)
    assert scan is not None and scan.disposition == "damaged"
    assert out.getvalue().startswith("WARNING\tP-1")  # recorded damaged: amber
    assert Outbox(cached_outbox.path).counts()["pending"] == 1


def test_whole_command_sheet_in_view_switches_nothing_until_one_code_is_shown(cached_outbox):
    from tests.scanner.conftest import frame

    station, _, err = _station(cached_outbox, action="receive")
    sheet = frame([commands.ACTION_DISPATCH, commands.ACTION_PACK, commands.ACTION_RETURN])
    for i in range(5):
        station.feed_frame(sheet, i / 30)
    assert station.session.action == "receive"
    assert "3 command codes in view" in err.getvalue()
    station.feed_frame(frame([commands.ACTION_PACK]), 0.5)   # the other codes covered by a hand
    assert station.session.action == "pack"


def test_container_is_only_opened_from_a_label_shown_alone(cached_outbox, label_key):
    from tests.scanner.conftest import frame

    station, out, err = _station(cached_outbox, action="pack")
    box, ballots = make_label(label_key, "P-3"), make_label(label_key, "P-1")
    both = frame([box, ballots])
    for i in range(10):
        station.feed_frame(both, i / 100)
    assert station.session.container is None and out.getvalue() == ""
    assert err.getvalue().count("show the container's label alone first") == 1
    station.feed_frame(frame([box]), 0.1)
    station.feed_frame(both, 0.2)
    assert station.session.container == box
    assert [line.split("\t")[:3] for line in out.getvalue().splitlines()] == [
        ["ACCEPTED", "P-1", "pack"]]
