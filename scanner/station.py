"""A scanning station: source -> presentations -> session and checks -> outbox -> feedback.

The order inside `record` is the promise the scanner makes: the scan is judged, written to the
outbox and fsynced, and only then does the person get the signal (line, sound, box colour).
Uploading is someone else's job (the uploader), so a dead network never slows a scan down.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

from labels.shipment import ShipmentRefError, is_shipment_ref, parse_shipment_ref

from .checks import ACCEPTED, PROBLEM, RESCAN, Checker
from .feedback import Feedback, Window
from .outbox import Outbox, OutboxError, StoredList, StoredScan
from .presentation import DEFAULT_GAP, DEFAULT_REPEAT_WINDOW, PresentationTracker
from .session import Command, CommandError, Session, is_command, parse_command
from .sources import Source
from .uploader import Connectivity


class Station:
    """Turn what a source sees into recorded scans with feedback."""

    def __init__(self, outbox: Outbox, session: Session, feedback: Feedback,
                 connectivity: Connectivity | None = None, gap: float = DEFAULT_GAP,
                 repeat_window: float = DEFAULT_REPEAT_WINDOW,
                 decoder: Callable | None = None):
        self.outbox = outbox
        self.session = session
        self.feedback = feedback
        self.checker = Checker(outbox)
        self.connectivity = connectivity or Connectivity()
        self.frame_tracker = PresentationTracker(gap)
        self.text_tracker = PresentationTracker(repeat_window)
        self._decoder = decoder
        self.signals: dict[str, tuple[str, str]] = {}  # text -> (signal, reason) for the window
        self.recorded = 0
        self._noted_at: dict[str, float] = {}
        # A shipment or receipt left open here when the scanner stopped is taken up again.
        self.open_list: StoredList | None = outbox.open_list_at(session.location)

    # -- one presentation -------------------------------------------------------------------

    def handle(self, text: str) -> StoredScan | None:
        """Act on one presented text: a command, a container label, or a scan to record."""
        text = text.strip()
        if not text:
            return None
        if is_shipment_ref(text):
            return self._open_receipt(text)
        if is_command(text):
            try:
                command = parse_command(text)
                if command.kind == "shipment":
                    change = self._shipment(command.value)
                else:
                    change = self.session.apply(command)
            except (CommandError, OutboxError) as exc:
                self.signals[text] = (PROBLEM, str(exc))
                self.feedback.note(str(exc))
                self.feedback.sound.play(PROBLEM)
                return None
            self.signals[text] = (ACCEPTED, change)
            # A command starts a new intention: the same label read right after it is meant.
            self.text_tracker = PresentationTracker(self.text_tracker.gap)
            self.feedback.note(change)
            self.feedback.sound.play(ACCEPTED)
            return None
        try:
            counted = self.session.type_count(text)
        except CommandError as exc:
            self.signals[text] = (PROBLEM, str(exc))
            self.feedback.note(str(exc))
            self.feedback.sound.play(PROBLEM)
            return None
        if counted is not None:
            self.signals[text] = (ACCEPTED, counted)
            self.feedback.note(counted)
            return None
        if self.session.needs_container:
            return self._open_container(text)
        if self.session.container and text.upper() == self.session.container.upper():
            # The open container itself, shown again: packing it into itself means nothing.
            self.signals[text] = (ACCEPTED, "the open container")
            self.feedback.note("that is the open container; scan END-CONTAINER to close it")
            return None
        return self.record(text)

    # -- the surat jalan: shipments and receipts ---------------------------------------------

    def _shipment(self, value: str) -> str:
        """Open a shipment to --ship-to, or close the open list; return what changed."""
        s = self.session
        if value == "close":
            if self.open_list is None:
                raise CommandError("no shipment or receipt is open")
            closed = self.outbox.close_list(self.open_list.uuid)
            self.open_list = None
            what = "shipment" if closed.kind == "shipment" else f"receipt of {closed.reference}"
            return (f"{what} closed with {len(closed.koli)} koli; queued for upload "
                    f"(id {closed.uuid})")
        if self.open_list is not None:
            raise CommandError(f"a {self.open_list.kind} is open: close it first")
        if not s.ship_to:
            raise CommandError("give --ship-to CODE to open shipments from this station")
        self.open_list = self.outbox.open_list("shipment", s.location, destination=s.ship_to,
                                               operator=s.operator)
        s.apply(Command("action", "dispatch"))
        return f"shipment to {s.ship_to} open: scan its koli, then SHIPMENT.CLOSE"

    def _list_for(self, action: str) -> str | None:
        """Return the open list a scan with this action goes on (dispatch: a shipment's)."""
        lst = self.open_list
        if lst is None or action != ("dispatch" if lst.kind == "shipment" else "receive"):
            return None
        return lst.uuid

    def _open_receipt(self, text: str) -> None:
        """Open the receipt of the shipment whose surat jalan QR was scanned."""
        try:
            ref = parse_shipment_ref(text)
            if self.open_list is not None:
                raise CommandError(f"a {self.open_list.kind} is open: close it first")
            self.open_list = self.outbox.open_list(
                "receipt", self.session.location, reference=text.strip().upper(),
                operator=self.session.operator)
        except (ShipmentRefError, CommandError, OutboxError) as exc:
            self.signals[text] = (PROBLEM, str(exc))
            self.feedback.note(str(exc))
            self.feedback.sound.play(PROBLEM)
            return None
        self.session.apply(Command("action", "receive"))
        change = f"receipt of shipment {ref.number} open: scan its koli, then SHIPMENT.CLOSE"
        self.signals[text] = (ACCEPTED, change)
        self.feedback.note(change)
        self.feedback.sound.play(ACCEPTED)
        return None

    def _open_container(self, text: str) -> None:
        """Open the container that following pack/unpack scans go into."""
        verdict = self.checker.check(text, self.session.location, "container")
        if verdict.package_id is None:  # neither a label nor a manual entry
            self.signals[text] = (PROBLEM, "not a container label")
            self.feedback.note(f"{text[:40]!r} is not a label; scan the container's label "
                               "to open it")
            self.feedback.sound.play(PROBLEM)
            return None
        self.session.open_container(verdict.code)
        name = verdict.package_id or verdict.code
        problems = "" if verdict.signal != PROBLEM else f" (warning: {verdict.reason})"
        self.signals[text] = (ACCEPTED if not problems else PROBLEM, f"container {name}")
        self.feedback.note(f"container {name} open for {self.session.action}{problems}; "
                           "scan its packages, then END-CONTAINER")
        self.feedback.sound.play(ACCEPTED if not problems else PROBLEM)
        return None

    def record(self, text: str) -> StoredScan | None:
        """Judge a text, write it durably to the outbox, then signal it (None if not written)."""
        s = self.session
        try:
            verdict = self.checker.check(text, s.location, s.action,
                                         s.next_disposition or s.disposition)
            scan = self._write(verdict)
        except (OutboxError, sqlite3.Error) as exc:
            self.text_tracker.forget(text)    # scanning it again right away must be recorded
            self.signals[text] = (PROBLEM, "NOT RECORDED")
            self.feedback.note(f"NOT RECORDED - scan again: {exc}")
            self.feedback.sound.play(PROBLEM)
            return None
        # The scan is on disk (fsynced): only now may the person hear "accepted".
        s.take_disposition()
        s.clear_count()
        self.signals[text] = (verdict.signal, verdict.reason)
        self.recorded += 1
        self.feedback.scan(scan, verdict.package_id or verdict.code[:40])
        return scan

    def _write(self, verdict) -> StoredScan:
        """Write a judged scan to the outbox with the session's fields."""
        s = self.session
        return self.outbox.add(
            code=verdict.code, package_id=verdict.package_id, location=s.location,
            action=s.action, container=s.fields()["container"],
            disposition=s.next_disposition or s.disposition,
            list_uuid=self._list_for(s.action),
            seal=s.seal, operator=s.operator, device=s.device, offline=self.connectivity.online is not True,
            **s.counts(),
            rescan=verdict.rescan, signal=verdict.signal, reason=verdict.reason)

    # -- sources ----------------------------------------------------------------------------

    def decode(self, frame) -> list:
        """Return the decoded codes (with corners) of a frame."""
        if self._decoder is None:
            from .decode import read_codes_with_positions

            self._decoder = read_codes_with_positions
        return self._decoder(frame)

    def feed_frame(self, frame, t: float, window: Window | None = None) -> bool:
        """Decode one frame, record new presentations, draw the window; False to stop."""
        decoded = self.decode(frame)
        texts = [d.text for d in decoded]
        commands = {x for x in texts if is_command(x)}
        if len(commands) > 1:
            # The whole command sheet is in view: which mode was meant is unknowable.  None of
            # them counts (nor is remembered as seen), until one is shown on its own.
            texts = [x for x in texts if x not in commands]
            self._note_at(t, f"{len(commands)} command codes in view: "
                             "show the camera one command at a time")
        new = self.frame_tracker.frame(texts, t)
        labels = [x for x in new if x not in commands]
        if self.session.needs_container and len(labels) > 1:
            # Which of these is the container?  Unknowable: wait until one is shown alone.
            for text in labels:
                self.frame_tracker.forget(text)
            new = [x for x in new if x not in labels]
            self._note_at(t, "several labels in view: show the container's label alone first")
        for text in new:
            self.handle(text)
        if window is None or not window.enabled:
            return True
        boxes = [(d.corners, *self.signals.get(d.text.strip(), ("", ""))) for d in decoded]
        return window.show(frame, boxes)

    def _note_at(self, t: float, message: str) -> None:
        """Give a note about what the camera sees, at most once per gap (not every frame)."""
        if t - self._noted_at.get(message, float("-inf")) >= self.frame_tracker.gap:
            self._noted_at[message] = t
            self.feedback.note(message)

    def feed_text(self, text: str, t: float) -> StoredScan | None:
        """Take one text from a scanner; a double trigger within the repeat window is ignored."""
        if not self.text_tracker.sighted(text.strip(), t):
            self.feedback.note(f"same code again within {self.text_tracker.gap:g} s: "
                               "one presentation, not recorded twice")
            return None
        return self.handle(text)

    def run(self, source: Source, window: Window | None = None) -> int:
        """Consume a source until it ends (or the window is closed); return scans recorded."""
        before = self.recorded
        try:
            for reading in source.readings():
                if reading.frame is not None:
                    if not self.feed_frame(reading.frame, reading.t, window):
                        break
                elif reading.text is not None:
                    self.feed_text(reading.text, reading.t)
        finally:
            source.close()
            if window is not None:
                window.close()
        return self.recorded - before


__all__ = ["Station", "ACCEPTED", "RESCAN", "PROBLEM"]
