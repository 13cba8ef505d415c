"""The /scan blueprint (page, manifest, service worker, enrolment) and GET /api/v1/expected."""

from __future__ import annotations

import re

from sqlalchemy import select

from server.models import Device
from tests.factories import device_token, make_plan, token


def auth(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_the_page_is_the_same_for_everyone_and_names_no_token(client):
    r = client.get("/scan")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert b'<script type="module" src="/scan/app/app.js">' in r.data
    assert b'rel="manifest" href="/scan/manifest.webmanifest"' in r.data
    assert "no-cache" in r.headers["Cache-Control"]


def test_manifest_makes_an_installable_app_scoped_to_scan(client):
    r = client.get("/scan/manifest.webmanifest")
    assert r.mimetype == "application/manifest+json"
    m = r.get_json(force=True)
    assert m["start_url"] == m["scope"] == "/scan" and m["display"] == "standalone"
    sizes = {i["sizes"] for i in m["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in m["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_service_worker_may_control_scan_and_caches_what_the_page_needs(client):
    r = client.get("/scan/sw.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert r.headers["Service-Worker-Allowed"] == "/scan"
    text = r.get_data(as_text=True)
    assert "__VERSION__" not in text and "__PRECACHE__" not in text
    version = re.search(r'const VERSION = "([0-9a-f]{16})"', text).group(1)
    cached = re.search(r"const PRECACHE = (\[.*?\]);", text).group(1)
    for url in ("/scan", "/scan/app/app.js", "/scan/app/decode-worker.js"):
        assert f'"{url}"' in cached
    for url in re.findall(r'"(/[^"]+)"', cached):
        assert client.get(url).status_code == 200, url  # every cached file is served
    assert "skipWaiting" in text and "clients.claim" in text
    assert client.get("/scan/sw.js").get_data(as_text=True).count(version) == 1


def test_front_end_files_are_served_inside_the_scope_with_their_types(client):
    assert client.get("/scan/app/app.js").mimetype == "text/javascript"
    assert client.get("/scan/app/../../config.py").status_code == 404
    assert client.get("/scan/app/nothing.js").status_code == 404


def test_expected_answers_the_device_its_own_location(client, session, region):
    make_plan(session, region, tps_codes=["3513010001001", "3513020001001"])
    device = device_token(session, "3513010001")
    operator = token(session, "operator", "351302")
    session.commit()
    body = client.get("/api/v1/expected", headers=auth(device)).get_json()
    assert body["location"]["code"] == "3513010001"
    assert {p["destination"] for p in body["packages"]} == {"3513010001001"}
    page = client.get("/api/v1/expected?limit=1", headers=auth(device)).get_json()
    assert page["next"].startswith("/api/v1/expected?") and len(page["packages"]) == 1
    rest = client.get(page["next"], headers=auth(device)).get_json()
    assert [p["package_id"] for p in page["packages"] + rest["packages"]] == \
        [p["package_id"] for p in body["packages"]]
    # A token that is not a device's: its region.
    assert client.get("/api/v1/expected", headers=auth(operator)).get_json()["location"]["code"] == "351302"


def test_expected_errors_have_the_one_shape(client, session, region):
    device = device_token(session, "3513010001")
    session.commit()
    r = client.get("/api/v1/expected")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    r = client.get("/api/v1/expected?limit=0", headers=auth(device))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_parameter"
    r = client.get("/api/v1/expected?colour=red", headers=auth(device))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "unknown_parameter"
    r = client.post("/api/v1/expected", headers=auth(device))
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"


def test_create_device_prints_the_enrolment_address(runner, region, session):
    session.commit()
    result = runner.invoke(args=["create-device", "--location", "3513010001",
                                 "--url", "https://jejak.example/"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    token_line = lines[-1]
    assert lines[-2] == f"https://jejak.example/scan#token={token_line}"
    assert token_line.startswith("jjk_")


def _login(client, app, username, role, region_code="3513"):
    from server.access import create_user

    with app.extensions["jejak.db"].session() as s:
        create_user(s, username, "secret-password", role, region_code)
        s.commit()
    client.post("/login", data={"username": username, "password": "secret-password"})


def test_enrolment_page_is_for_admins_and_shows_the_qr_once(client, app, session, region):
    session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.get("/scan/enrol").status_code == 302  # log in first
    _login(client, app, "sup", "supervisor")
    assert client.get("/scan/enrol").status_code == 403
    client.post("/logout")
    _login(client, app, "adm", "admin")
    page = client.get("/scan/enrol")
    assert page.status_code == 200 and b'name="location"' in page.data
    assert b"/scan/enrol" in client.get("/").data  # the admin's menu links to it
    r = client.post("/scan/enrol", data={"location": "3513010001", "name": "HP Siti"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    text = r.get_data(as_text=True)
    url = re.search(r'<code class="enrol-url">(http://localhost/scan#token=(jjk_[\w-]+))</code>', text)
    assert url and "<svg" in text
    assert session.scalar(select(Device).where(Device.name == "HP Siti")) is not None
    me = client.get("/api/v1/me", headers=auth(url.group(2))).get_json()
    assert me["device_location"] == "3513010001"
    r = client.post("/scan/enrol", data={"location": "3514", "name": ""})
    assert r.status_code == 400  # outside the admin's region 3513
