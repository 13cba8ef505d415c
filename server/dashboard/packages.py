"""Package: its chain of custody as a timeline, with its container, contents and anomalies."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from server.dashboard import domain, queries
from server.dashboard.guard import current_principal
from server.db import get_read_session, replica_read
from server.models import Anomaly, Location, Package
from server.photos.records import photos_of_scans

bp = Blueprint("packages", __name__, url_prefix="/packages")


def _text(value) -> str:
    """Return a code from either a plain value or a {"code": ...} dict."""
    if isinstance(value, dict):
        return value.get("code") or ""
    return value or ""


def timeline(entries: list[dict], names: dict[str, Location]) -> list[dict]:
    """Annotate custody entries with where they happened and from whom custody came."""
    out = []
    previous = None
    for entry in entries:
        item = dict(entry)
        where = item.get("location")
        code = _text(where)
        item["where"] = names.get(code)
        item["where_code"] = code
        # A cloned label's copy, scanned where the anomaly was found, is not the package:
        # nobody handed it over, and the next real receipt's custody does not come from it.
        item["suspect_copy"] = any(m["kind"] == "cloned_label" and m.get("location") == code
                           for m in item.get("anomalies") or ())
        # A receipt after a dispatch elsewhere is a handoff from that place and person.
        if previous is not None and not item["suspect_copy"] \
                and item.get("action") in ("receive", "handover") \
                and previous.get("where_code") != code:
            item["from"] = previous
        out.append(item)
        if not item["suspect_copy"]:
            previous = item
    return out


@bp.route("/")
def find():
    """Find a package by its id (typed or pasted from a label)."""
    package_id = (request.args.get("package_id") or "").strip()
    if package_id:
        return redirect(url_for("packages.show", package_id=package_id))
    return render_template("packages/find.html")


@bp.route("/<path:package_id>")
@replica_read
def show(package_id: str):
    """Show a package's chain of custody, oldest first (404 outside the user's region)."""
    session = get_read_session()
    principal = current_principal()
    if len(package_id) > 80:
        abort(404)
    pkg = session.scalar(select(Package).where(Package.package_id == package_id))
    if pkg is None or not queries.package_visible(pkg, principal.region_path):
        abort(404)
    result = domain.chain(session, package_id)
    if result is None:
        abort(404)
    entries = result.get("custody", [])
    codes = {_text(e.get("location")) for e in entries} | {pkg.destination.code}
    names = {loc.code: loc for loc in session.scalars(select(Location).where(Location.code.in_(codes)))}
    anomalies = session.scalars(select(Anomaly).where(Anomaly.package_id == pkg.id)
                                .order_by(Anomaly.detected_at, Anomaly.id)).all()
    info = result.get("package", {})
    contents = info.get("contents") or []
    photos = photos_of_scans(session, [e["scan_id"] for e in entries if e.get("scan_id")])
    return render_template("packages/show.html", pkg=pkg, info=info, contents=contents,
                           entries=timeline(entries, names), anomalies=anomalies,
                           container=pkg.container, photos=photos)
