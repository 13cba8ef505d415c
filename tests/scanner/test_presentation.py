"""One scan per physical presentation: bursts of frames, double triggers, and re-scans."""

from __future__ import annotations

import io

import numpy as np

from scanner.feedback import Feedback
from scanner.presentation import PresentationTracker
from scanner.session import Session
from scanner.station import Station
from tests.scanner.conftest import DISTRICT, frame, make_label


def _station(outbox, **kw):
    out = io.StringIO()
    station = Station(outbox, Session(location=DISTRICT, action="receive"),
                      Feedback(out, io.StringIO()), **kw)
    return station, out


def test_label_in_fifteen_noisy_frames_is_one_scan(cached_outbox, label_key):
    station, out = _station(cached_outbox)
    rng = np.random.default_rng(7)
    labels = [make_label(label_key, "P-1"), make_label(label_key, "P-3")]
    decoded_frames = 0
    for i in range(15):
        f = frame(labels, rng, noise=40)
        decoded_frames += bool(station.decode(f))
        station.feed_frame(f, i / 30)
    lines = out.getvalue().splitlines()
    assert sorted(line.split("\t")[1] for line in lines) == ["P-1", "P-3"]
    assert all(line.startswith("ACCEPTED") for line in lines)
    assert decoded_frames >= 10


def test_label_leaving_view_and_returning_is_a_rescan(cached_outbox, label_key):
    station, out = _station(cached_outbox, gap=2.0)
    label = make_label(label_key, "P-1")
    empty = frame([])
    t = 0.0
    for f in [frame([label])] * 5 + [empty] * 75 + [frame([label])] * 5:  # 2.5 s away at 30 fps
        station.feed_frame(f, t)
        t += 1 / 30
    lines = out.getvalue().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["ACCEPTED", "RE-SCAN"]
    scans = cached_outbox.scans()
    assert [s.rescan for s in scans] == [False, True]
    assert len({s.uuid for s in scans}) == 2


def test_label_missing_from_a_few_frames_is_still_one_presentation():
    tracker = PresentationTracker(gap=2.0)
    seen = [tracker.frame(["A"] if i % 7 else [], i / 30) for i in range(60)]
    assert sum(len(s) for s in seen) == 1


def test_scanner_double_trigger_is_one_scan_and_a_later_read_a_rescan(cached_outbox, label_key):
    station, out = _station(cached_outbox, repeat_window=1.0)
    label = make_label(label_key, "P-1")
    station.feed_text(label, 10.0)
    station.feed_text(label, 10.2)   # double trigger
    station.feed_text(label, 15.0)   # presented again
    assert [line.split("\t")[0] for line in out.getvalue().splitlines()] == ["ACCEPTED", "RE-SCAN"]


def test_rescan_is_recognised_after_a_restart(cached_outbox, label_key):
    label = make_label(label_key, "P-1")
    first, _ = _station(cached_outbox)
    first.feed_text(label, 0.0)
    second, out = _station(cached_outbox)   # a new process: fresh tracker, same outbox
    second.feed_text(label, 0.0)
    assert out.getvalue().startswith("RE-SCAN")
