"""POST /api/v1/scans as a scanner uses it: batches, retries, rejections, faults, rate limits, logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from labels.keys import public_pem
from labels.payload import key_id_for
from server.db import Database
from server.models import LabelKey, ScanEvent
from server.ratelimit import SharedWindowLimiter
from tests.factories import device_token, label_text, make_plan, scan, token
from tests.server.api.test_error_shape import assert_error_shape


def trust(session, private_key) -> str:
    """Trust a label key on the server; return its key id."""
    key_id = key_id_for(private_key.public_key())
    session.add(LabelKey(key_id=key_id, public_key_pem=public_pem(private_key.public_key()),
                         name="test key"))
    session.flush()
    return key_id


@pytest.fixture
def world(region, session, label_key):
    """Return the plan, its labels and tokens of regency 3513."""
    plan = make_plan(session, region)
    trust(session, label_key)
    w = {"plan": plan,
         "labels": {pid: label_text(p, label_key) for pid, p in plan.items()},
         "admin": token(session, "admin", "3513"),
         "operator": token(session, "operator", "3513"),
         "observer": token(session, "observer", "3513")}
    session.commit()
    return w


def auth(tok: str) -> dict:
    """Return the Authorization header of a token."""
    return {"Authorization": f"Bearer {tok}"}


def scan_count(db) -> int:
    """Return how many scan events are stored (read fresh)."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ScanEvent))


def receipts(world, location="3513"):
    """Return one receive scan at the regency warehouse for every package of the plan."""
    return [scan(text, location) for text in world["labels"].values()]


def test_a_batch_is_recorded_and_answered_in_request_order(client, db, world):
    scans = receipts(world)
    response = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["id"] for r in results] == [s["id"] for s in scans]
    assert {r["status"] for r in results} == {"recorded"}
    assert all(r["error"] is None and isinstance(r["anomalies"], list) for r in results)
    assert scan_count(db) == len(scans)


def test_a_retried_batch_is_already_recorded_and_changes_nothing(client, db, world):
    scans = receipts(world)
    first = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    again = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    assert again.status_code == 200
    assert {r["status"] for r in again.get_json()["results"]} == {"already_recorded"}
    assert scan_count(db) == len(scans) == len(first.get_json()["results"])


def test_a_forged_code_is_recorded_as_evidence_with_its_anomaly(client, db, world):
    genuine = next(iter(world["labels"].values()))
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    response = client.post("/api/v1/scans", json={"scans": [scan(forged, "3513")]},
                           headers=auth(world["operator"]))
    result = response.get_json()["results"][0]
    assert result["status"] == "recorded"
    assert "forged_label" in result["anomalies"]
    assert scan_count(db) == 1


@pytest.mark.parametrize("field,value", [
    ("id", 12), ("code", ["a"]), ("location", None), ("action", {"x": 1}),
    ("scanned_at", 1707552000), ("offline", "yes"), ("operator", "x" * 101),
    ("seal", "S\x00EAL"), ("code", "J1.\ud800"),
    ("scanned_at", "9999-12-31T23:59:59-01:00"), ("scanned_at", "0001-01-01T00:00:00+01:00"),
])
def test_a_scan_that_cannot_be_understood_is_rejected_and_the_rest_recorded(
        client, db, world, field, value):
    scans = receipts(world)[:3]
    scans[1][field] = value
    response = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["recorded", "rejected", "recorded"]
    assert field in results[1]["error"]
    assert scan_count(db) == 2


def test_unknown_action_and_bad_time_are_rejected_with_the_value(client, db, world):
    scans = receipts(world)[:2]
    scans[0]["action"] = "teleport"
    scans[1]["scanned_at"] = "yesterday"
    results = client.post("/api/v1/scans", json={"scans": scans},
                          headers=auth(world["operator"])).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert "teleport" in results[0]["error"] and "yesterday" in results[1]["error"]
    assert scan_count(db) == 0


def test_observers_and_supervisors_cannot_record_scans(client, db, world, session):
    supervisor = token(session, "supervisor", "3513")
    session.commit()
    for tok in (world["observer"], supervisor):
        response = client.post("/api/v1/scans", json={"scans": receipts(world)}, headers=auth(tok))
        assert_error_shape(response, 403)
    assert scan_count(db) == 0


