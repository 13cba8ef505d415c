"""The OpenAPI document matches the routes, and schemathesis finds no answer that breaks it.

Schemathesis runs in-process (WSGI) against a small region with data, with a
fixed seed so the run is the same every time; it generates valid requests
(which must not be refused with 400) and invalid ones (which must be refused),
and checks every answer against the document: status, content type, headers
and body schema, never a 5xx, 401 without the token, 405 for other methods.
(Run by hand with EXAMPLES = 300 it takes ~3 minutes and finds nothing.)
"""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from server.api import PREFIX, ROUTES
from server.api.openapi import document
from server.models import Anomaly
from tests.server.api.test_api_scans import auth, receipts, world  # noqa: F401 (fixture)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, positive_data_acceptance,
          negative_data_rejection,
          # Each request is sent again without the token (must be 401) and with a method
          # the path does not take (must be 405).
          ignored_auth, unsupported_method]
EXAMPLES = 25


def openapi_path(rule: str) -> str:
    """Return a Flask rule written the OpenAPI way: <int:x> becomes {x}."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_the_document_describes_every_route_and_method(app):
    doc = document()
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            path = openapi_path(rule.rule[len(PREFIX):])
            served[path] = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert {p: set(ops) for p, ops in doc["paths"].items()} == served
    assert len(ROUTES) + 1 == len(served)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            names = re.findall(r"{(\w+)}", path)
            declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            assert declared == names, (path, method)
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error"


def test_the_document_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.0")


def test_answers_with_data_match_the_document(app, client, world, session, region):
    """Known-good requests that find data: their 200 bodies must match the document too."""
    scans = receipts(world)
    scans[0]["container"] = scans[1]["code"]
    scans[0]["action"] = "pack"
    client.post("/api/v1/scans", json={"scans": scans}, headers=auth(world["admin"]))
    forged = dict(scans[2], id="00000000-0000-4000-8000-000000000001", code="J1.FORGED")
    client.post("/api/v1/scans", json={"scans": [forged]}, headers=auth(world["admin"]))
    anomaly = client.get("/api/v1/anomalies", headers=auth(world["admin"])).get_json()["anomalies"][0]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = auth(world["admin"])
    package = next(iter(world["plan"]))
    cases = [
        ("GET", "/packages/{package_id}", {"path_parameters": {"package_id": package}}),
        ("GET", "/locations/{code}/expected", {"path_parameters": {"code": "3513010001"}}),
        ("GET", "/anomalies", {"query": {"region": "3513", "limit": 1}}),
        ("GET", "/progress", {"query": {"region": "3513"}}),
        ("GET", "/progress", {"query": {"region": "351301"}}),
        ("GET", "/keys", {}), ("GET", "/me", {}), ("GET", "/health", {}),
        ("POST", "/anomalies/{anomaly_id}/resolve",
         {"path_parameters": {"anomaly_id": anomaly["id"]},
          "body": {"note": "checked", "status": "acknowledged"}}),
        ("POST", "/scans", {"body": {"scans": scans[:3] + [{"id": "x"}]}}),
    ]
    for method, path, parts in cases:
        case = schema[path][method].Case(**parts)
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        assert response.status_code == 200, (method, path, response.text[:300])


def test_schemathesis_finds_nothing(app, client, db, world, session, region):
    # Data for the reads to find, an unlimited token, and the document loaded from the app.
    client.post("/api/v1/scans", json={"scans": receipts(world)}, headers=auth(world["admin"]))
    for i in range(3):
        session.add(Anomaly(kind="damaged", dedup_key=f"st:{i}", location_id=region["3513"].id,
                            claimed_package=f"X{i}", evidence=[]))
    session.commit()
    app.extensions["jejak.ratelimit"].limit = 0
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = auth(world["admin"])
    operations = [result.ok() for result in schema.get_all_operations()]
    routes = {methods[0] + " " + openapi_path(rule) for rule, _, _, methods in ROUTES}
    assert {op.label for op in operations} >= routes
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = CHECKS
            if operation.label == "POST /scans" and mode is GenerationMode.NEGATIVE:
                # A scan with a wrong field is answered 200 "rejected" for that scan (the rest
                # of the batch is kept): by design not a whole-request 4xx.
                checks = [c for c in CHECKS if c is not negative_data_rejection]

            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.call_and_validate(headers=headers, checks=checks)

            try:
                run()
            except Unsatisfiable:
                # No parameter or body to make invalid (e.g. GET /keys): nothing to send.
                assert mode is GenerationMode.NEGATIVE, operation.label
