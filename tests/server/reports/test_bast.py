"""The BAST is an official document: every figure on the PDF reconciles with the log and the plan.

Handovers are built through the real ingest (so the rules raise the anomalies), with a package
for each anomaly kind; the figures are read back from the PDF's own text (pdftotext).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
from babel.support import Translations

from labels.payload import Label, sign
from server.models import Deadline
from server.reconcile.sweep import sweep_missing
from server.reports.bast import FIGURES, bast_data, bast_pdf, party_name
from server.reports.localtime import zone
from tests.factories import tamper
from tests.server.scan_world import World, scan

WIB = zone("Asia/Jakarta")
UTC = dt.timezone.utc
NOW = dt.datetime(2024, 2, 12, 5, 0)
CATALOGUE = Path(__file__).resolve().parents[3] / "server" / "translations"
NGADISARI_1, NGADISARI_2 = "3513010001001", "3513010001002"
WONOTORO, PATOKAN = "3513010002001", "3513020001001"


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Return 2024-02-<day> <hour>:<minute> UTC, as a scanner sends it."""
    return dt.datetime(2024, 2, day, hour, minute, tzinfo=UTC)


def to_district(world: World, pid: str, district: str, receive_at=None, received=True) -> list:
    """Return the scans of a package from the regency warehouse to a district office."""
    code = world.label(pid)
    scans = [scan(code, "3513", "receive", utc(7, 1)), scan(code, "3513", "dispatch", utc(7, 5))]
    if received:
        scans.append(scan(code, district, "receive", receive_at or utc(8, 1)))
    return scans


@pytest.fixture
def handovers(session, region, label_key):
    """Two handovers with a package for every anomaly kind: PPK Sukapura -> PPS Ngadisari on
    10 February, and PPS Ngadisari -> KPPS TPS 001 Ngadisari on 11 February (WIB)."""
    w = World(session, region, label_key, tps=(NGADISARI_1, NGADISARI_2), items=("SS-DPR", "KOTAK"),
              schedule=False)
    w.add(f"{NGADISARI_1}-BILIK", "BILIK", NGADISARI_1)
    w.add(f"{NGADISARI_1}-TINTA", "TINTA", NGADISARI_1)
    w.add("3513010001-FORMULIR", "FORMULIR", "3513010001", quantity=100)
    w.add(f"{WONOTORO}-KOTAK", "KOTAK", WONOTORO)
    w.add(f"{PATOKAN}-KOTAK", "KOTAK", PATOKAN)
    w.add(f"{PATOKAN}-SS-DPRDK", "SS-DPRDK", PATOKAN, dapil="DPRDK-3513-2", quantity=300)
    reprinted = w.add(f"{NGADISARI_2}-TINTA", "TINTA", NGADISARI_2)
    reprinted.label_version = 2
    # The villages' deadline: 10 February 12:00 WIB.
    session.add(Deadline(region_id=region["35"].id, level="village", deadline=dt.datetime(2024, 2, 10, 5)))
    session.commit()
    ten = utc(10, 3)  # 10:00 WIB
    scans = []
    for pid in (f"{NGADISARI_1}-SS-DPR", f"{NGADISARI_1}-KOTAK", f"{NGADISARI_2}-KOTAK",
                "3513010001-FORMULIR", f"{WONOTORO}-KOTAK", f"{NGADISARI_2}-SS-DPR",
                f"{NGADISARI_1}-TINTA"):
        scans += to_district(w, pid, "351301")
    # Never received at the PPK: a custody gap where the village receives it.
    scans += to_district(w, f"{NGADISARI_1}-BILIK", "351301", received=False)
    for pid in (f"{NGADISARI_1}-SS-DPR", f"{NGADISARI_1}-KOTAK", f"{NGADISARI_2}-KOTAK",
                "3513010001-FORMULIR", f"{WONOTORO}-KOTAK", f"{NGADISARI_2}-SS-DPR",
                f"{NGADISARI_1}-BILIK", f"{NGADISARI_1}-TINTA"):
        scans.append(scan(w.label(pid), "351301", "dispatch", utc(10, 0), operator="ppk",
                          **({"seal": "SEAL-1"} if pid.endswith("002-KOTAK") else {})))
    short_label = Label("3513010001-FORMULIR", "FORMULIR", "3513010001", 90, "", 1)
    scans += [
        scan(w.label(f"{NGADISARI_1}-SS-DPR"), "3513010001", "receive", ten, disposition="damaged",
             operator="pps"),
        scan(w.label(f"{NGADISARI_1}-KOTAK"), "3513010001", "receive", ten, operator="pps"),
        scan(w.label(f"{NGADISARI_1}-KOTAK"), "3513010001", "receive", utc(10, 3, 5), operator="pps"),
        scan(w.label(f"{NGADISARI_1}-BILIK"), "3513010001", "receive", ten, operator="pps"),
        scan(w.label(f"{NGADISARI_1}-TINTA"), "3513010001", "receive", utc(10, 7), operator="pps"),
        scan(w.label(f"{NGADISARI_2}-KOTAK"), "3513010001", "receive", ten, seal="SEAL-9",
             operator="pps"),
        scan(sign(short_label, label_key).text, "3513010001", "receive", ten, operator="pps"),
        scan(w.label(f"{WONOTORO}-KOTAK"), "3513010001", "receive", ten, operator="pps"),
        # The clone: the genuine box reaches PPK Kraksaan 5 minutes after a copy reaches Ngadisari.
        *to_district(w, f"{PATOKAN}-KOTAK", "351302", receive_at=utc(10, 3, 5)),
        scan(w.label(f"{PATOKAN}-KOTAK"), "3513010001", "receive", ten, operator="pps"),
        # Labels that name no package to take over: forged, unknown, superseded.
        scan(tamper(w.label(f"{NGADISARI_1}-SS-DPR")), "3513010001", "receive", ten, operator="pps"),
        scan(sign(Label(f"{NGADISARI_1}-LAINNYA", "LAINNYA", NGADISARI_1, 1, "", 1), label_key).text,
             "3513010001", "receive", ten, operator="pps"),
        scan(w.label(f"{NGADISARI_2}-TINTA", version=1), "3513010001", "receive", ten,
             operator="pps"),
        # 11 February: on to the TPS, and ballots of another dapil arrive there.
        scan(w.label(f"{NGADISARI_1}-KOTAK"), "3513010001", "dispatch", utc(11, 1), operator="pps"),
        scan(w.label(f"{NGADISARI_1}-KOTAK"), NGADISARI_1, "receive", utc(11, 3), operator="kpps"),
        scan(w.label(f"{PATOKAN}-SS-DPRDK"), NGADISARI_1, "receive", utc(11, 3), operator="kpps"),
    ]
    results = w.post(scans, now=NOW)
    assert not [r for r in results if r.get("error")], results
    sweep_missing(session, now=NOW)
    session.commit()
    return w