def test_a_device_records_scans_at_its_location(client, db, world, session):
    dev = device_token(session, "3513")
    session.commit()
    response = client.post("/api/v1/scans", json={"scans": receipts(world)}, headers=auth(dev))
    assert {r["status"] for r in response.get_json()["results"]} == {"recorded"}
    with db.session() as s:
        assert all(e.device_id is not None for e in s.scalars(select(ScanEvent)))


@pytest.fixture
def failing_database(db):
    """Make the database fail mid-batch: on the first statement after scan rows were written.

    Ingest may write the scans with INSERT, executemany or COPY; whichever, the
    statement after them finds more rows than were committed and fails, so the
    failure lands between the scans and the rest of the batch's writes.
    """
    state = {"armed": False, "committed": 0, "failed": 0}

    def before(conn, cursor, statement, params, context, executemany):
        if not state["armed"]:
            return
        raw = cursor.connection  # the DBAPI connection: no events, same transaction
        written = raw.execute("SELECT count(*) FROM scan_events").fetchone()[0]
        if written > state["committed"]:
            state["failed"] += 1
            raise OperationalError(statement, params, ConnectionError("server closed the connection"))

    event.listen(db.engine, "before_cursor_execute", before)
    yield state
    event.remove(db.engine, "before_cursor_execute", before)


