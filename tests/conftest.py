"""Shared fixtures: the app on SQLite (default) or PostgreSQL, its client and CLI runner.

Set ``JEJAK_TEST_DATABASE_URL`` (a PostgreSQL URL) to run the whole suite on
PostgreSQL; ``make test`` does it a second time that way in CI.  Each test
starts from an empty, migrated database.
"""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server import create_app
from server.db import Database
from server.models import Base
from tests.faults.harness import ensure_database

PG_URL = os.environ.get("JEJAK_TEST_DATABASE_URL", "")


def _worker_pg_url(worker: str) -> str:
    """Return a per-xdist-worker database URL, creating the database if needed."""
    url = make_url(PG_URL)
    if worker == "master":
        return PG_URL
    name = f"{url.database}_{worker}"
    worker_url = url.set(database=name).render_as_string(hide_password=False)
    ensure_database(worker_url)
    return worker_url


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory, worker_id):
    """Migrate one database per test session: a SQLite template file or a PostgreSQL database."""
    if PG_URL:
        url = _worker_pg_url(worker_id)
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.upgrade()
        db.dispose()
        return url
    template = tmp_path_factory.mktemp("dbtemplate") / "template.sqlite3"
    db = Database(f"sqlite:///{template}")
    db.upgrade()
    db.dispose()
    return template


def _reset_postgres(url: str) -> None:
    """Empty every table but the seeded catalogue and restart the id sequences."""
    db = Database(url)
    tables = [t.name for t in Base.metadata.sorted_tables if t.name != "item_types"]
    extra = []
    with db.engine.begin() as conn:
        present = set(conn.scalars(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
        extra = sorted(present - set(tables) - {"item_types", "alembic_version"})
        names = ", ".join(f'"{t}"' for t in tables + extra)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        # Item types a test added to the catalogue go too; the seeded ones stay.
        conn.execute(text("DELETE FROM item_types WHERE code NOT IN ('SS-PPWP','SS-DPR','SS-DPD',"
                          "'SS-DPRDP','SS-DPRDK','KOTAK','BILIK','TINTA','SEGEL','FORMULIR',"
                          "'SAMPUL','DPT','LAINNYA')"))
    db.dispose()


@pytest.fixture
def database_url(_migrated, tmp_path) -> str:
    """Return the URL of an empty, migrated database for one test."""
    if PG_URL:
        _reset_postgres(_migrated)
        return _migrated
    path = tmp_path / "jejak.sqlite3"
    shutil.copy(_migrated, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(database_url, tmp_path):
    """Return the app on a fresh database."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "INSTANCE_PATH": str(tmp_path / "instance"), "WTF_CSRF_ENABLED": True})
    yield app
    app.extensions["jejak.db"].dispose()


@pytest.fixture
def db(app):
    """Return the app's Database."""
    return app.extensions["jejak.db"]


@pytest.fixture
def session(db):
    """Return a session on the test database."""
    with db.session() as s:
        yield s


@pytest.fixture
def client(app):
    """Return a test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Return a CLI runner bound to the app."""
    return app.test_cli_runner()


@pytest.fixture
def region(session):
    """Load the small test region of tests/factories.py and return it."""
    from tests.factories import make_region

    r = make_region(session)
    session.commit()
    return r


@pytest.fixture(scope="session")
def label_key():
    """Return a signing key pair used across the session."""
    from labels.keys import generate

    return generate()


@pytest.fixture(scope="session")
def cluster_pair(tmp_path_factory):
    """A primary PostgreSQL cluster and its streaming replica, started for these tests.

    Made with pg_createcluster and pg_basebackup on free ports (tests/clusters.py),
    on SQLite and PostgreSQL runs alike; a migrated template database ``jejak_template``
    is ready on the primary.  The modules using it share one xdist group, so one
    worker makes the pair once.
    """
    # Imported here: only the cluster tests need psycopg and Debian's cluster tools.
    from tests.clusters import ClusterPair

    pair = ClusterPair().start()
    try:
        with pair.primary.connect() as conn:
            conn.execute("CREATE DATABASE jejak_template")
        db = Database(pair.primary.url("jejak_template"))
        db.upgrade()
        db.dispose()
        yield pair
    finally:
        pair.drop()


@pytest.fixture
def cluster_database(cluster_pair, request):
    """Return the name of a fresh, migrated database on the cluster pair's primary."""
    name = f"t_{abs(hash(request.node.nodeid)) % 10**10}"
    with cluster_pair.primary.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE jejak_template')
    yield name
    with cluster_pair.primary.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
