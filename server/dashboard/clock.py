"""The dashboard's "as of" instant: deadlines (missing, late, overdue) are judged at it.

Default is now.  A user can look at the situation at another instant (kept in
their session); ``DASHBOARD_AS_OF`` sets the default for an instance replaying
a past distribution, and an instance holding the demo (``demo-planted.json``)
defaults to the demo's own "now" so its planted problems are not buried under
deadlines that passed since.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import current_app, session


def parse(raw: str | None) -> dt.datetime | None:
    """Return a naive UTC instant from ISO text (an offset is honoured), or None if unreadable."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


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
