"""Server speed on PostgreSQL: HTTP ingest in batches vs one scan per request, the ledger's share,
storage per scan, verify-log, and the page queries of one regency on a loaded province.

    .venv/bin/python benchmarks/server.py ingest --database-url postgresql+psycopg://postgres@127.0.0.1:5432/jejak_bench
    .venv/bin/python benchmarks/server.py queries --database-url postgresql+psycopg://postgres@127.0.0.1:5432/jatim

``ingest --pattern door`` posts instead one receipt at the regency warehouse per package, every
scan of a batch a different package (a truck unloaded at a warehouse door): the pattern users
have, where judging each package is all the work; ``--pattern route`` (the default) is the one
described next.  Issue 15's run (``make bench-server-door``)::

    .venv/bin/python benchmarks/server.py ingest --database-url postgresql+psycopg://postgres@127.0.0.1:5432/jejak_door \
        --pattern door --scans 20000 --baseline 1000 --inprocess 0 --heads 0 --workers 2 --clients 2

The labels are printed as a real print run makes them (``print-labels``, codes format, which
registers each label with its text MAC; ``--unregistered`` signs them apart instead, as labels
printed elsewhere and never imported), and region 35 has a schedule (regency deadline two days
after the scans, then a day a level), so judging looks its deadlines up as in an election.
``--py-spy FILE`` samples the gunicorn workers during the batches (the ``bench`` extra) and
prints the functions that hold the most samples.

``ingest`` (the database is created if absent and must hold no scans) loads a plan of
signed labels for regency 3513, starts gunicorn (``--workers``, default 4) and posts each
package's handoffs (regency receive/dispatch, district, village, TPS receipt) through HTTP
from ``--clients`` threads: first ``--scans`` scans in batches of ``--batch`` (500), then
``--baseline`` scans one per request (one commit each), and prints both rates and their
ratio, measured in the same run, with the server side's CPU seconds per 1,000 scans (gunicorn
master and workers plus their PostgreSQL backends, each part shown, from /proc: less sensitive
than wall time to a machine shared with others) and the client threads' own CPU.  Then, in-process: the share of ingest time spent in the
ledger (``append_scan_contents``), the bytes per scan of ``scan_events`` and ``ledger_entries`` with
their indexes, and the time of ``verify-log``; then ``--heads`` scans in-process in blocks
that alternate, batch by batch, signing the ledger head and not (its cost, in one run).

``queries`` runs on a province loaded by ``benchmarks/province.py --load`` (East Java: 1.69 M
packages, 8.4 M scans): with ``--sweep`` it first runs the missing sweep to the end (what
``jejak-server sweep`` does from cron) and times it; then for ``--regency`` (default 3513) it
times GET anomalies (first call, then warm calls), GET progress, and GET packages/<id> (chain of
custody) for random packages, through the app in-process (no HTTP: query time only).  It
writes an admin token and the sweep's anomalies into that database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from server import create_app
from server.db import Database  # noqa: E402
from server.models import ScanEvent  # noqa: E402
from tests.faults.harness import Served, ensure_database, make_world  # noqa: E402

ITEM_TYPES = ("SS-PPWP", "SS-DPR", "SS-DPD", "SS-DPRDP", "SS-DPRDK", "KOTAK", "BILIK")
START = dt.datetime(2024, 2, 5, 7, 0, tzinfo=dt.timezone.utc)


def door_scans(labels: dict[str, str]) -> list[dict]:
    """Return one receipt at the regency warehouse per package: the warehouse-door pattern.

    A truck of boxes is unloaded and each box scanned once, so every scan of a batch is a
    different package with no earlier scan - the pattern users have at a door, and the one
    where judging each package is all the work.
    """
    return [{"id": str(uuid.uuid4()), "code": code, "location": "3513", "action": "receive",
             "offline": False, "operator": "bench",
             "scanned_at": (START + dt.timedelta(milliseconds=n)).isoformat()}
            for n, (_pid, code) in enumerate(sorted(labels.items()))]


def schedule(app) -> None:
    """Schedule the deadlines of region 35 after the scans: regency +2 days, then a day a level.

    Every receipt is on time, and each judgement looks its deadlines up as in an
    election (without a schedule the deadline rules have nothing to do).
    """
    from server.ledger.chain import append_records
    from server.ledger.records import DEADLINES
    from server.models import Deadline, Location

    db = app.extensions["jejak.db"]
    with db.session() as s:
        region = s.scalar(select(Location.id).where(Location.code == "35"))
        rows = [Deadline(region_id=region, level=level, deadline=START + dt.timedelta(days=2 + i))
                for i, level in enumerate(("regency", "district", "village", "tps"))]
        s.add_all(rows)
        s.flush()
        append_records(s, DEADLINES, Deadline.id.in_([d.id for d in rows]))
        s.commit()


def route_scans(labels: dict[str, str]) -> list[dict]:
    """Return every package's handoffs down its route, in device-time order, as the API takes them."""
    steps = [(lambda c: "3513", "receive"), (lambda c: "3513", "dispatch"),
             (lambda c: c[:6], "receive"), (lambda c: c[:6], "dispatch"),
             (lambda c: c[:10], "receive"), (lambda c: c[:10], "dispatch"), (lambda c: c, "receive")]
    scans = []
    for step, (place, action) in enumerate(steps):
        at = START + dt.timedelta(hours=12 * step)
        for n, (pid, code) in enumerate(sorted(labels.items())):
            destination = pid[:13]
            scans.append({"id": str(uuid.uuid4()), "code": code, "location": place(destination),
                          "action": action, "offline": False, "operator": "bench",
                          "scanned_at": (at + dt.timedelta(milliseconds=n)).isoformat()})
    return scans


