"""Understanding one scan of a batch: the checks that make an item storable, or its rejection."""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from dataclasses import dataclass

from server.errors import DomainError
from server.models import ACTIONS, COUNT_ACTIONS, DISPOSITIONS

MAX_CODE = 1000


MAX_TEXT = {"location": 32, "seal": 64, "operator": 100, "device": 100}


MAX_COUNT = 9_999_999  # the label payload's largest quantity


class ScanError(DomainError):
    """One scan cannot be understood or may not be written; the message says why."""


@dataclass
class Item:
    """One understood scan of the batch, before it is written."""

    index: int
    uuid: str
    code: str
    location: str
    action: str
    scanned_at: dt.datetime
    container: str
    disposition: str
    seal: str
    operator: str
    offline: bool
    device: str
    counted_quantity: int | None = None
    damaged_quantity: int | None = None


def _text(raw: dict, name: str, longest: int, required: bool = False) -> str:
    """Return an optional text field, stripped, or raise ScanError on a wrong type or length."""
    value = raw.get(name)
    if value is None:
        if required:
            raise ScanError(f"field {name!r} is required")
        return ""
    if name == "device" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ScanError(f"field {name!r} must be a string, not {type(value).__name__}")
    if len(value) > longest:
        raise ScanError(f"field {name!r} is {len(value)} characters long, more than {longest}")
    if not storable(value):
        raise ScanError(f"field {name!r} holds a NUL or an invalid Unicode character")
    return value.strip()


def _count(raw: dict, name: str, action: str) -> int | None:
    """Return an optional count (a whole number >= 0), or raise ScanError saying what is wrong."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScanError(f"field {name!r} must be a whole number, not {value!r}")
    if not 0 <= value <= MAX_COUNT:
        raise ScanError(f"{name} {value} must be from 0 to {MAX_COUNT}")
    if action not in COUNT_ACTIONS:
        raise ScanError(f"{name} is counted on {', '.join(COUNT_ACTIONS)}, not on {action!r}")
    return value


def storable(text: str) -> bool:
    """Tell whether both databases can store a text (no NUL, no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_time(value) -> dt.datetime:
    """Return an ISO-8601 device time as naive UTC (no offset means UTC)."""
    if not isinstance(value, str):
        raise ScanError(f"field 'scanned_at' must be an ISO-8601 string, not {type(value).__name__}")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ScanError(f"scanned_at {value[:60]!r} is not an ISO-8601 date-time, e.g. "
                        "2024-02-10T08:00:00+07:00") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past year 9999 in UTC
            raise ScanError(f"scanned_at {value[:60]!r} is out of range: in UTC it falls "
                            "outside the years 1 to 9999") from None
    return parsed


def understand(index: int, raw) -> Item:
    """Check one raw scan object and return it as an Item, or raise ScanError."""
    if not isinstance(raw, dict):
        raise ScanError(f"a scan must be a JSON object, not {type(raw).__name__}")
    ident = raw.get("id")
    if ident is None or (isinstance(ident, str) and not ident.strip()):
        raise ScanError("field 'id' (a UUID chosen by the scanner) is required")
    if not isinstance(ident, str):
        raise ScanError(f"field 'id' must be a UUID string, not {type(ident).__name__}")
    try:
        canonical = str(uuidlib.UUID(ident.strip()))
    except ValueError:
        raise ScanError(f"id {ident[:60]!r} is not a UUID") from None
    code = raw.get("code")
    if not isinstance(code, str):
        raise ScanError("field 'code' (the scanned text) is required and must be a string")
    if len(code) > MAX_CODE:
        raise ScanError(f"code is {len(code)} characters long, more than {MAX_CODE}")
    if not storable(code):
        raise ScanError("code holds a NUL or an invalid Unicode character")
    if not code.strip():
        raise ScanError("code is empty")
    action = raw.get("action")
    if action not in ACTIONS:
        raise ScanError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    disposition = raw.get("disposition") if raw.get("disposition") is not None else "ok"
    if disposition not in DISPOSITIONS:
        raise ScanError(f"disposition {disposition!r} is not one of {', '.join(DISPOSITIONS)}")
    offline = raw.get("offline", False)
    if offline is None:
        offline = False
    if not isinstance(offline, bool):
        raise ScanError(f"field 'offline' must be true or false, not {offline!r}")
    container = raw.get("container")
    if container is not None and (not isinstance(container, str) or len(container) > MAX_CODE
                                  or not storable(container)):
        raise ScanError(f"field 'container' must be the container label's text, at most "
                        f"{MAX_CODE} characters")
    container = (container or "").strip()
    if action == "pack" and not container:
        raise ScanError("a pack scan needs 'container': the text of the container's label")
    if raw.get("scanned_at") is None:
        raise ScanError("field 'scanned_at' (device time, ISO-8601) is required")
    counted = _count(raw, "counted_quantity", action)
    damaged = _count(raw, "damaged_quantity", action)
    if counted is not None and damaged is not None and damaged > counted:
        raise ScanError(f"damaged_quantity {damaged} is more than counted_quantity {counted}")
    return Item(index=index, uuid=canonical, code=code, action=action,
                location=_text(raw, "location", MAX_TEXT["location"], required=True),
                scanned_at=parse_time(raw["scanned_at"]), container=container,
                disposition=disposition,
                seal=_text(raw, "seal", MAX_TEXT["seal"]),
                operator=_text(raw, "operator", MAX_TEXT["operator"]),
                offline=offline, device=_text(raw, "device", MAX_TEXT["device"]),
                counted_quantity=counted, damaged_quantity=damaged)
