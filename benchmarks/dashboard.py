"""Dashboard speed for a regency supervisor on a loaded province (PostgreSQL).

    .venv/bin/python benchmarks/province.py --out /tmp/jatim --scans --load postgresql+psycopg://postgres@127.0.0.1:5432/jatim
    .venv/bin/python benchmarks/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/jatim

Through the app in-process (Flask's test client: query and render time, no
network), logged in as a supervisor of ``--regency`` (default 3513; the user
``bench-supervisor`` is created if absent), it times every page the way a user
reaches it - overview of the regency, a district, a village, a TPS, anomalies,
an anomaly, scan log pages (first, halfway through the regency's log by keyset,
past its end, filtered), a package's custody, the live page and feed, the
exports and labels pages, the BAST form and PDF - and reports the median of
``--runs`` warm runs against the 500 ms target.  The first overview also runs
the missing sweep once (reported apart).

Then it streams the regency's whole scan log as CSV and reports rows per
second against the 50,000 rows/s target, the ratio to a bare server-side
cursor reading the same rows in the same run (the baseline), and how much
the process's peak memory grew while streaming (flat: it does not grow with
the row count).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from server import create_app  # noqa: E402
from server.reports.scanlog import ScanFilter, scan_log_rows  # noqa: E402

PASSWORD = "bench-password"
TARGET_MS = 500
TARGET_ROWS_S = 50_000


def log_in(client, username: str) -> None:
    """Log in through the form with its CSRF token."""
    client.get("/login")
    with client.session_transaction() as s:
        token = s["csrf_token"]
    rv = client.post("/login", data={"username": username, "password": PASSWORD,
                                     "csrf_token": token})
    if rv.status_code != 302:
        raise SystemExit(f"login as {username} failed ({rv.status_code})")


def ensure_user(app, regency: str) -> str:
    """Create the benchmark supervisor of the regency if absent; return its name."""
    from server.access import create_user
    from server.models import User

    name = f"bench-supervisor-{regency}"
    with app.extensions["jejak.db"].session() as s:
        if s.scalar(select(User).where(User.username == name)) is None:
            create_user(s, name, PASSWORD, "supervisor", regency)
            s.commit()
    return name


def pick(app, regency: str) -> dict:
    """Choose a district, village, TPS, package and busy location of the regency to visit."""
    from sqlalchemy import func

    from server.models import Anomaly, Location, Package, ScanEvent

    with app.extensions["jejak.db"].session() as s:
        reg = s.scalar(select(Location).where(Location.code == regency))
        district = s.scalar(select(Location).where(Location.parent_id == reg.id)
                            .order_by(Location.code).limit(1))
        village = s.scalar(select(Location).where(Location.parent_id == district.id)
                           .order_by(Location.code).limit(1))
        tps = s.scalar(select(Location).where(Location.parent_id == village.id)
                       .order_by(Location.code).limit(1))
        package = s.scalar(select(Package.package_id).where(Package.destination_id == tps.id)
                           .limit(1))
        anomaly = s.scalar(select(Anomaly.id).join(Location, Location.id == Anomaly.location_id)
                           .where(Location.path >= reg.path, Location.path < reg.path + "~")
                           .limit(1))
        newest = s.scalar(select(func.max(ScanEvent.id)))
        low, high = s.execute(select(func.min(ScanEvent.id), func.max(ScanEvent.id))
                              .join(Location, Location.id == ScanEvent.location_id)
                              .where(Location.path >= reg.path,
                                     Location.path < reg.path + "~")).one()
        newest_anomaly = s.scalar(select(func.max(Anomaly.id))) or 0
        operator = s.scalar(select(ScanEvent.operator).where(ScanEvent.location_id == district.id)
                            .limit(1)) or "x"
    return {"district": district.code, "village": village.code, "tps": tps.code,
            "package": package, "anomaly": anomaly, "deep": (low + high) // 2 if low else 1,
            "first": low or 1, "newest": newest or 0, "newest_anomaly": newest_anomaly,
            "operator": operator}


def timed(client, path: str) -> tuple[float, int]:
    """Return (milliseconds, status) of one GET, body read and closed."""
    start = time.perf_counter()
    rv = client.get(path)
    rv.get_data()
    rv.close()
    return (time.perf_counter() - start) * 1000, rv.status_code


def main(argv=None) -> int:
    """Time the pages and the CSV export; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--regency", default="3513")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args(argv)

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench",
                      "DASHBOARD_AS_OF": "2024-02-12T05:00:00"})
    user = ensure_user(app, args.regency)
    where = pick(app, args.regency)
    client = app.test_client()
    log_in(client, user)
    first, status = timed(client, "/")
    print(f"first overview (runs the missing sweep once): {first:.0f} ms ({status})")
    pages = [
        ("overview regency", "/"),
        ("overview district", f"/overview?region={where['district']}"),
        ("overview village", f"/overview?region={where['village']}"),
        ("overview TPS", f"/overview?region={where['tps']}"),
        ("anomalies (open)", "/anomalies/"),
        ("anomalies missing", "/anomalies/?kind=missing"),
        ("anomaly", f"/anomalies/{where['anomaly']}" if where["anomaly"] else "/anomalies/"),
        ("scan log first page", "/scans/"),
        ("scan log deep page", f"/scans/?before={where['deep']}"),
        ("scan log past its end", f"/scans/?before={where['first']}"),
        ("scan log by district", f"/scans/?region={where['district']}"),
        ("scan log by location", f"/scans/?location={where['district']}"),
        ("scan log by operator", f"/scans/?operator={where['operator']}&action=receive"),
        ("package custody", f"/packages/{where['package']}"),
        ("live page", "/live/"),
        ("live feed", f"/live/feed?region={args.regency}&after_scan={where['newest'] - 20}"
                      f"&after_anomaly={where['newest_anomaly'] - 20}"),
        ("exports page", "/reports/"),
        ("labels page", "/labels/"),
        ("BAST form", f"/reports/bast?to={where['district']}"),
        ("BAST PDF", f"/reports/bast.pdf?to={where['district']}"),
    ]
    print(f"{'page':24} {'median ms':>10} {'max ms':>8}  target {TARGET_MS} ms")
    slow = 0
    for name, path in pages:
        times = []
        for _ in range(args.runs):
            ms, status = timed(client, path)
            if status != 200:
                raise SystemExit(f"{path}: HTTP {status}")
            times.append(ms)
        median = statistics.median(times)
        slow += median > TARGET_MS
        print(f"{name:24} {median:10.0f} {max(times):8.0f}  {'ok' if median <= TARGET_MS else 'SLOW'}")
    if args.skip_export:
        return 0

    # The export first, so the process's peak memory before and after tells its own growth.
    from server.models import Location

    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    rv = client.get(f"/reports/scans.csv?region={args.regency}")
    size = rows = 0
    for chunk in rv.response:
        size += len(chunk)
        rows += chunk.count(b"\n")
    rv.close()
    export_s = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    # Baseline: the same rows through a bare server-side cursor, no CSV, no HTTP.
    with app.extensions["jejak.db"].session() as s:
        region = s.scalar(select(Location).where(Location.code == args.regency))
        start = time.perf_counter()
        base_rows = sum(1 for _ in scan_log_rows(s, ScanFilter(region_path=region.path)))
        base_s = time.perf_counter() - start
    rows -= 1  # the header
    rate = rows / export_s
    print(f"CSV export of {args.regency}: {rows:,} rows, {size / 1e6:.0f} MB in {export_s:.1f} s = "
          f"{rate:,.0f} rows/s (target {TARGET_ROWS_S:,}: {'ok' if rate >= TARGET_ROWS_S else 'SLOW'}); "
          f"peak memory grew {grown:.0f} MB while streaming {size / 1e6:.0f} MB")
    print(f"baseline bare cursor: {base_rows:,} rows in {base_s:.1f} s = {base_rows / base_s:,.0f} rows/s; "
          f"export / baseline = {rate / (base_rows / base_s):.2f}")
    return 1 if slow or rate < TARGET_ROWS_S else 0


if __name__ == "__main__":
    sys.exit(main())
