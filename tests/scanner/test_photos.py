"""Photos from the desktop scanner: queued in the outbox with their scan, offline too, uploaded after it."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from scanner.cli import main
from scanner.outbox import Outbox
from scanner.uploader import Uploader, make_client
from server.models import ScanEvent, ScanPhoto
from tests.factories import photo_bytes
from tests.scanner.conftest import DISTRICT, ServerDown


def _server_photos(app) -> list[tuple[str, str]]:
    """Return (scan uuid, sha256) of every photo the server holds."""
    with app.extensions["jejak.db"].session() as s:
        return sorted(s.execute(select(ScanEvent.uuid, ScanPhoto.sha256)
                                .join(ScanEvent, ScanEvent.id == ScanPhoto.scan_id)).all())


def test_photos_queued_offline_go_up_after_their_scan_once(tmp_path, live, app, capsys):
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    scan = box.add(code=live.label(live.plan_ids[0]), location=DISTRICT, action="receive",
                   disposition="damaged", offline=True, signal="accepted")
    box.close()
    damage, seal = tmp_path / "damage.jpg", tmp_path / "seal.png"
    damage.write_bytes(photo_bytes("JPEG"))
    seal.write_bytes(photo_bytes("PNG"))
    # Offline: no server given. The photos go into the outbox with the last scan.
    assert main(["photo", str(damage), str(seal), "--outbox", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1] for line in out] == [scan.uuid, scan.uuid]
    assert main(["photo", str(damage), "--scan", scan.uuid, "--outbox", str(path)]) == 0  # again
    damage.unlink()  # queued means the bytes are in the outbox, not a path to a file
    assert main(["status", "--outbox", str(path)]) == 0
    assert "photos: 2 pending, 0 sent, 0 rejected" in capsys.readouterr().out
    # A dead network keeps everything pending.
    box = Outbox(path)
    report = Uploader(box, make_client(live.url, live.token, transport=ServerDown())).upload_once()
    assert report.error and box.photo_counts()["pending"] == 2
    box.close()
    # The network is back: the scan first, then its photos, each once.
    assert main(["sync", "--server", live.url, "--token", live.token, "--outbox", str(path)],
                transport=live.transport) == 0
    assert "photos: 2 delivered; 0 pending, 0 rejected" in capsys.readouterr().out
    wanted = sorted((scan.uuid, hashlib.sha256(photo_bytes(fmt)).hexdigest())
                    for fmt in ("JPEG", "PNG"))
    assert _server_photos(app) == wanted
    assert main(["sync", "--server", live.url, "--token", live.token, "--outbox", str(path)],
                transport=live.transport) == 0
    assert _server_photos(app) == wanted


def test_manual_attaches_a_photo_to_the_scan_it_records(tmp_path, live, app, capsys):
    path = tmp_path / "o.sqlite3"
    photo = tmp_path / "count.jpg"
    photo.write_bytes(photo_bytes("JPEG", orientation=6))
    assert main(["manual", "pkg-7", "abcd-efgh", "--location", DISTRICT, "--action", "receive",
                 "--photo", str(photo), "--server", live.url, "--token", live.token,
                 "--sound", "none", "--outbox", str(path)], transport=live.transport) == 0
    box = Outbox(path)
    (scan,) = box.scans()
    assert [(p.scan_uuid, p.state) for p in box.photos()] == [(scan.uuid, "sent")]
    box.close()
    assert [u for u, _sha in _server_photos(app)] == [scan.uuid]


def test_a_file_that_is_no_photo_is_refused_and_nothing_is_queued(tmp_path, capsys):
    path = tmp_path / "o.sqlite3"
    box = Outbox(path)
    box.add(code="PKG-1 ABCD-EFGH", location=DISTRICT, action="receive", disposition="ok",
            offline=True, signal="accepted")
    box.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    assert main(["photo", str(text), "--outbox", str(path)]) == 2
    assert "is not a JPEG or PNG image" in capsys.readouterr().err
    empty = tmp_path / "empty.sqlite3"
    photo = tmp_path / "p.jpg"
    photo.write_bytes(photo_bytes())
    assert main(["photo", str(photo), "--outbox", str(empty)]) == 2
    assert "holds no scan" in capsys.readouterr().err
    box = Outbox(path)
    assert box.photos() == []
    box.close()


def test_a_photo_of_a_rejected_scan_is_rejected_with_it(tmp_path, live, app):
    box = Outbox(tmp_path / "o.sqlite3")
    scan = box.add(code=live.label(live.plan_ids[0]), location=DISTRICT, action="receive",
                   disposition="ok", offline=True, signal="accepted")
    box.add_photo(scan.uuid, photo_bytes())
    box.mark_results([(scan.uuid, "rejected", [], "bad scan")])
    Uploader(box, live.client()).upload_once()
    (photo,) = box.photos()
    assert photo.state == "rejected" and "its scan was rejected: bad scan" in photo.error
    box.close()
    assert _server_photos(app) == []
