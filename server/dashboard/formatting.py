"""How values look on the pages: translated names of kinds, actions, levels; times; numbers."""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, g
from flask_babel import format_decimal, get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.dashboard.clock import display_zone, for_input
from server.db import get_session
from server.models import ItemType
from server.reconcile.details import KIND_WORDS, text_of
from server.reports.localtime import local_text

# The kinds' words are those of server.reconcile.details (one list; extracted there).
KIND_NAMES = {kind: _l(word) for kind, word in KIND_WORDS.items()}

ACTION_NAMES = {
    "receive": _l("receive"),
    "dispatch": _l("dispatch"),
    "pack": _l("pack"),
    "unpack": _l("unpack"),
    "inspect": _l("inspect"),
    "handover": _l("handover"),
    "return": _l("return"),
}

LEVEL_NAMES = {
    "province": _l("province"),
    "regency": _l("regency"),
    "district": _l("district"),
    "village": _l("village"),
    "tps": _l("TPS"),
}

STATUS_NAMES = {
    "open": _l("open"),
    "acknowledged": _l("acknowledged"),
    "resolved": _l("resolved"),
}

DISPOSITION_NAMES = {
    "ok": _l("good"),
    "damaged": _l("damaged"),
    "seal_broken": _l("seal broken"),
}

ROLE_NAMES = {
    "operator": _l("operator"),
    "supervisor": _l("supervisor"),
    "observer": _l("observer"),
    "admin": _l("admin"),
}

# The six "tepat" and the anomaly kinds that break each (efficiency has none: n/a).
TEPAT = (
    ("sasaran", _l("right target"), _l("target"), ("misrouted",)),
    ("jumlah", _l("right quantity"), _l("quantity"),
     ("missing", "quantity_mismatch", "short_shipment", "not_in_shipment", "missing_return")),
    ("waktu", _l("right time"), _l("time"), ("late",)),
    ("jenis", _l("right type"), _l("type"), ("wrong_dapil",)),
    ("kualitas", _l("right quality"), _l("quality"), ("damaged", "seal_mismatch")),
    ("efisiensi", _l("efficiency"), _l("efficiency"), ()),
)


def when(value) -> str:
    """Format a stored (naive UTC) time in the display zone with its abbreviation, or a dash."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return local_text(value, display_zone())


def short_when(value: dt.datetime) -> str:
    """Format an instant in the display zone to the minute (as anomaly details show times)."""
    return local_text(value, display_zone(), seconds=False)


def anomaly_text(item) -> str:
    """Put an anomaly (dict or row) in words in the request's language and the display zone."""
    return text_of(item, gettext, short_when)


def number(value) -> str:
    """Format a whole number with the language's grouping."""
    if value is None:
        return "-"
    return format_decimal(value)


def _namer(table: dict):
    """Return a filter naming a code in the request's language, translating each name once."""
    key = "names_%x" % id(table)

    def name(code):
        cache = g.get(key)
        if cache is None:
            cache = {k: str(v) for k, v in table.items()}  # a page names hundreds of rows
            setattr(g, key, cache)
        return cache.get(code, code)

    return name


def item_type_name(code: str) -> str:
    """Name an item type in the request's language (a regency may extend the catalogue)."""
    names = g.get("item_type_names")
    if names is None:
        english = str(get_locale()) == "en"
        names = {it.code: it.name_en if english else it.name_id
                 for it in get_session().scalars(select(ItemType))}
        g.item_type_names = names
    return names.get(code, code)


def register_filters(app: Flask) -> None:
    """Make the formatters available to templates."""
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["for_input"] = for_input
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["anomaly_text"] = anomaly_text
    app.jinja_env.filters["replica_note"] = replica_note
    app.jinja_env.filters["kind"] = _namer(KIND_NAMES)
    app.jinja_env.filters["action"] = _namer(ACTION_NAMES)
    app.jinja_env.filters["level"] = _namer(LEVEL_NAMES)
    app.jinja_env.filters["status"] = _namer(STATUS_NAMES)
    app.jinja_env.filters["disposition"] = _namer(DISPOSITION_NAMES)
    app.jinja_env.filters["role"] = _namer(ROLE_NAMES)
    app.jinja_env.filters["item_type"] = item_type_name


def replica_note(source) -> str:
    """Say where the page's data was read and how far behind the replica is (READ_DATABASE_URL)."""
    seconds = source.lag_seconds
    if source.reason == "replica":
        return gettext("Replica %(seconds)d s behind the primary: this page was read from it.",
                       seconds=seconds or 0)
    if source.reason == "unreachable":
        return gettext("The replica does not answer: this page was read from the primary.")
    if source.reason == "behind":
        if seconds is None:
            return gettext("The replica has not replayed anything yet: this page was read from "
                           "the primary.")
        return gettext("Replica %(seconds)d s behind, more than the %(limit)d s allowed: this page "
                       "was read from the primary.", seconds=seconds,
                       limit=int(current_app.extensions["jejak.db"].max_lag))
    if source.reason == "own-write":
        return gettext("Replica %(seconds)d s behind, without your last change yet: this page was "
                       "read from the primary.", seconds=seconds or 0)
    return gettext("A deadline had to be swept first: this page was read from the primary.")