def _cpu_seconds(pid: int) -> float | None:
    """Return a process's user + system CPU seconds (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pids(session_id: int, database_url: str) -> tuple[list[int], list[int]]:
    """Return the gunicorn processes (master and workers) and the PostgreSQL backends serving them."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) == session_id:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    db = Database(database_url)
    with db.engine.connect() as conn:
        backends = list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND pid <> pg_backend_pid()")))
    db.dispose()
    return pids, backends


class ServerCpu:
    """CPU seconds spent by the server side (gunicorn and its PostgreSQL backends) over a phase."""

    def __init__(self, session_id: int, database_url: str):
        """Remember whose CPU to count, and read the counters now."""
        self.session_id, self.url = session_id, database_url
        self.start = self._read()

    def _read(self) -> dict[int, tuple[bool, float]]:
        """Return {pid: (a PostgreSQL backend?, CPU seconds)} of the server's processes now."""
        gunicorn, backends = server_pids(self.session_id, self.url)
        return {pid: (pid in backends, cpu) for pid in gunicorn + backends
                if (cpu := _cpu_seconds(pid)) is not None}

    def split(self) -> tuple[float, float]:
        """Return the CPU seconds (gunicorn, PostgreSQL backends) since start (newborns in full)."""
        now = self._read()
        spent = [0.0, 0.0]
        for pid, (backend, cpu) in now.items():
            spent[backend] += cpu - self.start.get(pid, (backend, 0.0))[1]
        return spent[0], spent[1]

    def spent(self) -> float:
        """Return the CPU seconds spent since start (processes born since count in full)."""
        return sum(self.split())


def start_py_spy(out: str | None, master: int):
    """Start sampling the gunicorn workers with py-spy (collapsed stacks into out); None if not asked."""
    if not out:
        return None
    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses",
                            "--nonblocking", "--format", "raw", "--rate", "250", "--pid", str(master),
                            "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the first batch
    return spy


def stop_py_spy(spy, out: str | None) -> None:
    """Stop py-spy and print the project's functions holding the most samples (total and self)."""
    if spy is None:
        return
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in Path(out).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = []
        for frame in stack.split(";")[1:]:  # the first is the process
            name, _, where = frame.partition(" (")
            path = where.rsplit(":", 1)[0]
            frames.append(f"{name} ({path.split('site-packages/')[-1].replace(str(ROOT) + '/', '')})")
        samples += int(count)
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + int(count)
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + int(count)
    print(f"py-spy: {samples} samples of the workers in {out} (collapsed stacks; flamegraph.pl draws them)")
    ours = {f: n for f, n in total.items() if f.split("(")[-1].startswith(("server/", "labels/"))}
    for name, table in (("total, the project's functions", ours), ("self", own)):
        top = sorted(table.items(), key=lambda kv: -kv[1])[:30]
        print(f"  by {name}:\n" + "\n".join(f"    {100 * n / samples:5.1f}% {f}" for f, n in top))


