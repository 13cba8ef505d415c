"""The maintained progress summary: each province's and regency's figures, and the national rollup.

A national rollup computed from the plan reads every package (15 million); the
summary keeps, per province and per regency, what ``progress`` says, refreshed
by ``jejak-server progress-summary --refresh`` (cron).  Each refresh computes a
province with the same ``progress`` a region's page calls, in one transaction,
so every row is exact as of its ``as_of`` (the rollup says which instant it is);
between refreshes it lags by the refresh interval.  Ingest does not touch it:
counters bumped by every batch would make each province's and regency's row a
hot spot every ingest transaction waits on, for a figure nobody reads to the
second.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.models import LEVELS, Location, ProgressSummary, utc_now
from server.reconcile.progress import progress

FIGURES = ("expected", "dispatched", "received_regency", "received_district", "received_village",
           "received_tps", "overdue", "anomalies")


def _row(location_id: int, level: str, path: str, figures: dict, as_of, now) -> dict:
    """Return a summary row from one child's (or ``here``'s) figures of ``progress``."""
    return {"location_id": location_id, "level": level, "path": path,
            "expected": figures["expected"], "dispatched": figures["dispatched"],
            **{f"received_{lv}": figures["received"][lv] for lv in LEVELS[1:]},
            "overdue": figures["overdue"], "anomalies": sum(figures["anomalies"].values()),
            "as_of": as_of, "refreshed_at": now}


def _add(total: dict, figures: dict) -> None:
    total["expected"] += figures["expected"]
    total["dispatched"] += figures["dispatched"]
    total["overdue"] += figures["overdue"]
    for lv in LEVELS[1:]:
        total["received"][lv] += figures["received"][lv]
    for kind, n in figures["anomalies"].items():
        total["anomalies"][kind] = total["anomalies"].get(kind, 0) + n


def refresh_province(session: Session, province: Location, as_of: dt.datetime | None = None) -> int:
    """Recompute one province's rows (itself and its regencies) as of now; return rows written."""
    now = utc_now()
    as_of = as_of or now
    figures = progress(session, province, as_of=as_of)
    children = {loc.code: loc for loc in session.scalars(
        select(Location).where(Location.parent_id == province.id))}
    # The province's own row: its office's figures plus every regency's.
    total = {**figures["here"], "received": dict(figures["here"]["received"]),
             "anomalies": dict(figures["here"]["anomalies"])}
    rows = []
    for child in figures["children"]:
        _add(total, child)
        loc = children[child["code"]]
        rows.append(_row(loc.id, loc.level, loc.path, child, as_of, now))
    rows.insert(0, _row(province.id, province.level, province.path, total, as_of, now))
    session.execute(delete(ProgressSummary).where(
        ProgressSummary.location_id.in_([r["location_id"] for r in rows])))
    session.execute(ProgressSummary.__table__.insert(), rows)
    return len(rows)


def refresh_all(session: Session, echo=None) -> int:
    """Refresh every province, committing after each; return the rows written."""
    written = 0
    for province in session.scalars(select(Location).where(Location.parent_id.is_(None))
                                    .order_by(Location.code)).all():
        written += refresh_province(session, province)
        session.commit()
        if echo:
            echo(f"{province.code} {province.name}: refreshed")
    return written


def national(session: Session) -> dict:
    """Return the national rollup: each province's summary row and their sum, with its instants."""
    rows = session.execute(
        select(Location.code, Location.name, *[getattr(ProgressSummary, f) for f in FIGURES],
               ProgressSummary.as_of)
        .join(Location, Location.id == ProgressSummary.location_id)
        .where(Location.parent_id.is_(None)).order_by(Location.code)).all()
    provinces = [{"code": r[0], "name": r[1], **dict(zip(FIGURES, r[2:-1])), "as_of": r[-1]}
                 for r in rows]
    total = {f: sum(p[f] for p in provinces) for f in FIGURES}
    oldest = session.scalar(select(func.min(ProgressSummary.as_of)))
    return {"provinces": provinces, "total": total, "oldest_as_of": oldest}
