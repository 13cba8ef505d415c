"""The phone scanner at /scan in Debian's Chromium with a fake camera playing rendered labels.

Each test serves the real app in a thread and launches Chromium with
--use-file-for-fake-video-capture=<MJPEG made in the test from `jejak-labels` output>.  The fake
camera plays at 30 fps and loops, so every video ends with a long empty tail and the tests
finish well before the loop would show a label again.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from server.models import ScanEvent
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, serving
from tests.browser.scan_world import LOCATION, camera_args, make_labels, write_mjpeg
from tests.factories import device_token, make_plan, trust_key

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
ITEMS = ("SS-DPR", "KOTAK", "SS-PPWP")


@pytest.fixture(scope="session")
def labels(tmp_path_factory, label_key):
    """Labels of the test plan rendered by jejak-labels (and one forged), as PNG cut-outs."""
    from labels.keys import generate

    return make_labels(tmp_path_factory.mktemp("scan-labels"), label_key, generate())


@pytest.fixture
def world(app, session, region, label_key):
    """The plan (3 items at each TPS), the trusted key, a device at the village; the app served."""
    make_plan(session, region, tps_codes=["3513010001001", "3513010001002"], item_types=ITEMS)
    trust_key(session, label_key)
    token = device_token(session, LOCATION)
    session.commit()
    with serving(app) as base:
        yield {"base": base, "token": token, "db": app.extensions["jejak.db"]}


def launch(playwright, profile, video):
    """Chromium with a fake camera playing `video`, keeping its state in `profile`."""
    ctx = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS + ["--disable-quic"] + camera_args(video),
        permissions=["camera"], viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(20000)
    return ctx


def outbox(page) -> list[dict]:
    """Every scan in the page's IndexedDB outbox."""
    return page.evaluate("() => window.jejakScan.store.all()")


