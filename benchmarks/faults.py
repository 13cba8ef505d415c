"""100,000 scans through the fault scenarios: 0 lost, 0 double-counted, the log verifies.

    .venv/bin/python benchmarks/faults.py                       # temp SQLite, 100,000 scans
    .venv/bin/python benchmarks/faults.py --scans 10000         # quicker
    .venv/bin/python benchmarks/faults.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/jejak_faults

The scans are split evenly over the five scenarios of tests/faults/scenarios.py
(scanner SIGKILLed, server SIGKILLed mid-batch, network cut, one backlog from three
scanners, database connections terminated / write-locked), run one after another on one
database behind one gunicorn server (2 workers), with about one fault per 2,000 scans.
After each scenario, and at the end over everything: every scan on the server exactly
once, each (package, place, action) handoff counted once, ``verify-log`` passes.

A PostgreSQL database given with --database-url must be empty or absent: the script
creates it (never drops anything).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from server import create_app  # noqa: E402
from server.db import Database  # noqa: E402
from server.models import ScanEvent  # noqa: E402
from tests.faults.harness import Served, ensure_database, make_world, pending, tally, verify_log  # noqa: E402
from tests.faults.scenarios import SCENARIOS, Stage  # noqa: E402


def prepare_database(url: str | None, workdir: Path) -> str:
    """Return a URL of an empty, migrated database (temp SQLite when url is None)."""
    if url is None:
        url = f"sqlite:///{workdir / 'jejak.sqlite3'}"
    elif url.startswith("postgresql"):
        ensure_database(url)
    db = Database(url)
    db.upgrade()
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(ScanEvent)):
            sys.exit(f"{make_url(url).render_as_string()} already holds scans: give an empty database")
    db.dispose()
    return url


def main(argv=None) -> int:
    """Run the scenarios and print one line per scenario and a total."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=100_000, help="total scans (split over the scenarios)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: temp SQLite)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only these")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    names = args.only or list(SCENARIOS)
    per = args.scans // len(names)
    workdir = Path(tempfile.mkdtemp(prefix="jejak-faults-"))
    url = prepare_database(args.database_url, workdir)
    instance = workdir / "instance"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(instance)})
    db = app.extensions["jejak.db"]
    # About five scans a package, as at a real handoff chain (not thousands on a few packages).
    world = make_world(app, extra_tps=max(0, args.scans // 25 - 4))
    served = Served(url, instance, workers=args.workers)
    served.start(world.token, timeout=120)
    stage = Stage(world, served, db, workdir, url, budget=max(120.0, per / 50))
    print(f"{args.scans} scans over {len(names)} scenarios on {db.engine.dialect.name}, "
          f"gunicorn -w {args.workers}, work folder {workdir}")
    print(f"{'scenario':34} {'scans':>7} {'faults':>6} {'runs':>5} {'s':>7} {'scans/s':>8}  lost doubled")
    all_uuids: list[str] = []
    failed = False
    started = time.monotonic()
    try:
        for k, name in enumerate(names):
            max_faults = max(1, per // 2000)
            kwargs = {} if name == "same-backlog" else {"max_faults": max_faults}
            out = SCENARIOS[name](stage, per, args.seed + k, **kwargs)
            all_uuids += out.uuids
            t = tally(db, all_uuids)
            left = sum(pending(box) for box in out.outboxes)
            bad = t.missing or t.doubled or t.foreign or left or t.counted != t.distinct_handoffs
            failed |= bool(bad)
            print(f"{out.name:34} {len(out.uuids):>7} {len(out.faults):>6} {out.runs:>5} "
                  f"{out.seconds:>7.1f} {len(out.uuids) / out.seconds:>8.0f}  {len(t.missing):>4} "
                  f"{len(t.doubled):>7}{'  FAILED' if bad else ''}", flush=True)
    finally:
        served.kill()
    total = time.monotonic() - started
    t = tally(db, all_uuids)
    check_started = time.monotonic()
    code, output = verify_log(app)
    check_seconds = time.monotonic() - check_started
    print(f"total: {t.recorded} of {len(all_uuids)} scans recorded, {len(t.missing)} lost, "
          f"{len(t.doubled)} stored twice, {t.counted} counted for {t.distinct_handoffs} handoffs; "
          f"{total:.0f} s")
    print(f"verify-log ({check_seconds:.1f} s): {output.strip().splitlines()[-1]}")
    return 1 if failed or code != 0 or t.missing or t.doubled else 0


if __name__ == "__main__":
    sys.exit(main())
