"""Anomalies: filter by kind, region and status; see the evidence; acknowledge or resolve."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from server.dashboard import domain, queries
from server.dashboard.clock import as_of
from server.dashboard.guard import current_principal, region_or_abort, require_resolver
from server.db import get_read_session, get_session, replica_read
from server.errors import DomainError
from server.models import ANOMALY_KINDS, ANOMALY_STATUSES, Location, Package
from server.photos.records import photos_of_scans
from server.reconcile.anomalies import (
    MAX_NOTE,
    RESOLVE_STATUSES,
    ResolveError,
    as_anomaly_dict,
    check_resolution,
)

bp = Blueprint("anomalies", __name__, url_prefix="/anomalies")



def _int_arg(name: str) -> int | None:
    """Return a whole-number query argument, 400 when it is not one."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400, description=name)
    return int(raw)


def decorate(session, items: list[dict]) -> None:
    """Attach location names, evidence scans and their photos to a page of anomalies."""
    codes = {a["location"] for a in items if a.get("location")}
    names = {}
    if codes:
        names = {loc.code: loc for loc in session.scalars(
            select(Location).where(Location.code.in_(codes)))}
    uuids = [u for a in items for u in (a.get("evidence") or [])]
    scans = queries.scans_by_uuid(session, uuids) if uuids else {}
    photos = photos_of_scans(session, uuids) if uuids else {}
    for a in items:
        a["where"] = names.get(a.get("location"))
        a["evidence_scans"] = [scans[u] for u in (a.get("evidence") or []) if u in scans]
        a["photos"] = [p for u in (a.get("evidence") or []) for p in photos.get(u, ())]


@bp.route("/")
@replica_read
def index():
    """List the anomalies of a region, a page at a time, with filters."""
    session = get_read_session()
    region = region_or_abort(request.args.get("region"))
    kind = request.args.get("kind") or None
    status = request.args.get("status", "open")
    if kind is not None and kind not in ANOMALY_KINDS:
        abort(400, description="kind")
    if status == "all":
        status = None
    elif status not in ANOMALY_STATUSES:
        abort(400, description="status")
    after = _int_arg("after")
    limit = current_app.config.get("PAGE_SIZE", 200)
    items, last_id = domain.list_anomalies(session, region, kind=kind, status=status,
                                           as_of=as_of(), after_id=after, limit=limit)
    items = [as_anomaly_dict(a) for a in items]
    decorate(session, items)
    args = {k: v for k, v in request.args.items() if k != "after"}
    next_url = url_for("anomalies.index", **args, after=last_id) if last_id is not None else None
    return render_template("anomalies/index.html", region=region, items=items, kind=kind,
                           status=status or "all", kinds=ANOMALY_KINDS, statuses=ANOMALY_STATUSES,
                           next_url=next_url, first_url=url_for("anomalies.index", **args)
                           if after else None)


@bp.route("/<row_id:anomaly_id>")
@replica_read
def show(anomaly_id: int):
    """Show one anomaly with its evidence scans and, for supervisors, the resolve form."""
    session = get_read_session()
    principal = current_principal()
    row = queries.anomaly_in_region(session, anomaly_id, principal.region_path)
    if row is None:
        abort(404)
    item = as_anomaly_dict(row)
    decorate(session, [item])
    package = session.get(Package, row.package_id) if row.package_id else None
    return render_template("anomalies/show.html", a=item, package=package)


@bp.route("/<row_id:anomaly_id>/resolve", methods=["POST"])
@require_resolver
def resolve(anomaly_id: int):
    """Acknowledge or resolve an anomaly with a note (supervisors and admins only)."""
    session = get_session()
    principal = current_principal()
    if queries.anomaly_in_region(session, anomaly_id, principal.region_path) is None:
        abort(404)
    note = request.form.get("note", "").strip()
    status = request.form.get("status", "resolved")
    if status not in RESOLVE_STATUSES:
        abort(400, description="status")
    try:
        check_resolution(note, status)
    except ResolveError:
        flash(_("Write a note (at most %(n)d characters) saying what was done.", n=MAX_NOTE), "error")
        return redirect(url_for("anomalies.show", anomaly_id=anomaly_id))
    try:
        domain.resolve(session, anomaly_id, principal, note, status=status)
        session.commit()
    except LookupError:
        session.rollback()
        abort(404)
    except PermissionError:
        session.rollback()
        abort(403)
    except DomainError as exc:
        session.rollback()
        flash(_("Not changed: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("anomalies.show", anomaly_id=anomaly_id))
    if status == "resolved":
        flash(_("Anomaly %(id)d resolved.", id=anomaly_id), "info")
    else:
        flash(_("Anomaly %(id)d acknowledged.", id=anomaly_id), "info")
    return redirect(url_for("anomalies.show", anomaly_id=anomaly_id))
