"""The surat jalan end to end through the API: a shipment dispatched, received short and with extra.

Every test runs on the database of JEJAK_TEST_DATABASE_URL (SQLite by default,
PostgreSQL in CI), through the same endpoints the scanners call.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from labels.shipment import parse_shipment_ref
from server.models import Anomaly, Shipment, ShipmentKoli, ShipmentReceipt
from tests.factories import label_text, make_plan, scan, token
from tests.server.api.test_api_scans import trust

DISTRICT, VILLAGE = "351301", "3513010001"
TPS1, TPS2 = "3513010001001", "3513010001002"
T0 = dt.datetime(2024, 2, 10, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def world(region, session, label_key):
    """Return the labels of six packages bound for Ngadisari's TPSs, and an operator's auth."""
    plan = make_plan(session, region, tps_codes=[TPS1, TPS2],
                     item_types=("SS-DPR", "KOTAK", "BILIK"))
    trust(session, label_key)
    auth = {"Authorization": f"Bearer {token(session, 'operator', '3513')}"}
    session.commit()
    labels = {pid: label_text(pkg, label_key) for pid, pkg in sorted(plan.items())}
    return {"labels": labels, "auth": auth}


def post_scans(client, auth, scans):
    """Upload scans and check each was recorded."""
    response = client.post("/api/v1/scans", json={"scans": scans}, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert {r["status"] for r in response.get_json()["results"]} == {"recorded"}
    return response.get_json()["results"]


def dispatch(client, auth, labels, listed, shipment_id=None, at=T0):
    """Scan every package down to the district and dispatched; record the listed ones' shipment."""
    for hours, place, action in ((6, "3513", "receive"), (5, "3513", "dispatch"),
                                 (2, DISTRICT, "receive")):
        post_scans(client, auth, [scan(text, place, action, at - dt.timedelta(hours=hours))
                                  for text in labels.values()])
    post_scans(client, auth, [scan(text, DISTRICT, "dispatch", at) for text in labels.values()])
    body = {"id": shipment_id or str(uuid.uuid4()), "from": DISTRICT, "to": VILLAGE,
            "koli": [labels[p] for p in listed], "closed_at": at.isoformat(),
            "operator": "Budi"}
    response = client.post("/api/v1/shipments", json=body, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return body, response.get_json()


def receive(client, auth, shipment, labels, received, receipt_id=None,
            at=T0 + dt.timedelta(hours=3), expect=201):
    """Scan the surat jalan's QR and the received koli at the village, then close the receipt."""
    post_scans(client, auth, [scan(labels[p], VILLAGE, "receive", at) for p in received])
    body = {"id": receipt_id or str(uuid.uuid4()), "reference": shipment["reference"],
            "location": VILLAGE, "koli": [labels[p] for p in received],
            "closed_at": at.isoformat(), "operator": "Sari"}
    response = client.post(f"/api/v1/shipments/{shipment['number']}/receipt", json=body,
                           headers=auth)
    assert response.status_code == expect, response.get_data(as_text=True)
    return body, response.get_json()


def anomalies(db):
    """Return (kind, package id, location code, detected_at) of every anomaly, sorted."""
    with db.session() as s:
        return sorted((a.kind, a.package.package_id if a.package else a.claimed_package,
                       a.location.code, a.detected_at) for a in s.scalars(select(Anomaly)))


def test_a_shipment_received_with_a_koli_missing_and_one_extra_flags_each_at_the_handoff(
        client, db, world):
    labels, auth = world["labels"], world["auth"]
    ids = sorted(labels)
    listed = ids[:5]  # the sixth package travels apart from the surat jalan
    missing, extra = ids[2], ids[5]
    _, shipment = dispatch(client, auth, labels, listed)
    assert shipment["number"].startswith("SJ-") and shipment["koli"] == listed
    assert parse_shipment_ref(shipment["reference"]).number == shipment["number"]
    assert anomalies(db) == []

    received = [p for p in listed if p != missing] + [extra]
    _, receipt = receive(client, auth, shipment, labels, received)

    at = dt.datetime(2024, 2, 10, 11, 0)
    assert anomalies(db) == sorted([("short_shipment", missing, VILLAGE, at),
                                    ("not_in_shipment", extra, VILLAGE, at)])
    assert receipt["short_shipment"] == [missing]
    assert receipt["not_in_shipment"] == [extra]
    assert sorted(a["kind"] for a in receipt["anomalies"]) == ["not_in_shipment", "short_shipment"]
    listed_anomalies = client.get("/api/v1/anomalies?region=3513", headers=auth).get_json()
    assert sorted(a["kind"] for a in listed_anomalies["anomalies"]) == [
        "not_in_shipment", "short_shipment"]


def test_an_honest_shipment_raises_nothing(client, db, world):
    labels, auth = world["labels"], world["auth"]
    ids = sorted(labels)
    _, shipment = dispatch(client, auth, labels, ids)
    _, receipt = receive(client, auth, shipment, labels, list(reversed(ids)))
    assert receipt["short_shipment"] == receipt["not_in_shipment"] == receipt["anomalies"] == []
    assert anomalies(db) == []
    shown = client.get(f"/api/v1/shipments/{shipment['number']}", headers=auth).get_json()
    assert shown["receipt"]["koli"] == list(reversed(ids))


def test_retried_uploads_of_a_shipment_and_its_receipt_double_nothing(client, db, world):
    labels, auth = world["labels"], world["auth"]
    ids = sorted(labels)
    body, shipment = dispatch(client, auth, labels, ids[:5])
    again = client.post("/api/v1/shipments", json=body, headers=auth)
    assert again.status_code == 200
    assert again.get_json()["status"] == "already_recorded"
    assert again.get_json()["number"] == shipment["number"]
    received = ids[1:]
    receipt_body, first = receive(client, auth, shipment, labels, received)
    retry = client.post(f"/api/v1/shipments/{shipment['number']}/receipt", json=receipt_body,
                        headers=auth)
    assert retry.status_code == 200
    assert retry.get_json()["status"] == "already_recorded"
    assert retry.get_json()["anomalies"] == first["anomalies"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Shipment)) == 1
        assert s.scalar(select(func.count()).select_from(ShipmentReceipt)) == 1
        assert s.scalar(select(func.count()).select_from(ShipmentKoli)) == 5 + 5
    assert [a[0] for a in anomalies(db)] == ["not_in_shipment", "short_shipment"]


