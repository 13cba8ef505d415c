"""Sources: serial through a pty, evdev key codes, wedge lines, images and video files."""

from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest

from scanner.cli import main
from scanner.sources import (
    KEYMAP,
    EvdevSource,
    ImageSource,
    KeyDecoder,
    SerialSource,
    SourceError,
    VideoSource,
    WedgeSource,
)
from tests.scanner.conftest import DISTRICT, frame, make_label


def test_serial_scanner_lines_end_in_cr_lf_or_both():
    master, slave = os.openpty()
    source = SerialSource(os.ttyname(slave))
    os.write(master, b"CODE-1\r\nCODE-2\rCODE-3\n\r\n")
    texts = []
    for reading in source.readings():
        texts.append(reading.text)
        if len(texts) == 3:
            break
    source.close()
    os.close(master)
    os.close(slave)
    assert texts == ["CODE-1", "CODE-2", "CODE-3"]


def test_serial_port_that_does_not_exist_is_named_in_the_error():
    with pytest.raises(SourceError, match="/dev/ttyNOPE9"):
        SerialSource("/dev/ttyNOPE9")


def _type(decoder: KeyDecoder, keys):
    out = []
    for code, value in keys:
        line = decoder.feed(code, value)
        if line is not None:
            out.append(line)
    return out


def test_evdev_key_codes_become_text_whatever_the_desktop_layout():
    # "J1.A-b" then Enter, as a US-layout scanner sends it: shift+J, 1, ., shift+A, -, b.
    shift, j, one, dot, a, minus, b, enter = 42, 36, 2, 52, 30, 12, 48, 28
    keys = [(shift, 1), (j, 1), (j, 0), (shift, 0), (one, 1), (one, 0), (dot, 1), (dot, 0),
            (shift, 1), (a, 1), (a, 2), (a, 0), (shift, 0), (minus, 1), (b, 1), (enter, 1)]
    assert _type(KeyDecoder(), keys) == ["J1.A-b"]


def test_evdev_caps_lock_inverts_letters_only():
    caps, q, two, enter = 58, 16, 3, 28
    assert _type(KeyDecoder(), [(caps, 1), (q, 1), (two, 1), (enter, 1)]) == ["Q2"]


def test_missing_input_device_is_a_clear_error():
    with pytest.raises(SourceError, match="/dev/input/event-nope"):
        EvdevSource("/dev/input/event-nope")


def test_wedge_yields_non_empty_lines_stripped():
    source = WedgeSource(io.StringIO("  A-1 \n\n\tB-2\n"), clock=iter(range(10)).__next__)
    assert [(r.text, r.t) for r in source.readings()] == [("A-1", 0), ("B-2", 1)]


def test_unreadable_image_is_named(tmp_path):
    bad = tmp_path / "not-an-image.jpg"
    bad.write_text("hello")
    with pytest.raises(SourceError, match="not-an-image.jpg"):
        list(ImageSource([bad]).readings())


