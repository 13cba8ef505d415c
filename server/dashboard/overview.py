"""Overview: progress of the user's region, child by child, drilling down to the TPS."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from server.dashboard import domain, queries
from server.dashboard.clock import as_of
from server.dashboard.formatting import TEPAT
from server.dashboard.guard import current_principal, region_or_abort
from server.db import get_read_session, replica_read

bp = Blueprint("overview", __name__)

LEVELS_RECEIVED = ("regency", "district", "village", "tps")


# The way back, in the order the boxes travel it.
BACK_LEVELS_SHOWN = ("village", "district", "regency")


def tepat_of(row: dict) -> list[dict]:
    """Judge the six tepat of one child region from its open anomalies by kind."""
    kinds = row.get("anomalies") or {}
    out = []
    for key, label, short, breaking in TEPAT:
        if not breaking:
            out.append({"key": key, "label": label, "short": short, "state": "na", "count": 0,
                        "kind": None})
            continue
        counts = {k: kinds.get(k, 0) for k in breaking}
        if key == "waktu":
            counts["overdue"] = row.get("overdue", 0) or 0
        total = sum(counts.values())
        first = next((k for k in breaking if counts.get(k)), None)
        out.append({"key": key, "label": label, "short": short, "state": "bad" if total else "ok",
                    "count": total, "kind": first})
    return out


@bp.route("/")
@bp.route("/overview")
@replica_read
def index():
    """Show the progress of a region (default: the user's) per child region."""
    session = get_read_session()
    principal = current_principal()
    region = region_or_abort(request.args.get("region"))
    crumbs = queries.breadcrumbs(session, region, principal.region_path)
    if region.level == "tps":
        return render_template("overview/tps.html", region=region, crumbs=crumbs,
                               packages=queries.tps_packages(session, region))
    report = domain.progress(session, region, as_of=as_of())
    rows = report.get("children", [])
    here = report.get("here")
    # The region's own office is a row when anything is bound for it or happened there, so
    # the rows add up to the region's row one level up (docs/dashboard.md).
    if here and (here["expected"] or any(here["anomalies"].values())
                 or any(here["anomalies_bound_here"].values())):
        here["office"] = True
        rows = rows + [here]
    for row in rows:
        row["tepat"] = tepat_of(row)
        row["open_total"] = sum((row.get("anomalies") or {}).values())
        row["bound_total"] = sum((row.get("anomalies_bound_here") or {}).values())
    totals = {
        "expected": sum(r.get("expected", 0) or 0 for r in rows),
        "dispatched": sum(r.get("dispatched", 0) or 0 for r in rows),
        "received_tps": sum((r.get("received") or {}).get("tps", 0) or 0 for r in rows),
        "open": sum(r["open_total"] for r in rows),
        "overdue": sum(r.get("overdue", 0) or 0 for r in rows),
        "counted": {key: sum((r.get("counted") or {}).get(key, 0) for r in rows)
                    for key in ("packages", "labelled", "units", "damaged")},
    }
    back = domain.return_progress(session, region, as_of=as_of())["children"]
    return render_template("overview/index.html", region=region, crumbs=crumbs, rows=rows,
                           totals=totals, levels=LEVELS_RECEIVED,
                           back=back if any(b["returned"] for b in back) else [],
                           back_levels=BACK_LEVELS_SHOWN)
