"""POST /api/v1/scans/<scan id>/photos as a scanner uses it, and what verify-log makes of photos.

Every image is a real one made with Pillow; every refusal is checked to have
stored nothing (no row, no file, no ledger entry).
"""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select

from server.config import photo_dir
from server.models import LedgerEntry, ScanPhoto
from tests.factories import device_token, photo_bytes, scan, token
from tests.server.api.test_api_scans import auth
from tests.server.api.test_error_shape import assert_error_shape
from tests.server.ledger.test_ledger import verify


def recorded_scan(client, world, location="3513", headers=None) -> str:
    """Upload one receive scan at a place and return its uuid."""
    text = next(iter(world["labels"].values()))
    one = scan(text, location)
    response = client.post("/api/v1/scans", json={"scans": [one]},
                           headers=headers or auth(world["admin"]))
    assert response.get_json()["results"][0]["status"] == "recorded", response.get_json()
    return one["id"]


def send(client, scan_id, data, tok, content_type="image/jpeg"):
    """POST a photo's bytes to a scan."""
    return client.post(f"/api/v1/scans/{scan_id}/photos", data=data,
                       headers={**auth(tok), "Content-Type": content_type})


def stored(db) -> tuple[int, int, list]:
    """Return (photo rows, scan_photo ledger entries, files under originals/)."""
    with db.session() as s:
        rows = s.scalar(select(func.count()).select_from(ScanPhoto))
        entries = s.scalar(select(func.count()).select_from(LedgerEntry)
                           .where(LedgerEntry.kind == "scan_photo"))
    return rows, entries


def files(app) -> list:
    """Return the originals in the photo store."""
    root = photo_dir(app) / "originals"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_jpeg_is_stored_by_its_hash_untouched_and_chained(app, client, db, world):
    scan_id = recorded_scan(client, world)
    data = photo_bytes("JPEG", gps=True)
    response = send(client, scan_id, data, world["operator"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    sha = hashlib.sha256(data).hexdigest()
    assert body["status"] == "recorded"
    assert body["photo"] | {"created_at": None} == {
        "id": body["photo"]["id"], "scan_id": scan_id, "sha256": sha, "media_type": "image/jpeg",
        "size_bytes": len(data), "width": 200, "height": 100, "uploaded_by": "test-operator",
        "created_at": None}
    original = photo_dir(app) / "originals" / sha[:2] / f"{sha}.jpg"
    assert original.read_bytes() == data  # the original, byte for byte (GPS and all)
    assert stored(db) == (1, 1)
    with db.session() as s:
        entry = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "scan_photo")).one()
        assert entry.ref == sha and f'"sha256":"{sha}"' in entry.content
    listed = client.get(f"/api/v1/scans/{scan_id}/photos", headers=auth(world["observer"]))
    assert [p["sha256"] for p in listed.get_json()["photos"]] == [sha]


def test_the_display_copy_is_upright_smaller_and_has_no_metadata(app, client, world):
    scan_id = recorded_scan(client, world)
    # Taken with the phone turned: stored 2000 x 1000, EXIF says rotate 90 degrees clockwise.
    data = photo_bytes("JPEG", size=(2000, 1000), orientation=6, gps=True)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the original has a position
    sha = send(client, scan_id, data, world["admin"]).get_json()["photo"]["sha256"]
    display = Image.open(photo_dir(app) / "display" / sha[:2] / f"{sha}.jpg")
    assert display.size == (640, 1280)  # upright (portrait) and at most 1280 px
    assert display.getpixel((320, 20))[0] > 200 and display.getpixel((320, 1260))[2] > 200
    assert len(display.getexif()) == 0  # no GPS, no camera make
    thumb = Image.open(photo_dir(app) / "thumb" / sha[:2] / f"{sha}.jpg")
    assert thumb.size == (160, 320)


def test_a_png_sent_as_jpeg_is_stored_as_the_png_it_is(app, client, db, world):
    scan_id = recorded_scan(client, world)
    data = photo_bytes("PNG")
    body = send(client, scan_id, data, world["admin"], "image/jpeg").get_json()
    assert body["photo"]["media_type"] == "image/png"
    sha = body["photo"]["sha256"]
    assert (photo_dir(app) / "originals" / sha[:2] / f"{sha}.png").read_bytes() == data


