"""The JSON API under /api/v1: one Blueprint, its routes and what every request goes through.

The views live in ``api_scans`` (the batch upload) and ``api_reads`` (everything
else); request checking in ``server.api.parsing``; the OpenAPI document in ``openapi``.
Errors are raised as ``ApiError`` and answered by ``server.errors`` in the one
error shape; docs/api.md describes every endpoint.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify, request
from sqlalchemy.exc import DBAPIError

from server.api import devices as api_devices
from server.api import errors
from server.api import ledger as api_ledger
from server.api import photos as api_photos
from server.api import reads as api_reads
from server.api import scans as api_scans
from server.api import shipments as api_shipments
from server.api.errors import DatabaseUnavailable, HeaderedError
from server.api.openapi import document
from server.db import get_session
from server.ratelimit import SharedWindowLimiter

log = logging.getLogger(__name__)


PREFIX = "/api/v1"


# (rule, endpoint, view, methods): the route table the OpenAPI document is checked against.
ROUTES = [
    ("/health", "health", api_reads.health, ["GET"]),
    ("/me", "me", api_reads.me, ["GET"]),
    ("/scans", "scans", api_scans.post_scans, ["POST"]),
    ("/scans/<scan_id>/photos", "scan_photos", api_photos.scan_photos, ["POST", "GET"]),
    ("/packages/<package_id>", "package", api_reads.package, ["GET"]),
    ("/anomalies", "anomalies", api_reads.anomalies, ["GET"]),
    ("/anomalies/<row_id:anomaly_id>/resolve", "resolve", api_reads.resolve_anomaly, ["POST"]),
    ("/progress", "progress", api_reads.progress, ["GET"]),
    ("/keys", "keys", api_reads.keys, ["GET"]),
    ("/locations/<code>/expected", "expected", api_reads.location_expected, ["GET"]),
    ("/expected", "own_expected", api_reads.own_expected, ["GET"]),
    ("/ledger/head", "ledger_head", api_ledger.head, ["GET"]),
    ("/ledger/entries", "ledger_entries", api_ledger.entries, ["GET"]),
    ("/ledger/key", "ledger_key", api_ledger.key, ["GET"]),
    ("/shipments", "shipments", api_shipments.post_shipment, ["POST"]),
    ("/shipments/<number>", "shipment", api_shipments.get_shipment, ["GET"]),
    ("/shipments/<number>/surat-jalan.pdf", "surat_jalan", api_shipments.surat_jalan, ["GET"]),
    ("/shipments/<number>/receipt", "receipt", api_shipments.post_receipt, ["POST"]),
    ("/shipments/<number>/digest", "shipment_digest", api_shipments.get_digest, ["GET"]),
    ("/shipments/<number>/confirmations", "confirmations", api_shipments.post_confirmation,
     ["POST"]),
    ("/devices/key", "device_key", api_devices.post_key, ["POST"]),
]


def openapi_json():
    """Serve the OpenAPI 3 description of this API (no token needed)."""
    return jsonify(document())


def make_blueprint() -> Blueprint:
    """Build the API blueprint with every route of ROUTES and the OpenAPI document."""
    bp = Blueprint("api", __name__, url_prefix=PREFIX)
    for rule, endpoint, view, methods in ROUTES:
        bp.add_url_rule(rule, endpoint, view, methods=methods)
    bp.add_url_rule("/openapi.json", "openapi", openapi_json, methods=["GET"])

    @bp.errorhandler(HeaderedError)
    def _headered(exc: HeaderedError):
        return exc.response()

    @bp.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        # A read or write the database could not do: the client may retry, nothing was kept.
        get_session().rollback()
        log.warning("%s %s: database error %s", request.method, request.path,
                    type(exc.orig).__name__)
        return DatabaseUnavailable().response()

    @bp.after_request
    def _no_store(response):
        # Answers depend on the token; no shared cache may keep them.
        response.headers.setdefault("Cache-Control", "no-store")
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", 'Bearer realm="jejak"')
        return response

    return bp


def init_app(app: Flask) -> None:
    """Register the API blueprint, the app-wide error answers and the per-token rate limiter."""
    errors.init_app(app)
    # Counted in the database, so every instance shares one window per token.
    app.extensions["jejak.ratelimit"] = SharedWindowLimiter(
        lambda: app.extensions["jejak.db"].session(), "api", app.config["RATE_LIMIT_PER_MINUTE"])
    app.register_blueprint(make_blueprint())
