"""The API's reads and the one other write: packages, anomalies, resolve, progress, keys, locations.

Views are thin: check the caller and the request, call the domain functions
(``server.reconcile``, ``server.reconcile.custody``), render.  Region scope: a region,
anomaly or location outside the caller's region is 403 (their codes are public
administrative codes); a package outside it is 404, so a token cannot probe
which package ids exist elsewhere.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import jsonify, request
from flask_babel import force_locale
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from server.access import RESOLVE_ROLES, SCAN_ROLES, region_location, require
from server.api.errors import DatabaseUnavailable
from server.api.parsing import (
    MAX_ROW_ID,
    authenticate,
    choice,
    cursor,
    instant,
    json_object,
    json_type,
    page_limit,
    query_args,
    to_json,
    unstorable,
)
from server.dashboard.formatting import anomaly_text
from server.dashboard.language import LANGUAGES, select_locale
from server.db import get_read_session, get_session, replica_read
from server.errors import ApiError, DomainError
from server.models import ANOMALY_KINDS, ANOMALY_STATUSES, Device, LabelKey, Location, Package
from server.reconcile.anomalies import (
    ResolveError,
    as_anomaly_dict,
    check_resolution,
    list_anomalies,
    resolve,
)
from server.reconcile.custody import chain
from server.reconcile.progress import expected_at
from server.reconcile.progress import progress as region_progress

log = logging.getLogger(__name__)






MAX_PACKAGE_ID = 80


MAX_CODE = 32  # Location.code


def health():
    """Answer whether the app can reach its database (no token needed)."""
    query_args(())
    try:
        get_session().execute(text("SELECT 1"))
    except DBAPIError as exc:
        log.warning("health check: database unreachable: %s", type(exc.orig).__name__)
        raise DatabaseUnavailable("the database is unreachable") from None
    return jsonify({"status": "ok", "database": "ok"})


def me():
    """Show what the token is: its role, its region and, for a device, its location."""
    principal = authenticate()
    query_args(())
    session = get_session()
    region = session.scalar(select(Location).where(Location.code == principal.region_code))
    location = None
    if principal.location_path:
        location = [c for c in principal.location_path.split("/") if c][-1]
    device = session.get(Device, principal.device_id) if principal.device_id else None
    return jsonify({
        "role": principal.role, "name": principal.name,
        "region": {"code": principal.region_code, "name": region.name if region else "",
                   "level": region.level if region else ""},
        "device_location": location,
        "may_scan": principal.role in SCAN_ROLES,
        "may_resolve": principal.may_resolve,
        # The device behind the token and its registered key (both null for a user's token).
        "device": device.id if device else None,
        "device_public_key": device.public_key if device else None,
    })


def keys():
    """List the trusted public label keys (revoked ones left out) for scanners to verify with."""
    authenticate()
    query_args(())
    rows = get_session().scalars(
        select(LabelKey).where(LabelKey.revoked_at.is_(None)).order_by(LabelKey.key_id))
    return jsonify({"keys": [{"key_id": r.key_id, "name": r.name or "",
                              "public_key_pem": r.public_key_pem} for r in rows]})


EXPECTED_PAGE = 5000


MAX_EXPECTED_PAGE = 20000


def location_expected(code: str):
    """Show a location, its ancestors' codes and the packages it should receive (scanner cache).

    A page at a time in package id order; ``next`` is present while more follow.
    """
    principal = authenticate()
    args = query_args(("after", "limit"))
    limit = _expected_limit(args)
    after = args.get("after")
    if after is not None and (not after or len(after) > MAX_PACKAGE_ID or unstorable(after)):
        raise ApiError(400, f"after cursor {after[:40]!r} is not valid; follow the 'next' path "
                            "of the previous page", code="invalid_cursor",
                       details={"parameter": "after", "value": after[:40]})
    session = get_session()
    loc = None
    if len(code) <= MAX_CODE and not unstorable(code):
        loc = session.scalar(select(Location).where(Location.code == code))
    if loc is None:
        raise ApiError(404, f"no location with code {code!r}")
    if not principal.covers(loc.path):
        raise ApiError(403, f"location {code!r} is outside your region {principal.region_code!r}")
    packages = expected_at(session, loc, after=after, limit=limit + 1)
    body = {"location": {"code": loc.code, "name": loc.name, "level": loc.level,
                         "path": loc.ancestor_codes, "dapil": loc.dapils},
            "packages": packages[:limit]}
    if len(packages) > limit:
        query = {k: v for k, v in args.items() if k != "after"}
        body["next"] = request.path + "?" + urlencode({**query,
                                                       "after": packages[limit - 1]["package_id"]})
    return jsonify(to_json(body))


def own_expected():
    """Show what the caller's own location should receive: a device's location, else its region.

    The phone scanner (/scan) knows only its token; this saves it from building a path.
    """
    principal = authenticate()
    code = principal.region_code
    if principal.location_path:
        code = [c for c in principal.location_path.split("/") if c][-1]
    return location_expected(code)


def _expected_limit(args: dict) -> int:
    """Return the expected list's page size (default EXPECTED_PAGE, at most MAX_EXPECTED_PAGE)."""
    value = args.get("limit")
    if value is None:
        return EXPECTED_PAGE
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_EXPECTED_PAGE:
        raise ApiError(400, f"limit {value[:40]!r} must be a whole number from 1 to "
                            f"{MAX_EXPECTED_PAGE}", code="invalid_parameter",
                       details={"parameter": "limit", "value": value[:40]})
    return int(value)


