"""The surat jalan PDF: its QR decodes, with a real decoder, to the shipment's reference."""

from __future__ import annotations

import datetime as dt
import uuid

from labels.shipment import make_shipment_ref, parse_shipment_ref
from server.reports.surat_jalan import surat_jalan_pdf
from tests.labels.conftest import decode_both, rasterize


def test_the_qr_of_a_surat_jalan_decodes_to_its_reference(tmp_path):
    u = str(uuid.uuid4())
    data = {"number": "SJ-000007", "reference": make_shipment_ref("SJ-000007", u),
            "from": "351301", "from_name": "Sukapura", "to": "3513010001", "to_name": "Ngadisari",
            "closed_at": dt.datetime(2024, 2, 10, 8, 0), "operator": "Budi",
            "koli": [f"3513010001001-KOTAK-{i}" for i in range(60)]}  # two pages
    pdf = tmp_path / "sj.pdf"
    with pdf.open("wb") as out:
        surat_jalan_pdf(data, out)
    pages = rasterize(pdf)
    assert len(pages) == 2
    z, p = decode_both(pages[0])
    assert [r.text for r in z] == [data["reference"]]
    assert [r.data.decode() for r in p] == [data["reference"]]
    assert parse_shipment_ref(z[0].text).uuid == u
