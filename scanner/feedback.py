"""Feedback a person notices without reading: colours, sounds, and one text line per scan.

* Text: one line per recorded scan on standard output, tab-separated:
  `SIGNAL  WHAT  ACTION  LOCATION  DISPOSITION  online|offline  UUID  REASON`
  where SIGNAL is ACCEPTED (green), RE-SCAN or WARNING (amber: recorded with a problem, or not
  checked because the device never synced) or PROBLEM (red); REASON is the worst reason.  Nothing else goes to
  standard output; notes (session changes, uploads) go to standard error.
* Sound: one short high beep for accepted, two for a re-scan or a warning, a long low buzz for a problem -
  played with `aplay` when it and a sound device exist, else as terminal bells on a terminal,
  else nothing.  A missing or broken sound device never stops the scanner.
* Window: with a camera and a display, every code in view gets a box in its signal's colour and
  a short reason.  opencv-contrib-python-headless has no GUI; that is detected once and the
  station falls back to the text lines.
"""
from __future__ import annotations

import io
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import TextIO

from .checks import ACCEPTED, PROBLEM, RESCAN, WARNING

SIGNAL_WORDS = {ACCEPTED: "ACCEPTED", RESCAN: "RE-SCAN", WARNING: "WARNING", PROBLEM: "PROBLEM"}
# OpenCV colours are BGR.
COLOURS = {ACCEPTED: (0, 200, 0), RESCAN: (0, 170, 255), WARNING: (0, 170, 255),
           PROBLEM: (0, 0, 230)}
# (frequency Hz, milliseconds) tones, with 60 ms of silence between them.
TONES = {ACCEPTED: [(1760, 90)], RESCAN: [(990, 90), (990, 90)], WARNING: [(990, 90), (990, 90)],
         PROBLEM: [(220, 600)]}
BELLS = {ACCEPTED: "\a", RESCAN: "\a\a", WARNING: "\a\a", PROBLEM: "\a\a\a"}


def scan_line(scan, what: str) -> str:
    """Return the one text line shown for a recorded scan."""
    return "\t".join([SIGNAL_WORDS[scan.signal], what, scan.action, scan.location,
                      scan.disposition, "offline" if scan.offline else "online", scan.uuid,
                      scan.reason or "-"])


def _wav(tones: list[tuple[int, int]], rate: int = 16000) -> bytes:
    """Return a mono 16-bit WAV of sine tones separated by short silences."""
    frames = bytearray()
    for i, (freq, ms) in enumerate(tones):
        if i:
            frames += b"\0\0" * (rate * 60 // 1000)
        n = rate * ms // 1000
        for k in range(n):
            # A short fade in and out avoids clicks.
            envelope = min(1.0, k / 160, (n - k) / 160)
            frames += struct.pack("<h", int(12000 * envelope * math.sin(2 * math.pi * freq * k / rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


class Sound:
    """Play the signal sounds through aplay, terminal bells, or not at all."""

    def __init__(self, mode: str = "auto", bell_stream: TextIO | None = None):
        self.bell_stream = bell_stream or sys.stderr
        self.mode = self._choose(mode)
        self._files: dict[str, Path] = {}
        if self.mode == "aplay":
            folder = Path(tempfile.mkdtemp(prefix="jejak-sounds-"))
            for signal, tones in TONES.items():
                path = folder / f"{signal}.wav"
                path.write_bytes(_wav(tones))
                self._files[signal] = path

    def _choose(self, mode: str) -> str:
        """Pick the sound backend this machine has."""
        if mode in ("none", "bell", "aplay"):
            return mode
        if shutil.which("aplay") and Path("/dev/snd").is_dir() and any(Path("/dev/snd").iterdir()):
            return "aplay"
        isatty = getattr(self.bell_stream, "isatty", lambda: False)
        return "bell" if isatty() else "none"

    def play(self, signal: str) -> None:
        """Play the sound of a signal without waiting for it; never raise."""
        try:
            if self.mode == "aplay":
                subprocess.Popen(["aplay", "-q", str(self._files[signal])],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            elif self.mode == "bell":
                self.bell_stream.write(BELLS[signal])
                self.bell_stream.flush()
        except (OSError, ValueError):
            self.mode = "none"  # the device went away: stay silent rather than stop scanning


def gui_available() -> bool:
    """Return whether OpenCV can open a window here (a display and a GUI-enabled build)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import cv2

    try:
        cv2.namedWindow("jejak-probe", cv2.WINDOW_NORMAL)
        cv2.destroyWindow("jejak-probe")
        return True
    except cv2.error:
        return False  # opencv-*-headless: "The function is not implemented"


def annotate(frame, boxes: list[tuple[object, str, str]]):
    """Draw a box per code on a copy of a frame: (corners, signal, short reason) each."""
    import cv2
    import numpy as np

    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    for corners, signal, reason in boxes:
        colour = COLOURS.get(signal, (200, 200, 200))
        pts = np.array(corners, dtype=np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, colour, 4)
        x = int(min(p[0] for p in corners))
        y = int(min(p[1] for p in corners))
        text = SIGNAL_WORDS.get(signal, "?") + (f": {reason[:40]}" if reason else "")
        cv2.putText(out, text, (x, max(18, y - 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
    return out


class Window:
    """The camera window; a no-op when no GUI is available."""

    NAME = "jejak-scan"

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def show(self, frame, boxes) -> bool:
        """Show a frame with its boxes; return False when the person pressed q or Esc."""
        if not self.enabled:
            return True
        import cv2

        cv2.imshow(self.NAME, annotate(frame, boxes))
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    def close(self) -> None:
        """Close the window."""
        if self.enabled:
            import cv2

            cv2.destroyAllWindows()


class Feedback:
    """Text lines, sounds and notes for a station."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None,
                 sound: Sound | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.sound = sound or Sound("none")

    def scan(self, scan, what: str) -> None:
        """Signal one recorded scan: its line on standard output, its sound."""
        self.out.write(scan_line(scan, what) + "\n")
        self.out.flush()
        self.sound.play(scan.signal)

    def note(self, message: str) -> None:
        """Tell the person something that is not a scan (standard error)."""
        self.err.write(f"jejak-scan: {message}\n")
        self.err.flush()