@replica_read
def package(package_id: str):
    """Show a package and its chain of custody, oldest first (404 outside the caller's region)."""
    principal = authenticate()
    query_args(())
    session = reading_session(principal)
    destination = None
    if len(package_id) <= MAX_PACKAGE_ID and not unstorable(package_id):
        destination = session.scalar(
            select(Location.path).join(Package, Package.destination_id == Location.id)
            .where(Package.package_id == package_id))
    # 404, not 403, outside the region: existence must not leak across regions.
    if destination is None or not principal.covers(destination):
        raise ApiError(404, f"no package {package_id!r} in your region")
    result = chain(session, package_id)
    if result is None:
        raise ApiError(404, f"no package {package_id!r} in your region")
    return jsonify(to_json(result))


# Roles whose reads may come from a read replica (READ_DATABASE_URL): the oversight body's
# observers only read; operators and supervisors act on what they read, on the primary.
REPLICA_ROLES = ("observer",)


def reading_session(principal):
    """Return the session an API read uses: the replica's for observers (when it may serve)."""
    return get_read_session() if principal.role in REPLICA_ROLES else get_session()


def region_param(session, principal, args: dict) -> Location:
    """Return the region a ``region`` parameter names (default: the token's), else 400/403/404."""
    code = args.get("region")
    if code is None:
        return region_location(session, principal, None)
    if not code:
        raise ApiError(400, "region is empty; leave it out for your own region",
                       code="invalid_parameter", details={"parameter": "region", "value": code})
    if len(code) > MAX_CODE or unstorable(code):
        raise ApiError(404, f"no region with code {code[:40]!r}")
    return region_location(session, principal, code)


ANOMALY_PARAMS = ("region", "kind", "status", "as_of", "after", "limit")


@replica_read
def anomalies():
    """List a region's anomalies, oldest first, a page at a time (``next`` while more follow)."""
    principal = authenticate()
    args = query_args(ANOMALY_PARAMS)
    kind = choice(args, "kind", ANOMALY_KINDS)
    status = choice(args, "status", ANOMALY_STATUSES)
    as_of = instant(args, "as_of")
    after = cursor(args)
    limit = page_limit(args)
    session = reading_session(principal)
    region = region_param(session, principal, args)
    items, last_id = list_anomalies(session, region, kind=kind, status=status, as_of=as_of,
                                    after_id=after, limit=limit)
    session.commit()  # keeps what the missing-deadline sweep found on the way
    with force_locale(reader_language()):
        body = {"anomalies": [anomaly_json(a) for a in items]}
    if last_id is not None:
        following = {k: v for k, v in args.items() if k not in ("after", "region")}
        query = {"region": region.code, **following, "after": str(last_id)}
        body["next"] = request.path + "?" + urlencode(query)
    return jsonify(body)


def reader_language() -> str:
    """Return the language the caller reads (Accept-Language: id or en), else the default."""
    return request.accept_languages.best_match(LANGUAGES) or select_locale()


def anomaly_json(item) -> dict:
    """Return one anomaly as the API shows it (from a domain dict or an Anomaly row).

    ``detail`` is the stored English sentence (UTC), ``facts`` the same as data and
    ``description`` the sentence in the caller's language and the display zone
    (call inside ``force_locale``).
    """
    item = as_anomaly_dict(item)
    return {**to_json(item), "description": anomaly_text(item)}


def resolve_anomaly(anomaly_id: int):
    """Acknowledge or resolve an anomaly with a note: who and when are recorded, nothing deleted."""
    principal = authenticate()
    require(principal, RESOLVE_ROLES, "resolve anomalies")
    query_args(())
    body = json_object()
    note = body.get("note")
    if not isinstance(note, str) or not note.strip():
        got = "missing" if note is None else (json_type(note) if not isinstance(note, str) else "empty")
        raise ApiError(400, f"'note' must be a non-empty string saying what was done ({got})",
                       code="invalid_body", details={"field": "note"})
    if unstorable(note):
        raise ApiError(400, "'note' holds a NUL or an invalid Unicode character",
                       code="invalid_body", details={"field": "note"})
    status = body.get("status", "resolved")
    try:
        check_resolution(note, status)
    except ResolveError as exc:
        raise ApiError(400, str(exc), code="invalid_body", details={"field": exc.field}) from None
    if anomaly_id > MAX_ROW_ID:
        raise ApiError(404, f"no anomaly {anomaly_id}")
    session = get_session()
    try:
        result = resolve(session, anomaly_id, principal, note.strip(), status=status)
        session.commit()
    except LookupError:
        session.rollback()
        raise ApiError(404, f"no anomaly {anomaly_id}") from None
    except PermissionError as exc:
        session.rollback()
        raise ApiError(403, str(exc) or f"anomaly {anomaly_id} is outside your region") from None
    except DomainError as exc:
        session.rollback()
        raise ApiError(409, str(exc), code="conflict") from None
    except DBAPIError as exc:
        session.rollback()
        log.warning("resolution not recorded, database error: %s", type(exc.orig).__name__)
        raise DatabaseUnavailable("the database is unavailable; the resolution was not "
                                  "recorded") from None
    with force_locale(reader_language()):
        return jsonify({"anomaly": anomaly_json(result)})


@replica_read
def progress():
    """Show, per child region, packages expected, dispatched, received and open anomalies."""
    principal = authenticate()
    args = query_args(("region", "as_of"))
    as_of = instant(args, "as_of")
    session = reading_session(principal)
    region = region_param(session, principal, args)
    result = region_progress(session, region, as_of=as_of)
    session.commit()  # keeps what the missing-deadline sweep found on the way
    return jsonify(to_json(result))

