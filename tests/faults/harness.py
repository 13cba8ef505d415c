"""Machinery for fault runs: a real server in subprocesses, offline backlogs, a cuttable network.

Used by the fault tests (small, bounded) and by ``benchmarks/faults.py`` (100,000 scans).
The server is gunicorn running ``server:create_app()`` on a free port; scanners are
``jejak-scan sync`` subprocesses on an outbox file written beforehand, as a device that
worked offline would have it.  Nothing here reaches into either program: faults are
done to processes (SIGKILL), to the network (a TCP proxy that can be cut) and to the
database (its connections terminated).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, text
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url

from server.db import Database

BIN = Path(sys.executable).parent
# Route-wide places of regency 3513 in tests/factories.py, and the actions scanned there.
PLACES = ("3513", "351301", "3513010001", "3513010001001", "3513010001002", "3513010002",
          "3513010002001", "351302", "3513020001", "3513020001001")
ACTIONS = ("receive", "dispatch", "inspect")


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of url if it does not exist (tests and benchmarks share this)."""
    parsed = make_url(url)
    admin = Database(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}):
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class World:
    """What the server knows and what a scanner needs: labels, a token, the database."""

    app: object
    labels: dict[str, str]
    token: str


def make_world(app, item_types=("SS-DPR", "KOTAK", "SS-PPWP", "TINTA", "BILIK"), extra_tps: int = 0,
               printed: bool = False) -> World:
    """Load the test region, a plan of packages, a trusted label key and an operator token.

    ``extra_tps`` adds that many TPS (in villages of district 351302) to the plan, for
    backlogs big enough that each package is scanned a handful of times, not thousands.
    ``printed``: the labels come from ``print-labels`` (``server.labelling.printing``, codes
    format), which registers them as a real print run does; else they are signed apart.
    """
    from labels.keys import generate
    from server.ledger.chain import append_records
    from server.models import Location
    from server.ledger.records import LOCATIONS
    from tests.factories import REGION_ROWS, label_text, make_plan, make_region, token, trust_key

    key = generate()
    db = app.extensions["jejak.db"]
    with db.session() as s:
        region = make_region(s)
        for i in range(extra_tps):
            village_code = f"3513029{i // 500:03d}"
            if village_code not in region.locations:
                district = region["351302"]
                region.locations[village_code] = v = Location(
                    code=village_code, name=f"Desa {village_code}", level="village", parent_id=district.id,
                    path=Location.make_path(district, village_code))
                s.add(v)
                s.flush()
            village = region[village_code]
            code = f"{village_code}{i % 500 + 1:03d}"
            region.locations[code] = Location(code=code, name=f"TPS {code}", level="tps", parent_id=village.id,
                                              path=Location.make_path(village, code),
                                              dapil="DPR-JATIM-2;DPRDP-JATIM-11;DPRDK-3513-2")
            s.add(region.locations[code])
        s.flush()
        chained = {row[0] for row in REGION_ROWS}  # make_region chained its own
        append_records(s, LOCATIONS, Location.code.in_([c for c in region.locations if c not in chained]))
        plan = make_plan(s, region, tps_codes=region.tps_codes("3513"), item_types=item_types)
        trust_key(s, key)
        if not printed:
            labels = {pid: label_text(p, key) for pid, p in plan.items()}
        tok = token(s, "operator", "3513")
        s.commit()
    if printed:
        labels = _print_codes(app, key)
    return World(app, labels, tok)


def _print_codes(app, key) -> dict[str, str]:
    """Print the region's labels as ``jejak-server print-labels --format codes`` does; return them."""
    from server.labelling.printing import print_labels

    db = app.extensions["jejak.db"]
    with tempfile.TemporaryDirectory() as folder, db.session() as s:
        (path,) = print_labels(s, key, Path(folder) / "labels.jsonl", region="3513", fmt="codes")
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {line["package_id"]: line["code"] for line in lines}


def write_backlog(outbox_path, world: World, n: int, seed: int = 0, start: dt.datetime | None = None) -> list[str]:
    """Write n offline scans into an outbox file; return their uuids in scan order.

    Packages, places and actions cycle so that (package, place, action) repeats: the
    repeats are duplicate_scan evidence, recorded but not counted.
    """
    from scanner.outbox import Outbox

    rng = random.Random(seed)
    start = start or dt.datetime(2024, 2, 10, 8, 0, tzinfo=dt.timezone.utc)
    packages = sorted(world.labels)
    outbox = Outbox(outbox_path)
    outbox._db.execute("PRAGMA synchronous = OFF")  # a test fixture, not a device: speed over fsync
    uuids = []
    try:
        for i in range(n):
            pid = packages[rng.randrange(len(packages))]
            stored = outbox.add(code=world.labels[pid], package_id=pid, location=rng.choice(PLACES),
                                action=rng.choice(ACTIONS), offline=True, signal="accepted", disposition="ok",
                                scanned_at=(start + dt.timedelta(seconds=i)).isoformat(timespec="milliseconds"))
            uuids.append(stored.uuid)
    finally:
        outbox.close()
    return uuids


