"""The dashboard's shipments: a list with each receipt's verdict, and the surat jalan to print."""

from __future__ import annotations

import uuid

import pytest

from server.access import create_user
from server.shipments.records import record_receipt, record_shipment, reference_of
from tests.factories import make_plan, make_region, principal
from tests.server import dashboard_data as data


@pytest.fixture
def shipped(session):
    """A shipment from Sukapura to Ngadisari, received one koli short; users of 3513 and 3514."""
    region = make_region(session)
    make_plan(session, region, tps_codes=["3513010001001"])
    for name, code in (("sup", "3513"), ("sup14", "3514")):
        create_user(session, name, data.PASSWORD, "supervisor", code)
    shipment, _ = record_shipment(session, principal(), {
        "id": str(uuid.uuid4()), "from": "351301", "to": "3513010001",
        "koli": ["3513010001001-SS-DPR", "3513010001001-KOTAK"],
        "closed_at": "2024-02-10T08:00:00Z"})
    record_receipt(session, principal(), shipment.number, {
        "id": str(uuid.uuid4()), "reference": reference_of(shipment), "location": "3513010001",
        "koli": ["3513010001001-SS-DPR"], "closed_at": "2024-02-10T11:00:00Z"})
    session.commit()
    return shipment.number


def test_supervisor_sees_the_shipment_its_receipt_and_prints_the_surat_jalan(client, shipped):
    data.login(client)
    page = client.get("/shipments/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert shipped in text and "kiriman kurang" in text  # Indonesian by default
    pdf = client.get(f"/shipments/{shipped}/surat-jalan.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_another_regency_sees_neither_the_shipment_nor_its_paper(client, shipped):
    data.login(client, "sup14")
    assert shipped not in client.get("/shipments/").get_data(as_text=True)
    assert client.get(f"/shipments/{shipped}/surat-jalan.pdf").status_code == 404


def test_the_shipments_page_needs_a_login(client, shipped):
    response = client.get("/shipments/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