def post_all(url: str, token: str, bodies: list[list[dict]], clients: int) -> float:
    """POST every batch from `clients` threads; return the wall time. Any non-200 aborts."""
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    errors: list[str] = []

    def client():
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
            while not errors:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                r = http.post("/api/v1/scans", json={"scans": body})
                if r.status_code != 200:
                    errors.append(f"{r.status_code}: {r.text[:300]}")
                    return
                bad = [x for x in r.json()["results"] if x["status"] != "recorded"]
                if bad:
                    errors.append(f"not recorded: {bad[:2]}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"ingest failed: {errors[0]}")
    return time.perf_counter() - started


def ledger_share(app, token_scans: list[dict], batch: int) -> tuple[float, float]:
    """Ingest some batches in-process; return (total seconds, seconds inside the ledger append)."""
    from server.access import principal_for_token
    from server.ingest import batch as ingest_module
    from server.ingest.batch import ingest_batch

    db = app.extensions["jejak.db"]
    spent = [0.0]
    real = ingest_module.append_scan_contents  # what ingest calls, by that name

    def timed(session, rows):
        t = time.perf_counter()
        real(session, rows)
        spent[0] += time.perf_counter() - t

    token, scans = token_scans
    ingest_module.append_scan_contents = timed
    try:
        started = time.perf_counter()
        with app.app_context():
            for i in range(0, len(scans), batch):
                with db.session() as s:
                    principal = principal_for_token(s, token)
                    ingest_batch(s, scans[i:i + batch], principal)
                    s.commit()
        return time.perf_counter() - started, spent[0]
    finally:
        ingest_module.append_scan_contents = real


def head_cost(app, token_scans: list[dict], batch: int, warmup: int = 4) -> tuple[float, float]:
    """Ingest in-process with and without signing the head after each batch; return both rates.

    Batch by batch the two modes alternate in one run (after ``warmup`` batches not counted), so
    a machine shared with others, and a log and caches that grow, slow both alike.  Without:
    ``server.ledger.chain._sign_head`` is a no-op.
    """
    from server.access import principal_for_token
    from server.ingest.batch import ingest_batch
    from server.ledger import chain

    db = app.extensions["jejak.db"]
    token, scans = token_scans
    real = chain._sign_head
    spent = {True: 0.0, False: 0.0}
    counted = {True: 0, False: 0}
    bodies = [scans[i:i + batch] for i in range(0, len(scans), batch)]
    try:
        with app.app_context():
            for n, body in enumerate(bodies):
                signed = n % 2 == 0
                chain._sign_head = real if signed else (lambda *_args: None)
                t = time.perf_counter()
                with db.session() as s:
                    ingest_batch(s, body, principal_for_token(s, token))
                    s.commit()
                if n >= warmup:
                    spent[signed] += time.perf_counter() - t
                    counted[signed] += len(body)
    finally:
        chain._sign_head = real
    return counted[True] / spent[True], counted[False] / spent[False]


def sizes(db) -> dict[str, tuple[int, int]]:
    """Return {table: (rows, bytes with indexes and toast)} for the scan log and the ledger."""
    out = {}
    with db.engine.connect() as conn:
        for table in ("scan_events", "ledger_entries", "package_states", "anomalies"):
            rows = conn.scalar(text(f"SELECT count(*) FROM {table}"))
            # A partitioned table (scan_events, ledger_entries) holds nothing itself: sum
            # its partitions (a plain table has no partition tree: its own size).
            size = conn.scalar(text(f"SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) "
                                    f"FROM pg_partition_tree('{table}')), "
                                    f"pg_total_relation_size('{table}'))"))
            out[table] = (rows, int(size or 0))
    return out


def ingest_benchmark(args) -> int:
    """Measure HTTP ingest, the ledger's share, storage per scan and verify-log."""
    ensure_database(args.database_url)
    db = Database(args.database_url)
    db.upgrade()
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(ScanEvent)):
            raise SystemExit("the database already holds scans: give an empty one")
    db.dispose()
    instance = Path(tempfile.mkdtemp(prefix="jejak-bench-"))
    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(instance)})
    total = args.scans + args.baseline + args.inprocess + args.heads
    per_package = 1 if args.pattern == "door" else 7
    tps = max(1, -(-total // (per_package * len(ITEM_TYPES))) - 4)
    t = time.perf_counter()
    world = make_world(app, item_types=ITEM_TYPES, extra_tps=tps, printed=not args.unregistered)
    schedule(app)
    rng = random.Random(args.seed)
    if args.pattern == "door":
        # Every scan a different package, received once: batched, baseline and in-process
        # samples are disjoint sets of packages, so each measures the same work per scan.
        scans = door_scans(world.labels)
        rng.shuffle(scans)
        batched = scans[:args.scans]
        rest = scans[args.scans:]
    else:
        # Batched scans take the handoffs in device-time order; the baseline and the
        # in-process sample are fresh scans of the same kinds, taken from the end.
        scans = route_scans(world.labels)
        batched = scans[:args.scans]
        rest = scans[args.scans:]
        rng.shuffle(rest)
    single, inproc = rest[:args.baseline], rest[args.baseline:args.baseline + args.inprocess]
    heads = rest[args.baseline + args.inprocess:args.baseline + args.inprocess + args.heads]
    print(f"pattern {args.pattern}: {len(world.labels)} packages ({tps + 4} TPS x "
          f"{len(ITEM_TYPES)}), {len(scans)} scans generated in {time.perf_counter() - t:.0f} s; "
          f"gunicorn -w {args.workers}, {args.clients} client threads")
    served = Served(args.database_url, instance, workers=args.workers)
    served.start(world.token, timeout=120)
    try:
        bodies = [batched[i:i + args.batch] for i in range(0, len(batched), args.batch)]
        cpu = ServerCpu(served.proc.pid, args.database_url)
        client_cpu = time.process_time()
        spy = start_py_spy(args.py_spy, served.proc.pid)
        seconds = post_all(served.url, world.token, bodies, args.clients)
        stop_py_spy(spy, args.py_spy)
        client_cpu = 1000 * (time.process_time() - client_cpu) / len(batched)
        in_app, in_pg = (1000 * c / len(batched) for c in cpu.split())
        batch_cpu = in_app + in_pg
        batch_rate = len(batched) / seconds
        print(f"batches of {args.batch}: {len(batched)} scans in {seconds:.1f} s = {batch_rate:,.0f} scans/s; "
              f"server CPU {batch_cpu:.3f} s per 1,000 scans (gunicorn {in_app:.3f} + PostgreSQL backends "
              f"{in_pg:.3f}; {2000 / batch_cpu:,.0f} scans/s if 2 cores were ours alone); "
              f"client threads {client_cpu:.3f} s per 1,000")
        cpu = ServerCpu(served.proc.pid, args.database_url)
        seconds = post_all(served.url, world.token, [[s] for s in single], args.clients)
        single_cpu = 1000 * cpu.spent() / len(single)
        single_rate = len(single) / seconds
        print(f"one scan per request: {len(single)} scans in {seconds:.1f} s = {single_rate:,.0f} scans/s; "
              f"server CPU {single_cpu:.3f} s per 1,000 scans")
        print(f"ratio batched / single: {batch_rate / single_rate:.1f}x wall, "
              f"{single_cpu / batch_cpu:.1f}x server CPU per scan")
    finally:
        served.kill()
    if inproc:
        spent, in_ledger = ledger_share(app, (world.token, inproc), args.batch)
        print(f"in-process ingest of {len(inproc)} scans: {len(inproc) / spent:,.0f} scans/s, "
              f"ledger append_scan_contents {100 * in_ledger / spent:.1f}% of it "
              f"({1e6 * in_ledger / len(inproc):.0f} us a scan)")
    if heads:
        with_heads, without = head_cost(app, (world.token, heads), args.batch)
        print(f"signed heads: in-process ingest of {len(heads)} scans in batches of {args.batch}, "
              f"alternating batch by batch: {with_heads:,.0f} scans/s signing the head after every batch, "
              f"{without:,.0f} scans/s without; ratio {with_heads / without:.2f}")
    db = app.extensions["jejak.db"]
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE scan_events"))
        conn.execute(text("VACUUM ANALYZE ledger_entries"))
    for table, (rows, size) in sizes(db).items():
        print(f"{table}: {rows} rows, {size / 1e6:.1f} MB, {size / max(rows, 1):.0f} B a row with indexes")
    from server.ledger.verify import verify_database

    with db.session() as s:
        t = time.perf_counter()
        report = verify_database(s)
        seconds = time.perf_counter() - t
    print(f"verify-log: {report.entries} entries in {seconds:.1f} s = {report.entries / seconds:,.0f} "
          f"entries/s; {'verifies' if report.ok else 'FAILS: ' + str(report.problems[0])}")
    return 0 if report.ok else 1


def timed_get(client, path: str, token: str, repeat: int) -> list[float]:
    """GET a path `repeat` times; return the milliseconds of each call (fails on non-200)."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        out.append(1000 * (time.perf_counter() - t))
        if r.status_code != 200:
            raise SystemExit(f"GET {path}: {r.status_code} {r.get_data(as_text=True)[:300]}")
    return out


def queries_benchmark(args) -> int:
    """Time one regency's anomalies and progress, and packages' custody, on a loaded province."""
    from server.access import create_token
    from server.models import Location, Package

    instance = Path(tempfile.mkdtemp(prefix="jejak-bench-"))
    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(instance),
                      "RATE_LIMIT_PER_MINUTE": 0})
    db = app.extensions["jejak.db"]
    with db.session() as s:
        scans = s.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'scan_events'"))
        region = s.scalar(select(Location).where(Location.code == args.regency))
        if region is None:
            raise SystemExit(f"no location {args.regency!r}: load a province first (benchmarks/province.py --load)")
        packages = s.scalar(select(func.count()).select_from(Package))
        sample = list(s.scalars(select(Package.package_id).join(Location, Package.destination_id == Location.id)
                                .where(Location.path >= region.path, Location.path < region.path + "~")
                                .order_by(func.random()).limit(args.packages)))
        token = create_token(s, "admin", "35", name="benchmark")
        s.commit()
    print(f"{packages:,} packages, ~{scans:,} scans; regency {args.regency}")
    client = app.test_client()
    if args.sweep:
        from server.reconcile.sweep import sweep_all

        with db.session() as s:
            t, cpu = time.perf_counter(), time.process_time()
            judged = sweep_all(s)
            print(f"jejak-server sweep: {judged:,} packages judged in {time.perf_counter() - t:,.0f} s "
                  f"({time.process_time() - cpu:,.0f} s CPU in Python)")
    first = timed_get(client, f"/api/v1/anomalies?region={args.regency}", token, 1)[0]
    warm = timed_get(client, f"/api/v1/anomalies?region={args.regency}", token, args.repeat)
    print(f"anomalies?region={args.regency}: first call {first:,.0f} ms (a read sweeps only when at most "
          f"1,000 packages are due); then median {statistics.median(warm):.0f} ms, max {max(warm):.0f} ms")
    for kind in ("missing", "late"):
        ms = timed_get(client, f"/api/v1/anomalies?region={args.regency}&kind={kind}", token, args.repeat)
        print(f"anomalies?region={args.regency}&kind={kind}: median {statistics.median(ms):.0f} ms")
    ms = timed_get(client, f"/api/v1/progress?region={args.regency}", token, args.repeat)
    print(f"progress?region={args.regency}: median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms")
    ms = [timed_get(client, f"/api/v1/packages/{pid}", token, 1)[0] for pid in sample]
    print(f"packages/<id> (custody) x{len(ms)}: median {statistics.median(ms):.1f} ms, "
          f"p95 {sorted(ms)[int(0.95 * (len(ms) - 1))]:.1f} ms")
    return 0


def main(argv=None) -> int:
    """Parse the arguments and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("ingest", help="HTTP ingest, batched vs single, ledger share, storage, verify-log")
    p.add_argument("--database-url", required=True, help="PostgreSQL URL (created if absent, must hold no scans)")
    p.add_argument("--scans", type=int, default=50_000, help="scans posted in batches")
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--baseline", type=int, default=2_000, help="scans posted one per request")
    p.add_argument("--inprocess", type=int, default=10_000, help="scans ingested in-process to time the ledger")
    p.add_argument("--heads", type=int, default=20_000,
                   help="scans ingested in-process, alternating with and without signed heads")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--py-spy", metavar="FILE",
                   help="sample the gunicorn workers with py-spy during the batches (pip install py-spy, "
                        "or the 'bench' extra) into FILE, and print where their time goes")
    p.add_argument("--unregistered", action="store_true",
                   help="sign the labels apart instead of printing them with print-labels: the server "
                        "has not seen them, so it checks each signature (labels printed elsewhere and "
                        "never imported)")
    p.add_argument("--pattern", choices=("route", "door"), default="route",
                   help="route: each package's seven handoffs down its route (batches in device-time "
                        "order); door: every scan a different package received once at the regency "
                        "warehouse, as at a warehouse door (issue 15 measures it with --scans 20000 "
                        "--workers 2 --clients 2)")
    q = sub.add_parser("queries", help="one regency's anomalies, progress and custody on a loaded province")
    q.add_argument("--database-url", required=True)
    q.add_argument("--regency", default="3513")
    q.add_argument("--repeat", type=int, default=5)
    q.add_argument("--packages", type=int, default=50)
    q.add_argument("--sweep", action="store_true", help="run the missing sweep to the end first (jejak-server sweep)")
    args = parser.parse_args(argv)
    return ingest_benchmark(args) if args.what == "ingest" else queries_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
