"""A label problem belongs to the place it was scanned: one per district, none reused once resolved."""

from __future__ import annotations

from sqlalchemy import select

from server.models import Anomaly
from tests.factories import device_token, make_plan, scan, token
from tests.server.api.test_api_scans import auth

UNKNOWN = "3513019999999-KOTAK ABCD-EFGH"  # typed by hand, in nobody's plan


def _post(client, tok, location):
    rv = client.post("/api/v1/scans", json={"scans": [scan(UNKNOWN, location)]}, headers=auth(tok))
    assert rv.status_code == 200, rv.get_data(as_text=True)
    return rv.get_json()["results"][0]


def _listed(client, tok, region):
    rv = client.get(f"/api/v1/anomalies?region={region}&kind=unknown_package", headers=auth(tok))
    assert rv.status_code == 200, rv.get_data(as_text=True)
    return rv.get_json()["anomalies"]


def test_the_same_unknown_id_in_two_districts_is_two_anomalies_each_seen_by_its_own(
        client, session, region):
    make_plan(session, region)
    sukapura, kraksaan = device_token(session, "351301"), device_token(session, "351302")
    sup_a, sup_b = token(session, "supervisor", "351301"), token(session, "supervisor", "351302")
    obs_a = token(session, "observer", "351301")
    session.commit()
    first_a = _post(client, sukapura, "351301")
    first_b = _post(client, kraksaan, "351302")
    assert first_a["anomalies"] == first_b["anomalies"] == ["unknown_package"]
    seen_a, seen_b = _listed(client, sup_a, "351301"), _listed(client, sup_b, "351302")
    assert len(seen_a) == len(seen_b) == 1 and seen_a[0]["id"] != seen_b[0]["id"]
    assert seen_a[0]["evidence"] == [first_a["id"]]
    assert seen_b[0]["evidence"] == [first_b["id"]]  # B's supervisor sees B's scan
    # A's observer sees nothing of B's scan: neither its uuid nor its place.
    assert _listed(client, obs_a, "351301") == seen_a
    # The regency sees both problems, each where it happened.
    sup_regency = token(session, "supervisor", "3513")
    session.commit()
    places = sorted(a["location"] for a in _listed(client, sup_regency, "3513"))
    assert places == ["351301", "351302"]


def test_a_resolved_anomaly_gets_no_new_evidence_a_new_one_opens(client, session, region, db):
    make_plan(session, region)
    sukapura = device_token(session, "351301")
    sup_a = token(session, "supervisor", "351301")
    session.commit()
    first = _post(client, sukapura, "351301")
    [anomaly] = _listed(client, sup_a, "351301")
    rv = client.post(f"/api/v1/anomalies/{anomaly['id']}/resolve",
                     json={"note": "typo by the operator, package found", "status": "resolved"},
                     headers=auth(sup_a))
    assert rv.status_code == 200, rv.get_data(as_text=True)
    again = _post(client, sukapura, "351301")
    assert again["anomalies"] == ["unknown_package"]
    with db.session() as s:
        rows = s.scalars(select(Anomaly).order_by(Anomaly.id)).all()
        assert [(a.status, a.evidence) for a in rows] == [
            ("resolved", [first["id"]]), ("open", [again["id"]])]
