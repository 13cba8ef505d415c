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

The disposition from a sheet is one-shot on purpose: a "damaged" that stayed on would silently
mark every following box damaged.  `--disposition` on the command line sets the default.

Containers: in pack or unpack, the first label scanned while no container is open becomes the
current container (it is not recorded as a scan of its own); every following label is packed
into (or unpacked from) it until CONTAINER.END or another action.  `--container TEXT` opens one
from the start.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labels import commands as sheet

ACTIONS = ("receive", "dispatch", "pack", "unpack", "inspect", "handover", "return")
DISPOSITIONS = ("ok", "damaged", "seal_broken")
CONTAINER_ACTIONS = ("pack", "unpack")
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
    next_disposition: str | None = field(default=None)  # one-shot, from the command sheet

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
        closed, self.container = self.container, None
        return f"container {closed} closed" if closed else "no container was open"

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
