"""Both parties: device keys registered at enrolment, each side's signed confirmation of a shipment.

Through the same endpoints the scanners call, on the database of
JEJAK_TEST_DATABASE_URL (SQLite by default, PostgreSQL in CI).
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from labels.confirmation import confirmation_message, digest_hex
from server.ledger.content import digest_of
from server.ledger.verify import verify_database
from server.models import Device, LedgerEntry, ShipmentConfirmation
from tests.factories import device_token, scan
from tests.server.shipments.test_shipments import (
    DISTRICT,
    T0,
    VILLAGE,
    dispatch,
    post_scans,
    receive,
    world,  # noqa: F401  (the fixture)
)


def log_problems(session, *records):
    """Return verify-log's problems about these record kinds (the test's label key is unchained)."""
    return [p for p in verify_database(session).problems if p.record in records]


class Phone:
    """A device: its token and the Ed25519 key it made at enrolment."""

    def __init__(self, session, location: str):
        self.auth = {"Authorization": f"Bearer {device_token(session, location)}"}
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
        self.public = base64.b64encode(raw).decode()

    def register(self, client, public=None):
        return client.post("/api/v1/devices/key", json={"public_key": public or self.public},
                           headers=self.auth)

    def confirm(self, client, number: str, party: str, name: str = "Budi", digest=None,
                key=None):
        answer = client.get(f"/api/v1/shipments/{number}/digest", headers=self.auth)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        # What the device signs is what it can check: the digest is the content's.
        assert digest_hex(body["content"]) == body["digest"]
        digest = digest or body["digest"]
        signed_as = party if party in ("giver", "receiver") else "giver"
        signature = (key or self.key).sign(confirmation_message(number, signed_as, digest)).hex()
        return client.post(f"/api/v1/shipments/{number}/confirmations",
                           json={"party": party, "digest": digest, "signature": signature,
                                 "name": name, "confirmed_at": T0.isoformat()},
                           headers=self.auth)


@pytest.fixture
def phones(session, world):  # noqa: F811
    giver, receiver = Phone(session, DISTRICT), Phone(session, VILLAGE)
    session.commit()
    return giver, receiver


def test_a_device_registers_its_key_once_and_the_key_is_chained(client, db, phones):
    giver, _ = phones
    first = giver.register(client)
    assert first.status_code == 201, first.get_data(as_text=True)
    assert first.get_json()["status"] == "registered"
    assert giver.register(client).get_json()["status"] == "already_registered"
    other = Phone.__new__(Phone)
    other.key = Ed25519PrivateKey.generate()
    swapped = base64.b64encode(other.key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
    refused = giver.register(client, swapped)
    assert refused.status_code == 409
    assert "never changes" in refused.get_json()["error"]["message"]
    assert client.get("/api/v1/me", headers=giver.auth).get_json()["device_public_key"] \
        == giver.public
    with db.session() as s:
        contents = [json.loads(e.content) for e in s.scalars(select(LedgerEntry)
                                                  .where(LedgerEntry.kind == "device"))]
        assert any(c.get("public_key") == giver.public for c in contents)
        assert log_problems(s, "device") == []


def test_a_key_that_is_not_a_key_is_refused_saying_why(client, phones):
    giver, _ = phones
    for bad, words in (("hello", "not base64"), (base64.b64encode(b"x" * 16).decode(), "16 bytes"),
                       (None, "public key is base64")):
        response = giver.register(client, bad) if bad else client.post(
            "/api/v1/devices/key", json={}, headers=giver.auth)
        assert response.status_code == 400
        assert words in response.get_json()["error"]["message"]


def test_a_swapped_key_in_the_database_is_found_by_verify_log(client, db, phones):
    giver, _ = phones
    giver.register(client)
    with db.session() as s:
        device = s.scalars(select(Device).where(Device.public_key.is_not(None))).one()
        device.public_key = base64.b64encode(bytes(32)).decode()
        s.commit()
        problems = log_problems(s, "device")
    assert any("public_key" in p.message for p in problems), problems


def test_both_parties_confirm_a_handover_each_on_their_own_device(client, db, world, phones):
    labels, auth = world["labels"], world["auth"]
    giver, receiver = phones
    giver.register(client), receiver.register(client)
    ids = sorted(labels)
    _, shipment = dispatch(client, auth, labels, ids[:5])
    number = shipment["number"]
    before = client.get(f"/api/v1/shipments/{number}/digest", headers=auth).get_json()
    assert before["covers_receipt"] is False

    given = giver.confirm(client, number, "giver", name="Budi")
    assert given.status_code == 201, given.get_data(as_text=True)
    assert given.get_json()["covers_receipt"] is False

    early = receiver.confirm(client, number, "receiver")
    assert early.status_code == 409
    assert "no closed receipt yet" in early.get_json()["error"]["message"]

    receive(client, auth, shipment, labels, ids[1:6])
    taken = receiver.confirm(client, number, "receiver", name="Sari")
    assert taken.status_code == 201, taken.get_data(as_text=True)
    assert taken.get_json()["covers_receipt"] is True

    shown = client.get(f"/api/v1/shipments/{number}", headers=auth).get_json()
    assert shown["confirmations"]["giver"]["name"] == "Budi"
    assert shown["confirmations"]["giver"]["current"] is True
    assert shown["confirmations"]["receiver"]["name"] == "Sari"
    assert shown["confirmations"]["receiver"]["location"] == VILLAGE
    content = client.get(f"/api/v1/shipments/{number}/digest", headers=auth).get_json()["content"]
    assert content["receipt"]["short_shipment"] == [ids[0]]
    assert content["receipt"]["not_in_shipment"] == [ids[5]]
    with db.session() as s:
        assert len(s.scalars(select(ShipmentConfirmation)).all()) == 2
        chained = [json.loads(e.content) for e in s.scalars(select(LedgerEntry)
                                                 .where(LedgerEntry.kind == "confirmation"))]
        assert sorted(c["party"] for c in chained) == ["giver", "receiver"]
        assert log_problems(s, "device", "confirmation") == []


def test_a_retried_confirmation_is_recorded_once_another_one_is_refused(client, db, world,
                                                                        phones):
    labels, auth = world["labels"], world["auth"]
    giver, _ = phones
    giver.register(client)
    _, shipment = dispatch(client, auth, labels, sorted(labels)[:3])
    number = shipment["number"]
    digest = client.get(f"/api/v1/shipments/{number}/digest", headers=auth).get_json()["digest"]
    signature = giver.key.sign(confirmation_message(number, "giver", digest)).hex()
    body = {"party": "giver", "digest": digest, "signature": signature}
    assert client.post(f"/api/v1/shipments/{number}/confirmations", json=body,
                       headers=giver.auth).status_code == 201
    again = client.post(f"/api/v1/shipments/{number}/confirmations", json=body,
                        headers=giver.auth)
    assert again.status_code == 200 and again.get_json()["status"] == "already_recorded"
    with db.session() as s:
        assert len(s.scalars(select(ShipmentConfirmation)).all()) == 1


def test_wrong_party_place_digest_or_signature_is_refused_with_a_clear_message(
        client, session, world, phones):
    labels, auth = world["labels"], world["auth"]
    giver, receiver = phones
    unregistered = Phone(session, DISTRICT)
    session.commit()
    giver.register(client), receiver.register(client)
    ids = sorted(labels)
    _, shipment = dispatch(client, auth, labels, ids[:3])
    number = shipment["number"]

    def refused(response, status, words):
        assert response.status_code == status, response.get_data(as_text=True)
        assert words in response.get_json()["error"]["message"]

    refused(giver.confirm(client, number, "sender"), 400, "'giver' or 'receiver'")
    refused(receiver.confirm(client, number, "giver"), 403, f"not at the giver's place {DISTRICT}")
    refused(unregistered.confirm(client, number, "giver"), 409, "no registered key")
    refused(giver.confirm(client, number, "giver", digest="0" * 64), 409,
            "is not the current digest")
    refused(giver.confirm(client, number, "giver", key=Ed25519PrivateKey.generate()), 400,
            "signature does not verify")
    user = client.post(f"/api/v1/shipments/{number}/confirmations",
                       json={"party": "giver", "digest": "0" * 64, "signature": "0" * 128},
                       headers=auth)
    refused(user, 403, "only a device's token")
    # A giver's signature is not a receiver's: the party is in what is signed.
    receive(client, auth, shipment, labels, ids[:3])
    digest = client.get(f"/api/v1/shipments/{number}/digest", headers=auth).get_json()["digest"]
    as_giver = receiver.key.sign(confirmation_message(number, "giver", digest)).hex()
    refused(client.post(f"/api/v1/shipments/{number}/confirmations",
                        json={"party": "receiver", "digest": digest, "signature": as_giver},
                        headers=receiver.auth), 400, "signature does not verify")


def test_a_count_recorded_after_a_confirmation_makes_it_not_current(client, world, phones):
    labels, auth = world["labels"], world["auth"]
    giver, receiver = phones
    receiver.register(client)
    ids = sorted(labels)
    _, shipment = dispatch(client, auth, labels, ids[:2])
    receive(client, auth, shipment, labels, ids[:2])
    number = shipment["number"]
    assert receiver.confirm(client, number, "receiver").status_code == 201
    post_scans(client, auth, [scan(labels[ids[0]], VILLAGE, "inspect", T0,
                                   counted_quantity=7)])
    shown = client.get(f"/api/v1/shipments/{number}", headers=auth).get_json()
    assert shown["confirmations"]["receiver"]["current"] is False
    content = client.get(f"/api/v1/shipments/{number}/digest", headers=auth).get_json()["content"]
    assert content["receipt"]["quantity_mismatch"] == [ids[0]]
    assert content["receipt"]["koli"][0]["counted"] == 7


def test_the_digest_is_the_ledgers_canonical_digest_of_the_content(client, world):
    labels, auth = world["labels"], world["auth"]
    _, shipment = dispatch(client, auth, labels, sorted(labels)[:2])
    body = client.get(f"/api/v1/shipments/{shipment['number']}/digest", headers=auth).get_json()
    assert digest_of(body["content"]).hex() == body["digest"]


def test_a_stolen_phone_revoked_can_no_longer_confirm(app, client, world, phones):
    labels, auth = world["labels"], world["auth"]
    giver, _ = phones
    giver.register(client)
    _, shipment = dispatch(client, auth, labels, sorted(labels)[:2])
    device = client.get("/api/v1/me", headers=giver.auth).get_json()["device"]
    result = app.test_cli_runner().invoke(args=["revoke-device", str(device)])
    assert result.exit_code == 0 and "1 tokens revoked" in result.output
    assert giver.register(client).status_code == 401
    response = client.post(f"/api/v1/shipments/{shipment['number']}/confirmations",
                           json={"party": "giver", "digest": "0" * 64, "signature": "0" * 128},
                           headers=giver.auth)
    assert response.status_code == 401
