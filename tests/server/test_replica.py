"""READ_DATABASE_URL against a real streaming replica (tests/clusters.py: pg_basebackup -R).

The replica's replay is paused to make it visibly behind: a page read there does not
show what the primary just recorded, and says how far behind it is.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server import create_app
from server.access import create_token
from server.models import Anomaly, DeadlineSweep
from tests.clusters import free_port
from tests.factories import make_schedule
from tests.server import dashboard_data as data

pytestmark = pytest.mark.xdist_group("clusters")


@pytest.fixture
def database_url(cluster_pair, cluster_database):
    """The app's primary: a fresh database on the pair's primary (overrides conftest's)."""
    return cluster_pair.primary.url(cluster_database)


@pytest.fixture(autouse=True)
def replica_url(cluster_pair, cluster_database, monkeypatch):
    """Point READ_DATABASE_URL at the same database on the replica (read by create_app)."""
    url = cluster_pair.replica.url(cluster_database)
    monkeypatch.setenv("JEJAK_READ_DATABASE_URL", url)
    return url


@pytest.fixture
def story(session, cluster_pair):
    """The dashboard story with its deadlines (all passed) on the primary, replayed by the replica."""
    built = data.build(session)
    make_schedule(session, built["region"], data.T0)
    session.commit()
    cluster_pair.caught_up()
    return built


def _note(page: str) -> str:
    """Return the page's replica note."""
    start = page.index('<p class="replica')
    return page[start:page.index("</p>", start)]


def _new_anomaly(session, story, detail: str) -> Anomaly:
    """Record an anomaly on the primary, as ingest would."""
    region = story["region"]
    anomaly = Anomaly(kind="damaged", dedup_key=f"damaged:{detail}", location_id=region["351301"].id,
                      claimed_package=detail, detail=detail, evidence=[],
                      detected_at=data.T0)
    session.add(anomaly)
    session.commit()
    return anomaly


def _fresh_read(db):
    """Forget the measured lag, so the next read measures the replica again."""
    db.forget_replica_status()


def test_pages_read_the_replica_say_how_far_behind_and_fall_back_when_too_far(
        app, db, session, client, story, cluster_pair):
    data.login(client)
    # The story's deadlines have passed: the first read finds the missing sweep due, which
    # only the primary may write - the page is read there, and says so.
    _fresh_read(db)
    page = client.get("/anomalies/?status=all").get_data(as_text=True)
    assert "Tenggat yang lewat harus diperiksa dulu" in _note(page)
    assert session.scalar(select(DeadlineSweep.deadline_id).limit(1)) is not None
    cluster_pair.caught_up()
    _fresh_read(db)
    page = client.get("/anomalies/?status=all").get_data(as_text=True)
    assert "Replika tertinggal 0 detik" in _note(page)

    cluster_pair.pause_replay()
    try:
        _new_anomaly(session, story, "PENYOK-DI-REPLIKA")
        _fresh_read(db)
        page = client.get("/anomalies/?status=all").get_data(as_text=True)
        # Read on the replica, which has not replayed the new anomaly: it is not there yet.
        assert "PENYOK-DI-REPLIKA" not in page
        assert "Replika tertinggal" in _note(page) and "dibaca dari replika" in _note(page)
        # Allowed no lag at all, the same page comes from the primary, which has it.
        db.max_lag = 0
        _fresh_read(db)
        page = client.get("/anomalies/?status=all").get_data(as_text=True)
        assert "PENYOK-DI-REPLIKA" in page
        assert "lebih dari 0 detik yang diizinkan" in _note(page)
        db.max_lag = 30
    finally:
        cluster_pair.resume_replay()
    cluster_pair.caught_up()
    _fresh_read(db)
    page = client.get("/anomalies/?status=all").get_data(as_text=True)
    assert "PENYOK-DI-REPLIKA" in page and "Replika tertinggal 0 detik" in _note(page)
    # The overview, a package's custody and the exports read there too.
    for path in ("/overview", "/packages/3513010001001-KOTAK", "/scans/"):
        _fresh_read(db)
        assert "dibaca dari replika" in _note(client.get(path).get_data(as_text=True)), path


def test_a_users_own_change_is_on_the_page_that_follows_it(app, db, session, client, story,
                                                            cluster_pair):
    data.login(client)
    anomaly_id = story["damaged"].id
    client.get("/anomalies/?status=all")  # the due sweep, on the primary
    cluster_pair.caught_up()
    cluster_pair.pause_replay()
    try:
        rv = client.post(f"/anomalies/{anomaly_id}/resolve",
                         data={"note": "kotak diganti", "status": "resolved",
                               "csrf_token": data.csrf(client)})
        assert rv.status_code == 302
        _fresh_read(db)
        page = client.get(f"/anomalies/{anomaly_id}").get_data(as_text=True)
        # The replica lags behind the resolution: the page comes from the primary and shows it.
        assert "kotak diganti" in page
        assert "belum memuat perubahan terakhir Anda" in _note(page)
        # Another user, who changed nothing, reads the replica (without the resolution).
        other = app.test_client()
        data.login(other, "obs")
        _fresh_read(db)
        page = other.get(f"/anomalies/{anomaly_id}").get_data(as_text=True)
        assert "kotak diganti" not in page and "dibaca dari replika" in _note(page)
    finally:
        cluster_pair.resume_replay()
    cluster_pair.caught_up()
    _fresh_read(db)
    page = client.get(f"/anomalies/{anomaly_id}").get_data(as_text=True)
    assert "kotak diganti" in page and "dibaca dari replika" in _note(page)


def test_observers_api_reads_and_exports_come_from_the_replica(app, db, session, client, story,
                                                               cluster_pair):
    observer = create_token(session, "observer", "3513", name="bawaslu")
    supervisor = create_token(session, "supervisor", "3513", name="ppk")
    session.commit()
    data.login(client)
    client.get("/anomalies/?status=all")  # the due sweep, on the primary
    cluster_pair.caught_up()
    cluster_pair.pause_replay()
    try:
        _new_anomaly(session, story, "HANYA-DI-PRIMER")
        _fresh_read(db)

        def kinds(token):
            rv = client.get("/api/v1/anomalies",
                            headers={"Authorization": f"Bearer {token}"})
            assert rv.status_code == 200
            return [a["detail"] for a in rv.get_json()["anomalies"]]

        # The oversight body reads the replica; a supervisor, who acts on it, the primary.
        assert "HANYA-DI-PRIMER" not in kinds(observer)
        assert "HANYA-DI-PRIMER" in kinds(supervisor)
        csv = client.get("/reports/anomalies.csv?status=all").get_data(as_text=True)
        assert "HANYA-DI-PRIMER" not in csv and "3513010001001-KOTAK" in csv
    finally:
        cluster_pair.resume_replay()
    cluster_pair.caught_up()
    _fresh_read(db)
    assert "HANYA-DI-PRIMER" in client.get("/reports/anomalies.csv?status=all").get_data(
        as_text=True)


def test_an_unreachable_replica_leaves_the_primary_answering(database_url, session, tmp_path,
                                                             monkeypatch):
    data.build(session)
    # Nothing listens there: the replica is down.
    monkeypatch.setenv("JEJAK_READ_DATABASE_URL",
                       f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test",
                      "INSTANCE_PATH": str(tmp_path / "instance2")})
    try:
        client = app.test_client()
        data.login(client)
        started = dt.datetime.now()
        page = client.get("/anomalies/?status=all").get_data(as_text=True)
        assert "Replika tidak menjawab" in _note(page)
        assert "3513010001001-KOTAK" in page  # read from the primary all the same
        assert dt.datetime.now() - started < dt.timedelta(seconds=15)
    finally:
        app.extensions["jejak.db"].dispose()


def test_a_replica_needs_postgresql(tmp_path, monkeypatch):
    monkeypatch.setenv("JEJAK_READ_DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    with pytest.raises(ValueError, match="READ_DATABASE_URL needs PostgreSQL"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
                    "SECRET_KEY": "test", "INSTANCE_PATH": str(tmp_path / "instance")})