class Served:
    """A Jejak server under gunicorn on a free port, on a given database; killable."""

    def __init__(self, database_url: str, instance: Path, workers: int = 2, port: int | None = None,
                 log: Path | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log = log or instance / f"gunicorn-{self.port}.log"
        self.env = dict(os.environ, JEJAK_DATABASE_URL=database_url, JEJAK_INSTANCE_PATH=str(instance),
                        JEJAK_SECRET_KEY="fault-run", JEJAK_RATE_LIMIT_PER_MINUTE="0")
        self.proc: subprocess.Popen | None = None

    def start(self, token: str, timeout: float = 60.0) -> None:
        """Start gunicorn and wait until the API answers."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                 "--graceful-timeout", "2", "--timeout", "60", "server:create_app()"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                r = httpx.get(self.url + "/api/v1/keys", headers={"Authorization": f"Bearer {token}"}, timeout=2)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not answer within {timeout} s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the master and every worker, mid-request or not."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None


def sync(url: str, token: str, outbox, timeout: float = 60.0, retries: int = 1) -> subprocess.Popen:
    """Start ``jejak-scan sync`` on an outbox (output appended to OUTBOX.log); return the process."""
    with open(f"{outbox}.log", "ab") as log:
        return subprocess.Popen([str(BIN / "jejak-scan"), "sync", "--server", url, "--token", token,
                                 "--outbox", str(outbox), "--retries", str(retries)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def sync_until_done(url: str, token: str, outbox, deadline: float, disturb=None) -> int:
    """Run sync again and again until one run exits 0; call disturb(proc) during each run.

    Returns the number of runs.  Fails (AssertionError) past the monotonic deadline.
    """
    runs = 0
    while True:
        if time.monotonic() >= deadline:
            tail = Path(f"{outbox}.log").read_text(errors="replace")[-1500:]
            raise AssertionError(f"backlog not delivered in time after {runs} sync runs:\n{tail}")
        proc = sync(url, token, outbox)
        runs += 1
        if disturb is not None:
            disturb(proc)
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.returncode == 0:
            return runs


def pending(outbox) -> int:
    """Return how many scans of an outbox are still pending."""
    from scanner.outbox import Outbox

    box = Outbox(outbox)
    try:
        return box.counts()["pending"]
    finally:
        box.close()


@dataclass
class Tally:
    """What the server holds of a backlog."""

    recorded: int
    missing: list[str]
    doubled: list[str]
    foreign: int
    counted: int
    distinct_handoffs: int


def tally(db, uuids: list[str]) -> Tally:
    """Count the backlog's scans on the server: missing, doubled, and counted handoffs."""
    from server.models import ScanEvent

    with db.session() as s:
        per_uuid = Counter(dict(s.execute(sql_select(ScanEvent.uuid, func.count())
                                          .group_by(ScanEvent.uuid)).all()))
        counted = s.scalar(sql_select(func.count()).select_from(ScanEvent).where(ScanEvent.counted.is_(True)))
        handoffs = s.scalar(sql_select(func.count()).select_from(
            sql_select(ScanEvent.package_id, ScanEvent.location_id, ScanEvent.action)
            .where(ScanEvent.package_id.is_not(None)).distinct().subquery()))
    wanted = set(uuids)
    return Tally(recorded=sum(per_uuid[u] for u in wanted),
                 missing=[u for u in uuids if per_uuid[u] == 0],
                 doubled=[u for u, c in per_uuid.items() if c > 1],
                 foreign=sum(c for u, c in per_uuid.items() if u not in wanted),
                 counted=counted, distinct_handoffs=handoffs)


def assert_exactly_once(db, uuids: list[str]) -> Tally:
    """Fail unless every scan is on the server exactly once and each handoff counted once."""
    t = tally(db, uuids)
    assert t.missing == [], f"{len(t.missing)} scans lost, e.g. {t.missing[:3]}"
    assert t.doubled == [], f"{len(t.doubled)} scans stored twice, e.g. {t.doubled[:3]}"
    assert t.foreign == 0, f"{t.foreign} scans on the server that no scanner sent"
    assert t.recorded == len(uuids)
    assert t.counted == t.distinct_handoffs, (f"{t.counted} counted scans for {t.distinct_handoffs} "
                                              "distinct (package, place, action) handoffs")
    return t


def verify_log(app) -> tuple[int, str]:
    """Run ``jejak-server verify-log`` on the app's database; return (exit code, output)."""
    if "verify-log" not in app.cli.commands:
        from server.cli import ledger as ledger_cli

        ledger_cli.init_app(app)
    result = app.test_cli_runner().invoke(args=["verify-log"])
    return result.exit_code, result.output


class CuttableProxy:
    """A TCP proxy in a thread between a client and a server; cut() drops every connection
    and refuses new ones until restore()."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.up = threading.Event()
        self.up.set()
        self.stopping = False
        self.conns: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.cuts = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            ready, _, _ = select.select([self.listener], [], [], 0.1)
            if not ready:
                continue
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            if not self.up.is_set():
                _reset(client)  # network down: the connection fails at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self.lock:
                self.conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.2)
                if not self.up.is_set() or self.stopping:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns.discard(a)
                self.conns.discard(b)
            _reset(a)
            _reset(b)

    def cut(self) -> None:
        """Drop the network: break every open connection, refuse new ones."""
        self.cuts += 1
        self.up.clear()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            # shutdown wakes the pipe thread, which closes (resets) its own sockets: closing
            # them here could hand their descriptor numbers to new connections under its feet.
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        """Bring the network back."""
        self.up.set()

    def close(self) -> None:
        """Stop the proxy."""
        self.stopping = True
        self.up.clear()
        self.thread.join(timeout=2)
        self.listener.close()


def _reset(sock: socket.socket) -> None:
    """Close a socket with a TCP reset, as a dropped link looks to the peer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    except OSError:
        pass
