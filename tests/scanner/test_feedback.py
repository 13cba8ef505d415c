"""Feedback: coloured boxes, one line per scan, sounds that never fail."""

from __future__ import annotations

import io

import numpy as np

from scanner.feedback import COLOURS, Feedback, Sound, _wav, annotate, gui_available, scan_line
from scanner.outbox import Outbox


def _scan(tmp_path, signal="accepted", reason=""):
    box = Outbox(tmp_path / "o.sqlite3")
    scan = box.add(code="J1.X", package_id="P-1", location="351301", action="receive",
                   disposition="ok", offline=True, signal=signal, reason=reason)
    box.close()
    return scan


def test_one_tab_separated_line_per_scan(tmp_path):
    scan = _scan(tmp_path, "problem", "forged label: signature does not match")
    out = io.StringIO()
    Feedback(out, io.StringIO()).scan(scan, "P-1")
    assert out.getvalue() == ("PROBLEM\tP-1\treceive\t351301\tok\toffline\t" + scan.uuid +
                              "\tforged label: signature does not match\n")
    assert scan_line(_scan(tmp_path / "b"), "P-1").startswith("ACCEPTED\tP-1\t")


def test_boxes_are_drawn_in_the_colour_of_their_signal():
    frame = np.full((200, 400, 3), 255, dtype=np.uint8)
    corners_a = [(20, 40), (120, 40), (120, 140), (20, 140)]
    corners_b = [(220, 40), (320, 40), (320, 140), (220, 140)]
    out = annotate(frame, [(corners_a, "accepted", ""), (corners_b, "problem", "forged")])
    assert tuple(out[90, 20]) == COLOURS["accepted"]
    assert tuple(out[90, 220]) == COLOURS["problem"]
    assert frame[90, 20].tolist() == [255, 255, 255]     # the camera frame is left alone


def test_bells_on_a_terminal_distinct_per_signal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    sound = Sound("bell", bell_stream=stream)
    for signal in ("accepted", "rescan", "problem"):
        sound.play(signal)
    assert stream.getvalue() == "\a" + "\a\a" + "\a\a\a"


def test_no_sound_device_is_silent_not_fatal(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    sound = Sound("auto", bell_stream=io.StringIO())   # not a terminal, no aplay
    assert sound.mode == "none"
    sound.play("problem")


def test_aplay_failure_falls_back_to_silence(monkeypatch):
    def broken(*a, **k):
        raise OSError("no such device")

    sound = Sound("aplay")
    monkeypatch.setattr("subprocess.Popen", broken)
    sound.play("accepted")
    assert sound.mode == "none"


def test_generated_sounds_differ_per_signal():
    assert len({_wav(t) for t in ([(1760, 90)], [(990, 90), (990, 90)], [(220, 600)])}) == 3


def test_no_display_means_no_window(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert gui_available() is False


def test_headless_opencv_is_detected_even_with_a_display(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")
    import cv2

    try:
        cv2.namedWindow("probe")
        cv2.destroyWindow("probe")
        has_gui = True
    except cv2.error:
        has_gui = False
    assert gui_available() is has_gui
