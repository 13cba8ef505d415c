"""Where scans come from, behind one small interface.

A source yields `Reading`s: either a camera frame (to decode) or a text a scanner already
decoded, each with a time in seconds on the source's own clock (the presentation tracker only
compares times of one source).  `kind` says which: "frames" or "texts".

* `CameraSource(index)`       - a webcam through OpenCV; wall-clock times.
* `VideoSource(path)`         - a recorded video; times from the frame rate (frame i at i/fps).
* `ImageSource(paths)`        - photos (e.g. from a phone); each photo is its own presentation.
* `WedgeSource(stream)`       - a USB keyboard-wedge scanner typing lines into standard input.
* `EvdevSource(device)`       - the same scanner read from /dev/input/eventX through evdev: key
                                codes are mapped as a US keyboard, whatever the desktop's layout,
                                and the device is grabbed so no other window gets the keys.
* `SerialSource(port)`        - a serial (or USB-CDC) scanner through pyserial; lines end in CR
                                and/or LF.

Devices fail at the edges (a camera unplugged, no permission on /dev/input): those raise
SourceError with the device named, which the CLI shows as a one-line message.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

IMAGE_SPACING_S = 3600.0  # seconds between photos: far more than any presentation gap


class SourceError(OSError):
    """A source cannot be opened or read."""


@dataclass
class Reading:
    """One thing a source saw: a frame to decode or an already decoded text, at time t."""

    t: float
    frame: object = None
    text: str | None = None


class Source:
    """The interface: `kind`, `readings()` and `close()`."""

    kind = "texts"

    def readings(self) -> Iterator[Reading]:
        """Yield readings until the source ends."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device."""


# -- frames -----------------------------------------------------------------------------------

class CameraSource(Source):
    """A webcam through OpenCV."""

    kind = "frames"

    def __init__(self, index: int, width: int = 1280, height: int = 720,
                 capture_factory: Callable | None = None, clock: Callable[[], float] = time.monotonic):
        import cv2

        self.capture = (capture_factory or cv2.VideoCapture)(index)
        if not self.capture.isOpened():
            raise SourceError(f"cannot open camera {index}")
        self.capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self.capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # Keep only the newest frame: a queue of old frames would delay every signal.
        self.capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.index = index
        self.clock = clock

    def readings(self) -> Iterator[Reading]:
        """Yield frames until the camera stops delivering them."""
        while True:
            ok, frame = self.capture.read()
            if not ok:
                raise SourceError(f"camera {self.index} stopped delivering frames")
            yield Reading(self.clock(), frame=frame)

    def close(self) -> None:
        """Release the camera."""
        self.capture.release()


class VideoSource(Source):
    """A recorded video file, frame by frame."""

    kind = "frames"

    def __init__(self, path: str):
        import cv2

        self.path = path
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise SourceError(f"cannot open video {str(path)!r}")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 30.0

    def readings(self) -> Iterator[Reading]:
        """Yield every frame with its time in the video."""
        i = 0
        while True:
            ok, frame = self.capture.read()
            if not ok:
                return
            yield Reading(i / self.fps, frame=frame)
            i += 1

    def close(self) -> None:
        """Release the file."""
        self.capture.release()


class ImageSource(Source):
    """Still images; each is a separate presentation of what it shows."""

    kind = "frames"

    def __init__(self, paths: Iterable[str], start: float = 0.0):
        self.paths = list(paths)
        self.start = start

    def readings(self) -> Iterator[Reading]:
        """Yield each image as a frame, an hour apart."""
        import cv2

        for i, path in enumerate(self.paths):
            # OpenCV only warns on stderr for a missing file: say it ourselves, by name.
            frame = cv2.imread(str(path)) if Path(path).is_file() else None
            if frame is None:
                raise SourceError(f"cannot read image {str(path)!r} (missing or not an image)")
            yield Reading(self.start + i * IMAGE_SPACING_S, frame=frame)


# -- texts ------------------------------------------------------------------------------------

