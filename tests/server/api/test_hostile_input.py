"""Hostile input to the API: every malformed body is a clear 4xx in the error shape, never a 5xx,
injection strings are stored verbatim or refused, huge batches work, and a bad request changes
nothing already recorded.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.models import Anomaly, ScanEvent
from tests.factories import scan
from tests.server.api.test_api_scans import auth, receipts, scan_count, world  # noqa: F401 (fixture)
from tests.server.api.test_error_shape import assert_error_shape

J = "application/json"
DEEP = 100_000

# (what, content type, body bytes, status, error code)
MALFORMED = [
    ("not JSON", J, b"hello", 400, "invalid_json"),
    ("empty body", J, b"", 400, "invalid_json"),
    ("only spaces", J, b"   \n", 400, "invalid_json"),
    ("cut short", J, b'{"scans": [{"id": "', 400, "invalid_json"),
    ("trailing garbage", J, b'{"scans": []} x', 400, "invalid_json"),
    ("text/plain", "text/plain", b'{"scans": []}', 415, "unsupported_media_type"),
    ("form", "application/x-www-form-urlencoded", b"scans=1", 415, "unsupported_media_type"),
    ("no content type", None, b'{"scans": []}', 415, "unsupported_media_type"),
    ("array", J, b"[]", 400, "invalid_body"),
    ("string", J, b'"scans"', 400, "invalid_body"),
    ("number", J, b"42", 400, "invalid_body"),
    ("null", J, b"null", 400, "invalid_body"),
    ("scans missing", J, b'{"scan": []}', 400, "invalid_body"),
    ("scans an object", J, b'{"scans": {"id": "x"}}', 400, "invalid_body"),
    ("scans a string", J, b'{"scans": "[]"}', 400, "invalid_body"),
    ("scans null", J, b'{"scans": null}', 400, "invalid_body"),
    ("scans empty", J, b'{"scans": []}', 400, "invalid_body"),
    ("a scan a number", J, b'{"scans": [1]}', 400, "invalid_body"),
    ("a scan an array", J, b'{"scans": [["id"]]}', 400, "invalid_body"),
    ("deep arrays", J, b'{"scans": ' + b"[" * DEEP + b"]" * DEEP + b"}", 400, "invalid_json"),
    ("deep objects", J, b'{"a":' * DEEP + b"1" + b"}" * DEEP, 400, "invalid_json"),
    ("bad UTF-8", J, b'{"scans": [{"id": "\xff\xfe"}]}', 400, "invalid_json"),
    ("UTF-16", J, '{"scans": []}'.encode("utf-16"), 400, "invalid_json"),
    ("UTF-8 BOM", J, b'\xef\xbb\xbf{"scans": []}', 400, "invalid_json"),
    ("NaN", J, b'{"scans": [{"id": NaN}]}', 400, "invalid_json"),
    ("Infinity", J, b'{"scans": [{"offline": -Infinity}]}', 400, "invalid_json"),
    ("a 5000-digit number", J, b'{"scans": [{"id": ' + b"9" * 5000 + b"}]}", 400, "invalid_json"),
]


def post_raw(client, tok, content_type, data, **kwargs):
    """POST raw bytes to /api/v1/scans."""
    headers = auth(tok)
    if content_type:
        headers["Content-Type"] = content_type
    return client.post("/api/v1/scans", data=data, headers=headers, **kwargs)


def snapshot(db) -> list:
    """Return every stored scan and anomaly, for comparing before and after."""
    with db.session() as s:
        scans = [(e.id, e.uuid, e.raw_code, e.location_id, e.action, e.operator, e.seal, e.counted)
                 for e in s.scalars(select(ScanEvent).order_by(ScanEvent.id))]
        anomalies = [(a.id, a.kind, a.status, a.evidence_json, a.resolution_note)
                     for a in s.scalars(select(Anomaly).order_by(Anomaly.id))]
    return [scans, anomalies]


@pytest.mark.parametrize("what,content_type,data,status,code", MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_a_malformed_body_is_a_clear_4xx(client, db, world, what, content_type, data, status, code):
    response = post_raw(client, world["operator"], content_type, data)
    assert assert_error_shape(response, status)["code"] == code
    assert scan_count(db) == 0


def test_a_body_shorter_than_its_content_length_is_400(client, world):
    response = post_raw(client, world["operator"], J, b'{"scans": []}',
                        environ_overrides={"CONTENT_LENGTH": "4000"})
    assert_error_shape(response, 400)


def test_a_body_over_max_content_length_is_413(app, client, db, world):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    body = json.dumps({"scans": receipts(world) * 50}).encode()
    assert len(body) > 10_000
    assert_error_shape(post_raw(client, world["operator"], J, body), 413)
    assert scan_count(db) == 0


def test_a_batch_over_max_batch_is_413_naming_the_limit(app, client, db, world):
    app.config["MAX_BATCH"] = 5
    scans = [scan(next(iter(world["labels"].values())), "3513") for _ in range(6)]
    error = assert_error_shape(client.post("/api/v1/scans", json={"scans": scans},
                                           headers=auth(world["operator"])), 413)
    assert error["code"] == "batch_too_large" and "5" in error["message"]
    assert scan_count(db) == 0


def test_a_batch_of_1000_scans_is_recorded_once(client, db, world):
    labels = list(world["labels"].values())
    scans = [scan(labels[i % len(labels)], "3513", action="inspect") for i in range(1000)]
    response = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert len(results) == 1000 and {r["status"] for r in results} == {"recorded"}
    again = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["operator"]))
    assert {r["status"] for r in again.get_json()["results"]} == {"already_recorded"}
    assert scan_count(db) == 1000


INJECTIONS = [
    "'; DROP TABLE scan_events; --",
    "\" OR 1=1 --",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "Robert'); DELETE FROM anomalies WHERE ('1'='1",
    "%27%20OR%201%3D1",
    "{{7*7}}${7*7}",
    "\u202e\u0000"[:1] + "ÿ 漢字 😀",
]

# Free-text fields are stored as sent; coded fields must be refused cleanly.
FREE_TEXT = ("operator", "seal", "container")
CODED = ("id", "location", "action", "disposition", "scanned_at")


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_in_free_text_is_stored_verbatim(client, db, world, text):
    body = receipts(world)[0]
    for field in FREE_TEXT:
        body[field] = text[:60]
    body["action"] = "inspect"
    result = client.post("/api/v1/scans", json={"scans": [body]},
                         headers=auth(world["operator"])).get_json()["results"][0]
    assert result["status"] == "recorded", result
    with db.session() as s:
        event = s.scalar(select(ScanEvent))
        assert (event.operator, event.seal, event.container_raw) == (text[:60],) * 3


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_in_coded_fields_and_codes_is_refused_or_recorded_as_evidence(
        client, db, world, text):
    before = snapshot(db)
    bodies = []
    for field in CODED:
        body = receipts(world)[0]
        body[field] = text
        bodies.append(body)
    results = client.post("/api/v1/scans", json={"scans": bodies},
                          headers=auth(world["operator"])).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * len(CODED)
    assert snapshot(db) == before
    # A code that is not a label is recorded verbatim as evidence, with its anomaly.
    as_code = scan(text, "3513")
    result = client.post("/api/v1/scans", json={"scans": [as_code]},
                         headers=auth(world["operator"])).get_json()["results"][0]
    assert result["status"] == "recorded" and result["anomalies"]
    with db.session() as s:
        assert s.scalar(select(ScanEvent.raw_code)) == text


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_in_query_and_path_is_a_clean_4xx(client, world, text):
    headers = auth(world["admin"])
    from urllib.parse import quote

    for url in (f"/api/v1/anomalies?region={quote(text)}", f"/api/v1/anomalies?kind={quote(text)}",
                f"/api/v1/anomalies?status={quote(text)}", f"/api/v1/anomalies?as_of={quote(text)}",
                f"/api/v1/anomalies?after={quote(text)}", f"/api/v1/progress?region={quote(text)}",
                f"/api/v1/packages/{quote(text, safe='')}",
                f"/api/v1/locations/{quote(text, safe='')}/expected"):
        response = client.get(url, headers=headers)
        assert 400 <= response.status_code < 500, url
        assert_error_shape(response, response.status_code)


def test_nothing_recorded_changes_after_bad_requests(client, db, world):
    client.post("/api/v1/scans", json={"scans": receipts(world)}, headers=auth(world["operator"]))
    before = snapshot(db)
    assert before[0]
    tok = world["operator"]
    for _, content_type, data, _, _ in MALFORMED:
        post_raw(client, tok, content_type, data)
    admin = auth(world["admin"])
    for url in ("/api/v1/anomalies?kind=nope", "/api/v1/anomalies?after=x",
                "/api/v1/anomalies?as_of=never", "/api/v1/progress?region=9999",
                "/api/v1/anomalies/1/resolve", "/api/v1/anomalies/99999999999/resolve"):
        client.get(url, headers=admin)
        client.post(url, data=b"{", content_type=J, headers=admin)
        client.post(url, json={"note": ""}, headers=admin)
        client.post(url, json={"note": "x", "status": "deleted"}, headers=admin)
    assert snapshot(db) == before


OFFSET_TIMES = st.builds(
    lambda d, minutes: d.replace(tzinfo=dt.timezone(dt.timedelta(minutes=minutes))).isoformat(),
    st.datetimes(), st.integers(-1439, 1439))
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                                      allow_infinity=False) | st.text()
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
SCAN_LIKE = st.fixed_dictionaries({}, optional={
    "id": st.uuids().map(str) | JSON_VALUES, "code": st.text() | JSON_VALUES,
    "location": st.sampled_from(["3513", "3514", "35", "3513010001001", ""]) | JSON_VALUES,
    "action": st.sampled_from(["receive", "dispatch", "pack", "unpack", "inspect", "handover",
                               "return"]) | JSON_VALUES,
    "scanned_at": st.datetimes().map(lambda d: d.isoformat()) | OFFSET_TIMES | JSON_VALUES,
    "container": st.text() | JSON_VALUES, "disposition": st.sampled_from(["ok", "damaged",
                                                                          "seal_broken"]) | JSON_VALUES,
    "seal": st.text() | JSON_VALUES, "operator": st.text() | JSON_VALUES,
    "offline": st.booleans() | JSON_VALUES,
})
BODIES = (JSON_VALUES | st.fixed_dictionaries({"scans": st.lists(SCAN_LIKE, max_size=5)})
          | st.fixed_dictionaries({"scans": JSON_VALUES}))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=BODIES)
def test_random_json_bodies_never_give_a_server_error(app, client, world, body):
    app.extensions["jejak.ratelimit"].limit = 0  # many requests, one token
    response = client.post("/api/v1/scans", json=body, headers=auth(world["operator"]))
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 200:
        assert len(response.get_json()["results"]) == len(body["scans"])
    else:
        assert_error_shape(response, response.status_code)


PLACES = ["35", "3513", "351301", "3513010001", "3513010001001", "3513010001002", "351302",
          "3513020001001", "3514", "3514010001001"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_random_journeys_of_real_labels_never_give_a_server_error(app, client, db, world, data):
    app.extensions["jejak.ratelimit"].limit = 0  # many requests, one token
    labels = list(world["labels"].values())
    label = st.sampled_from(labels)
    one = st.fixed_dictionaries(
        {"id": st.uuids().map(str), "code": label | st.text(max_size=40),
         "location": st.sampled_from(PLACES),
         "action": st.sampled_from(["receive", "dispatch", "pack", "unpack", "inspect",
                                    "handover", "return"]),
         "scanned_at": st.datetimes(min_value=dt.datetime(2024, 2, 1),
                                    max_value=dt.datetime(2024, 2, 20)).map(lambda d: d.isoformat())
         | OFFSET_TIMES},
        optional={"container": label, "disposition": st.sampled_from(["ok", "damaged",
                                                                      "seal_broken"]),
                  "seal": st.text(max_size=10), "offline": st.booleans()})
    scans = data.draw(st.lists(one, min_size=1, max_size=8))
    before = scan_count(db)
    response = client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["admin"]))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    results = response.get_json()["results"]
    recorded = sum(r["status"] == "recorded" for r in results)
    assert scan_count(db) == before + recorded
    # Every read of what was just recorded answers too.
    for url in ("/api/v1/anomalies?region=3513", "/api/v1/progress?region=351301",
                f"/api/v1/packages/{next(iter(world['plan']))}"):
        assert client.get(url, headers=auth(world["admin"])).status_code == 200


# --- holes found when the server was attacked (issue 11) -----------------------------------

def test_a_17_mib_body_is_413_with_the_default_settings(client, db, world):
    # Flask's own MAX_CONTENT_LENGTH is None: the documented 16 MiB must really apply.
    body = b'{"scans": [' + b" " * (17 * 1024 * 1024) + b"]}"
    assert_error_shape(post_raw(client, world["operator"], J, body), 413)
    assert scan_count(db) == 0


@pytest.mark.parametrize("anomaly_id", [2**31, 2**63, 2**64, 0])
def test_an_out_of_range_anomaly_id_is_404_in_the_error_shape(client, world, anomaly_id):
    response = client.post(f"/api/v1/anomalies/{anomaly_id}/resolve", json={"note": "x"},
                           headers=auth(world["admin"]))
    assert_error_shape(response, 404)


def _typed(pid: str, location: str) -> dict:
    return scan(f"{pid} ABCD-EFGH", location)


def test_one_batch_may_open_only_so_many_anomalies_and_halves_get_in(app, client, db, world):
    app.config["MAX_NEW_ANOMALIES_PER_BATCH"] = 3
    scans = [_typed(f"3513019999{i:03d}-KOTAK", "3513") for i in range(5)]
    error = assert_error_shape(client.post("/api/v1/scans", json={"scans": scans},
                                           headers=auth(world["operator"])), 422)
    assert error["code"] == "too_many_anomalies"
    assert error["details"] == {"max_new_anomalies": 3, "new_anomalies": 5}
    assert scan_count(db) == 0
    # What both scanners do with a batch refused whole: send it in halves.
    for part in (scans[:2], scans[2:]):
        rv = client.post("/api/v1/scans", json={"scans": part}, headers=auth(world["operator"]))
        assert rv.status_code == 200
    assert scan_count(db) == 5
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Anomaly)) == 5


def test_a_typed_id_of_another_region_gets_the_answer_of_an_id_that_does_not_exist(
        client, session, world):
    from tests.factories import device_token

    device = device_token(session, "351301")
    session.commit()
    answers = []
    for pid in ("3514010001001-KOTAK", "3514010001009-KOTAK"):  # planned in 3514 / nowhere
        rv = client.post("/api/v1/scans", json={"scans": [_typed(pid, "351301")]},
                         headers=auth(device))
        result = rv.get_json()["results"][0]
        answers.append({k: v for k, v in result.items() if k != "id"})
    assert answers[0] == answers[1]
    assert answers[0]["anomalies"] == ["unknown_package"]
