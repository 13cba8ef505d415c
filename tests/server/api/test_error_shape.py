"""Every /api/ endpoint answers 400, 401, 403, 404 and 405 in the one error shape.

The endpoints are read from the app's url_map, so a new endpoint fails here
until it is given sample arguments in ``SAMPLES`` below.
"""

from __future__ import annotations

import pytest

from tests.factories import token

# endpoint -> (URL with sample path arguments of something that does not exist,
#              method, whether a token is required, URL the caller's role may not use or None)
SAMPLES = {
    "api.health": ("/api/v1/health", "GET", False),
    "api.openapi": ("/api/v1/openapi.json", "GET", False),
    "api.me": ("/api/v1/me", "GET", True),
    "api.keys": ("/api/v1/keys", "GET", True),
    "api.scans": ("/api/v1/scans", "POST", True),
    "api.scan_photos": ("/api/v1/scans/00000000-0000-4000-8000-00000000dead/photos", "POST", True),
    "api.package": ("/api/v1/packages/NO-SUCH-PACKAGE", "GET", True),
    "api.anomalies": ("/api/v1/anomalies", "GET", True),
    "api.resolve": ("/api/v1/anomalies/999999/resolve", "POST", True),
    "api.progress": ("/api/v1/progress", "GET", True),
    "api.expected": ("/api/v1/locations/NO-SUCH-CODE/expected", "GET", True),
    "api.own_expected": ("/api/v1/expected", "GET", True),
    "api.ledger_head": ("/api/v1/ledger/head", "GET", True),
    "api.ledger_entries": ("/api/v1/ledger/entries", "GET", True),
    "api.ledger_key": ("/api/v1/ledger/key", "GET", True),
    "api.shipments": ("/api/v1/shipments", "POST", True),
    "api.shipment": ("/api/v1/shipments/SJ-999999", "GET", True),
    "api.surat_jalan": ("/api/v1/shipments/SJ-999999/surat-jalan.pdf", "GET", True),
    "api.receipt": ("/api/v1/shipments/SJ-999999/receipt", "POST", True),
    "api.shipment_digest": ("/api/v1/shipments/SJ-999999/digest", "GET", True),
    "api.confirmations": ("/api/v1/shipments/SJ-999999/confirmations", "POST", True),
    "api.device_key": ("/api/v1/devices/key", "POST", True),
}

# Requests the observer of regency 3513 may not make: role (scans, resolve) or region (others).
FORBIDDEN = {
    "api.scans": ("POST", "/api/v1/scans", {"scans": [{"id": "x"}]}),
    "api.scan_photos": ("POST", "/api/v1/scans/00000000-0000-4000-8000-00000000dead/photos", {}),
    "api.resolve": ("POST", "/api/v1/anomalies/1/resolve", {"note": "done"}),
    "api.anomalies": ("GET", "/api/v1/anomalies?region=3514", None),
    "api.progress": ("GET", "/api/v1/progress?region=3514", None),
    "api.expected": ("GET", "/api/v1/locations/3514/expected", None),
    "api.shipments": ("POST", "/api/v1/shipments", {"id": "x"}),
    "api.receipt": ("POST", "/api/v1/shipments/SJ-000001/receipt", {"id": "x"}),
    "api.confirmations": ("POST", "/api/v1/shipments/SJ-000001/confirmations", {"party": "x"}),
    "api.device_key": ("POST", "/api/v1/devices/key", {"public_key": "x"}),
}

# Requests that name something that does not exist (404).
MISSING = {
    "api.package": "/api/v1/packages/NO-SUCH-PACKAGE",
    "api.expected": "/api/v1/locations/NO-SUCH-CODE/expected",
    "api.anomalies": "/api/v1/anomalies?region=NO-SUCH-REGION",
    "api.progress": "/api/v1/progress?region=NO-SUCH-REGION",
    "api.resolve": "/api/v1/anomalies/999999/resolve",
    "api.shipment": "/api/v1/shipments/SJ-999999",
    "api.scan_photos": "/api/v1/scans/00000000-0000-4000-8000-00000000dead/photos",
    "api.surat_jalan": "/api/v1/shipments/SJ-999999/surat-jalan.pdf",
    "api.shipment_digest": "/api/v1/shipments/SJ-999999/digest",
}


def assert_error_shape(response, status: int) -> dict:
    """Check a response is the common JSON error with this status; return its error object."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) - {"details"} == {"status", "code", "message"}, error
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"] and "<" not in error["message"][:1]
    return error


def api_rules(app):
    """Return the /api/ rules of the app's url_map."""
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")]


def call(client, method, url, headers=None, body=None):
    """Make one request; POSTs send a JSON body."""
    if method == "POST":
        return client.post(url, headers=headers or {}, json=body if body is not None else {})
    return client.open(url, method=method, headers=headers or {})


def test_every_api_endpoint_has_samples(app):
    assert {r.endpoint for r in api_rules(app)} == set(SAMPLES)


@pytest.fixture
def tokens(region, session):
    """Return tokens of regency 3513: an observer and an admin."""
    t = {"observer": token(session, "observer", "3513"), "admin": token(session, "admin", "3513")}
    session.commit()
    return t


def test_401_without_a_token_or_with_a_wrong_one(app, client):
    for rule in api_rules(app):
        url, method, needs_token = SAMPLES[rule.endpoint]
        if not needs_token:
            continue
        for headers in ({}, {"Authorization": "Bearer jjk_not-a-token"},
                        {"Authorization": "Basic dXNlcjpwYXNz"}):
            response = call(client, method, url, headers)
            assert_error_shape(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_403_for_a_role_or_region_out_of_reach(client, tokens):
    auth = {"Authorization": f"Bearer {tokens['observer']}"}
    for endpoint, (method, url, body) in FORBIDDEN.items():
        assert_error_shape(call(client, method, url, auth, body), 403)


def test_404_for_unknown_things_and_unknown_paths(client, tokens):
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    for endpoint, url in MISSING.items():
        body = {"note": "checked"} if endpoint == "api.resolve" else None
        assert_error_shape(call(client, "POST" if body else "GET", url, auth, body), 404)
    for url in ("/api/v1/nothing-here", "/api/v2/scans", "/api/v1/anomalies/abc/resolve"):
        assert_error_shape(client.get(url, headers=auth), 404)


def test_400_for_an_unknown_query_parameter_on_every_endpoint(app, client, tokens):
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    for rule in api_rules(app):
        if rule.endpoint == "api.openapi":
            continue  # a static document: any query is ignored
        url, method, _ = SAMPLES[rule.endpoint]
        error = assert_error_shape(call(client, method, url + "?bogus=1", auth), 400)
        assert "bogus" in error["message"]


def test_405_for_every_method_an_endpoint_does_not_take(app, client, tokens):
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    for rule in api_rules(app):
        url, _, _ = SAMPLES[rule.endpoint]
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - set(rule.methods):
            response = client.open(url, method=method, headers=auth)
            assert_error_shape(response, 405)
            assert set(response.headers["Allow"].replace(" ", "").split(",")) == set(rule.methods)


def test_errors_outside_the_api_are_not_json(client):
    assert client.get("/no-such-page").mimetype != "application/json"
