"""Throwaway PostgreSQL clusters for the replica and several-instance tests.

``ClusterPair`` makes a primary and a streaming replica of it with Debian's
``pg_createcluster``/``pg_ctlcluster`` and ``pg_basebackup``, on free ports, in a
temporary folder of their own: their configuration too (``PG_CLUSTER_CONF_ROOT``),
so the machine's clusters and ``/etc/postgresql`` are never touched, and the
primary's ``pg_hba.conf`` can allow replication connections (trust, 127.0.0.1
only) without changing the machine's.  The same clusters serve the SQLite and the
PostgreSQL pass of ``make test``: these tests do not use ``JEJAK_TEST_DATABASE_URL``.

As root (CI) the clusters belong to ``postgres``; otherwise to the user running
the tests.  A run killed midway leaves its clusters running: the next run stops
them and deletes their folder (``reap_stale``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PREFIX = "jejak-clusters-"
HBA = """\
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
"""


def pg_version() -> str:
    """Return the newest installed PostgreSQL major version (Debian's /usr/lib/postgresql/<v>)."""
    root = Path("/usr/lib/postgresql")
    versions = sorted((p.name for p in root.iterdir() if (p / "bin" / "postgres").exists()),
                      key=int) if root.exists() else []
    if not versions or not shutil.which("pg_createcluster"):
        raise RuntimeError("PostgreSQL server packages are missing: apt-get install postgresql "
                           "(postgresql-common gives pg_createcluster)")
    return versions[-1]


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def owner() -> str | None:
    """Return the user the clusters run as: postgres for root (PostgreSQL refuses root)."""
    return "postgres" if os.geteuid() == 0 else None


def as_owner(args: list[str]) -> list[str]:
    """Return a command run as the clusters' owner."""
    user = owner()
    return ["runuser", "-u", user, "--", *args] if user else args


def run(args: list[str], env: dict | None = None, timeout: float = 120) -> str:
    """Run a command; raise with its output when it fails."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return done.stdout


def reap_stale() -> None:
    """Stop and delete the clusters of earlier runs whose process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            pid = int(folder.name[len(PREFIX):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and _alive(pid):
            continue
        env = {**os.environ, "PG_CLUSTER_CONF_ROOT": str(folder / "etc")}
        for conf in (folder / "etc").glob("*/*"):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", conf.parent.name,
                            conf.name, "stop", "-m", "immediate"], env=env,
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Cluster:
    """One cluster of the pair: its name, port and folders."""

    def __init__(self, pair: ClusterPair, name: str):
        self.pair = pair
        self.name = name
        self.port = free_port()
        self.data = pair.root / name

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of a database of this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs) -> psycopg.Connection:
        """Return an autocommit psycopg connection to a database of this cluster."""
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname=database, autocommit=True, **kwargs)

    def create(self) -> None:
        """pg_createcluster with trust for local and 127.0.0.1 connections, replication included."""
        p = self.pair
        settings = {"listen_addresses": "'127.0.0.1'", "unix_socket_directories": f"'{p.root}'",
                    "max_wal_senders": "5", "wal_level": "replica", "hot_standby": "on",
                    "fsync": "off", "shared_buffers": "16MB", "max_connections": "60"}
        args = ["pg_createcluster", p.version, self.name, "-p", str(self.port),
                "-d", str(self.data), "-l", str(p.root / f"{self.name}.log"),
                "--start-conf", "manual"]
        if owner():
            args += ["-u", owner()]
        run(args, env=p.env)
        conf = p.root / "etc" / p.version / self.name
        (conf / "pg_hba.conf").write_text(HBA)
        # conf.d is included by Debian's postgresql.conf.
        (conf / "conf.d" / "jejak-tests.conf").write_text(
            "".join(f"{key} = {value}\n" for key, value in settings.items()))

    def ctl(self, action: str, *extra: str) -> None:
        """pg_ctlcluster start/stop/restart this cluster."""
        run(["pg_ctlcluster", "--skip-systemctl-redirect", self.pair.version, self.name, action,
             *extra], env=self.pair.env)

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the cluster accepts connections."""
        end = time.monotonic() + timeout
        while True:
            try:
                with self.connect(connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)


class ClusterPair:
    """A primary and its streaming replica (pg_basebackup -R -X stream), made and dropped together."""

    def __init__(self):
        reap_stale()
        self.version = pg_version()
        self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        if owner():
            shutil.chown(self.root, user=owner(), group=owner())
        (self.root / "etc").mkdir()
        if owner():
            shutil.chown(self.root / "etc", user=owner(), group=owner())
        self.env = {**os.environ, "PG_CLUSTER_CONF_ROOT": str(self.root / "etc")}
        tag = f"j{os.getpid()}"
        self.primary = Cluster(self, f"{tag}_primary")
        self.replica = Cluster(self, f"{tag}_replica")

    def start(self) -> ClusterPair:
        """Create and start the primary, then the replica from a base backup of it."""
        try:
            self.primary.create()
            self.primary.ctl("start")
            self.primary.wait_ready()
            self.replica.create()
            # The replica's data folder is the primary's base backup, made to follow it (-R).
            shutil.rmtree(self.replica.data)
            run(as_owner(["pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                          "-U", "postgres", "-D", str(self.replica.data), "-R", "-X", "stream",
                          "-c", "fast"]))
            self.replica.ctl("start")
            self.replica.wait_ready()
            with self.replica.connect() as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except BaseException:
            self.drop()
            raise
        return self

    def drop(self) -> None:
        """Stop both clusters and delete their folder."""
        for cluster in (self.replica, self.primary):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version,
                            cluster.name, "stop", "-m", "immediate"], env=self.env,
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def caught_up(self, timeout: float = 30) -> None:
        """Wait until the replica has replayed everything the primary has written."""
        with self.primary.connect() as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        end = time.monotonic() + timeout
        with self.replica.connect() as conn:
            while True:
                done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                    (str(target),)).fetchone()[0]
                if done:
                    return
                if time.monotonic() > end:
                    raise TimeoutError("the replica did not catch up with the primary")
                time.sleep(0.05)

    def pause_replay(self) -> None:
        """Stop the replica replaying WAL: it stays where it is (it still receives)."""
        with self.replica.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        """Let the replica replay again."""
        with self.replica.connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
