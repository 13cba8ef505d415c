"""Scan log: every scan in the region, filtered, newest first, keyset-paged (never OFFSET)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request, url_for
from sqlalchemy import select

from server.dashboard import queries
from server.dashboard.clock import typed
from server.dashboard.guard import current_principal, region_or_abort
from server.db import get_read_session, replica_read
from server.models import ACTIONS, Device, Location
from server.reports.scanlog import ScanFilter, scan_log_page

bp = Blueprint("scans", __name__, url_prefix="/scans")

FILTER_ARGS = ("region", "location", "device", "operator", "action", "since", "until", "anomaly")


def parse_time(raw: str, name: str) -> dt.datetime | None:
    """Return a date or datetime-local field, typed in the display zone, as naive UTC; 400 when unreadable."""
    raw = (raw or "").strip()
    if not raw:
        return None
    value = typed(raw)
    if value is None:
        abort(400, description=name)
    return value


def _whole(raw: str, name: str) -> int | None:
    """Return a whole number argument or None, 400 when it is not one."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        abort(400, description=name)
    return int(raw)


def filter_from_args(args) -> tuple[ScanFilter, dict]:
    """Build a ScanFilter from query arguments, checking every code against the user's region."""
    session = get_read_session()
    principal = current_principal()
    region = region_or_abort(args.get("region"))
    f = ScanFilter(region_path=region.path)
    shown = {"region": region}
    code = (args.get("location") or "").strip()
    if code:
        loc = session.scalar(select(Location).where(Location.code == code))
        if loc is None or not principal.covers(loc.path):
            abort(404)
        f.location_id = loc.id
        shown["location"] = loc
    device = _whole(args.get("device"), "device")
    if device is not None:
        f.device_id = device
        shown["device"] = session.get(Device, device)
    f.operator = (args.get("operator") or "").strip() or None
    action = (args.get("action") or "").strip() or None
    if action is not None and action not in ACTIONS:
        abort(400, description="action")
    f.action = action
    f.since = parse_time(args.get("since"), "since")
    f.until = parse_time(args.get("until"), "until")
    anomaly_id = _whole(args.get("anomaly"), "anomaly")
    if anomaly_id is not None:
        anomaly = queries.anomaly_in_region(session, anomaly_id, principal.region_path)
        if anomaly is None:
            abort(404)
        f.uuids = anomaly.evidence
        shown["anomaly"] = anomaly
    return f, shown


@bp.route("/")
@replica_read
def index():
    """Show a page of the scan log, newest first."""
    f, shown = filter_from_args(request.args)
    before = _whole(request.args.get("before"), "before")
    limit = current_app.config.get("PAGE_SIZE", 200)
    rows = scan_log_page(get_read_session(), f, before, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    args = {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}
    next_url = url_for("scans.index", **args, before=rows[-1][0]) if more else None
    base = url_for("scans.index")

    def refilter(**change) -> str:
        """Return this page's address with some filters changed (cheaper than url_for per row)."""
        return base + "?" + urlencode({**args, **change})

    return render_template("scans/index.html", rows=rows, args=args, shown=shown, refilter=refilter,
                           package_base=url_for("packages.find"),
                           actions=ACTIONS, next_url=next_url,
                           first_url=url_for("scans.index", **args) if before else None)
