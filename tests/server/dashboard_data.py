"""A small handover story for dashboard and report tests: a plan, scans down the tree, anomalies.

Scans are written straight into the scan log (as ingest would store them) so the
tests of pages and reports do not depend on the detection rules; anomalies are
stored rows with their evidence.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib

from sqlalchemy import select

from server.access import create_device, create_user
from server.models import Anomaly, ScanEvent
from tests.factories import make_plan, make_region

PASSWORD = "correct horse"
T0 = dt.datetime(2024, 2, 9, 8, 0)


def add_scan(session, package, location, action, at, operator="", disposition="ok", seal="",
             device=None, offline=False, raw=None, claimed="") -> ScanEvent:
    """Store one scan as ingest records it."""
    scan = ScanEvent(uuid=str(uuidlib.uuid4()), package_id=package.id if package else None,
                     claimed_package=claimed or (package.package_id if package else ""),
                     raw_code=raw or f"J1.TEST.{package.package_id if package else claimed}",
                     location_id=location.id, action=action, disposition=disposition, seal=seal,
                     operator=operator, device_id=device.id if device else None, scanned_at=at,
                     received_at=at + dt.timedelta(minutes=1), offline=offline)
    session.add(scan)
    session.flush()
    return scan


def add_anomaly(session, kind, package, location, evidence, detail="") -> Anomaly:
    """Store one open anomaly with its evidence scans."""
    a = Anomaly(kind=kind, dedup_key=f"{kind}:{package.package_id if package else detail}:{location.code}",
                package_id=package.id if package else None, location_id=location.id,
                detected_at=evidence[-1].scanned_at if evidence else T0, detail=detail)
    a.evidence = [s.uuid for s in evidence]
    session.add(a)
    session.flush()
    return a


def build(session, client=None, key=None) -> dict:
    """Load the region, plan, users and handoffs with planted problems.

    With a client and a label key the scans go through ``POST /api/v1/scans``
    as scanners send them (so the server's own rules find the anomalies);
    without, they are written straight into the log with stored anomalies.
    """
    region = make_region(session)
    plan = make_plan(session, region)
    for name, role, code in (("sup", "supervisor", "3513"), ("obs", "observer", "3513"),
                             ("sup14", "supervisor", "3514"), ("prov", "admin", "35")):
        create_user(session, name, PASSWORD, role, code)
    device, device_tok = create_device(session, "3513010001", name="hp-ngadisari")
    if client is not None:
        return _build_through_api(session, client, key, region, plan, device, device_tok)
    wh, sukapura, ngadisari = region["3513"], region["351301"], region["3513010001"]
    scans = {}
    # Everything bound for Sukapura leaves the regency warehouse and reaches the district.
    for pid, pkg in plan.items():
        if not pid.startswith("351301"):
            continue
        add_scan(session, pkg, wh, "dispatch", T0, operator="gudang")
        scans[pid] = add_scan(session, pkg, sukapura, "receive", T0 + dt.timedelta(hours=3),
                              operator="ppk-sukapura")
    # Ngadisari's packages go on to the village; one ballot box arrives damaged.
    for pid in ("3513010001001-SS-DPR", "3513010001001-KOTAK", "3513010001002-SS-DPR"):
        pkg = plan[pid]
        add_scan(session, pkg, sukapura, "dispatch", T0 + dt.timedelta(days=1), operator="ppk-sukapura")
        scans[pid] = add_scan(session, pkg, ngadisari, "receive",
                              T0 + dt.timedelta(days=1, hours=2), operator="pps-ngadisari",
                              device=device, offline=pid.endswith("KOTAK"),
                              disposition="damaged" if pid.endswith("KOTAK") else "ok")
    # 3513010001002-KOTAK was dispatched to the village but never received there.
    add_scan(session, plan["3513010001002-KOTAK"], sukapura, "dispatch", T0 + dt.timedelta(days=1),
             operator="ppk-sukapura")
    damaged = add_anomaly(session, "damaged", plan["3513010001001-KOTAK"], ngadisari,
                          [scans["3513010001001-KOTAK"]], detail="kotak suara penyok")
    # A forged label scanned in Pasuruan: another regency, invisible to 3513's users.
    forged_scan = add_scan(session, None, region["351401"], "receive", T0, claimed="FAKE-1",
                           raw="J1.BAD.FAKE-1")
    forged = add_anomaly(session, "forged_label", None, region["351401"], [forged_scan],
                         detail="signature invalid")
    session.commit()
    return {"region": region, "plan": plan, "damaged": damaged, "forged": forged, "device": device}


def _api_scan(code, location, action, at, **extra) -> dict:
    """Return one scan as a scanner posts it."""
    body = {"id": str(uuidlib.uuid4()), "code": code, "location": location, "action": action,
            "scanned_at": at.replace(tzinfo=dt.timezone.utc).isoformat()}
    body.update(extra)
    return body


def _post(client, token, scans) -> list[dict]:
    """Post a batch of scans and return the results (every scan must be recorded)."""
    rv = client.post("/api/v1/scans", json={"scans": scans},
                     headers={"Authorization": f"Bearer {token}"})
    assert rv.status_code == 200, rv.get_data(as_text=True)
    results = rv.get_json()["results"]
    assert all(r["status"] == "recorded" for r in results), results
    return results


def _build_through_api(session, client, key, region, plan, device, device_tok) -> dict:
    """Send the story's scans through the API and return what the tests look up."""
    from labels.keys import public_pem
    from labels.payload import key_id_for
    from server.access import create_token
    from server.models import LabelKey
    from tests.factories import label_text

    session.add(LabelKey(key_id=key_id_for(key.public_key()),
                         public_key_pem=public_pem(key.public_key()), name="test"))
    admin = create_token(session, "admin", "35", name="gudang-admin")
    session.commit()
    labels = {pid: label_text(p, key) for pid, p in plan.items()}
    day = dt.timedelta(days=1)
    batch = []
    for pid, text in labels.items():
        regency = pid[:4]
        batch.append(_api_scan(text, regency, "receive", T0 - day, operator="gudang"))
        if pid.startswith("351301"):
            batch.append(_api_scan(text, "3513", "dispatch", T0, operator="gudang"))
            batch.append(_api_scan(text, "351301", "receive", T0 + dt.timedelta(hours=3),
                                   operator="ppk-sukapura"))
    for pid in ("3513010001001-SS-DPR", "3513010001001-KOTAK", "3513010001002-SS-DPR",
                "3513010001002-KOTAK"):
        batch.append(_api_scan(labels[pid], "351301", "dispatch", T0 + day, operator="ppk-sukapura"))
    _post(client, admin, batch)
    # The village's own phone records the receipts; the box of TPS 001 arrives dented, offline.
    village = []
    for pid in ("3513010001001-SS-DPR", "3513010001001-KOTAK", "3513010001002-SS-DPR"):
        damaged = pid == "3513010001001-KOTAK"
        village.append(_api_scan(labels[pid], "3513010001", "receive",
                                 T0 + dt.timedelta(days=1, hours=2), operator="pps-ngadisari",
                                 disposition="damaged" if damaged else "ok", offline=damaged))
    _post(client, device_tok, village)
    # A forged label in Pasuruan: another regency, invisible to 3513's users.
    forged_text = labels["3514010001001-KOTAK"][:-6] + ("AAAAAA" if not labels[
        "3514010001001-KOTAK"].endswith("AAAAAA") else "BBBBBB")
    _post(client, admin, [_api_scan(forged_text, "3514", "receive", T0, operator="gudang-pasuruan")])
    session.expire_all()
    damaged = session.scalar(select(Anomaly).where(Anomaly.kind == "damaged"))
    forged = session.scalar(select(Anomaly).where(Anomaly.kind == "forged_label"))
    assert damaged is not None and forged is not None
    return {"region": region, "plan": plan, "damaged": damaged, "forged": forged,
            "device": device, "labels": labels, "admin": admin}


def login(client, username="sup", password=PASSWORD):
    """Log in through the form, CSRF token and all; return the response."""
    client.get("/login")
    with client.session_transaction() as s:
        token = s.get("csrf_token")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def csrf(client) -> str:
    """Return the client's CSRF token (a page view makes one after login renews the session)."""
    with client.session_transaction() as s:
        token = s.get("csrf_token")
    if token is None:
        client.get("/overview")
        with client.session_transaction() as s:
            token = s["csrf_token"]
    return token