def wait_for(page, predicate_js: str, timeout: float = 20.0, arg=None):
    """Wait until an async JS predicate over the outbox holds; return its last value."""
    page.wait_for_function("() => window.jejakScan && window.jejakScan.ready", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(predicate_js, arg)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def server_scans(db) -> dict[str, int]:
    """Scan uuid -> how many times the server stored it."""
    with db.session() as s:
        rows = s.execute(select(ScanEvent.uuid, func.count()).group_by(ScanEvent.uuid)).all()
    return {str(u): n for u, n in rows}


def diagnose(page) -> dict:
    """What the page knows about itself, for a failing assertion."""
    return page.evaluate("""async () => { const j = window.jejakScan || {};
        return {error: j.error, cameraError: j.cameraError, swError: j.swError, stats: j.stats && {...j.stats, decodeMs: j.stats.decodeMs.length},
                events: j.events, scans: j.store ? (await j.store.all()).map(s => [s.package_id, s.signal, s.state]) : null}; }""")


def wedge(page, text: str) -> None:
    """Type a line the way a USB scanner does: every key within a few milliseconds, then Enter."""
    page.evaluate("""(text) => { for (const key of [...text, 'Enter'])
        document.body.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true, cancelable: true})); }""", text)


def by_package(scans) -> dict[str, int]:
    counts = {}
    for s in scans:
        counts[s["package_id"]] = counts.get(s["package_id"], 0) + 1
    return counts


def test_labels_shown_one_after_another_are_each_recorded_once(playwright, world, labels, tmp_path):
    shown = ["3513010001001-SS-DPR", "3513010001001-KOTAK", "3513010001002-SS-PPWP"]
    video = tmp_path / "three.mjpeg"
    segments = [(None, 3.0)]
    for pid in shown:
        segments += [(labels.images[pid], 1.2), (None, 2.5)]
    write_mjpeg(video, segments + [(None, 30.0)])
    ctx = launch(playwright, tmp_path / "profile", video)
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{world['base']}/scan#token={world['token']}")
        assert "token" not in page.evaluate("location.href")  # the fragment is gone at once
        done = wait_for(page, """async () => { const all = await window.jejakScan.store.all();
            return all.length >= 3 && all.every(s => s.state === 'sent') ? all : null; }""", 25)
        assert done, outbox(page)
        time.sleep(1.5)  # the last label is out of view: nothing more may come
        scans = outbox(page)
        assert by_package(scans) == {pid: 1 for pid in shown}
        assert {s["signal"] for s in scans} == {"accepted"}, scans
        assert all(s["location"] == LOCATION and s["action"] == "receive" and not s["offline"] for s in scans)
        assert server_scans(world["db"]) == {s["id"]: 1 for s in scans}
        assert not [u for u in requests if world["token"] in u]  # the token is never in a URL
        assert page.inner_text("#n-pending") == "0"
        assert page.inner_text("#n-expected") == "3"  # 6 expected at the village, 3 received
        assert len(page.locator("#recent li").all()) == 3
    finally:
        ctx.close()


def test_offline_reload_restart_every_scan_on_the_server_exactly_once(playwright, world, labels, tmp_path):
    a, b, c = "3513010001001-SS-DPR", "3513010001001-KOTAK", "3513010001002-SS-DPR"
    profile = tmp_path / "profile"
    first = tmp_path / "first.mjpeg"   # a label online; the forged one comes after going offline
    write_mjpeg(first, [(None, 3.0), (labels.images[a], 1.2), (None, 6.0),
                        (labels.forged_image, 1.2), (None, 40.0)])
    second = tmp_path / "second.mjpeg"
    write_mjpeg(second, [(None, 2.0), (labels.images[c], 1.2), (None, 40.0)])

    ctx = launch(playwright, profile, first)
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(f"{world['base']}/scan#token={world['token']}")
        assert wait_for(page, """async () => window.jejakScan.swReady && window.jejakScan.synced &&
            (await window.jejakScan.store.all()).some(s => s.state === 'sent')""", 20)
        assert page.evaluate("navigator.serviceWorker.controller !== null")

        ctx.set_offline(True)
        response = page.reload()
        assert response.from_service_worker  # the page itself came from the service worker
        forged = wait_for(page, """async () => (await window.jejakScan.store.all())
            .find(s => s.code.includes(%r)) || null""" % labels.forged_text.split(".")[1], 25)
        assert forged and forged["signal"] == "problem" and forged["offline"], diagnose(page)
        assert "palsu" in page.inner_text("#verdict")  # red, in Indonesian: "label palsu"
        assert "problem" in page.get_attribute("#verdict", "class")

        page.keyboard.type(labels.texts[b])   # a USB scanner typing into the page, offline
        page.keyboard.press("Enter")
        typed = wait_for(page, """async () => (await window.jejakScan.store.all())
            .find(s => s.package_id === %r) || null""" % b, 10)
        assert typed["signal"] == "accepted" and typed["offline"] and typed["state"] == "pending"
        assert int(page.inner_text("#n-pending")) >= 2
        offline_scans = outbox(page)
    finally:
        ctx.close()
    assert len(server_scans(world["db"])) < len(offline_scans)  # the offline ones are still on the phone

    ctx = launch(playwright, profile, second)  # the same phone, reopened, online again
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(f"{world['base']}/scan")
        done = wait_for(page, """async () => { const all = await window.jejakScan.store.all();
            return all.some(s => s.package_id === %r) && all.every(s => s.state === 'sent') ? all : null; }""" % c, 25)
        assert done, outbox(page)
        scans = outbox(page)
    finally:
        ctx.close()
    assert {s["id"] for s in offline_scans} <= {s["id"] for s in scans}
    assert server_scans(world["db"]) == {s["id"]: 1 for s in scans}  # each exactly once
    counts = by_package(scans)
    assert counts[b] == 1 and counts[c] == 1 and counts[a] >= 1


def test_never_synced_is_amber_then_wedge_rules_and_commands(playwright, world, labels, tmp_path):
    video = tmp_path / "empty.mjpeg"
    write_mjpeg(video, [(None, 5.0)])
    ctx = launch(playwright, tmp_path / "profile", video)
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.route("**/api/**", lambda route: route.abort())  # the server was never reached
        page.goto(f"{world['base']}/scan#token={world['token']}")
        page.wait_for_function("() => window.jejakScan && window.jejakScan.ready")
        assert "Belum pernah terhubung" in page.inner_text("#banner")
        a = "3513010001001-SS-DPR"
        wedge(page, labels.texts[a])
        wedge(page, labels.texts[a])  # the scanner fired twice: one presentation
        first = wait_for(page, "async () => (await window.jejakScan.store.all())[0] || null", 5)
        time.sleep(0.3)
        assert len(outbox(page)) == 1
        assert first["signal"] == "unchecked"  # amber, never green, without keys or expected list
        assert "belum diperiksa" in page.inner_text("#verdict").lower()
        assert "unchecked" in page.get_attribute("#verdict", "class")
        wedge(page, labels.forged_text)
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 2", 10)
        forged = [s for s in outbox(page) if s["code"] == labels.forged_text][0]
        # No keys: it cannot say "forged" yet, nor "fine": amber, and "never synced" comes
        # before "already scanned here" (it claims a package already seen).
        assert forged["signal"] == "unchecked"
        assert [r["k"] for r in forged["reasons"]] == ["never_synced", "already_here"]

        page.unroute("**/api/**")
        page.evaluate("() => window.jejakScan.uploader.kick(true)")
        assert wait_for(page, """async () => (await window.jejakScan.store.all()).every(s => s.state === 'sent')""", 15)
        page.reload()
        assert wait_for(page, "() => window.jejakScan.synced === true", 15)
        # Synced now: a command code switches the disposition for the next package only.
        page.click("button.lang")  # English
        wedge(page, "JJK-CMD.DISPOSITION.DAMAGED")
        b = "3513010001001-KOTAK"
        wedge(page, labels.texts[b])
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 3", 10)
        typed = [s for s in outbox(page) if s["package_id"] == b][0]
        # Recorded damaged: amber, never a green ACCEPTED.
        assert typed["disposition"] == "damaged" and typed["signal"] == "warning"
        assert "RECORDED WITH A PROBLEM" in page.inner_text("#verdict")
        assert page.inner_text("#v-why") == "recorded as damaged"
        time.sleep(1.6)  # out of the repeat window: a new presentation of the same label
        wedge(page, labels.texts[b])
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 4", 10)
        again = max((s for s in outbox(page) if s["package_id"] == b), key=lambda s: s["seq"])
        assert again["signal"] == "rescan" and again["disposition"] == "ok"
        wedge(page, labels.forged_text)
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 5", 10)
        # One reason, the worst: forged, not "already scanned here; forged label".
        assert page.inner_text("#v-why").startswith("forged label")
        # A hand-typed entry (damaged label) of a package that is not bound here: red.
        page.click("details.more summary")
        page.fill("#manual-text", "3513020001001-KOTAK AAAA-AAAA")
        page.press("#manual-text", "Enter")
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 6", 10)
        assert "problem" in page.get_attribute("#verdict", "class")
        assert "not expected here" in page.inner_text("#verdict")
        assert wait_for(page, """async () => (await window.jejakScan.store.all()).every(s => s.state === 'sent')""", 15)
        assert server_scans(world["db"]) == {s["id"]: 1 for s in outbox(page)}
    finally:
        ctx.close()


def test_ed25519_port_matches_python(playwright, world, labels, tmp_path):
    """The JS verify (WebCrypto and the @noble fallback) agrees with labels.payload on real and altered texts."""
    from tests.factories import tamper

    video = tmp_path / "empty.mjpeg"
    write_mjpeg(video, [(None, 2.0)])
    ctx = launch(playwright, tmp_path / "profile", video)
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(f"{world['base']}/scan#token={world['token']}")
        assert wait_for(page, "() => window.jejakScan.synced === true", 15)
        text = labels.texts["3513010001001-SS-DPR"]
        result = page.evaluate("""async ([good, bad]) => {
            const c = await import('/scan/app/checks.js');
            const keys = new Map((await window.jejakScan.store.kvGet('keys')).map(k => [k.key_id, c.pemToRaw(k.public_key_pem)]));
            const check = async (t) => { const l = c.parse(t); const pub = keys.get(l.keyId);
                return [await c.ed25519Verify(pub, c.b32decode(l.signature), new TextEncoder().encode(l.signed)),
                        (await import('/scan/app/vendor/noble-ed25519.js')).verifyAsync(c.b32decode(l.signature), new TextEncoder().encode(l.signed), pub, {zip215: false})]; };
            const g = await check(good), b = await check(bad);
            return {good: [g[0], await g[1]], bad: [b[0], await b[1].catch(() => false)], backend: c.ed25519Backend(),
                    vcode: await c.verificationCode(c.parse(good).signature)}; }""", [text, tamper(text)])
    finally:
        ctx.close()
    from labels.payload import parse

    assert result["good"] == [True, True] and result["bad"] == [False, False], result
    assert result["backend"] == "webcrypto"
    assert result["vcode"] == parse(text).verification_code


def test_phone_receives_a_shipment_short_and_with_an_extra_koli_offline_then_ships_one(
        playwright, world, labels, tmp_path, session):
    import uuid as uuidlib

    from server.models import Anomaly
    from server.shipments.records import record_shipment, reference_of
    from tests.factories import principal

    listed = ["3513010001001-SS-DPR", "3513010001001-KOTAK", "3513010001002-SS-DPR"]
    missing, extra = listed[1], "3513010001002-KOTAK"
    shipment, _ = record_shipment(session, principal(), {
        "id": str(uuidlib.uuid4()), "from": "351301", "to": LOCATION, "koli": listed,
        "closed_at": "2024-02-10T08:00:00Z"})
    session.commit()
    reference, number = reference_of(shipment), shipment.number
    video = tmp_path / "empty.mjpeg"
    write_mjpeg(video, [(None, 5.0)])
    ctx = launch(playwright, tmp_path / "profile", video)
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(f"{world['base']}/scan#token={world['token']}")
        assert wait_for(page, "() => window.jejakScan.synced === true", 15)
        page.route("**/api/**", lambda route: route.abort())  # the village is offline
        wedge(page, reference)
        assert wait_for(page, "async () => (await window.jejakScan.store.listsIn('open')).length === 1", 5)
        assert number in page.inner_text("#list-note")
        for pid in [p for p in listed if p != missing] + [extra]:
            wedge(page, labels.texts[pid])
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 3", 10)
        assert {s["action"] for s in outbox(page)} == {"receive"}
        page.reload()  # the open receipt survives a reload
        page.wait_for_function("() => window.jejakScan && window.jejakScan.ready")
        page.click("details.more summary")
        page.click("#ship-close")
        assert wait_for(page, "async () => (await window.jejakScan.store.listsIn('pending')).length === 1", 5)
        page.unroute("**/api/**")
        page.evaluate("() => window.jejakScan.uploader.kick(true)")
        assert wait_for(page, "async () => (await window.jejakScan.store.listsIn('sent')).length === 1", 15)
        assert "short shipment" in page.inner_text("#lists").lower() or \
            "kiriman kurang" in page.inner_text("#lists").lower()
        with world["db"].session() as s:
            found = sorted((a.kind, a.package.package_id, a.location.code) for a in s.scalars(
                select(Anomaly).where(Anomaly.kind.in_(("short_shipment", "not_in_shipment")))))
        assert found == sorted([("short_shipment", missing, LOCATION),
                                ("not_in_shipment", extra, LOCATION)])

        # The village sends a koli on to its TPS as a shipment: the button, then the label.
        page.fill("#ship-to", "3513010001001")
        page.click("#ship-open")
        assert wait_for(page, "async () => (await window.jejakScan.store.listsIn('open')).length === 1", 5)
        wedge(page, labels.texts[listed[0]])
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 4", 10)
        page.click("#ship-close")
        assert wait_for(page, "async () => (await window.jejakScan.store.listsIn('sent')).length === 2", 15)
        sent = page.evaluate("async () => (await window.jejakScan.store.listsIn('sent'))")
        assert any(l["kind"] == "shipment" and l["number"].startswith("SJ-") for l in sent)
        assert server_scans(world["db"]) == {s["id"]: 1 for s in outbox(page)}
    finally:
        ctx.close()


def test_phone_confirms_a_receipt_with_its_own_webcrypto_key_offline_first(
        playwright, world, labels, tmp_path, session):
    import uuid as uuidlib

    from server.models import Device, ShipmentConfirmation
    from server.shipments.records import record_shipment, reference_of
    from tests.factories import principal

    listed = ["3513010001001-SS-DPR", "3513010001001-KOTAK"]
    shipment, _ = record_shipment(session, principal(), {
        "id": str(uuidlib.uuid4()), "from": "351301", "to": LOCATION, "koli": listed,
        "closed_at": "2024-02-10T08:00:00Z"})
    session.commit()
    reference, number = reference_of(shipment), shipment.number
    video = tmp_path / "empty.mjpeg"
    write_mjpeg(video, [(None, 5.0)])
    ctx = launch(playwright, tmp_path / "profile", video)
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(f"{world['base']}/scan#token={world['token']}")
        assert wait_for(page, "() => window.jejakScan.synced === true", 15)
        # Enrolment made a WebCrypto key whose private half cannot leave the browser,
        # and registered its public half.
        key = page.evaluate("""async () => { const k = await window.jejakScan.store.kvGet('device_key');
            return {backend: k.backend, extractable: k.privateKey && k.privateKey.extractable,
                    type: k.privateKey && k.privateKey.type, publicKey: k.publicKey, registered: k.registered}; }""")
        assert key == {"backend": "webcrypto", "extractable": False, "type": "private",
                       "publicKey": key["publicKey"], "registered": True}
        with world["db"].session() as s:
            assert s.scalar(select(Device.public_key).where(Device.public_key.is_not(None))) \
                == key["publicKey"]

        page.click("details.more summary")
        page.fill("#operator", "Sari Dewi")
        page.dispatch_event("#operator", "change")
        wedge(page, reference)
        for pid in listed:
            wedge(page, labels.texts[pid])
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 2", 10)
        page.route("**/api/**", lambda route: route.abort())  # offline from here
        page.click("#ship-close")
        page.click("#lists button.confirm-btn")
        assert wait_for(page, "async () => (await window.jejakScan.store.confirmationsIn('pending')).length === 1", 5)
        assert "waiting" in page.inner_text("#lists") or "menunggu" in page.inner_text("#lists")
        page.unroute("**/api/**")
        page.evaluate("() => window.jejakScan.uploader.kick(true)")
        assert wait_for(page, "async () => (await window.jejakScan.store.confirmationsIn('sent')).length === 1", 15), \
            page.evaluate("async () => window.jejakScan.store.confirmationsIn('rejected')")
        text = page.inner_text("#lists")
        assert "Sari Dewi" in text
        with world["db"].session() as s:
            (c,) = s.scalars(select(ShipmentConfirmation)).all()
            assert (c.party, c.name, c.covers_receipt) == ("receiver", "Sari Dewi", True)
            assert c.shipment.number == number
    finally:
        ctx.close()