def test_a_database_failure_mid_batch_keeps_nothing_and_answers_503(client, db, world,
                                                                    failing_database):
    scans = [scan(text, "3513") for text in world["labels"].values()]
    first = client.post("/api/v1/scans", json={"scans": scans[:1]},
                        headers=auth(world["operator"]))
    assert first.status_code == 200
    failing_database.update(armed=True, committed=scan_count(db))
    response = client.post("/api/v1/scans", json={"scans": scans[1:]},
                           headers=auth(world["operator"]))
    failing_database["armed"] = False
    assert failing_database["failed"] == 1  # the failure came after the scans were written
    error = assert_error_shape(response, 503)
    assert error["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    assert scan_count(db) == 1  # nothing of the failed batch was kept
    retried = client.post("/api/v1/scans", json={"scans": scans[1:]},
                          headers=auth(world["operator"]))
    assert {r["status"] for r in retried.get_json()["results"]} == {"recorded"}
    assert scan_count(db) == len(scans)


def test_a_failure_at_commit_keeps_nothing(app, client, db, world):
    def refuse(conn):
        raise OperationalError("COMMIT", {}, ConnectionError("connection reset"))

    app.extensions["jejak.ratelimit"].limit = 0  # the commit that fails is the batch's own
    event.listen(db.engine, "commit", refuse)
    try:
        response = client.post("/api/v1/scans", json={"scans": receipts(world)},
                               headers=auth(world["operator"]))
    finally:
        event.remove(db.engine, "commit", refuse)
    assert_error_shape(response, 503)
    assert scan_count(db) == 0


def test_a_failure_counting_the_rate_limit_is_a_503_and_the_next_request_goes_through(
        client, db, world):
    # The shared limit commits its count first: that commit fails, nothing else runs.
    def refuse(conn):
        raise OperationalError("COMMIT", {}, ConnectionError("connection reset"))

    event.listen(db.engine, "commit", refuse)
    try:
        response = client.post("/api/v1/scans", json={"scans": receipts(world)},
                               headers=auth(world["operator"]))
    finally:
        event.remove(db.engine, "commit", refuse)
    assert_error_shape(response, 503)
    assert scan_count(db) == 0
    # The connection that failed was dropped, not pooled: the retry is recorded.
    retry = client.post("/api/v1/scans", json={"scans": receipts(world)},
                        headers=auth(world["operator"]))
    assert retry.status_code == 200 and scan_count(db) == len(receipts(world))


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_each_token_is_limited_per_minute_with_retry_after(app, db, client, world):
    clock = FakeClock()
    app.extensions["jejak.ratelimit"] = SharedWindowLimiter(db.session, "api", 3, clock=clock)
    for _ in range(3):
        assert client.get("/api/v1/me", headers=auth(world["admin"])).status_code == 200
    clock.now += 20
    refused = client.post("/api/v1/scans", json={"scans": receipts(world)},
                          headers=auth(world["admin"]))
    error = assert_error_shape(refused, 429)
    assert error["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "40"
    # Another token is counted apart; a public endpoint is not counted at all.
    assert client.get("/api/v1/me", headers=auth(world["observer"])).status_code == 200
    assert client.get("/api/v1/health").status_code == 200
    clock.now += 40
    assert client.get("/api/v1/me", headers=auth(world["admin"])).status_code == 200


def test_the_limiter_slides_and_forgets_refusals(db):
    clock = FakeClock()
    limiter = SharedWindowLimiter(db.session, "api", 2, window=60, clock=clock)
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    clock.now += 30
    assert limiter.hit("a") == pytest.approx(30)
    assert limiter.wait("a") == pytest.approx(30)
    clock.now += 30.5  # the first two left the window; the refusal was never counted
    assert limiter.wait("a") == 0
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    assert limiter.hit("a") > 0
    assert SharedWindowLimiter(db.session, "api", 0, clock=clock).hit("a") == 0  # 0: no limit


def test_two_instances_share_one_window_per_token(database_url):
    # Two app instances are two Databases (two connection pools) on one database.
    clock = FakeClock()
    first, second = Database(database_url), Database(database_url)
    try:
        one = SharedWindowLimiter(first.session, "api", 4, clock=clock)
        two = SharedWindowLimiter(second.session, "api", 4, clock=clock)
        assert [one.hit("t1"), two.hit("t1"), one.hit("t1"), two.hit("t1")] == [0, 0, 0, 0]
        assert two.hit("t1") == pytest.approx(60) and one.hit("t1") == pytest.approx(60)
        assert one.hit("t2") == 0  # another token has its own window
        # Another scope (the login throttle) does not count against the API's.
        assert SharedWindowLimiter(first.session, "login-user", 1, clock=clock).hit("t1") == 0
    finally:
        first.dispose()
        second.dispose()


def test_tokens_and_passwords_never_reach_the_logs(app, client, runner, world, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement and its values
    secret = "correct horse battery staple"
    result = runner.invoke(args=["create-user", "alice", "--role", "supervisor",
                                 "--region", "3513"], input=secret + "\n")
    assert result.exit_code == 0, result.output
    made = runner.invoke(args=["create-token", "--role", "operator", "--region", "3513"])
    new_token = made.output.strip().splitlines()[-1]
    for tok in (world["operator"], new_token, "jjk_guessed-token-value"):
        client.post("/api/v1/scans", json={"scans": receipts(world)}, headers=auth(tok))
        client.post("/api/v1/scans", data="{broken", content_type="application/json",
                    headers=auth(tok))
        client.get(f"/api/v1/anomalies?after={tok}", headers=auth(tok))
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records) + caplog.text
    for secret_text in (world["operator"], new_token, "jjk_guessed-token-value", secret):
        assert secret_text not in logged


def test_two_scanners_uploading_the_same_backlog_at_once_record_it_once(app, db, world):
    import threading

    scans = receipts(world)  # the same UUIDs from both
    answers, barrier = [], threading.Barrier(2)

    def upload():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/api/v1/scans", json={"scans": scans},
                                   headers=auth(world["operator"])))

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200, 200]
    statuses = sorted(tuple(r["status"] for r in a.get_json()["results"]) for a in answers)
    assert statuses == [("already_recorded",) * len(scans), ("recorded",) * len(scans)]
    assert scan_count(db) == len(scans)


def test_a_bug_in_a_rule_is_a_500_the_scanner_retries_not_a_rejection(client, db, world,
                                                                         monkeypatch):
    # A ValueError from a bug deep in the rules is not the client's mistake: answering it
    # 400 would make the scanner set good scans aside as rejected.
    from server.ingest import batch

    def broken_rule(*_args, **_kwargs):
        raise ValueError("a bug in a rule")

    scans = receipts(world)
    monkeypatch.setattr(batch, "judge", broken_rule)
    response = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert scan_count(db) == 0  # nothing half-kept
    monkeypatch.undo()
    retried = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    assert retried.status_code == 200
    assert {r["status"] for r in retried.get_json()["results"]} == {"recorded"}
    assert scan_count(db) == len(scans)
