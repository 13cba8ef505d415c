"""Local time for what people read: storage is naive UTC, pages and documents show the zone."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def N_(text: str) -> str:
    """Mark a string for translation without translating it (pybabel extracts N_)."""
    return text


Translate = Callable[[str], str]


CHUNK_ROWS = 2000  # rows per yielded CSV chunk: few large writes, still flat memory


UTC = dt.timezone.utc


# Indonesia's three zones by the names people use; other zones show their UTC offset.
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
              "Asia/Jayapura": "WIT"}


@lru_cache(maxsize=16)
def zone(name: str | None) -> dt.tzinfo:
    """Return the time zone of an IANA name (UTC for none); ValueError quoting an unknown one."""
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'Asia/Jakarta')") \
            from None


def local(value: dt.datetime, tz: dt.tzinfo = UTC) -> dt.datetime:
    """Return a stored time (naive UTC, or aware) as an aware time in the zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz)


def to_utc(value: dt.datetime, tz: dt.tzinfo = UTC) -> dt.datetime:
    """Return a time typed in the zone (naive) or carrying an offset as naive UTC, for queries."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC).replace(tzinfo=None)


def zone_label(tz: dt.tzinfo, at: dt.datetime | None = None) -> str:
    """Return the abbreviation people read for a zone (WIB, WITA, WIT), else its UTC offset."""
    key = getattr(tz, "key", None)
    if key in ZONE_NAMES:
        return ZONE_NAMES[key]
    offset = local(at or dt.datetime.now(UTC), tz).utcoffset() or dt.timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_text(value: dt.datetime | None, tz: dt.tzinfo = UTC, seconds: bool = True) -> str:
    """Return a stored time as local text with its zone, e.g. '2024-02-12 12:00:00 WIB'."""
    if value is None:
        return "-"
    here = local(value, tz)
    return here.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " " \
        + zone_label(tz, here)


def day_bounds(day: dt.date, tz: dt.tzinfo = UTC) -> tuple[dt.datetime, dt.datetime]:
    """Return the naive UTC instants where a local calendar day starts and ends."""
    start = dt.datetime.combine(day, dt.time())
    return to_utc(start, tz), to_utc(start + dt.timedelta(days=1), tz)
