"""The dashboard as its users meet it: login, region scope, drill-down, anomalies, observers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Anomaly
from tests.server import dashboard_data as data


@pytest.fixture
def story(session, client, label_key):
    """Load the handover story, its scans sent through the API as scanners send them."""
    return data.build(session, client, label_key)


def test_every_page_sends_anonymous_visitors_to_login(client, story):
    for path in ("/", "/anomalies/", "/scans/", "/packages/3513010001001-KOTAK", "/live/",
                 "/live/feed", "/labels/", "/reports/", "/reports/scans.csv", "/reports/bast"):
        rv = client.get(path)
        assert rv.status_code == 302, path
        assert rv.headers["Location"].startswith("/login?next="), path


def test_login_needs_the_right_password_and_a_csrf_token(client, story):
    rv = data.login(client, password="wrong password")
    assert rv.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in rv.get_data(as_text=True)
    rv = client.post("/login", data={"username": "sup", "password": data.PASSWORD})
    assert rv.status_code == 400  # no CSRF token
    rv = data.login(client)
    assert rv.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Kabupaten Probolinggo" in page and "Sukapura" in page and "Kraksaan" in page


def test_login_returns_to_the_page_asked_for_but_never_off_site(client, story):
    client.get("/login")
    token = data.csrf(client)
    rv = client.post("/login?next=/scans/", data={"username": "sup", "password": data.PASSWORD,
                                                 "csrf_token": token})
    assert rv.headers["Location"] == "/scans/"
    client.post("/logout", data={"csrf_token": data.csrf(client)})
    client.get("/login")
    rv = client.post("/login?next=//evil.example/", data={
        "username": "sup", "password": data.PASSWORD, "csrf_token": data.csrf(client)})
    assert rv.headers["Location"] == "/overview"


def test_logout_ends_the_session(client, story):
    data.login(client)
    rv = client.post("/logout", data={"csrf_token": data.csrf(client)})
    assert rv.status_code == 302
    assert client.get("/").status_code == 302


def test_drill_down_from_regency_to_tps_lists_its_packages(client, story):
    data.login(client)
    page = client.get("/overview?region=351301").get_data(as_text=True)
    assert "/overview?region=3513010001" in page and "Ngadisari" in page
    page = client.get("/overview?region=3513010001").get_data(as_text=True)
    assert "/overview?region=3513010001001" in page
    page = client.get("/overview?region=3513010001001").get_data(as_text=True)
    assert "/packages/3513010001001-KOTAK" in page and "/packages/3513010001001-SS-DPR" in page
    assert "rusak" in page  # the damaged box's last scan


def test_overview_flags_quality_and_links_to_the_anomalies(client, story):
    data.login(client)
    page = client.get("/overview?region=351301").get_data(as_text=True)
    assert "/anomalies/?region=3513010001&amp;kind=damaged" in page
    page = client.get("/anomalies/?region=3513010001&kind=damaged").get_data(as_text=True)
    assert "3513010001001-KOTAK" in page and 'data-kind="damaged"' in page
    assert 'data-kind="forged_label"' not in page


def test_a_regency_user_cannot_see_another_regency(client, story):
    data.login(client)
    forged = story["forged"].id
    assert client.get("/overview?region=3514").status_code == 404
    assert client.get("/overview?region=351401").status_code == 404
    assert client.get("/packages/3514010001001-KOTAK").status_code == 404
    assert client.get(f"/anomalies/{forged}").status_code == 404
    assert client.get("/anomalies/?region=3514").status_code == 404
    assert client.get("/scans/?region=3514").status_code == 404
    assert client.get("/scans/?location=3514010001001").status_code == 404
    assert client.get("/reports/scans.csv?region=3514").status_code == 404
    assert client.get("/reports/bast.pdf?to=351401").status_code == 404
    assert "gudang-pasuruan" not in client.get("/scans/").get_data(as_text=True)
    assert 'data-kind="forged_label"' not in client.get("/anomalies/?status=all").get_data(as_text=True)
    assert "Purwodadi" not in client.get("/live/feed?region=3513").get_data(as_text=True)


def test_the_province_admin_sees_both_regencies(client, story):
    data.login(client, "prov")
    page = client.get("/").get_data(as_text=True)
    assert "Kabupaten Probolinggo" in page and "Kabupaten Pasuruan" in page
    assert 'data-kind="forged_label"' in client.get("/anomalies/?region=35").get_data(as_text=True)


def test_supervisor_resolves_with_a_note_and_nothing_is_deleted(client, story, session):
    data.login(client)
    anomaly_id = story["damaged"].id
    page = client.get(f"/anomalies/{anomaly_id}").get_data(as_text=True)
    assert "Selesaikan</button>" in page
    rv = client.post(f"/anomalies/{anomaly_id}/resolve",
                     data={"note": "", "status": "resolved", "csrf_token": data.csrf(client)})
    assert rv.status_code == 302
    session.expire_all()
    assert session.get(Anomaly, anomaly_id).status == "open"  # an empty note changes nothing
    rv = client.post(f"/anomalies/{anomaly_id}/resolve", data={
        "note": "Kotak diganti dari cadangan gudang", "status": "resolved",
        "csrf_token": data.csrf(client)})
    assert rv.status_code == 302
    session.expire_all()
    row = session.get(Anomaly, anomaly_id)
    assert row.status == "resolved" and row.resolved_by == "sup"
    assert row.resolution_note == "Kotak diganti dari cadangan gudang"
    page = client.get(f"/anomalies/{anomaly_id}").get_data(as_text=True)
    assert "Kotak diganti dari cadangan gudang" in page and "Selesaikan</button>" not in page
    assert "3513010001001-KOTAK" in client.get("/anomalies/?status=resolved").get_data(as_text=True)


def test_resolve_without_csrf_token_is_refused(client, story, session):
    data.login(client)
    anomaly_id = story["damaged"].id
    rv = client.post(f"/anomalies/{anomaly_id}/resolve", data={"note": "x", "status": "resolved"})
    assert rv.status_code == 400
    session.expire_all()
    assert session.get(Anomaly, anomaly_id).status == "open"


def test_observer_reads_everything_and_changes_nothing(client, story, session):
    data.login(client, "obs")
    anomaly_id = story["damaged"].id
    page = client.get(f"/anomalies/{anomaly_id}").get_data(as_text=True)
    assert "3513010001001-KOTAK" in page and "pps-ngadisari" in page
    assert 'name="note"' not in page and "Selesaikan" not in page
    assert client.get("/scans/").status_code == 200
    assert client.get("/packages/3513010001001-KOTAK").status_code == 200
    for status in ("resolved", "acknowledged"):
        rv = client.post(f"/anomalies/{anomaly_id}/resolve", data={
            "note": "observer tries", "status": status, "csrf_token": data.csrf(client)})
        assert rv.status_code == 403
    rv = client.post("/labels/", data={"region": "3513", "csrf_token": data.csrf(client)})
    assert rv.status_code == 403
    session.expire_all()
    assert session.get(Anomaly, anomaly_id).status == "open"


def test_package_timeline_shows_each_handoff(client, story):
    data.login(client)
    page = client.get("/packages/3513010001001-KOTAK").get_data(as_text=True)
    for expected in ("Kabupaten Probolinggo", "Sukapura", "Ngadisari", "gudang", "ppk-sukapura",
                     "pps-ngadisari", "hp-ngadisari", "luring", "rusak", "2024-02-10 17:00:00 WIB"):
        assert expected in page, expected
    assert page.index("gudang") < page.index("pps-ngadisari")  # oldest first
    assert "Diserahkan dari Sukapura (ppk-sukapura) kepada pps-ngadisari" in page
    assert "Kotak suara" in page  # the item type in words, in the page's language
    client.get("/lang/en")
    page = client.get("/packages/3513010001001-KOTAK").get_data(as_text=True)
    assert "Ballot box" in page and "Kotak suara" not in page


def test_timeline_rows_are_marked_by_the_anomalies_they_are_evidence_for(client, session, story):
    import datetime as dt
    import re

    # A copy of TPS 001's ballot label received at a village it is not bound for.
    copy = data._api_scan(story["labels"]["3513010001001-SS-DPR"], "3513010002", "receive",
                          data.T0 + dt.timedelta(days=1, hours=3), operator="pps-lain")
    data._post(client, story["admin"], [copy])
    session.expire_all()
    cloned = session.scalar(select(Anomaly).where(Anomaly.kind == "cloned_label"))
    data.login(client)

    def rows(package_id):
        page = client.get(f"/packages/{package_id}").get_data(as_text=True)
        return re.findall(r'<li class="[^"]*">(.*?)</li>', page.split('class="timeline"')[1], re.S)

    box = rows("3513010001001-KOTAK")
    marked = [r for r in box if "Bukti untuk" in r]
    assert len(marked) == 1 and "pps-ngadisari" in marked[0]  # the dented box's receipt only
    assert f'href="/anomalies/{story["damaged"].id}">rusak</a>' in marked[0]
    ballots = rows("3513010001001-SS-DPR")
    copy_row = next(r for r in ballots if "pps-lain" in r)
    assert f'href="/anomalies/{cloned.id}">label kloning</a>' in copy_row
    assert "Diserahkan dari" not in copy_row  # nobody handed a copy over
    assert "Diduga salinan label" in copy_row
    normal = [r for r in ballots if "Operator: gudang" in r or "Operator: ppk-sukapura" in r]
    assert normal and not any("Bukti untuk" in r or "salinan" in r for r in normal)
    client.get("/lang/en")
    page = client.get("/packages/3513010001001-SS-DPR").get_data(as_text=True)
    assert "Evidence of" in page and ">cloned label</a>" in page


def test_scan_log_pages_by_key_and_filters(app, client, story):
    app.config["PAGE_SIZE"] = 4
    data.login(client)
    seen, url = [], "/scans/?action=receive"
    while url:
        page = client.get(url).get_data(as_text=True)
        rows = page.count('<tr>\n      <td>')
        assert rows <= 4
        seen.append(rows)
        marker = 'rel="next"'
        if marker in page:
            href = page[:page.index(marker)].rsplit('href="', 1)[1].split('"', 1)[0]
            url = href.replace("&amp;", "&")
            assert "before=" in url and "offset" not in url
        else:
            url = None
    assert sum(seen) == 17  # eight at the warehouse, six at the district, three at the village
    page = client.get("/scans/?operator=pps-ngadisari").get_data(as_text=True)
    assert page.count('<a href="/packages/3513010001001-') == 2 and ">gudang<" not in page
    page = client.get(f"/scans/?anomaly={story['damaged'].id}").get_data(as_text=True)
    assert "3513010001001-KOTAK" in page and "3513010001001-SS-DPR" not in page
    assert client.get("/scans/?since=yesterday").status_code == 400


def test_language_switches_to_english_and_back(client, story):
    data.login(client)
    assert "Ringkasan" in client.get("/").get_data(as_text=True)
    rv = client.get("/lang/en?next=/anomalies/")
    assert rv.headers["Location"] == "/anomalies/"
    page = client.get("/").get_data(as_text=True)
    assert "Overview" in page and "right quality" in page and "Ringkasan" not in page
    client.get("/lang/id")
    assert "tepat kualitas" in client.get("/").get_data(as_text=True)


def test_live_feed_answers_only_what_is_new(client, story, session):
    data.login(client)
    first = client.get("/live/feed?region=3513&after_scan=0&after_anomaly=0").get_json()
    assert first["scans"] and first["anomalies"][0]["kind"] == "rusak"
    again = client.get(f"/live/feed?region=3513&after_scan={first['after_scan']}"
                       f"&after_anomaly={first['after_anomaly']}").get_json()
    assert again["scans"] == [] and again["anomalies"] == []
    region, plan = story["region"], story["plan"]
    data._post(client, story["admin"], [data._api_scan(
        story["labels"]["3513010002001-KOTAK"], "3513010002", "receive", data.T0,
        operator="pps-wonotoro")])
    new = client.get(f"/live/feed?region=3513&after_scan={first['after_scan']}"
                     f"&after_anomaly={first['after_anomaly']}").get_json()
    assert [s["package"] for s in new["scans"]] == ["3513010002001-KOTAK"]
    assert "live.js" in client.get("/live/").get_data(as_text=True)


def test_exports_stream_csv_and_xlsx_of_the_region(client, story):
    import csv
    import io

    from openpyxl import load_workbook

    data.login(client)
    rv = client.get("/reports/scans.csv?action=receive")
    assert rv.status_code == 200 and rv.mimetype == "text/csv"
    assert "attachment" in rv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(rv.get_data().decode("utf-8-sig"))))
    assert rows[0][:3] == ["id", "uuid", "scanned_at"] and len(rows) == 18
    assert all(r[6] == "receive" for r in rows[1:])
    rv = client.get("/reports/scans.xlsx")
    ws = load_workbook(io.BytesIO(rv.get_data()), read_only=True).active
    assert len(list(ws.values)) == 1 + 8 + 6 + 6 + 4 + 3  # header and the story's 27 scans
    rv = client.get("/reports/anomalies.csv?status=all")
    rows = list(csv.reader(io.StringIO(rv.get_data().decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:]] == ["damaged"]


def test_bast_pdf_downloads_for_a_handoff(client, story):
    data.login(client)
    page = client.get("/reports/bast?to=3513010001").get_data(as_text=True)
    assert 'value="351301"' in page and "2024-02-10" in page
    rv = client.get("/reports/bast.pdf?from=351301&to=3513010001&date=2024-02-10")
    assert rv.status_code == 200 and rv.mimetype == "application/pdf"
    assert rv.get_data().startswith(b"%PDF")
    assert client.get("/reports/bast.pdf?to=3513010001&date=10-02-2024").status_code == 400


def test_labels_page_says_when_no_signing_key_is_set(client, story):
    data.login(client)
    rv = client.post("/labels/", data={"region": "3513010001", "csrf_token": data.csrf(client)})
    assert rv.status_code == 400
    assert "LABEL_KEY_FILE" in rv.get_data(as_text=True)


def test_every_visible_string_has_an_indonesian_translation(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[3]
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "extract", "-F",
                    str(root / "babel.cfg"), "-k", "_l", "-k", "N_", "-o", str(pot), "."],
                   cwd=root, check=True, capture_output=True)
    def key(msgid):
        return msgid if isinstance(msgid, str) else tuple(msgid)

    wanted = {key(m.id) for m in read_po(pot.open("rb")) if m.id}
    mo = root / "server" / "translations" / "id" / "LC_MESSAGES" / "messages.mo"
    compiled = {key(m.id): m.string for m in read_mo(mo.open("rb")) if m.id}
    untranslated = sorted(str(w) for w in wanted if not compiled.get(w))
    assert untranslated == [], "run pybabel extract/update/compile (docs/dashboard.md)"


def test_supervisor_prints_the_labels_of_a_village(app, client, story, label_key, tmp_path):
    from labels.keys import write_key_pair

    private, _public = write_key_pair(label_key, tmp_path)
    app.config["LABEL_KEY_FILE"] = str(private)
    data.login(client)
    rv = client.post("/labels/", data={"region": "3513010001", "template": "a4-3x8", "start": "0",
                                       "csrf_token": data.csrf(client)})
    assert rv.status_code == 200 and rv.mimetype == "application/pdf"
    assert rv.get_data().startswith(b"%PDF")
    rv = client.post("/labels/", data={"region": "3514", "csrf_token": data.csrf(client)})
    assert rv.status_code == 404


def test_a_finished_download_gives_its_database_connection_back(client, story, db):
    data.login(client)
    before = db.engine.pool.checkedout()  # the test's own session may hold one
    for path in ("/reports/scans.csv", "/reports/scans.xlsx", "/reports/anomalies.csv",
                 "/reports/anomalies.xlsx"):
        rv = client.get(path)
        assert rv.status_code == 200 and rv.get_data()
        # Left checked out, it sits idle in a transaction and blocks the next TRUNCATE/ALTER.
        assert db.engine.pool.checkedout() == before, path


def test_counts_at_the_tps_show_on_the_overview_and_the_tps_page(client, session, region,
                                                                  label_key):
    from server.access import create_user
    from tests.server.scan_world import World

    tps = "3513010001001"
    world = World(session, region, label_key, tps=(tps,), items=("SS-DPR",), quantity=300)
    trip = world.journey(f"{tps}-SS-DPR")
    trip[-1].update(counted_quantity=290, damaged_quantity=2)
    world.post(trip)
    create_user(session, "sup", data.PASSWORD, "supervisor", "3513")
    session.commit()
    data.login(client)
    page = client.get("/overview?region=3513").get_data(as_text=True)
    assert page.count("290 / 300") == 2 and "2 rusak" in page  # the card, the row
    page = client.get(f"/overview?region={tps}").get_data(as_text=True)
    row = page[page.index(f"/packages/{tps}-SS-DPR"):]
    row = row[:row.index("</tr>")]
    assert ">290<" in row and "2 rusak" in row
