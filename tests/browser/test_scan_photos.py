"""The phone scanner's photo button: a photo taken offline waits in IndexedDB, goes up after its scan."""

from __future__ import annotations

import hashlib
import time

import pytest
from sqlalchemy import select

from server.models import ScanEvent, ScanPhoto
from tests.browser.scan_world import write_mjpeg
from tests.browser.test_scan_phone import launch, labels, outbox, wait_for, wedge, world  # noqa: F401
from tests.factories import photo_bytes

pytestmark = pytest.mark.browser

PHOTOS = "async () => (await window.jejakScan.store.allPhotos()).map(p => [p.scan_id, p.state, p.type, p.blob.size])"


def photos_until(page, predicate, timeout: float = 20.0) -> list:
    """Poll the page's queued photos ([scan id, state, type, bytes]) until predicate holds."""
    deadline = time.monotonic() + timeout
    while True:
        photos = page.evaluate(PHOTOS)
        if predicate(photos) or time.monotonic() > deadline:
            return photos
        time.sleep(0.2)


def server_photos(db) -> list[tuple[str, str]]:
    """(scan uuid, sha256) of every photo the server holds."""
    with db.session() as s:
        return sorted((str(u), h) for u, h in s.execute(
            select(ScanEvent.uuid, ScanPhoto.sha256).join(ScanEvent, ScanEvent.id == ScanPhoto.scan_id)))


def test_a_photo_taken_offline_is_kept_and_uploaded_once_the_network_is_back(
        playwright, world, labels, tmp_path):
    video = tmp_path / "empty.mjpeg"
    write_mjpeg(video, [(None, 5.0)])
    damage = tmp_path / "damage.jpg"
    damage.write_bytes(photo_bytes("JPEG", size=(1200, 900), orientation=6))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    ctx = launch(playwright, tmp_path / "profile", video)
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(f"{world['base']}/scan#token={world['token']}")
        assert wait_for(page, "() => window.jejakScan.swReady && window.jejakScan.synced === true", 20)
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        assert page.is_hidden("#photo-btn")  # nothing scanned yet: nothing to photograph
        ctx.set_offline(True)  # the network is gone
        wedge(page, labels.texts["3513010001001-KOTAK"])
        assert wait_for(page, "async () => (await window.jejakScan.store.all()).length === 1", 10)
        (scan,) = outbox(page)
        assert scan["state"] == "pending" and scan["offline"]
        assert page.is_visible("#photo-btn") and "3513010001001-KOTAK" in page.inner_text("#photo-btn")
        assert page.get_attribute("#photo-input", "capture") == "environment"
        page.set_input_files("#photo-input", str(notes))
        page.click("details.more summary")
        assert "notes.txt" in page.inner_text("#status")  # refused: not a JPEG or PNG
        page.set_input_files("#photo-input", str(damage))
        assert len(photos_until(page, lambda p: len(p) == 1, 5)) == 1
        assert page.reload().from_service_worker  # kept in IndexedDB, not in the page
        page.wait_for_function("() => window.jejakScan && window.jejakScan.ready")
        assert page.evaluate(PHOTOS) == [[scan["id"], "pending", "image/jpeg", len(damage.read_bytes())]]
        assert server_photos(world["db"]) == []
        ctx.set_offline(False)  # the network is back
        page.evaluate("() => window.jejakScan.uploader.kick(true)")
        sent = photos_until(page, lambda p: p and all(x[1] == "sent" for x in p))
        assert [x[1] for x in sent] == ["sent"], sent
        sha = hashlib.sha256(damage.read_bytes()).hexdigest()
        assert server_photos(world["db"]) == [(scan["id"], sha)]
        assert outbox(page)[0]["state"] == "sent"
        # The same photo chosen again is sent again and stored once.
        page.set_input_files("#photo-input", str(damage))
        page.evaluate("() => window.jejakScan.uploader.kick(true)")
        again = photos_until(page, lambda p: len(p) == 2 and all(x[1] == "sent" for x in p))
        assert [x[1] for x in again] == ["sent", "sent"], again
        assert server_photos(world["db"]) == [(scan["id"], sha)]
    finally:
        ctx.close()
