"""Fixtures for the scanner tests: signed labels, QR frames, outboxes, the real server in-process."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import segno

from labels.keys import generate, public_pem
from labels.payload import Label, key_id_for, sign
from scanner.outbox import Outbox

DISTRICT = "351301"                     # Sukapura (PPK) in tests/factories.py's region
TPS_1 = "3513010001001"
TPS_OTHER_DISTRICT = "3513020001001"    # Kraksaan


def make_label(key, package_id: str, destination: str = TPS_1, version: int = 1,
               item_type: str = "SS-DPR", dapil: str = "DPR-JATIM-2", quantity: int = 300) -> str:
    """Return the signed QR text of a label."""
    return sign(Label(package_id, item_type, destination, quantity, dapil, version), key).text


def qr_image(text: str, module_px: int = 6) -> np.ndarray:
    """Return a grey image of a QR code with its quiet zone."""
    matrix = np.array(segno.make(text, error="m", micro=False).matrix, dtype=np.uint8)
    matrix = np.pad(matrix, 4)
    img = (1 - matrix) * 255
    return np.kron(img, np.ones((module_px, module_px), dtype=np.uint8)).astype(np.uint8)


def frame(texts=(), rng: np.random.Generator | None = None, noise: float = 0.0,
          size=(720, 1280)) -> np.ndarray:
    """Return a BGR camera-like frame showing QR codes side by side, with optional noise."""
    canvas = np.full(size, 190, dtype=np.float32)
    x = 40
    for text in texts:
        code = qr_image(text)
        h, w = code.shape
        canvas[60:60 + h, x:x + w] = code
        x += w + 40
    if noise:
        canvas += (rng or np.random.default_rng(0)).normal(0, noise, canvas.shape)
    gray = np.clip(canvas, 0, 255).astype(np.uint8)
    return np.dstack([gray, gray, gray])


@pytest.fixture(scope="session")
def forger_key():
    """Return a key the server does not trust."""
    return generate()


@pytest.fixture
def outbox(tmp_path):
    """Return an empty outbox in a temporary folder."""
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


@pytest.fixture
def cached_outbox(outbox, label_key):
    """Return an outbox whose cache trusts label_key and expects three packages at DISTRICT."""
    pub = label_key.public_key()
    outbox.store_keys({key_id_for(pub): public_pem(pub)})
    outbox.store_expected(DISTRICT, [
        {"package_id": "P-1", "destination": TPS_1, "label_version": 1, "quantity": 300},
        {"package_id": "P-2", "destination": TPS_1, "label_version": 2},
        {"package_id": "P-3", "destination": TPS_1, "label_version": 1,
         "verification_code": None},
    ])
    return outbox


class ServerDown(httpx.MockTransport):
    """A dead network: every request fails to connect."""

    def __init__(self):
        self.calls = 0

        def handler(request):
            self.calls += 1
            raise httpx.ConnectError("connection refused", request=request)

        super().__init__(handler)


@pytest.fixture
def live(app, region, session, label_key):
    """Return the real server in-process: a WSGI transport, a device token at DISTRICT, a plan."""
    from server.models import LabelKey
    from tests.factories import device_token, make_plan

    pub = label_key.public_key()
    session.add(LabelKey(key_id=key_id_for(pub), public_key_pem=public_pem(pub), name="test"))
    plan = make_plan(session, region, tps_codes=[TPS_1, TPS_OTHER_DISTRICT])
    token = device_token(session, DISTRICT)
    session.commit()

    class Live:
        transport = httpx.WSGITransport(app=app)
        url = "http://jejak.test"

        def __init__(self):
            self.token = token
            self.plan = plan
            self.session = session
            self.key = label_key
            # Packages bound for TPS_1, which the device at DISTRICT should see.
            self.plan_ids = sorted(pid for pid in plan if pid.startswith(TPS_1))

        def label(self, package_id: str, version: int | None = None) -> str:
            """Return the signed label text of a planned package."""
            from tests.factories import label_text

            return label_text(self.plan[package_id], label_key, version)

        def client(self):
            """Return a scanner-side client of the in-process server."""
            from scanner.uploader import make_client

            return make_client(self.url, self.token, transport=self.transport)

        def scan_rows(self):
            """Return {uuid: count} of the scans the server holds."""
            from sqlalchemy import func, select

            from server.models import ScanEvent

            with app.extensions["jejak.db"].session() as s:
                return dict(s.execute(select(ScanEvent.uuid, func.count())
                                      .group_by(ScanEvent.uuid)).all())

        def rows(self):
            """Return {uuid: scan row as a dict} of the scans the server holds."""
            from sqlalchemy import select

            from server.models import ScanEvent

            with app.extensions["jejak.db"].session() as s:
                return {r.uuid: {"matched": r.package_id is not None, "raw_code": r.raw_code,
                                 "counted": r.counted, "offline": r.offline, "action": r.action,
                                 "disposition": r.disposition, "container": r.container_raw,
                                 "container_matched": r.container_id is not None,
                                 "device": r.client_device}
                        for r in s.scalars(select(ScanEvent))}

    return Live()