def test_images_from_the_command_line_are_scanned(tmp_path, cached_outbox, label_key, capsys):
    paths = []
    for i, pid in enumerate(["P-1", "P-3"]):
        path = tmp_path / f"photo{i}.png"
        cv2.imwrite(str(path), frame([make_label(label_key, pid)]))
        paths.append(str(path))
    code = main(["run", "--image", *paths, "--location", DISTRICT, "--action", "receive",
                 "--outbox", str(cached_outbox.path), "--sound", "none"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["ACCEPTED", "P-1"], ["ACCEPTED", "P-3"]]


def test_video_of_a_label_shown_twice_records_a_scan_and_a_rescan(
        tmp_path, cached_outbox, label_key, capsys):
    path = tmp_path / "handoff.avi"
    label = make_label(label_key, "P-1")
    size = (480, 640)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size[::-1])
    shown, away = frame([label], size=size), frame([], size=size)
    for f in [shown] * 5 + [away] * 30 + [shown] * 5:        # 3 s out of view at 10 fps
        writer.write(f)
    writer.release()
    assert VideoSource(str(path)).fps == pytest.approx(10)
    code = main(["run", "--video", str(path), "--location", DISTRICT, "--action", "receive",
                 "--outbox", str(cached_outbox.path), "--sound", "none"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["ACCEPTED", "RE-SCAN"]


class _Event:
    def __init__(self, code, value, type=1):
        self.type, self.code, self.value = type, code, value


class FakeInputDevice:
    """Stands in for evdev.InputDevice: replays key events of a scanner typing a label."""

    # character -> (key code, shift held), US layout, main keyboard block only
    KEYS = {plain: (code, False) for code, (plain, _) in KEYMAP.items() if code < 71}
    KEYS.update({c.upper(): (code, True) for c, (code, _) in list(KEYS.items()) if c.isalpha()})

    def __init__(self, path, text=""):
        self.path, self.text, self.grabbed = path, text, False

    def grab(self):
        self.grabbed = True

    def ungrab(self):
        self.grabbed = False

    def close(self):
        pass

    def read_loop(self):
        for char in self.text:
            if char == "\n":
                yield _Event(28, 1)
                continue
            code, shifted = self.KEYS[char]
            if shifted:
                yield _Event(42, 1)
            yield _Event(4, 0, type=4)   # EV_MSC scan code noise, ignored
            yield _Event(code, 1)
            yield _Event(code, 0)
            if shifted:
                yield _Event(42, 0)


def test_evdev_scanner_records_labels_through_the_station(cached_outbox, label_key):
    from scanner.feedback import Feedback
    from scanner.session import Session
    from scanner.station import Station

    text = make_label(label_key, "P-1") + "\n" + "JJK-CMD.ACTION.INSPECT\n" + \
        make_label(label_key, "P-3") + "\n"
    device = None

    def factory(path):
        nonlocal device
        device = FakeInputDevice(path, text)
        return device

    source = EvdevSource("/dev/input/event7", device_factory=factory)
    assert device.grabbed                            # the desktop does not get the keys
    out = io.StringIO()
    station = Station(cached_outbox, Session(location=DISTRICT, action="receive"),
                      Feedback(out, io.StringIO()))
    station.run(source)
    lines = [line.split("\t") for line in out.getvalue().splitlines()]
    assert [(line[0], line[1], line[2]) for line in lines] == [
        ("ACCEPTED", "P-1", "receive"), ("ACCEPTED", "P-3", "inspect")]
    assert not device.grabbed


def test_camera_frames_go_through_decode_and_presentations(cached_outbox, label_key):
    from scanner.feedback import Feedback
    from scanner.session import Session
    from scanner.sources import CameraSource
    from scanner.station import Station

    label = make_label(label_key, "P-1")
    frames = [frame([label], np.random.default_rng(i), noise=30) for i in range(15)]

    class FakeCapture:
        def __init__(self, index):
            self.frames = list(frames)

        def isOpened(self):
            return True

        def set(self, *a):
            return True

        def read(self):
            return (True, self.frames.pop(0)) if self.frames else (False, None)

        def release(self):
            pass

    clock = iter(i / 30 for i in range(100)).__next__
    out = io.StringIO()
    station = Station(cached_outbox, Session(location=DISTRICT, action="receive"),
                      Feedback(out, io.StringIO()))
    with pytest.raises(SourceError, match="camera 0 stopped"):
        station.run(CameraSource(0, capture_factory=FakeCapture, clock=clock))
    assert [line.split("\t")[:2] for line in out.getvalue().splitlines()] == [["ACCEPTED", "P-1"]]


def test_run_serial_records_each_line_and_ends_when_the_scanner_hangs_up(
        cached_outbox, label_key, capsys):
    import threading
    import time

    master, slave = os.openpty()
    name = os.ttyname(slave)

    def scanner():
        time.sleep(0.3)
        for pid in ("P-1", "P-3"):
            os.write(master, (make_label(label_key, pid) + "\r\n").encode())
        time.sleep(0.5)
        os.close(master)                       # unplugged

    threading.Thread(target=scanner, daemon=True).start()
    code = main(["run", "--serial", name, "--location", DISTRICT, "--action", "receive",
                 "--outbox", str(cached_outbox.path), "--sound", "none"])
    os.close(slave)
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["ACCEPTED", "P-1"], ["ACCEPTED", "P-3"]]
