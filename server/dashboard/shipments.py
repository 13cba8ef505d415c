"""Shipments: the surat jalan of each shipment leaving or reaching the region, and its receipt."""

from __future__ import annotations

import io

from flask import Blueprint, abort, render_template, send_file
from flask_babel import gettext

from server.dashboard.clock import display_zone
from server.dashboard.guard import current_principal
from server.db import get_read_session, replica_read
from server.reports.surat_jalan import surat_jalan_pdf
from server.shipments.records import ShipmentError, find_shipment, list_shipments, shipment_dict

bp = Blueprint("shipments", __name__, url_prefix="/shipments")


@bp.route("/")
@replica_read
def index():
    """List the newest shipments leaving or reaching the user's region, with their receipts."""
    principal = current_principal()
    rows = list_shipments(get_read_session(), principal.region_path)
    return render_template("shipments/index.html", shipments=rows)


@bp.route("/<number>/surat-jalan.pdf")
@replica_read
def surat_jalan(number: str):
    """Send a shipment's surat jalan to print (404 unless it leaves or reaches the region)."""
    session = get_read_session()
    try:
        shipment = find_shipment(session, current_principal(), number)
    except ShipmentError:
        abort(404)
    data = shipment_dict(session, shipment)
    data["from_name"], data["to_name"] = shipment.origin.name, shipment.destination.name
    out = io.BytesIO()
    surat_jalan_pdf(data, out, translate=gettext, tz=display_zone())
    out.seek(0)
    return send_file(out, mimetype="application/pdf", as_attachment=False,
                     download_name=f"surat-jalan-{shipment.number}.pdf")
