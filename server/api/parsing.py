"""Reading API requests safely: the caller, the JSON body, query parameters and times.

Everything a client can send is checked here before any domain code sees it,
and every problem becomes an ``ApiError`` (a 4xx in the common error shape):
wrong content type, bad UTF-8, malformed or too deeply nested JSON, a body
that is not an object, unknown or repeated query parameters, bad values.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

from flask import current_app, g, request
from sqlalchemy.exc import IntegrityError

from server.access import Principal, current_api_principal
from server.api.errors import RateLimited
from server.db import get_session
from server.errors import ApiError

# Characters no text column can hold: NUL (PostgreSQL refuses it) and lone
# UTF-16 surrogates (which cannot be encoded as UTF-8 at all).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# Database integer ids are 32-bit on PostgreSQL; larger numbers cannot name a row.
MAX_ROW_ID = 2**31 - 1


MAX_CURSOR_DIGITS = 18


MAX_PAGE = 1000


def unstorable(text: str) -> bool:
    """Tell whether a string holds characters no database column can store."""
    return _UNSTORABLE.search(text) is not None


def authenticate() -> Principal:
    """Return the caller (401 without a valid token) after counting it against its rate limit."""
    principal = current_api_principal()
    if g.get("rate_counted"):
        return principal  # a view read again on the primary (server.db.replica_read): counted once
    limiter = current_app.extensions["jejak.ratelimit"]
    wait = limiter.hit(principal.token_id if principal.token_id is not None else principal.name)
    g.rate_counted = True
    if wait:
        retry = limiter.retry_after_header(wait)
        # A subclass of ApiError: the blueprint answers it with its Retry-After header.
        raise RateLimited(retry, limiter.limit)
    return principal


def _reject_constant(name: str):
    """Refuse NaN and Infinity, which Python's json reads but JSON does not have."""
    raise ValueError(f"{name} is not valid JSON")


def json_object() -> dict:
    """Return the request body as a JSON object, or raise a 4xx naming what is wrong with it."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, f"send the body as JSON with 'Content-Type: application/json', "
                            f"not {request.content_type or 'no content type'!r}",
                       code="unsupported_media_type")
    raw = request.get_data(cache=False)  # 413 above MAX_CONTENT_LENGTH, 400 if cut short
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send a JSON object", code="invalid_json")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not valid UTF-8 (byte {exc.start})",
                       code="invalid_json") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(400, "the JSON body is nested too deeply", code="invalid_json") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers too long to read
        raise ApiError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the JSON body must be an object, not {json_type(body)}",
                       code="invalid_body")
    return body


def json_type(value) -> str:
    """Name a decoded JSON value's type the way JSON does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def query_args(allowed: tuple[str, ...]) -> dict[str, str]:
    """Return the query parameters, refusing unknown or repeated ones."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise ApiError(400, f"unknown query parameter {unknown[0]!r}; accepted: {accepted}",
                       code="unknown_parameter", details={"parameter": unknown[0]})
    args = {}
    for name in allowed:
        values = request.args.getlist(name)
        if len(values) > 1:
            raise ApiError(400, f"query parameter {name!r} given {len(values)} times; give it once",
                           code="invalid_parameter", details={"parameter": name})
        if values:
            # Values are checked where they are used: a region naming nothing is 404,
            # a bad kind, time or cursor 400 (none of them reaches the database unchecked).
            args[name] = values[0]
    return args


def choice(args: dict, name: str, choices) -> str | None:
    """Return a parameter that must be one of choices (None when absent), else 400."""
    value = args.get(name)
    if value is None:
        return None
    if value not in choices:
        raise ApiError(400, f"{name} {value!r} is not one of {', '.join(choices)}",
                       code="invalid_parameter", details={"parameter": name, "value": value})
    return value


def instant(args: dict, name: str) -> dt.datetime | None:
    """Return an ISO-8601 parameter as naive UTC (no offset means UTC), None when absent, else 400."""
    value = args.get(name)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ApiError(400, f"{name} {value!r} is not an ISO-8601 date-time, "
                            f"e.g. 2024-02-13T17:00:00+07:00", code="invalid_parameter",
                       details={"parameter": name, "value": value})
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise ApiError(400, f"{name} {value!r} is out of range", code="invalid_parameter",
                           details={"parameter": name, "value": value}) from None
    return parsed


def cursor(args: dict, name: str = "after") -> int | None:
    """Return the page cursor (the last id of the previous page), None when absent, else 400."""
    value = args.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_CURSOR_DIGITS:
        raise ApiError(400, f"{name} cursor {value!r} is not valid; follow the 'next' path of "
                            f"the previous page", code="invalid_cursor",
                       details={"parameter": name, "value": value})
    # Past the largest id there is nothing more: the page is empty, not an error.
    return min(int(value), MAX_ROW_ID)


def page_limit(args: dict, name: str = "limit") -> int:
    """Return the page size asked for (default PAGE_SIZE, at most 1000), else 400."""
    default = current_app.config["PAGE_SIZE"]
    value = args.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_PAGE:
        raise ApiError(400, f"{name} {value!r} must be a whole number from 1 to {MAX_PAGE}",
                       code="invalid_parameter", details={"parameter": name, "value": value})
    return int(value)


def to_json(value):
    """Return a structure jsonify can write: datetimes as ISO-8601 UTC, sets as sorted lists."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_json(v) for v in value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def commit_upload(action, refused: type[Exception], answer):
    """Run an idempotent upload's write and commit it; return what ``action`` returned.

    ``action(session)`` writes.  A refusal of the domain (``refused``) rolls back
    and is raised as ``answer(exc)``, its API answer.  A unique key raced in by
    another copy of the same upload (a scanner's retry) rolls back and runs the
    action once more, which then reads what the other copy recorded.
    """
    session = get_session()
    for attempt in (1, 2):
        try:
            result = action(session)
            session.commit()
            return result
        except refused as exc:
            session.rollback()
            raise answer(exc) from None
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
