"""Rollups add up: on the demo region, a region's figures equal its children's plus its own office's.

The overview and /api/v1/progress show, for each child, the packages bound there and the open
anomalies where they happened (and, marked apart, those of packages bound there). Drilling into
a row must show the same totals: a problem counts at the same place at every level.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from server.models import Location
from server.reconcile.progress import progress
from tests.browser.live import load_demo_into

COUNTED = ("expected", "dispatched", "overdue")
BY_KIND = ("anomalies", "anomalies_bound_here")


def _figures(row: dict) -> dict:
    """Return the figures of one row, flat: {figure: number}."""
    out = {k: row[k] for k in COUNTED}
    out.update({f"received.{lv}": n for lv, n in row["received"].items()})
    for key in BY_KIND:
        out.update({f"{key}.{kind}": n for kind, n in row[key].items() if n})
    return out


def _sum(rows: list[dict]) -> dict:
    """Return the figure-by-figure sum of rows (zeros left out)."""
    total: Counter = Counter()
    for row in rows:
        total.update(_figures(row))
    return {k: n for k, n in total.items() if n}


def test_every_region_adds_up_to_its_children_at_every_level(app, session):
    load_demo_into(app, "small")
    regency = session.scalar(select(Location).where(Location.level == "regency"))
    checked = Counter()
    seen_kinds: set[str] = set()
    todo = [regency]
    while todo:
        region = todo.pop()
        report = progress(session, region)
        session.commit()
        for row in report["children"]:
            child = session.scalar(select(Location).where(Location.code == row["code"]))
            if child.level == "tps":
                continue
            inside = progress(session, child)
            session.commit()
            stated = {k: n for k, n in _figures(row).items() if n}
            assert _sum(inside["children"] + [inside["here"]]) == stated, child.code
            seen_kinds.update(row["anomalies"])
            checked[child.level] += 1
            todo.append(child)
    # The walk went through every level with rows, and the demo's problems were in them.
    assert checked["district"] >= 2 and checked["village"] >= 2
    assert {"misrouted", "wrong_dapil", "damaged", "cloned_label"} <= seen_kinds | set(
        progress(session, regency)["here"]["anomalies"])
