"""The API's reads as scanners and dashboards use them: keys, expected, custody, anomalies, progress."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from labels.keys import generate, load_public_key_pem
from labels.payload import key_id_for
from server.models import Anomaly, LabelKey, utc_now
from tests.factories import scan, token
from tests.server.api.test_api_scans import auth, receipts, trust, world  # noqa: F401 (fixture)
from tests.server.api.test_error_shape import assert_error_shape

TPS = "3513010001001"


def test_health_needs_no_token_and_checks_the_database(client, db):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}

    def down(conn, cursor, statement, params, context, executemany):
        raise OperationalError(statement, params, ConnectionError("connection refused"))

    event.listen(db.engine, "before_cursor_execute", down)
    try:
        response = client.get("/api/v1/health")
    finally:
        event.remove(db.engine, "before_cursor_execute", down)
    assert assert_error_shape(response, 503)["code"] == "database_unavailable"


def test_me_shows_the_role_region_and_device_location(client, world, session):
    from tests.factories import device_token

    dev = device_token(session, TPS)
    session.commit()
    me = client.get("/api/v1/me", headers=auth(world["observer"])).get_json()
    assert (me["role"], me["region"]["code"], me["device_location"]) == ("observer", "3513", None)
    assert (me["may_scan"], me["may_resolve"]) == (False, False)
    me = client.get("/api/v1/me", headers=auth(dev)).get_json()
    assert (me["role"], me["region"]["code"], me["device_location"]) == ("operator", TPS, TPS)
    assert me["may_scan"] is True


def test_keys_lists_trusted_keys_with_pem_and_leaves_revoked_ones_out(client, world, session,
                                                                      label_key):
    revoked = generate()
    trust(session, revoked)
    session.get(LabelKey, key_id_for(revoked.public_key())).revoked_at = utc_now()
    session.commit()
    keys = client.get("/api/v1/keys", headers=auth(world["operator"])).get_json()["keys"]
    assert [k["key_id"] for k in keys] == [key_id_for(label_key.public_key())]
    assert keys[0]["name"] == "test key"
    assert key_id_for(load_public_key_pem(keys[0]["public_key_pem"])) == keys[0]["key_id"]


def test_expected_gives_the_location_its_ancestors_and_its_packages(client, world):
    response = client.get(f"/api/v1/locations/{TPS}/expected", headers=auth(world["operator"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["location"] == {"code": TPS, "name": "TPS 001 Ngadisari", "level": "tps",
                                "path": ["35", "3513", "351301", "3513010001", TPS],
                                "dapil": ["DPR-JATIM-2", "DPRDP-JATIM-11", "DPRDK-3513-1"]}
    ids = {p["package_id"] for p in body["packages"]}
    assert ids == {f"{TPS}-SS-DPR", f"{TPS}-KOTAK"}


def test_expected_for_a_district_covers_its_tps(client, world):
    body = client.get("/api/v1/locations/351301/expected", headers=auth(world["admin"])).get_json()
    assert body["location"]["path"] == ["35", "3513", "351301"]
    ids = {p["package_id"] for p in body["packages"]}
    assert f"{TPS}-SS-DPR" in ids and not any(i.startswith("3514") for i in ids)


def test_a_package_shows_its_custody_oldest_first(client, world):
    pid = f"{TPS}-SS-DPR"
    label = world["labels"][pid]
    first = scan(label, "3513", at=dt.datetime(2024, 2, 9, 8, 0, tzinfo=dt.timezone.utc),
                 operator="Siti")
    later = scan(label, "3513", action="dispatch",
                 at=dt.datetime(2024, 2, 10, 8, 0, tzinfo=dt.timezone.utc))
    # Sent newest first, as an offline backlog may arrive.
    client.post("/api/v1/scans", json={"scans": [later, first]}, headers=auth(world["operator"]))
    response = client.get(f"/api/v1/packages/{pid}", headers=auth(world["observer"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["package"]["package_id"] == pid
    custody = body["custody"]
    assert len(custody) == 2
    text = response.get_data(as_text=True)
    assert text.index(first["id"]) < text.index(later["id"])
    assert "Siti" in text
    assert [c["anomalies"] for c in custody] == [[], []]


def test_a_damaged_receipt_is_marked_with_its_anomaly_in_the_custody(client, world):
    pid = f"{TPS}-SS-DPR"
    damaged = scan(world["labels"][pid], "3513", disposition="damaged")
    client.post("/api/v1/scans", json={"scans": [damaged]}, headers=auth(world["operator"]))
    (anomaly,) = client.get("/api/v1/anomalies?kind=damaged",
                            headers=auth(world["observer"])).get_json()["anomalies"]
    (entry,) = client.get(f"/api/v1/packages/{pid}",
                          headers=auth(world["observer"])).get_json()["custody"]
    assert entry["anomalies"] == [{"id": anomaly["id"], "kind": "damaged", "status": "open",
                                   "location": "3513"}]


def add_anomalies(session, region, count, location="3513", kind="damaged"):
    """Insert anomalies directly; return their ids."""
    ids = []
    for i in range(count):
        a = Anomaly(kind=kind, dedup_key=f"{kind}:{location}:{i}", location_id=region[location].id,
                    claimed_package=f"PKG-{location}-{i}", detected_at=utc_now(), evidence=[])
        session.add(a)
        session.flush()
        ids.append(a.id)
    session.commit()
    return ids


def test_anomalies_page_through_next_until_none_is_left(client, world, region, session):
    mine = add_anomalies(session, region, 5, location=TPS)
    add_anomalies(session, region, 2, location="3514")  # another regency: never listed
    seen, url, pages = [], "/api/v1/anomalies?limit=2&kind=damaged", 0
    while url:
        response = client.get(url, headers=auth(world["observer"]))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        seen += [a["id"] for a in body["anomalies"]]
        url = body.get("next")
        assert url is None or url.startswith("/api/v1/anomalies?")
        pages += 1
        assert pages < 10
    assert sorted(seen) == sorted(mine) and len(seen) == len(set(seen))
    assert pages == 3


def test_an_anomaly_has_the_documented_fields(client, world, region, session):
    add_anomalies(session, region, 1, location=TPS)
    a = client.get("/api/v1/anomalies?region=3513", headers=auth(world["admin"])).get_json()
    item = a["anomalies"][0]
    assert {"id", "kind", "package_id", "location", "detected_at", "status", "evidence"} <= set(item)
    assert (item["kind"], item["location"], item["status"]) == ("damaged", TPS, "open")
    assert item["detected_at"].endswith("Z") or "+00:00" in item["detected_at"]
    assert "next" not in a


@pytest.mark.parametrize("query,named", [
    ("kind=stolen", "stolen"), ("status=closed", "closed"), ("as_of=tomorrow", "tomorrow"),
    ("after=abc", "abc"), ("after=-5", "-5"), ("limit=0", "0"), ("limit=1001", "1001"),
    ("as_of=2024-13-01T00:00:00", "2024-13-01"), ("region=3513&region=3514", "region"),
])
def test_bad_anomaly_parameters_are_400_naming_the_value(client, world, query, named):
    error = assert_error_shape(client.get(f"/api/v1/anomalies?{query}",
                                          headers=auth(world["admin"])), 400)
    assert named in error["message"]


def test_resolve_records_who_when_and_the_note_and_deletes_nothing(client, db, world, region,
                                                                   session):
    [aid] = add_anomalies(session, region, 1, location=TPS)
    supervisor = token(session, "supervisor", "3513")
    session.commit()
    note = "Box replaced; <b>BAST</b> no. 12 '; DROP TABLE anomalies; --"
    response = client.post(f"/api/v1/anomalies/{aid}/resolve", json={"note": note},
                           headers=auth(supervisor))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["anomaly"]["status"] == "resolved"
    with db.session() as s:
        a = s.get(Anomaly, aid)
        assert (a.status, a.resolution_note) == ("resolved", note)
        assert a.resolved_by and a.resolved_at is not None
    listed = client.get("/api/v1/anomalies?status=resolved", headers=auth(supervisor)).get_json()
    assert [x["id"] for x in listed["anomalies"]] == [aid]


@pytest.mark.parametrize("body,status", [
    ({}, 400), ({"note": ""}, 400), ({"note": "   "}, 400), ({"note": 5}, 400),
    ({"note": "ok", "status": "deleted"}, 400), ({"note": "ok", "status": "open"}, 400),
    ({"note": "x" * 4001}, 400), ({"note": "a\u0000b"}, 400),
])
def test_resolve_refuses_a_bad_body(client, db, world, region, session, body, status):
    [aid] = add_anomalies(session, region, 1, location=TPS)
    response = client.post(f"/api/v1/anomalies/{aid}/resolve", json=body,
                           headers=auth(world["admin"]))
    assert_error_shape(response, status)
    with db.session() as s:
        assert s.get(Anomaly, aid).status == "open"


def test_resolve_of_an_id_too_large_for_the_database_is_404(client, world):
    response = client.post(f"/api/v1/anomalies/{2**63}/resolve", json={"note": "x"},
                           headers=auth(world["admin"]))
    assert_error_shape(response, 404)


def test_progress_counts_per_child_region_of_the_tokens_region(client, world):
    client.post("/api/v1/scans", json={"scans": receipts(world)}, headers=auth(world["operator"]))
    response = client.get("/api/v1/progress", headers=auth(world["observer"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["region"]["code"] == "3513"
    children = {c["code"]: c for c in body["children"]}
    assert set(children) == {"351301", "351302"}
    # Two packages per TPS (SS-DPR, KOTAK): 3 TPS in Sukapura, 1 in Kraksaan; all at the regency.
    assert (children["351301"]["expected"], children["351302"]["expected"]) == (6, 2)
    assert (children["351301"]["received"]["regency"], children["351302"]["received"]["regency"]) == (6, 2)
    assert_error_shape(client.get("/api/v1/progress?region=3514",
                                  headers=auth(world["admin"])), 403)
    assert_error_shape(client.get("/api/v1/progress?region=0000",
                                  headers=auth(world["admin"])), 404)


def test_every_answer_is_marked_not_for_shared_caches(client, world):
    assert client.get("/api/v1/me", headers=auth(world["admin"])).headers["Cache-Control"] == "no-store"


def test_nul_and_overlong_path_values_are_404_not_errors(client, world):
    for url in ("/api/v1/packages/%00", "/api/v1/locations/%00/expected",
                "/api/v1/packages/" + "A" * 5000, "/api/v1/locations/" + "9" * 500 + "/expected"):
        assert_error_shape(client.get(url, headers=auth(world["admin"])), 404)


def test_as_of_accepts_offsets_and_z(client, world):
    for value in ("2024-02-13T17:00:00%2B07:00", "2024-02-13T10:00:00Z", "2024-02-13T10:00:00",
                  "2024-02-13"):
        response = client.get(f"/api/v1/anomalies?as_of={value}", headers=auth(world["admin"]))
        assert response.status_code == 200, (value, response.get_data(as_text=True))


def test_a_read_while_the_database_is_down_is_503_not_500(client, db, world):
    def down(conn, cursor, statement, params, context, executemany):
        raise OperationalError(statement, params, ConnectionError("the database restarted"))

    event.listen(db.engine, "before_cursor_execute", down)
    try:
        responses = [client.get(url, headers=auth(world["admin"]))
                     for url in ("/api/v1/anomalies", "/api/v1/progress", "/api/v1/keys",
                                 f"/api/v1/locations/{TPS}/expected")]
    finally:
        event.remove(db.engine, "before_cursor_execute", down)
    for response in responses:
        assert assert_error_shape(response, 503)["code"] == "database_unavailable"
        assert response.headers["Retry-After"]
    assert client.get("/api/v1/keys", headers=auth(world["admin"])).status_code == 200


def test_expected_pages_cover_every_package_once_and_carry_the_verification_code(
        client, world, session, label_key):
    from labels.payload import parse
    from server.labelling.registry import register_signed

    registered = world["plan"][f"{TPS}-SS-DPR"]
    register_signed(session, [registered], [parse(world["labels"][registered.package_id])])
    session.commit()
    mine = sorted(pid for pid in world["plan"] if pid.startswith("3513"))
    full = client.get("/api/v1/locations/3513/expected", headers=auth(world["admin"])).get_json()
    assert "next" not in full and len(full["packages"]) == len(mine)
    for limit in (3, 4, len(mine)):  # a last page part full, exactly full, the only page
        url, pages, seen = f"/api/v1/locations/3513/expected?limit={limit}", 0, []
        while url:
            assert url.startswith("/api/v1/")
            body = client.get(url, headers=auth(world["admin"])).get_json()
            assert 0 < len(body["packages"]) <= limit and body["location"]["code"] == "3513"
            seen += [p["package_id"] for p in body["packages"]]
            url, pages = body.get("next"), pages + 1
        assert seen == [p["package_id"] for p in full["packages"]] == mine
        assert pages == -(-len(mine) // limit)
    codes = {p["package_id"]: p["verification_code"] for p in full["packages"]}
    assert codes.pop(registered.package_id) == parse(
        world["labels"][registered.package_id]).verification_code
    assert set(codes.values()) == {None}


@pytest.mark.parametrize("query", ["limit=0", "limit=20001", "limit=x", "after=" + "A" * 81])
def test_expected_refuses_a_bad_page_size_or_cursor(client, world, query):
    response = client.get(f"/api/v1/locations/3513/expected?{query}", headers=auth(world["admin"]))
    assert assert_error_shape(response, 400)["code"] in ("invalid_parameter", "invalid_cursor")