def _indonesian(text: str) -> str:
    return Translations.load(str(CATALOGUE), ["id"]).gettext(text)


def _pdf_text(data, tmp_path, lang="id") -> str:
    out = io.BytesIO()
    bast_pdf(data, out, translate=_indonesian if lang == "id" else (lambda s: s), lang=lang,
             made_at=dt.datetime(2024, 2, 12, 5), tz=WIB)
    path = tmp_path / f"bast-{lang}.pdf"
    path.write_bytes(out.getvalue())
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def _figures(text: str, code: str) -> list[int]:
    """Return the eight figures of the table row of an item type code ('Total' for the sum)."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines)
              if f"({code})" in line or line.strip().startswith(code))
    for line in (lines[at], *lines[at - 1:at + 2]):  # a wrapped name centres the figures
        numbers = re.findall(r"(?<!\S)[\d.,]+(?!\S)", line)
        if len(numbers) >= len(FIGURES):
            return [int(re.sub(r"[.,]", "", n)) for n in numbers[-len(FIGURES):]]
    raise AssertionError(f"no figures for {code}")


def _rows(text: str, start="Ketidaksesuaian", end="Label yang tidak diterima"
          ) -> dict[str, list[str]]:
    """Return the rows of a table on the PDF: package id (first column) -> the text of each cell.

    Cells are cut at the columns of the header line (pdftotext -layout keeps them aligned),
    so words wrapped in one cell are joined again.
    """
    lines = text[text.index(start):text.index(end) if end in text
                 else text.index("Tanda tangan")].splitlines()[1:]
    first_word = next(line for line in lines if line.strip()).split()[0]
    rows, current, starts, in_header = {}, None, [], False
    for line in lines:
        if line.strip().startswith(first_word):  # the header, again on each page
            starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)]
            in_header = True
            continue
        if in_header:
            in_header = bool(line.strip())  # a header's wrapped words, up to the blank line
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        if re.match(r"^[0-9A-Z][0-9A-Z-]{7,}$", cells[0]):
            current = cells[0]
            assert current not in rows, f"{current} listed twice"
            rows[current] = [""] * len(starts)
        if current and line.strip():
            rows[current] = [(old + " " + new).strip() for old, new in zip(rows[current], cells)]
    return rows


# (item type, dispatched, short, extra, received, damaged, problem, good, quantity)
VILLAGE = {
    "SS-DPR": (2, 1, 0, 1, 1, 0, 0, 300),
    "KOTAK": (2, 0, 2, 4, 0, 3, 1, 602),
    "BILIK": (1, 0, 0, 1, 0, 0, 1, 1),
    "TINTA": (1, 0, 0, 1, 0, 0, 1, 1),
    "FORMULIR": (1, 0, 0, 1, 0, 1, 0, 100),
    "Total": (7, 1, 2, 8, 1, 4, 3, 1004),
}


def test_the_village_bast_reconciles_every_figure_with_the_log(session, handovers, tmp_path):
    region = handovers.region
    data = bast_data(session, region["351301"], region["3513010001"], dt.date(2024, 2, 10), tz=WIB)
    text = _pdf_text(data, tmp_path)
    for label, expected in VILLAGE.items():
        assert _figures(text, label) == list(expected), label
    rows = _rows(text)
    # Each package that is not plainly good is listed once, its worst kind first, in words.
    expected_rows = {
        f"{NGADISARI_1}-SS-DPR": ("rusak", "rusak"),
        f"{NGADISARI_2}-SS-DPR": ("kurang", "hilang"),
        f"{NGADISARI_2}-KOTAK": ("bermasalah", "segel tidak cocok"),
        f"{WONOTORO}-KOTAK": ("bermasalah", "salah tujuan"),
        f"{PATOKAN}-KOTAK": ("bermasalah", "label kloning"),
        "3513010001-FORMULIR": ("bermasalah", "jumlah tidak sesuai"),
        f"{NGADISARI_1}-BILIK": ("baik", "rantai terputus"),
        f"{NGADISARI_1}-TINTA": ("baik", "terlambat"),
        f"{NGADISARI_1}-KOTAK": ("baik", "pindai ganda"),
    }
    assert sorted(rows) == sorted(expected_rows)
    for pid, (counted, kind) in expected_rows.items():
        cells = rows[pid]
        assert cells[1] == counted and cells[2].startswith(kind), (pid, cells)
    # Labels that named no package to take over: listed apart, never counted as received.
    refused = {pid: cells[1] for pid, cells
               in _rows(text, "Label yang tidak diterima", "Tanda tangan").items()}
    assert sorted(refused) == sorted([f"{NGADISARI_1}-SS-DPR", f"{NGADISARI_1}-LAINNYA",
                                      f"{NGADISARI_2}-TINTA"])
    assert "label palsu" in refused[f"{NGADISARI_1}-SS-DPR"]
    assert "paket tak dikenal" in refused[f"{NGADISARI_1}-LAINNYA"]
    assert "label versi lama" in refused[f"{NGADISARI_2}-TINTA"]
    # Damage is one row, not a condition row and an anomaly row.
    assert rows[f"{NGADISARI_1}-SS-DPR"][2] == "rusak"
    # The reader's words and zone: Indonesian sentences, times in WIB, never UTC.
    words = " ".join(text.split())
    assert "UTC" not in words
    assert "2024-02-10 12:00 WIB" in words  # the deadline the late ink missed
    assert "PPK Kecamatan Sukapura (351301)" in words
    assert "PPS Desa/Kelurahan Ngadisari (3513010001)" in words
    assert "reported" not in words and "received at" not in words


def test_the_tps_bast_counts_ballots_of_another_dapil_as_a_problem(session, handovers, tmp_path):
    region = handovers.region
    data = bast_data(session, region["3513010001"], region[NGADISARI_1], dt.date(2024, 2, 11), tz=WIB)
    text = _pdf_text(data, tmp_path)
    assert _figures(text, "KOTAK") == [1, 0, 0, 1, 0, 0, 1, 300]
    assert _figures(text, "SS-DPRDK") == [0, 0, 1, 1, 0, 1, 0, 300]
    assert _figures(text, "Total") == [1, 0, 1, 2, 0, 1, 1, 600]
    rows = _rows(text)
    assert list(rows) == [f"{PATOKAN}-SS-DPRDK"]
    assert rows[f"{PATOKAN}-SS-DPRDK"][1:3] == ["bermasalah", "salah dapil"]
    assert "KPPS TPS 001 Ngadisari (3513010001001)" in text


def test_english_bast_reads_in_english(session, handovers, tmp_path):
    region = handovers.region
    data = bast_data(session, region["351301"], region["3513010001"], dt.date(2024, 2, 10), tz=WIB)
    text = _pdf_text(data, tmp_path, lang="en")
    assert _figures(text, "Total") == list(VILLAGE["Total"])
    assert "cloned label" in text and "WIB" in text and "UTC" not in text


@pytest.mark.parametrize("level,name,expected", [
    ("regency", "Kabupaten Magetan", "KPU Kabupaten Magetan (3520)"),
    ("regency", "Probolinggo", "KPU Kabupaten/Kota Probolinggo (3520)"),
    ("district", "Kecamatan Sukapura", "PPK Kecamatan Sukapura (3520)"),
    ("tps", "TPS 001 Ngadisari", "KPPS TPS 001 Ngadisari (3520)"),
])
def test_party_names_say_each_word_once(level, name, expected):
    from server.reports.bast import Party

    assert party_name(Party("3520", name, level), _indonesian) == expected
