"""Fixtures for label tests: a fixed signing key, a hard manifest, and PDF/QR inspection helpers."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

MANIFEST = """package_id,item_type,quantity,destination,dapil
3513010001001-SS-DPR,SS-DPR,300,3513010001001,DPR-JATIM-2
3513010001001-KOTAK,KOTAK,5,3513010001001,
3513010001002-SS-PPWP,SS-PPWP,300,3513010001002,
3513010002001-SS-DPRDK,SS-DPRDK,280,3513010002001,DPRDK-3513-1
3513020001001-SS-DPRDP,SS-DPRDP,295,3513020001001,DPRDP-JATIM-11
PKG-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,SS-DPRDK,9999999,BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB,DPRDK-CCCCCCCCCCCCCCCCCCCCCCCCCC
351301-BILIK-01,BILIK,4,351301,
3513010009001-TINTA,TINTA,2,3513010009001,
"""
LOCATIONS = """code,name,level,parent_code,dapil
3513010001001,TPS 001 Desa Ma'ruf,tps,3513010001,DPR-JATIM-2
3513010001002,TPS 002 Kelurahan Sumber Taman Jaya Kulon Sebelah Timur,tps,3513010001,DPR-JATIM-2
3513010002001,TPS 001 Désa Çempaka Ñusantara,tps,3513010002,DPRDK-3513-1
351301,Kecamatan Sukapura,district,3513,
"""


@pytest.fixture(scope="session")
def test_key():
    """Return a fixed Ed25519 key, so rendered output is reproducible across runs."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(scope="session")
def key_files(tmp_path_factory, test_key):
    """Write the fixed key pair; return (private path, public path)."""
    from labels.keys import write_key_pair

    return write_key_pair(test_key, tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def manifest(tmp_path_factory) -> Path:
    """Return a packages CSV with long, apostrophe'd and non-ASCII destinations."""
    path = tmp_path_factory.mktemp("manifest") / "packages.csv"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def locations(tmp_path_factory) -> Path:
    """Return a partial locations CSV."""
    path = tmp_path_factory.mktemp("locations") / "locations.csv"
    path.write_text(LOCATIONS, encoding="utf-8")
    return path


def rasterize(pdf: Path, dpi: int = 150) -> list[Path]:
    """Turn every page of a PDF into a PNG with pdftoppm; return them in page order."""
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True)
    pages = sorted(pdf.parent.glob(prefix.name + "-*.png"),
                   key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert pages, f"pdftoppm made no pages of {pdf}"
    return pages


def decode_both(png: Path) -> tuple[list, list]:
    """Decode every QR code on an image with zxing-cpp and with pyzbar (both must be installed)."""
    import zxingcpp
    from PIL import Image
    from pyzbar import pyzbar

    image = Image.open(png).convert("L")
    z = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    p = pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return z, p


def words(pdf: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """Return (word, x0, y0, x1, y1) in points from the top-left of a page (pdftotext -bbox)."""
    out = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                         check=True, capture_output=True, text=True).stdout
    found = []
    for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                         r"(.*?)</word>", out):
        import html

        found.append((html.unescape(m.group(5)), *map(float, m.group(1, 2, 3, 4))))
    return found


def text_in(pdf: Path, page: int, x: float, y: float, w: float, h: float) -> str:
    """Return the text of a page region (points, from the top-left) with pdftotext -layout."""
    return subprocess.run(
        ["pdftotext", "-layout", "-r", "72", "-f", str(page), "-l", str(page),
         "-x", str(int(x)), "-y", str(int(y)), "-W", str(int(w + 0.999)), "-H", str(int(h + 0.999)),
         str(pdf), "-"], check=True, capture_output=True, text=True).stdout
