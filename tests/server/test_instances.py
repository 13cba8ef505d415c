"""Several app instances behind pgbouncer in transaction pooling, on one PostgreSQL.

Two gunicorn instances (two workers each) reach the cluster pair's primary
(tests/clusters.py) through a pgbouncer started here (``pool_mode = transaction``):
the rate limit and the login throttle hold across all four processes, scans and
reads go through, and two ``jejak-server sweep`` started at once find each
missing package once.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import func, select, text

from server.access import create_token, create_user
from server.db import Database
from server.locks import WRITE_LOCK_KEY
from server.models import Anomaly, Package, ScanEvent
from tests.clusters import free_port, owner
from tests.factories import label_text, make_plan, make_region, make_schedule, trust_key

pytestmark = pytest.mark.xdist_group("clusters")

BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery"


class Bouncer:
    """A pgbouncer process in transaction pooling in front of one cluster."""

    def __init__(self, cluster, pool_size: int):
        if not shutil.which("pgbouncer"):
            raise RuntimeError("pgbouncer is missing: apt-get install pgbouncer (make test does)")
        self.root = Path(tempfile.mkdtemp(prefix="jejak-pgbouncer-"))
        self.port = free_port()
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.root / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={cluster.port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {pool_size}\n"
            "max_client_conn = 400\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n"
            f"pidfile = {self.root / 'pgbouncer.pid'}\n")
        user = owner()
        if user:
            shutil.chown(self.root, user=user, group=user)
            for path in self.root.iterdir():
                shutil.chown(path, user=user, group=user)
        # PgBouncer will not run as root: -u gives it the clusters' owner.
        self.process = subprocess.Popen(["pgbouncer", *(["-u", user] if user else []), str(ini)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 20
        while True:
            try:
                psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres", connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > end or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {self.log()}") from None
                time.sleep(0.1)

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of a database through pgbouncer."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        """Return pgbouncer's log."""
        path = self.root / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        """Stop pgbouncer and delete its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def bouncer(cluster_pair):
    """pgbouncer in transaction pooling before the pair's primary, eight server connections."""
    running = Bouncer(cluster_pair.primary, pool_size=8)
    yield running
    running.stop()


def test_psycopg_prepared_statements_break_transaction_pooling_unless_turned_off(
        cluster_pair, cluster_database):
    # One server connection for every client: what one instance prepared there, the other
    # meets (psycopg prepares a statement from its sixth run on a connection).
    narrow = Bouncer(cluster_pair.primary, pool_size=1)
    query = text("SELECT count(*) FROM packages WHERE id > :n")
    try:
        def interleave(pooling: bool) -> None:
            one, two = (Database(narrow.url(cluster_database), transaction_pooling=pooling)
                        for _ in range(2))
            try:
                with one.engine.connect() as a, two.engine.connect() as b:
                    for n in range(8):
                        for conn in (a, b):
                            assert conn.execute(query, {"n": n}).scalar() == 0
                            conn.commit()
            finally:
                one.dispose()
                two.dispose()

        with pytest.raises(Exception, match="prepared statement"):
            interleave(pooling=False)
        interleave(pooling=True)  # DATABASE_TRANSACTION_POOLING: nothing prepared, nothing breaks
    finally:
        narrow.stop()


def _plan(url: str, key) -> dict:
    """Load a region, its plan (every package's label), passed deadlines, users and tokens."""
    db = Database(url)
    try:
        with db.session() as session:
            region = make_region(session)
            plan = make_plan(session, region, item_types=("SS-PPWP", "SS-DPR", "SS-DPD",
                                                          "KOTAK", "BILIK", "TINTA"))
            make_schedule(session, region, dt.datetime(2024, 2, 1, 8, 0))
            trust_key(session, key)
            create_user(session, "sup", PASSWORD, "supervisor", "3513")
            tokens = {"admin": create_token(session, "admin", "35", name="gudang"),
                      "observer": create_token(session, "observer", "35", name="bawaslu")}
            labels = {pid: label_text(pkg, key) for pid, pkg in plan.items()}
            session.commit()
    finally:
        db.dispose()
    return {"labels": labels, "tokens": tokens}


