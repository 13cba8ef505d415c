"""Live: new scans and anomalies of the region appear without reloading (polling a small JSON feed)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, url_for

from server.dashboard import queries
from server.dashboard.formatting import (
    ACTION_NAMES,
    DISPOSITION_NAMES,
    KIND_NAMES,
    anomaly_text,
    when,
)
from server.dashboard.guard import region_or_abort
from server.db import get_read_session, replica_read
from server.reconcile.details import loads

bp = Blueprint("live", __name__, url_prefix="/live")


def _id_arg(name: str) -> int:
    """Return a non-negative id argument (0 when absent or unreadable)."""
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


@bp.route("/")
@replica_read
def index():
    """Show the live page; its script polls the feed."""
    region = region_or_abort(request.args.get("region"))
    after_scan, after_anomaly = queries.newest_ids(get_read_session(), region.path)
    # Start a little back so the page is not empty on arrival.
    return render_template("live/index.html", region=region,
                           after_scan=max(after_scan - 20, 0),
                           after_anomaly=max(after_anomaly - 20, 0))


@bp.route("/feed")
@replica_read
def feed():
    """Answer the scans and anomalies newer than the ids given, as JSON."""
    region = region_or_abort(request.args.get("region"))
    data = queries.live_feed(get_read_session(), region.path, _id_arg("after_scan"),
                             _id_arg("after_anomaly"))
    scans = [{"id": r[0], "when": when(r[1]), "action": str(ACTION_NAMES.get(r[2], r[2])),
              "bad": r[3] != "ok", "condition": str(DISPOSITION_NAMES.get(r[3], r[3])),
              "package": r[9] or r[4] or "?", "operator": r[5] or "", "offline": bool(r[6]),
              "location": f"{r[8]} ({r[7]})", "device": r[10] or "",
              "url": url_for("packages.show", package_id=r[9]) if r[9] else None}
             for r in data["scans"]]
    anomalies = [{"id": r[0], "kind": str(KIND_NAMES.get(r[1], r[1])), "when": when(r[2]),
                  "status": r[3], "package": r[8] or r[4] or "",
                  "detail": anomaly_text({"kind": r[1], "detail": r[5], "facts": loads(r[9])}),
                  "location": f"{r[7]} ({r[6]})",
                  "url": url_for("anomalies.show", anomaly_id=r[0])}
                 for r in data["anomalies"]]
    return jsonify({"scans": scans, "anomalies": anomalies,
                    "after_scan": scans[-1]["id"] if scans else _id_arg("after_scan"),
                    "after_anomaly": anomalies[-1]["id"] if anomalies else _id_arg("after_anomaly")})
