"""Photos where people look for them: the package timeline, the anomaly, the BAST, by region."""

from __future__ import annotations

import datetime as dt
import io
import subprocess

from PIL import Image

from server.access import create_user
from server.reports.bast import bast_data, bast_pdf
from server.reports.localtime import zone
from server.models import Anomaly, Location
from tests.factories import photo_bytes, scan
from tests.server import dashboard_data as data
from tests.server.api.test_api_scans import auth

VILLAGE = "3513010001"
PACKAGE = "3513010001001-KOTAK"


def damaged_receipt_with_photo(client, session, world) -> dict:
    """Receive a box damaged at the village, attach a photo of it; return the API's answers."""
    for name, region in (("sup", "3513"), ("far", "3514")):
        create_user(session, name, data.PASSWORD, "supervisor", region)
    session.commit()
    one = scan(world["labels"][PACKAGE], VILLAGE, disposition="damaged",
               at=dt.datetime(2024, 2, 11, 3, 0, tzinfo=dt.timezone.utc))
    result = client.post("/api/v1/scans", json={"scans": [one]}, headers=auth(world["operator"]))
    assert "damaged" in result.get_json()["results"][0]["anomalies"], result.get_json()
    photo = client.post(f"/api/v1/scans/{one['id']}/photos",
                        data=photo_bytes("JPEG", size=(1600, 1200), orientation=6, gps=True),
                        headers={**auth(world["operator"]), "Content-Type": "image/jpeg"})
    assert photo.status_code == 201
    return photo.get_json()


def test_the_timeline_and_the_anomaly_show_the_photo_to_readers_of_the_region(
        client, session, world):
    photo = damaged_receipt_with_photo(client, session, world)
    pid, sha = photo["photo"]["id"], photo["photo"]["sha256"]
    data.login(client)
    page = client.get(f"/packages/{PACKAGE}").get_data(as_text=True)
    assert f'src="/photos/{pid}/thumb"' in page and sha[:12] in page
    anomalies = client.get("/anomalies/?kind=damaged").get_data(as_text=True)
    assert f'src="/photos/{pid}/thumb"' in anomalies
    anomaly = session.query(Anomaly).filter_by(kind="damaged").one()
    shown = client.get(f"/anomalies/{anomaly.id}").get_data(as_text=True)
    assert f'href="/photos/{pid}/display"' in shown and "SHA-256" in shown
    display = client.get(f"/photos/{pid}/display")
    assert display.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(display.data))
    assert image.size == (960, 1280) and len(image.getexif()) == 0  # upright, no GPS
    original = client.get(f"/photos/{pid}/original")
    assert original.mimetype == "image/jpeg" and original.headers["Content-Disposition"] \
        .startswith("attachment")
    assert Image.open(io.BytesIO(original.data)).getexif().get_ifd(0x8825)  # kept as sent
    assert client.get(f"/photos/{pid}/other").status_code == 404
    assert client.get("/photos/99999999999999999999/thumb").status_code == 404  # no row id


def test_a_reader_of_another_region_does_not_see_the_photo(client, session, world):
    pid = damaged_receipt_with_photo(client, session, world)["photo"]["id"]
    data.login(client, username="far")
    for variant in ("display", "thumb", "original"):
        assert client.get(f"/photos/{pid}/{variant}").status_code == 404
    client.post("/logout", data={"csrf_token": data.csrf(client)})
    assert client.get(f"/photos/{pid}/thumb").status_code == 302  # to the login page


def test_the_bast_shows_the_handovers_photos_with_their_hash(app, client, session, world,
                                                              tmp_path):
    sha = damaged_receipt_with_photo(client, session, world)["photo"]["sha256"]
    data.login(client)
    response = client.get(f"/reports/bast.pdf?to={VILLAGE}&from=351301&date=2024-02-11")
    assert response.status_code == 200
    path = tmp_path / "bast.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "Foto yang diambil saat serah terima" in text and sha[:16] in text, text
    images = subprocess.run(["pdfimages", "-list", str(path)], check=True, capture_output=True,
                            text=True).stdout.splitlines()[2:]
    assert len(images) == 1 and images[0].split()[3:5] == ["240", "320"], images  # upright thumb
    # The data: one photo of the handover's scans; another day's BAST has none.
    receiver = session.query(Location).filter_by(code=VILLAGE).one()
    sender = receiver.parent
    tz = zone("Asia/Jakarta")
    bast = bast_data(session, sender, receiver, dt.date(2024, 2, 11), tz=tz)
    assert [(p.sha256, p.package_id, p.action) for p in bast.photos] == [(sha, PACKAGE, "receive")]
    assert bast_data(session, sender, receiver, dt.date(2024, 2, 12), tz=tz).photos == []
    # Without a photo source (or with the file gone) the photo is still listed by its hash.
    out = io.BytesIO()
    bast_pdf(bast, out, photo=lambda sha256, media_type: None)
    path.write_bytes(out.getvalue())
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "(file not available)" in text and sha[:16] in text
