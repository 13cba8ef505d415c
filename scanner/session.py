"""The scanning session: who scans, where, doing what, and into which container.

A session starts from the command line (`jejak-scan run --location ... --action ...`) and is
changed at the handoff by scanning the printed command sheet.  Its texts are defined by the
label printer in `labels.commands` (all start with `JJK-CMD.`):

    JJK-CMD.ACTION.<NAME>          switch the action (RECEIVE, DISPATCH, PACK, UNPACK, INSPECT,
                                   HANDOVER, RETURN) for every following scan
    JJK-CMD.DISPOSITION.<NAME>     OK, DAMAGED or SEAL-BROKEN for the NEXT package scan only,
                                   then back to the session's default
    JJK-CMD.CONTAINER.END          close the current container (pack/unpack);
                                   JJK-CMD.END-CONTAINER is accepted too
    JJK-CMD.COUNT.<0-9>            a digit of the count of the NEXT package (receive, unpack,
                                   inspect): 2, 9, 7 then the label records counted_quantity 297
    JJK-CMD.COUNT.DAMAGED          the digits after it are the next package's damaged units
    JJK-CMD.COUNT.CLEAR            forget the count being entered

    JJK-CMD.SHIPMENT.OPEN          open a shipment to the --ship-to location: the action becomes
                                   dispatch and every following koli goes on its list
    JJK-CMD.SHIPMENT.CLOSE         close the open shipment (or receipt): it is queued for upload;
                                   the server gives it a number and a surat jalan

Scanning a surat jalan's QR (``JSJ1.``, see `labels.shipment`) opens its receipt: the action
becomes receive and every following koli goes on the receipt's list until SHIPMENT.CLOSE.

At a keyboard the count is typed instead: ``#297`` (counted 297) or ``#297/3`` (297, of which
3 damaged), then the label.  Like the disposition, a count is for the next package only.

The disposition from a sheet is one-shot on purpose: a "damaged" that stayed on would silently
mark every following box damaged.  `--disposition` on the command line sets the default.

Containers: in pack or unpack, the first label scanned while no container is open becomes the
current container (it is not recorded as a scan of its own); every following label is packed
into (or unpacked from) it until CONTAINER.END or another action.  `--container TEXT` opens one
from the start.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from labels import commands as sheet

ACTIONS = ("receive", "dispatch", "pack", "unpack", "inspect", "handover", "return")
DISPOSITIONS = ("ok", "damaged", "seal_broken")
CONTAINER_ACTIONS = ("pack", "unpack")
COUNT_ACTIONS = ("receive", "unpack", "inspect")  # where the server takes counts
MAX_COUNT = 9_999_999
_TYPED_COUNT = re.compile(r"#\s*(\d{1,7})\s*(?:/\s*(\d{1,7}))?")
COMMAND_PREFIX = sheet.PREFIX
# Spelled in the scanner's brief before labels.commands existed; kept so old sheets still work.
_ALIASES = {"JJK-CMD.END-CONTAINER": ("container", "end"),
            "JJK-CMD.DISPOSITION.SEAL_BROKEN": ("disposition", "seal_broken")}


class CommandError(ValueError):
    """A command-sheet code that names no known action or disposition."""


@dataclass(frozen=True)
class Command:
    """One parsed command-sheet code: kind is 'action', 'disposition' or 'end-container'."""

    kind: str
    value: str = ""


def is_command(text: str) -> bool:
    """Return whether a scanned text is a command-sheet code rather than a label."""
    return text.strip().upper().startswith(COMMAND_PREFIX)


def parse_command(text: str) -> Command:
    """Parse a command-sheet code into a Command, raising CommandError for unknown ones."""
    cleaned = text.strip().upper()
    found = sheet.parse_command(cleaned) or _ALIASES.get(cleaned)
    if found is None:
        raise CommandError(f"unknown command code {text.strip()!r}")
    kind, value = found
    if kind == "container":
        return Command("end-container")
    return Command(kind, value)


@dataclass
class Session:
    """Operator, location, action, disposition and open container of a scanning station."""

    location: str
    action: str
    operator: str | None = None
    disposition: str = "ok"          # the default, from the command line
    container: str | None = None     # raw text of the open container's label
    seal: str | None = None
    device: str | None = None        # this station's name, kept with every scan (audit)
    ship_to: str | None = None       # where a shipment opened by SHIPMENT.OPEN goes
    next_disposition: str | None = field(default=None)  # one-shot, from the command sheet
    # One-shot counts for the next package: digits as entered, and which one they go to.
    count_digits: str = ""
    damaged_digits: str = ""
    counting_damaged: bool = False

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise CommandError(f"action {self.action!r} is not one of {', '.join(ACTIONS)}")
        if self.disposition not in DISPOSITIONS:
            raise CommandError(f"disposition {self.disposition!r} is not one of "
                               f"{', '.join(DISPOSITIONS)}")

    @property
    def needs_container(self) -> bool:
        """Return whether the next label should open a container rather than be scanned."""
        return self.action in CONTAINER_ACTIONS and not self.container

    def apply(self, command: Command) -> str:
        """Apply a command-sheet code and return a short description of the change."""
        if command.kind == "action":
            if command.value != self.action:
                # A container belongs to one pack/unpack run; a new action closes it.
                self.container = None
            self.action = command.value
            extra = " - scan the container's label first" if self.needs_container else ""
            return f"action is now {self.action}{extra}"
        if command.kind == "disposition":
            self.next_disposition = None if command.value == self.disposition else command.value
            return f"next package: {command.value}"
        if command.kind == "count":
            return self._count(command.value)
        if command.kind == "shipment":  # the station opens and closes lists (the outbox's)
            raise CommandError("shipment commands are taken by the station, not the session")
        closed, self.container = self.container, None
        return f"container {closed} closed" if closed else "no container was open"

    def _count(self, value: str) -> str:
        """Take one count command: a digit, DAMAGED or CLEAR; return what the count is now."""
        if value == "clear":
            self.clear_count()
            return "count cleared"
        if self.action not in COUNT_ACTIONS:
            raise CommandError(f"counts are taken on {', '.join(COUNT_ACTIONS)}, "
                               f"not on {self.action}")
        if value == "damaged":
            self.counting_damaged = True
        elif self.counting_damaged:
            self.damaged_digits = (self.damaged_digits + value)[-7:]
        else:
            self.count_digits = (self.count_digits + value)[-7:]
        return self.count_words()

    def type_count(self, text: str) -> str | None:
        """Take a typed count (``#297`` or ``#297/3``); None when the text is not one."""
        found = _TYPED_COUNT.fullmatch(text.strip())
        if found is None:
            return None
        if self.action not in COUNT_ACTIONS:
            raise CommandError(f"counts are taken on {', '.join(COUNT_ACTIONS)}, "
                               f"not on {self.action}")
        self.count_digits, self.damaged_digits = found.group(1), found.group(2) or ""
        self.counting_damaged = False
        if int(self.damaged_digits or 0) > int(self.count_digits):
            self.clear_count()
            raise CommandError("more damaged units than counted")
        return self.count_words()

    def count_words(self) -> str:
        """Return the count being entered as the person sees it."""
        damaged = f", damaged {self.damaged_digits or '...'}" if (
            self.counting_damaged or self.damaged_digits) else ""
        return f"next package: counted {self.count_digits or '-'}{damaged}"

    def counts(self) -> dict:
        """Return the count fields for the scan being recorded (empty when nothing was counted)."""
        out = {}
        if self.count_digits and self.action in COUNT_ACTIONS:
            out["counted_quantity"] = int(self.count_digits)
        if self.damaged_digits and self.action in COUNT_ACTIONS:
            out["damaged_quantity"] = int(self.damaged_digits)
        return out

    def clear_count(self) -> None:
        """Forget the count being entered (after the scan it was for, or on CLEAR)."""
        self.count_digits, self.damaged_digits, self.counting_damaged = "", "", False

    def open_container(self, text: str) -> None:
        """Open a container for the following pack/unpack scans."""
        self.container = text.strip()

    def take_disposition(self) -> str:
        """Return the disposition for the scan being recorded and clear a one-shot one."""
        value, self.next_disposition = self.next_disposition or self.disposition, None
        return value

    def fields(self) -> dict:
        """Return the session's fields as a scan carries them (disposition not consumed)."""
        return {"location": self.location, "action": self.action, "operator": self.operator,
                "container": self.container if self.action in CONTAINER_ACTIONS else None,
                "seal": self.seal}