def test_an_offline_shipment_uploaded_days_later_is_judged_at_its_own_times(client, db, world):
    labels, auth = world["labels"], world["auth"]
    ids = sorted(labels)
    _, shipment = dispatch(client, auth, labels, ids[:3], at=T0 - dt.timedelta(days=3))
    receive(client, auth, shipment, labels, ids[:2], at=T0 - dt.timedelta(days=2))
    assert anomalies(db) == [("short_shipment", ids[2], VILLAGE, dt.datetime(2024, 2, 8, 8, 0))]


def test_a_uuid_reused_with_other_content_or_a_second_receipt_is_a_conflict(client, db, world):
    labels, auth = world["labels"], world["auth"]
    ids = sorted(labels)
    body, shipment = dispatch(client, auth, labels, ids[:3])
    changed = dict(body, koli=[labels[p] for p in ids[:2]])
    response = client.post("/api/v1/shipments", json=changed, headers=auth)
    assert response.status_code == 409
    receive(client, auth, shipment, labels, ids[:3])
    _, error = receive(client, auth, shipment, labels, ids[:3], expect=409)
    assert "received already" in error["error"]["message"]
    # The second receipt's scans repeat the first (duplicate_scan); the refused receipt raised nothing.
    assert [a for a in anomalies(db) if a[0] != "duplicate_scan"] == []


def test_a_receipt_must_carry_the_surat_jalan_it_names(client, world):
    labels, auth = world["labels"], world["auth"]
    ids = sorted(labels)
    _, shipment = dispatch(client, auth, labels, ids[:3])
    _, other = dispatch(client, auth, labels, ids[3:])
    body = {"id": str(uuid.uuid4()), "reference": other["reference"], "location": VILLAGE,
            "koli": [labels[ids[0]]], "closed_at": T0.isoformat()}
    response = client.post(f"/api/v1/shipments/{shipment['number']}/receipt", json=body,
                           headers=auth)
    assert response.status_code == 400
    assert "is not the surat jalan of" in response.get_json()["error"]["message"]


def test_the_surat_jalan_is_a_pdf_carrying_the_reference(client, world):
    labels, auth = world["labels"], world["auth"]
    _, shipment = dispatch(client, auth, labels, sorted(labels))
    for lang in ("id", "en"):
        response = client.get(f"/api/v1/shipments/{shipment['number']}/surat-jalan.pdf"
                              f"?lang={lang}", headers=auth)
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")


def test_a_shipment_of_another_region_looks_like_no_shipment(client, session, world):
    labels, auth = world["labels"], world["auth"]
    _, shipment = dispatch(client, auth, labels, sorted(labels))
    other = {"Authorization": f"Bearer {token(session, 'admin', '3514')}"}
    session.commit()
    for url in (f"/api/v1/shipments/{shipment['number']}",
                f"/api/v1/shipments/{shipment['number']}/surat-jalan.pdf"):
        assert client.get(url, headers=other).status_code == 404
