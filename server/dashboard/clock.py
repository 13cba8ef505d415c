"""The dashboard's "as of" instant: deadlines (missing, late, overdue) are judged at it.

Default is now.  A user can look at the situation at another instant (kept in
their session); ``DASHBOARD_AS_OF`` sets the default for an instance replaying
a past distribution, and an instance holding the demo (``demo-planted.json``)
defaults to the demo's own "now" so its planted problems are not buried under
deadlines that passed since.

People read and type times in ``DISPLAY_TIMEZONE`` (WIB by default); the
queries take naive UTC, so every typed time goes through ``typed``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import current_app, session

from server.reports import localtime
from server.reports.localtime import UTC, local, to_utc, zone


def display_zone() -> dt.tzinfo:
    """Return the zone this instance shows times in (``DISPLAY_TIMEZONE``)."""
    return zone(current_app.config.get("DISPLAY_TIMEZONE"))


def zone_label() -> str:
    """Return the abbreviation of the display zone now (WIB, WITA, WIT or UTC+hh:mm)."""
    return localtime.zone_label(display_zone())


def parse(raw: str | None, tz: dt.tzinfo = UTC) -> dt.datetime | None:
    """Return a naive UTC instant from ISO text read in ``tz`` (an offset is honoured), or None."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    try:
        return to_utc(value, tz)
    except OverflowError:  # year 1 or 9999 pushed over the edge by the offset
        return None


def typed(raw: str | None) -> dt.datetime | None:
    """Return a time a user typed (in the display zone) as naive UTC, or None if unreadable."""
    return parse(raw, display_zone())


def for_input(value: dt.datetime | None) -> str:
    """Return a stored instant as a datetime-local field's value in the display zone."""
    if value is None:
        return ""
    return local(value, display_zone()).replace(tzinfo=None).isoformat(timespec="minutes")


def _demo_now() -> dt.datetime | None:
    """Return the demo's 'now' when this instance holds the demo."""
    path = Path(current_app.instance_path) / "demo-planted.json"
    if not path.is_file():
        return None
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")).get("demo_now"))
    except (OSError, ValueError, AttributeError):
        return None


def default_as_of() -> dt.datetime | None:
    """Return the instance's default instant (None: now)."""
    return parse(current_app.config.get("DASHBOARD_AS_OF")) or _demo_now()


def as_of() -> dt.datetime | None:
    """Return the instant this user looks at (None: now)."""
    chosen = session.get("as_of")
    if chosen == "now":
        return None
    return parse(chosen) or default_as_of()