class Instance:
    """One gunicorn instance of the app (two workers) on its own port."""

    def __init__(self, env: dict, name: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = Path(env["JEJAK_INSTANCE_PATH"]) / f"{name}.log"
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "server:create_app()"],
            env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def wait(self) -> None:
        """Wait until the instance answers."""
        end = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/api/v1/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > end or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn did not start: {self.log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the instance."""
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def instances(cluster_pair, cluster_database, bouncer, label_key, tmp_path):
    """Two gunicorn instances (two workers each) on one database, through pgbouncer."""
    world = _plan(cluster_pair.primary.url(cluster_database), label_key)
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {**os.environ,
           "JEJAK_DATABASE_URL": bouncer.url(cluster_database),
           "JEJAK_DATABASE_TRANSACTION_POOLING": "1",
           "JEJAK_SECRET_KEY": "one secret for every instance",
           "JEJAK_INSTANCE_PATH": str(instance),  # one ledger key for both, as docs/deploy.md says
           "JEJAK_RATE_LIMIT_PER_MINUTE": "40",
           "JEJAK_LOGIN_MAX_FAILURES": "3"}
    env.pop("JEJAK_READ_DATABASE_URL", None)
    running = [Instance(env, "a"), Instance(env, "b")]
    try:
        for one in running:
            one.wait()
        yield {"instances": running, "env": env, **world,
               "url": cluster_pair.primary.url(cluster_database)}
    finally:
        for one in running:
            one.stop()


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_two_instances_share_limits_take_scans_and_sweep_once(instances):
    a, b = instances["instances"]
    tokens, labels = instances["tokens"], instances["labels"]

    # The rate limit: 40 a minute for the token, whichever of the four workers counts it.
    answers = [httpx.get((a, b)[i % 2].base + "/api/v1/me", headers=_auth(tokens["observer"]),
                         timeout=30).status_code for i in range(50)]
    assert answers.count(200) == 40 and answers.count(429) == 10
    assert answers[:40] == [200] * 40

    # The login throttle: three wrong passwords spread over both instances, then even the
    # right one is refused - on either.
    def attempt(instance, password):
        with httpx.Client(base_url=instance.base, timeout=30) as web:
            form = web.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            return web.post("/login", data={"username": "sup", "password": password,
                                            "csrf_token": token}).status_code

    assert [attempt(x, "wrong") for x in (a, b, a)] == [401, 401, 401]
    assert attempt(b, PASSWORD) == 429 and attempt(a, PASSWORD) == 429

    # A real batch of scans: every package received at its regency,
    # posted from two clients at once, to both instances.
    at = "2024-01-30T08:00:00+00:00"
    scans = [{"id": f"00000000-0000-4000-8000-{i:012d}", "code": code, "location": pid[:4],
              "action": "receive", "scanned_at": at, "operator": "gudang"}
             for i, (pid, code) in enumerate(sorted(labels.items()))]
    halves = [scans[0::2], scans[1::2]]
    admin = _auth(tokens["admin"])
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        posted = list(pool.map(lambda pair: httpx.post(pair[0].base + "/api/v1/scans",
                                                       json={"scans": pair[1]}, headers=admin,
                                                       timeout=120),
                               zip((a, b), halves)))
    for rv in posted:
        assert rv.status_code == 200, rv.text
        assert {r["status"] for r in rv.json()["results"]} == {"recorded"}
    # The same batch again, to the other instance: nothing is recorded twice.
    again = httpx.post(b.base + "/api/v1/scans", json={"scans": halves[0]}, headers=admin,
                       timeout=120)
    assert {r["status"] for r in again.json()["results"]} == {"already_recorded"}

    # Two sweeps at once (cron on both instances): both wait for a writer holding the lock,
    # then run together. Each missing package is found once, and neither fails.
    db = Database(instances["url"])
    try:
        with db.engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
            sweeps = [subprocess.Popen([str(BIN / "jejak-server"), "sweep"], env=instances["env"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                      for _ in range(2)]
            end = time.monotonic() + 60
            while holder.execute(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )).scalar() < 2:
                assert time.monotonic() < end, "the sweeps never reached the write lock"
                time.sleep(0.1)
            holder.rollback()  # the lock goes: both sweeps go on
        outputs = [s.communicate(timeout=120)[0] for s in sweeps]
        assert [s.returncode for s in sweeps] == [0, 0], outputs
        with db.session() as session:
            packages = session.scalar(select(func.count()).select_from(Package))
            recorded = session.scalar(select(func.count()).select_from(ScanEvent))
            missing = session.execute(select(Anomaly.package_id, func.count())
                                      .where(Anomaly.kind == "missing")
                                      .group_by(Anomaly.package_id)).all()
    finally:
        db.dispose()
    assert recorded == len(scans)
    # Received at the regency, every package is missing at its district: once each.
    assert len(missing) == packages and {n for _pid, n in missing} == {1}

    # Reads through both instances agree with it.
    for instance in (a, b):
        rv = httpx.get(instance.base + "/api/v1/progress?region=3513", timeout=60,
                       headers=_auth(tokens["admin"]))
        assert rv.status_code == 200, rv.text
        assert "missing" in rv.text
