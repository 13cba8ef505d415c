"""Who may call which endpoint: every endpoint x every kind of caller, one expected status each.

The data lives in regency 3513 (TPS 3513010001001); callers are no token, a
wrong, expired or revoked token, an admin of the neighbouring regency 3514, a
device at that TPS, and each role of regency 3513, and an admin of the province.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from server.access import create_token, hash_token
from server.models import Anomaly, ApiToken, utc_now
from server.shipments.records import record_shipment, reference_of
from tests.factories import (
    device_token,
    label_text,
    make_plan,
    photo_bytes,
    post,
    principal,
    scan,
    token,
)
from tests.server.api.test_api_scans import trust
from tests.server.api.test_error_shape import assert_error_shape

TPS = "3513010001001"
CALLERS = ("none", "wrong", "expired", "revoked", "other_region", "device", "operator",
           "supervisor", "observer", "admin", "province_admin")

# endpoint -> status per caller, in the order of CALLERS.  "R" after 200 on scans: the
# request was answered but the scan was rejected (a place the token may not scan at).
U = 401
TABLE = {
    #                none wrong expired revoked other device oper  super  obs   admin  prov
    "health":       (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "openapi":      (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "me":           (U, U, U, U, 200, 200, 200, 200, 200, 200, 200),
    "keys":         (U, U, U, U, 200, 200, 200, 200, 200, 200, 200),
    "scans":        (U, U, U, U, "200R", 200, 200, 403, 403, 200, 200),
    "package":      (U, U, U, U, 404, 200, 200, 200, 200, 200, 200),
    "anomalies":    (U, U, U, U, 403, 403, 200, 200, 200, 200, 200),
    "resolve":      (U, U, U, U, 403, 403, 403, 200, 403, 200, 200),
    "progress":     (U, U, U, U, 403, 403, 200, 200, 200, 200, 200),
    "expected":     (U, U, U, U, 403, 200, 200, 200, 200, 200, 200),
    "device_scope": (U, U, U, U, 403, 403, 200, 200, 200, 200, 200),
    # What the caller's own place expects: every valid token reaches its own.
    "own_expected": (U, U, U, U, 200, 200, 200, 200, 200, 200, 200),
    # The ledger's head, digests and key: every role, observers first of all.
    "ledger_head":  (U, U, U, U, 200, 200, 200, 200, 200, 200, 200),
    "ledger_entries": (U, U, U, U, 200, 200, 200, 200, 200, 200, 200),
    # The surat jalan: written by those who scan, at their places; read by every role of a
    # region it leaves or reaches (others: 404, as for packages).
    "shipments":    (U, U, U, U, 403, 201, 201, 403, 403, 201, 201),
    "shipment":     (U, U, U, U, 404, 200, 200, 200, 200, 200, 200),
    "surat_jalan":  (U, U, U, U, 404, 200, 200, 200, 200, 200, 200),
    "receipt":      (U, U, U, U, 404, 201, 201, 403, 403, 201, 201),
    # Photos of a scan at the TPS: attached by those who may scan there; listed by every
    # role of the region (others: 404).
    "scan_photos":  (U, U, U, U, 403, 201, 201, 403, 403, 201, 201),
    "photo_list":   (U, U, U, U, 404, 200, 200, 200, 200, 200, 200),
    # Both parties: the digest is read like the shipment; only a device's token registers a
    # key or confirms (this device has no key yet: 409 "register first").
    "shipment_digest": (U, U, U, U, 404, 200, 200, 200, 200, 200, 200),
    "device_key":   (U, U, U, U, 403, 201, 403, 403, 403, 403, 403),
    "confirmations": (U, U, U, U, 404, 409, 403, 403, 403, 403, 403),
}

CASES = [(endpoint, caller, expected)
         for endpoint, row in TABLE.items() for caller, expected in zip(CALLERS, row)]


@pytest.fixture
def world(region, session, label_key):
    """Return the package, label, anomaly and a token for every kind of caller."""
    plan = make_plan(session, region, tps_codes=[TPS])
    trust(session, label_key)
    package = plan[f"{TPS}-SS-DPR"]
    anomaly = Anomaly(kind="damaged", dedup_key=f"damaged:{package.package_id}:test",
                      package_id=package.id, location_id=region[TPS].id, evidence=[],
                      detail="box torn")
    session.add(anomaly)
    shipment, _ = record_shipment(session, principal(), {
        "id": str(uuid.uuid4()), "from": "3513010001", "to": TPS, "koli": [package.package_id],
        "closed_at": "2024-02-10T08:00:00Z"})
    tokens = {"none": None, "wrong": "jjk_" + "x" * 43,
              "expired": create_token(session, "admin", "3513", ttl_days=1),
              "revoked": create_token(session, "admin", "3513"),
              "other_region": token(session, "admin", "3514"),
              "device": device_token(session, TPS),
              "province_admin": token(session, "admin", "35")}
    for role in ("operator", "supervisor", "observer", "admin"):
        tokens[role] = token(session, role, "3513")
    session.flush()
    # Another package than the anomaly's: a receipt of it would re-judge that anomaly.
    photographed = scan(label_text(plan[f"{TPS}-KOTAK"], label_key), TPS)
    post(session, [photographed])
    for name, past in (("expired", "expires_at"), ("revoked", "revoked_at")):
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(tokens[name])))
        setattr(row, past, utc_now() - dt.timedelta(minutes=1))
    session.commit()
    return {"package": package.package_id, "label": label_text(package, label_key),
            "anomaly": anomaly.id, "tokens": tokens, "shipment": shipment.number,
            "reference": reference_of(shipment), "scan": photographed["id"]}


def request_for(client, endpoint, world, headers):
    """Make the endpoint's request about regency 3513's data."""
    if endpoint == "scans":
        body = {"scans": [scan(world["label"], TPS)]}
        return client.post("/api/v1/scans", json=body, headers=headers)
    if endpoint == "shipments":  # the way back: from the TPS to its village
        body = {"id": str(uuid.uuid4()), "from": TPS, "to": "3513010001",
                "koli": [world["label"]], "closed_at": "2024-02-15T08:00:00Z"}
        return client.post("/api/v1/shipments", json=body, headers=headers)
    if endpoint == "receipt":
        body = {"id": str(uuid.uuid4()), "reference": world["reference"], "location": TPS,
                "koli": [world["label"]], "closed_at": "2024-02-10T12:00:00Z"}
        return client.post(f"/api/v1/shipments/{world['shipment']}/receipt", json=body,
                           headers=headers)
    if endpoint == "scan_photos":
        return client.post(f"/api/v1/scans/{world['scan']}/photos", data=photo_bytes(),
                           headers={**headers, "Content-Type": "image/jpeg"})
    if endpoint == "device_key":
        return client.post("/api/v1/devices/key", json={"public_key": "A" * 43 + "="},
                           headers=headers)
    if endpoint == "confirmations":
        body = {"party": "giver", "digest": "0" * 64, "signature": "0" * 128}
        return client.post(f"/api/v1/shipments/{world['shipment']}/confirmations", json=body,
                           headers=headers)
    if endpoint == "resolve":
        return client.post(f"/api/v1/anomalies/{world['anomaly']}/resolve",
                           json={"note": "replaced the box", "status": "acknowledged"},
                           headers=headers)
    url = {"health": "/api/v1/health", "openapi": "/api/v1/openapi.json", "me": "/api/v1/me",
           "keys": "/api/v1/keys", "package": f"/api/v1/packages/{world['package']}",
           "anomalies": "/api/v1/anomalies?region=3513", "progress": "/api/v1/progress?region=3513",
           "expected": f"/api/v1/locations/{TPS}/expected",
           # Reads of the district above the device's TPS: the device sees only its TPS.
           "device_scope": "/api/v1/locations/351301/expected",
           "own_expected": "/api/v1/expected", "ledger_head": "/api/v1/ledger/head",
           "ledger_entries": "/api/v1/ledger/entries?after=0&limit=5",
           "shipment": f"/api/v1/shipments/{world['shipment']}",
           "surat_jalan": f"/api/v1/shipments/{world['shipment']}/surat-jalan.pdf",
           "photo_list": f"/api/v1/scans/{world['scan']}/photos",
           "shipment_digest": f"/api/v1/shipments/{world['shipment']}/digest"}[endpoint]
    return client.get(url, headers=headers)


def test_the_table_covers_every_api_endpoint(app):
    from tests.server.api.test_error_shape import SAMPLES

    covered = {f"api.{e}" for e in TABLE} | {"api.package", "api.expected", "api.ledger_key"}
    assert set(SAMPLES) <= covered


@pytest.mark.parametrize("endpoint,caller,expected", CASES)
def test_access(client, db, world, endpoint, caller, expected):
    tok = world["tokens"][caller]
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    response = request_for(client, endpoint, world, headers)
    if expected == "200R":
        assert response.status_code == 200
        assert response.get_json()["results"][0]["status"] == "rejected"
    elif expected == 201:
        assert response.status_code == 201, response.get_data(as_text=True)[:300]
    elif expected == 200:
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        if endpoint == "scans":
            assert response.get_json()["results"][0]["status"] == "recorded"
    else:
        assert_error_shape(response, expected)
    if endpoint == "resolve":
        with db.session() as s:
            status = s.get(Anomaly, world["anomaly"]).status
        assert status == ("acknowledged" if expected == 200 else "open")


def test_a_package_of_another_regency_looks_exactly_like_no_package(client, world):
    headers = {"Authorization": f"Bearer {world['tokens']['other_region']}"}
    existing = client.get(f"/api/v1/packages/{world['package']}", headers=headers)
    made_up = client.get(f"/api/v1/packages/{world['package']}X", headers=headers)
    assert existing.status_code == made_up.status_code == 404
    assert (existing.get_json()["error"]["message"]
            == made_up.get_json()["error"]["message"].replace(world["package"] + "X",
                                                              world["package"]))
