"""The surat jalan's endpoints: record a closed shipment, read it, print it, record its receipt.

Views are thin: check the caller and the body, call ``server.shipments.records``,
commit, render.  Both writes are idempotent by the uuid the scanner chose when
it opened the list (offline too): a retried upload answers 200 with
``already_recorded`` and changes nothing; the same uuid with other content is
409.  Two uploads of one uuid racing each other: the loser's insert fails on the
unique uuid, it is rolled back and read again as ``already_recorded``.
"""

from __future__ import annotations

import io
import logging

from flask import current_app, jsonify, send_file
from flask_babel import force_locale, gettext

from server.access import READ_ROLES, SCAN_ROLES, require
from server.api.parsing import (
    authenticate,
    choice,
    commit_upload,
    json_object,
    query_args,
    to_json,
)
from server.db import get_session
from server.errors import ApiError
from server.reports.localtime import zone
from server.reports.surat_jalan import surat_jalan_pdf
from server.shipments.confirmations import (
    confirmation_dict,
    confirmations_dict,
    current_digest,
    record_confirmation,
)
from server.shipments.records import (
    ShipmentError,
    find_shipment,
    receipt_dict,
    record_receipt,
    record_shipment,
    shipment_dict,
)

log = logging.getLogger(__name__)

LANGUAGES = ("id", "en")


def _api_error(exc: ShipmentError) -> ApiError:
    """Return the API answer to a shipment the domain refused (400, 403, 404 or 409)."""
    codes = {400: "invalid_body", 403: "forbidden", 404: "not_found", 409: "conflict"}
    return ApiError(exc.status, str(exc), code=codes.get(exc.status))


def _readable(number: str):
    """Return the session and the shipment a reader of the region asks for (else its 4xx answer)."""
    principal = authenticate()
    require(principal, READ_ROLES, "read shipments")
    session = get_session()
    try:
        return session, find_shipment(session, principal, number)
    except ShipmentError as exc:
        raise _api_error(exc) from None


def _write(action):
    """Run a shipment write and commit it (a uuid raced in by another upload is read again)."""
    return commit_upload(action, ShipmentError, _api_error)


def post_shipment():
    """Record a closed shipment and answer its number, reference and surat jalan link."""
    principal = authenticate()
    require(principal, SCAN_ROLES, "record shipments")
    query_args(())
    body = json_object()
    shipment, created = _write(lambda s: record_shipment(s, principal, body))
    out = shipment_dict(get_session(), shipment)
    out["status"] = "recorded" if created else "already_recorded"
    out["surat_jalan"] = f"/api/v1/shipments/{shipment.number}/surat-jalan.pdf"
    return jsonify(to_json(out)), 201 if created else 200


def get_shipment(number: str):
    """Show a shipment, its koli and its receipt (404 unless it leaves or reaches your region)."""
    query_args(())
    session, shipment = _readable(number)
    out = shipment_dict(session, shipment)
    out["surat_jalan"] = f"/api/v1/shipments/{shipment.number}/surat-jalan.pdf"
    out["digest"] = current_digest(session, shipment).digest
    out["confirmations"] = confirmations_dict(session, shipment)
    return jsonify(to_json(out))


def get_digest(number: str):
    """Answer the shipment's current digest and the content it is the SHA-256 of (what a party signs)."""
    query_args(())
    session, shipment = _readable(number)
    now = current_digest(session, shipment)
    return jsonify({"shipment": shipment.number, "digest": now.digest,
                    "covers_receipt": now.covers_receipt, "content": now.content,
                    "message": f"jejak-confirm-v1:{shipment.number}:<party>:{now.digest}"})


def post_confirmation(number: str):
    """Record the giver's or the receiver's signed confirmation of a shipment's digest."""
    principal = authenticate()
    require(principal, SCAN_ROLES, "confirm handovers")
    query_args(())
    body = json_object()
    row, created = _write(lambda s: record_confirmation(s, principal, number, body))
    session = get_session()
    out = confirmation_dict(session, row.shipment, row)
    out["shipment"] = row.shipment.number
    out["status"] = "recorded" if created else "already_recorded"
    return jsonify(to_json(out)), 201 if created else 200


def surat_jalan(number: str):
    """Send a shipment's surat jalan as a PDF (``lang`` id or en; times in DISPLAY_TIMEZONE)."""
    args = query_args(("lang",))
    lang = choice(args, "lang", LANGUAGES) or "id"
    session, shipment = _readable(number)
    data = shipment_dict(session, shipment)
    data["from_name"], data["to_name"] = shipment.origin.name, shipment.destination.name
    out = io.BytesIO()
    with force_locale(lang):
        surat_jalan_pdf(data, out, translate=gettext,
                        tz=zone(current_app.config.get("DISPLAY_TIMEZONE")))
    out.seek(0)
    return send_file(out, mimetype="application/pdf", as_attachment=False,
                     download_name=f"surat-jalan-{shipment.number}.pdf")


def post_receipt(number: str):
    """Record a shipment's closed receipt; answer what it found short and extra, raised at once."""
    principal = authenticate()
    require(principal, SCAN_ROLES, "record receipts")
    query_args(())
    body = json_object()
    receipt, created, _raised = _write(lambda s: record_receipt(s, principal, number, body))
    session = get_session()
    out = receipt_dict(session, receipt.shipment, receipt)
    out["status"] = "recorded" if created else "already_recorded"
    return jsonify(to_json(out)), 201 if created else 200
