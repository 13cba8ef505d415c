"""The dashboard in a real browser, as a new supervisor or observer meets it."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.browser.live import log_in

pytestmark = pytest.mark.browser


def _planted(planted, kind):
    return next(p for p in planted["planted"] if p["kind"] == kind)


def test_log_in_and_drill_down_from_regency_to_a_package_timeline(page, live):
    page.goto(live + "/scans/")
    assert "/login" in page.url  # every page wants a login first
    log_in(page, live)
    assert "Kabupaten Probolinggo" in page.inner_text("h1")
    for level in ("kecamatan", "desa/kelurahan", "TPS"):
        assert level in page.locator("table.progress thead th").first.inner_text()
        page.locator("table.progress tbody tr").first.locator("a").first.click()
        page.wait_for_load_state()
    assert "TPS" in page.inner_text("h1")
    page.locator("table tbody a[href^='/packages/']").first.click()
    page.wait_for_selector("ol.timeline li")
    assert "Rantai penguasaan" in page.content()
    assert page.locator("ol.timeline li").count() >= 3  # warehouse, district, village at least
    assert re.search(r"Waktu perangkat 2024-02-\d\d \d\d:\d\d:\d\d WIB", page.inner_text("ol.timeline"))


def test_find_a_planted_problem_and_resolve_it_with_a_note(page, live, planted):
    seal = _planted(planted, "seal_mismatch")["packages"][0]
    log_in(page, live)
    page.click("a.badge:has-text('segel tidak cocok')")  # click 1: from the overview
    page.wait_for_selector("table.anomalies")
    row = page.locator("table.anomalies tbody tr", has_text=seal)
    row.locator("td a").first.click()  # click 2: the anomaly with its evidence
    page.wait_for_selector("table.evidence")
    page.fill("textarea[name=note]", "Segel diganti, berita acara dibuat")
    page.click("button[value=resolved]")
    page.wait_for_selector("p.flash")
    assert "diselesaikan" in page.inner_text("p.flash")
    assert "Segel diganti, berita acara dibuat" in page.inner_text("dl.facts")
    assert page.locator("textarea[name=note]").count() == 0


def test_observer_reads_but_has_nothing_to_press(page, live, planted):
    log_in(page, live, "observer")
    page.click("a.badge:has-text('rusak')")
    page.locator("table.anomalies tbody tr td a").first.click()
    page.wait_for_selector("table.evidence")
    assert page.locator("textarea[name=note]").count() == 0
    token = page.get_attribute("input[name=csrf_token]", "value")
    anomaly = page.url.rsplit("/", 1)[1]
    answer = page.request.post(f"{live}/anomalies/{anomaly}/resolve",
                               form={"note": "observer", "status": "resolved", "csrf_token": token})
    assert answer.status == 403


def test_switch_language_to_english_and_back(page, live):
    log_in(page, live)
    assert "Ringkasan" in page.inner_text("nav.main")
    page.click("a.lang[hreflang=en]")
    page.wait_for_selector("nav.main")
    assert "Overview" in page.inner_text("nav.main")
    assert 'Six "tepat"' in page.inner_text("table.progress thead")
    page.click("a.lang[hreflang=id]")
    page.wait_for_selector("nav.main")
    assert 'Enam "tepat"' in page.inner_text("table.progress thead")


def test_download_a_bast_pdf_and_a_csv(page, live, tmp_path):
    log_in(page, live)
    page.locator("table.progress tbody tr").first.locator("a:has-text('BAST')").click()
    page.wait_for_selector("select[name=date]")
    with page.expect_download() as info:
        page.click("main form button[type=submit]")
    pdf = tmp_path / "bast.pdf"
    info.value.save_as(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "BERITA ACARA SERAH TERIMA" in text and "Pihak kedua (yang menerima)" in text
    assert "Kabupaten Probolinggo" in text
    page.click("nav.main a[href='/scans/']")
    with page.expect_download() as info:
        page.click("a:has-text('Unduh CSV')")
    csv_path = tmp_path / "scans.csv"
    info.value.save_as(csv_path)
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("id,uuid,scanned_at,received_at,location")
    assert len(lines) > 100


def test_live_page_shows_a_new_scan_without_reloading(page, live, app):
    from server.access import create_token

    with app.extensions["jejak.db"].session() as session:
        token = create_token(session, "admin", "3513", name="live-test")
        session.commit()
    log_in(page, live)
    page.click("nav.main a[href='/live/']")
    page.wait_for_selector("#live-scans")
    page.wait_for_timeout(500)
    before = page.locator("#live-scans li").count()
    answer = page.request.post(f"{live}/api/v1/scans", headers={"Authorization": f"Bearer {token}"},
                               data={"scans": [{"id": "8c0b2c52-6a0e-4f7e-9a52-5d1e5c1f0001",
                                                "code": "J1.NOTAKEY.LIVE-TEST-PKG.KOTAK.3513.-.1.1.AAAA",
                                                "location": "3513", "action": "receive",
                                                "scanned_at": "2024-02-12T04:00:00Z",
                                                "operator": "live-operator"}]})
    assert answer.status == 200, answer.text()
    page.wait_for_selector("#live-scans li:has-text('live-operator')", timeout=15000)
    assert page.locator("#live-scans li").count() == before + 1
    page.wait_for_selector("#live-anomalies li .bad")  # the forged label's anomaly arrives too


def test_overview_fits_a_phone_screen(browser, live):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # wide tables scroll inside their box, the page does not
        assert page.locator("table.progress").is_visible()
    finally:
        context.close()


def test_regency_overview_fits_a_laptop_screen(browser, live):
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    try:
        log_in(page, live)
        box = page.evaluate("""() => { const w = document.querySelector('.table-wrap');
                                       return [w.clientWidth, w.scrollWidth]; }""")
        assert box[1] <= box[0]  # nothing of the table is cut off to the right
        chips = page.locator("table.progress td.chips").first.bounding_box()
        assert chips["x"] + chips["width"] <= 1366  # the open anomalies column is in view
    finally:
        context.close()


def test_first_column_stays_in_view_when_a_table_scrolls_on_a_phone(browser, live):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        log_in(page, live)
        place = page.locator("table.progress tbody td.place").first
        before = place.bounding_box()["x"]
        page.evaluate("document.querySelector('.table-wrap').scrollLeft = 600")
        page.wait_for_timeout(100)
        assert page.evaluate("document.querySelector('.table-wrap').scrollLeft") > 0
        assert abs(place.bounding_box()["x"] - before) < 2  # sticky: the place names stay
        assert place.is_visible()
    finally:
        context.close()
