"""POST /api/v1/scans: take a batch of scans, all of it or none of it.

The envelope must be right (a JSON object whose ``scans`` is a non-empty array
of at most MAX_BATCH objects), else the whole request is refused with a 4xx.
Inside a good envelope each scan stands alone: one whose fields have the wrong
type, are too long or hold characters no column can store is answered
``rejected`` with the reason, and the rest go to ``server.ingest``.  The batch
is committed in one transaction; if the database fails, nothing is kept and
the answer is 503, so the scanner retries the same UUIDs safely.
"""

from __future__ import annotations

import contextlib
import gc
import logging

from flask import current_app, jsonify
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from server.access import SCAN_ROLES, require
from server.api.errors import DatabaseUnavailable
from server.api.parsing import authenticate, json_object, json_type, query_args
from server.db import get_session
from server.errors import ApiError, DomainError
from server.ingest.batch import TooManyAnomalies, ingest_batch
from server.ingest.scan import MAX_CODE, MAX_TEXT

log = logging.getLogger(__name__)


# Text fields and their longest accepted length: those of server.ingest, so a
# scan refused here would be refused there too, and PostgreSQL never refuses a
# value a scan was accepted with.
TEXT_FIELDS = {
    "id": 64, "code": MAX_CODE, "location": MAX_TEXT["location"], "action": 16,
    "scanned_at": 64, "container": MAX_CODE, "disposition": 16, "seal": MAX_TEXT["seal"],
    "operator": MAX_TEXT["operator"],
}


REQUIRED = ("id", "code", "location", "action", "scanned_at")


BOOL_FIELDS = ("offline",)


# Whole numbers >= 0 counted at the door (server.ingest.scan checks them).
COUNT_FIELDS = {"counted_quantity": "Units the receiver counted in the package",
                "damaged_quantity": "Units of those found damaged"}


# Attempts when two uploads of the same backlog race on the same UUIDs.
ATTEMPTS = 3


DEADLOCK = "40P01"  # PostgreSQL's deadlock_detected




def read_batch() -> list:
    """Return the request's scans after checking the envelope, else raise 4xx."""
    body = json_object()
    if "scans" not in body:
        raise ApiError(400, "the body must have a 'scans' array", code="invalid_body")
    scans = body["scans"]
    if not isinstance(scans, list):
        raise ApiError(400, f"'scans' must be an array, not {json_type(scans)}", code="invalid_body")
    if not scans:
        raise ApiError(400, "'scans' is empty; send at least one scan", code="invalid_body")
    limit = current_app.config["MAX_BATCH"]
    if len(scans) > limit:
        raise ApiError(413, f"{len(scans)} scans in one batch; send at most {limit} per request",
                       code="batch_too_large", details={"max_batch": limit, "scans": len(scans)})
    not_objects = [i for i, s in enumerate(scans) if not isinstance(s, dict)]
    if not_objects:
        raise ApiError(400, f"scans[{not_objects[0]}] is {json_type(scans[not_objects[0]])}; "
                            f"every scan must be an object", code="invalid_body",
                       details={"indexes": not_objects[:100]})
    return scans


def post_scans():
    """Record a batch of scans and answer one result per scan, in request order."""
    with _collector_paused():
        principal = authenticate()
        require(principal, SCAN_ROLES, "record scans")
        query_args(())
        scans = read_batch()
        # Each scan is checked once, by ingest (server.ingest.scan.understand): one that
        # cannot be understood is answered rejected, with the reason, and the rest recorded.
        results = [_result(result) for result in _ingest(principal, scans)] if scans else []
        return jsonify({"results": results})


@contextlib.contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector for one request, as long as it runs.

    A batch allocates tens of thousands of short-lived objects (parsed scans, rows,
    timelines), and each few hundred allocations set off a collection that walks the
    worker's whole heap: 18% of a door-pattern batch's CPU (docs/benchmarks.md).
    Reference counting still frees everything at once; what cycles a request leaves
    are collected after it.  Re-enabled only by whoever disabled it, so overlapping
    requests of a threaded worker leave it on.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _result(result: dict) -> dict:
    """Return one ingest result in the documented shape."""
    out = {"id": result.get("id"), "status": result.get("status"),
           "anomalies": list(result.get("anomalies") or []), "error": result.get("error")}
    if result.get("note"):  # e.g. a hand-typed code the server could not check
        out["note"] = result["note"]
    return out


def _ingest(principal, scans: list) -> list[dict]:
    """Ingest and commit the scans in one transaction; 503 (nothing kept) if the database fails."""
    session = get_session()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            results = ingest_batch(session, scans, principal, max_new_anomalies=int(
                current_app.config["MAX_NEW_ANOMALIES_PER_BATCH"]))
            if len(results) != len(scans):
                session.rollback()  # never commit scans that were not answered for
                raise ApiError(500, "the batch was not recorded: ingest answered for "
                                    f"{len(results)} of {len(scans)} scans")
            session.commit()
        except TooManyAnomalies as exc:
            # Both scanners halve a batch refused whole: every scan gets in, a few anomalies a go.
            session.rollback()
            raise ApiError(422, str(exc), code="too_many_anomalies",
                           details={"max_new_anomalies": exc.limit,
                                    "new_anomalies": exc.opened}) from None
        except DomainError as exc:  # a mistake in the batch: the client's to fix
            session.rollback()
            log.warning("scan batch refused by ingest: %s", exc)
            raise ApiError(400, str(exc), code="invalid_body") from None
        except IntegrityError as exc:
            # Another upload of the same backlog committed these UUIDs first: on
            # retry they read as already_recorded.
            session.rollback()
            if attempt == ATTEMPTS:
                log.warning("scan batch not recorded after %d attempts, integrity error: %s",
                            ATTEMPTS, type(exc.orig).__name__)
                raise _batch_unavailable() from None
            continue
        except DataError as exc:
            session.rollback()
            log.warning("scan batch refused by the database: %s", type(exc.orig).__name__)
            raise ApiError(400, "a value in the batch was refused by the database; nothing was "
                                "recorded", code="invalid_body") from None
        except DBAPIError as exc:
            _rollback(session)
            if getattr(exc.orig, "sqlstate", None) == DEADLOCK and attempt < ATTEMPTS:
                # Two batches locked the same containers in opposite orders
                # (server/locks.py); PostgreSQL failed this one: run it again.
                continue
            log.warning("scan batch not recorded, database error: %s", type(exc.orig).__name__)
            raise _batch_unavailable() from None
        return results
    raise _batch_unavailable()  # pragma: no cover - the loop always returns or raises


def _rollback(session) -> None:
    """Roll back after a database error; if the connection is gone, discard it."""
    try:
        session.rollback()
    except DBAPIError:
        session.invalidate()


def _batch_unavailable() -> DatabaseUnavailable:
    """Return the 503 a scanner answers by retrying the same batch later."""
    return DatabaseUnavailable("the database is unavailable; nothing from this batch was "
                               "recorded, retry it later")