def test_a_photo_sent_twice_is_stored_once_and_counted_once(app, client, db, world):
    scan_id = recorded_scan(client, world)
    data = photo_bytes("JPEG")
    first = send(client, scan_id, data, world["admin"])
    again = send(client, scan_id, data, world["admin"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["status"] == "already_recorded"
    assert again.get_json()["photo"]["id"] == first.get_json()["photo"]["id"]
    assert stored(db) == (1, 1) and len(files(app)) == 1
    other = send(client, scan_id, photo_bytes("JPEG", seed=9), world["admin"])
    assert other.status_code == 201 and stored(db) == (2, 2)


@pytest.mark.parametrize("make, content_type, status, code, words", [
    (lambda: photo_bytes("JPEG")[:600], "image/jpeg", 400, "invalid_photo",
     "truncated or corrupt"),
    (lambda: photo_bytes("JPEG", size=(800, 600))[:-1500], "image/jpeg", 400, "invalid_photo",
     "truncated or corrupt"),
    (lambda: photo_bytes("PNG", size=(800, 600))[:-40], "image/png", 400, "invalid_photo",
     "truncated or corrupt"),
    (lambda: b"GIF89a" + b"\x00" * 100, "image/jpeg", 415, "unsupported_media_type",
     "not a JPEG or PNG"),
    (lambda: photo_bytes("GIF"), "image/png", 415, "unsupported_media_type", "not a JPEG or PNG"),
    (lambda: b"", "image/jpeg", 400, "invalid_photo", "empty"),
    (lambda: photo_bytes("JPEG"), "text/plain", 415, "unsupported_media_type", "image/jpeg"),
], ids=["truncated-header", "truncated-jpeg", "truncated-png", "not-an-image", "gif", "empty", "wrong-content-type"])
def test_a_broken_or_foreign_file_is_refused_and_nothing_is_stored(
        app, client, db, world, make, content_type, status, code, words):
    scan_id = recorded_scan(client, world)
    error = assert_error_shape(send(client, scan_id, make(), world["admin"], content_type), status)
    assert error["code"] == code and words in error["message"], error
    assert stored(db) == (0, 0) and files(app) == []


def test_a_decompression_bomb_is_refused_before_it_is_decoded(app, client, db, world):
    scan_id = recorded_scan(client, world)
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # 100 megapixels in a few kilobytes
    bomb = out.getvalue()
    assert len(bomb) < 100_000
    error = assert_error_shape(send(client, scan_id, bomb, world["admin"], "image/png"), 413)
    assert error["code"] == "photo_too_large" and "pixels" in error["message"], error
    assert stored(db) == (0, 0) and files(app) == []


def test_size_and_pixel_limits_are_settings(app, client, db, world):
    scan_id = recorded_scan(client, world)
    app.config["PHOTO_MAX_PIXELS"] = 100 * 100
    error = assert_error_shape(send(client, scan_id, photo_bytes("JPEG"), world["admin"]), 413)
    assert "200 x 100 = 20,000 pixels; at most 10,000" in error["message"]
    app.config["PHOTO_MAX_BYTES"] = 100
    error = assert_error_shape(send(client, scan_id, photo_bytes("PNG", size=(50, 50)),
                                    world["admin"], "image/png"), 413)
    assert "at most 100 are accepted (PHOTO_MAX_BYTES)" in error["message"]
    assert stored(db) == (0, 0)


def test_a_photo_before_its_scan_is_404_and_says_to_upload_the_scan_first(client, db, world):
    error = assert_error_shape(send(client, str(uuid.uuid4()), photo_bytes(), world["admin"]), 404)
    assert "upload the scan first" in error["message"]
    error = assert_error_shape(send(client, "scan-7", photo_bytes(), world["admin"]), 400)
    assert "not a scan id" in error["message"]


def test_only_a_scanner_of_the_scans_place_may_attach(client, db, world, session):
    scan_id = recorded_scan(client, world, location="3513010001001")
    other_regency = token(session, "operator", "3514")
    other_tps = device_token(session, "3513010001002")
    here = device_token(session, "3513010001001")
    session.commit()
    assert_error_shape(send(client, scan_id, photo_bytes(), other_regency), 403)
    assert_error_shape(send(client, scan_id, photo_bytes(), other_tps), 403)
    assert_error_shape(send(client, scan_id, photo_bytes(), world["observer"]), 403)
    assert stored(db) == (0, 0)
    assert send(client, scan_id, photo_bytes(), here).status_code == 201
    # Readers outside the region do not see the scan's photos.
    observer_3514 = token(session, "observer", "3514")
    session.commit()
    assert_error_shape(client.get(f"/api/v1/scans/{scan_id}/photos",
                                  headers=auth(observer_3514)), 404)


def test_verify_log_finds_a_photo_file_whose_bytes_changed(app, client, db, world, runner):
    scan_id = recorded_scan(client, world)
    sha = send(client, scan_id, photo_bytes(), world["admin"]).get_json()["photo"]["sha256"]
    code, lines = verify(runner)
    assert code == 0, lines
    assert "photo files re-hashed: 1" in lines[-1] and " scan_photo, " in lines[-1], lines
    path = photo_dir(app) / "originals" / sha[:2] / f"{sha}.jpg"
    path.write_bytes(photo_bytes(seed=77))  # someone swapped the evidence on disk
    code, lines = verify(runner)
    assert code == 1
    assert lines[0].startswith("MODIFIED: photo ") and sha[:16] in lines[0], lines
    assert verify(runner, "--no-photos")[0] == 0  # the records alone still verify
    path.unlink()
    code, lines = verify(runner)
    assert code == 1 and lines[0].startswith("DELETED: photo ") and "is gone" in lines[0]


def test_verify_log_finds_a_photo_row_edited_in_the_database(client, db, world, runner):
    from tests.server.ledger.test_ledger import execute

    scan_id = recorded_scan(client, world)
    send(client, scan_id, photo_bytes(), world["admin"])
    execute(db, "UPDATE scan_photos SET uploaded_by = 'someone else'")
    code, lines = verify(runner)
    assert code == 1
    assert lines[0].startswith("MODIFIED:") and "scan photo" in lines[0] \
        and "uploaded_by" in lines[0], lines