class WedgeSource(Source):
    """Lines typed by a keyboard-wedge scanner into a text stream (standard input)."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stdin
        self.clock = clock

    def readings(self) -> Iterator[Reading]:
        """Yield each non-empty line as soon as it is complete, until end of input."""
        while True:
            line = self.stream.readline()
            if not line:
                return
            text = line.strip()
            if text:
                yield Reading(self.clock(), text=text)


# Linux input key codes (input-event-codes.h, a stable ABI) -> (plain, shifted) characters of a
# US keyboard.  Wedge scanners emulate a US keyboard; reading key codes instead of characters
# makes the text independent of the desktop's layout.
KEYMAP: dict[int, tuple[str, str]] = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"), 7: ("6", "^"),
    8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"), 12: ("-", "_"), 13: ("=", "+"),
    16: ("q", "Q"), 17: ("w", "W"), 18: ("e", "E"), 19: ("r", "R"), 20: ("t", "T"), 21: ("y", "Y"),
    22: ("u", "U"), 23: ("i", "I"), 24: ("o", "O"), 25: ("p", "P"), 26: ("[", "{"), 27: ("]", "}"),
    30: ("a", "A"), 31: ("s", "S"), 32: ("d", "D"), 33: ("f", "F"), 34: ("g", "G"), 35: ("h", "H"),
    36: ("j", "J"), 37: ("k", "K"), 38: ("l", "L"), 39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"),
    43: ("\\", "|"), 44: ("z", "Z"), 45: ("x", "X"), 46: ("c", "C"), 47: ("v", "V"), 48: ("b", "B"),
    49: ("n", "N"), 50: ("m", "M"), 51: (",", "<"), 52: (".", ">"), 53: ("/", "?"),
    55: ("*", "*"), 57: (" ", " "), 71: ("7", "7"), 72: ("8", "8"), 73: ("9", "9"),
    74: ("-", "-"), 75: ("4", "4"), 76: ("5", "5"), 77: ("6", "6"), 78: ("+", "+"),
    79: ("1", "1"), 80: ("2", "2"), 81: ("3", "3"), 82: ("0", "0"), 83: (".", "."),
    98: ("/", "/"),
}
KEY_ENTER, KEY_KPENTER, KEY_TAB = 28, 96, 15
SHIFT_KEYS = {42, 54}   # left, right shift
CAPSLOCK = 58


class KeyDecoder:
    """Turn key events (code, value: 1 down, 0 up, 2 repeat) into lines of text."""

    def __init__(self):
        self.shift = False
        self.caps = False
        self.buffer: list[str] = []

    def feed(self, code: int, value: int) -> str | None:
        """Take one key event; return a finished line at Enter (or Tab), else None."""
        if code in SHIFT_KEYS:
            self.shift = value != 0
            return None
        if value != 1:
            return None  # releases and auto-repeat carry no new character
        if code == CAPSLOCK:
            self.caps = not self.caps
        elif code in (KEY_ENTER, KEY_KPENTER, KEY_TAB):
            line, self.buffer = "".join(self.buffer), []
            return line
        elif code in KEYMAP:
            plain, shifted = KEYMAP[code]
            char = shifted if self.shift else plain
            if self.caps and char.isalpha():
                char = char.swapcase()
            self.buffer.append(char)
        return None


class EvdevSource(Source):
    """A keyboard-wedge scanner read from its input device through evdev."""

    EV_KEY = 1

    def __init__(self, device: str, grab: bool = True, clock: Callable[[], float] = time.monotonic,
                 device_factory: Callable | None = None):
        if device_factory is None:
            try:
                import evdev  # imported here: only Linux has it, and only this source needs it
            except ImportError:
                raise SourceError("--device needs the 'evdev' package (Linux only); "
                                  "use --wedge without --device to read standard input") from None
            device_factory = evdev.InputDevice
        try:
            self.device = device_factory(device)
            if grab:
                self.device.grab()
        except PermissionError:
            raise SourceError(f"no permission to read {device!r}: add the user to the "
                              "'input' group or run with access to the device") from None
        except OSError as exc:
            raise SourceError(f"cannot open input device {device!r}: {exc.strerror or exc}") from None
        self.path = device
        self.clock = clock
        self.grabbed = grab

    def readings(self) -> Iterator[Reading]:
        """Yield a line each time the scanner ends one with Enter."""
        decoder = KeyDecoder()
        try:
            for event in self.device.read_loop():
                if event.type != self.EV_KEY:
                    continue
                line = decoder.feed(event.code, event.value)
                if line and line.strip():
                    yield Reading(self.clock(), text=line.strip())
        except OSError as exc:
            raise SourceError(f"input device {self.path!r} stopped: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Release and close the device."""
        try:
            if self.grabbed:
                self.device.ungrab()
            self.device.close()
        except OSError:
            pass  # already unplugged


class SerialSource(Source):
    """A serial scanner through pyserial: one text per line (CR, LF or CRLF)."""

    def __init__(self, port: str, baudrate: int = 9600, serial_factory: Callable | None = None,
                 clock: Callable[[], float] = time.monotonic):
        import serial

        self._serial_errors = (serial.SerialException, OSError)
        try:
            factory = serial_factory or serial.serial_for_url
            self.port = factory(port, baudrate=baudrate, timeout=0.2)
        except self._serial_errors as exc:
            raise SourceError(f"cannot open serial port {port!r}: {exc}") from None
        self.name = port
        self.clock = clock

    def readings(self) -> Iterator[Reading]:
        """Yield each line; end when the port closes."""
        pending = bytearray()
        while True:
            try:
                chunk = self.port.read(self.port.in_waiting or 1)
            except self._serial_errors as exc:
                if pending.strip():
                    yield Reading(self.clock(), text=pending.decode("ascii", "replace").strip())
                if "returned no data" in str(exc) or getattr(exc, "errno", None) == 5:
                    return  # the other end hung up (EIO on a pty, "no data" from pyserial)
                raise SourceError(f"serial port {self.name!r} failed: {exc}") from None
            if not chunk:
                continue
            pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            while b"\n" in pending:
                line, _, rest = bytes(pending).partition(b"\n")
                pending = bytearray(rest)
                text = line.decode("ascii", "replace").strip()
                if text:
                    yield Reading(self.clock(), text=text)

    def close(self) -> None:
        """Close the port."""
        try:
            self.port.close()
        except self._serial_errors:
            pass
