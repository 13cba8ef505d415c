"""Reports: streamed CSV/XLSX encodings, the scan-log query, and the BAST PDF read back as text."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess

import pytest
from openpyxl import load_workbook

from server.reports.bast import bast_data, bast_pdf, receipt_days
from server.reports.localtime import day_bounds, local_text, to_utc, zone
from server.reports.scanlog import (
    SCAN_HEADER,
    ScanFilter,
    scan_log_csv,
    scan_log_page,
    scan_log_rows,
    scan_log_select,
)
from server.reports.tables import csv_chunks, xlsx_chunks
from tests.server import dashboard_data as data

WIB = zone("Asia/Jakarta")


def test_csv_streams_in_chunks_and_round_trips():
    rows = ((i, f"name,{i}", dt.datetime(2024, 2, 9, 8, 0), i % 2 == 0, None) for i in range(5000))
    chunks = list(csv_chunks(("id", "name", "at", "flag", "none"), rows, tz=WIB))
    assert len(chunks) >= 3  # streamed, not one big string
    text = b"".join(chunks).decode("utf-8-sig")
    read = list(csv.reader(io.StringIO(text)))
    assert read[0] == ["id", "name", "at", "flag", "none"]
    # Stored 08:00 UTC is written as local time with its offset: unambiguous for a machine.
    assert read[1] == ["0", "name,0", "2024-02-09T15:00:00+07:00", "1", ""]
    assert len(read) == 5001


def test_xlsx_is_a_workbook_with_every_row():
    rows = [(i, f"pkg-{i}", dt.datetime(2024, 2, 9, 8, i % 60), True) for i in range(300)]
    blob = b"".join(xlsx_chunks(("id", "package", "at", "offline"), iter(rows), "scans",
                                        tz=WIB))
    ws = load_workbook(io.BytesIO(blob), read_only=True)["scans"]
    got = list(ws.values)
    assert got[0] == ("id", "package", "at", "offline")
    assert len(got) == 301 and got[1][:3] == (0, "pkg-0", "2024-02-09T15:00:00+07:00")


@pytest.mark.parametrize("name, label", [("Asia/Jakarta", "WIB"), ("Asia/Makassar", "WITA"),
                                         ("Asia/Jayapura", "WIT"), ("Asia/Kolkata", "UTC+05:30"),
                                         ("UTC", "UTC")])
def test_times_read_in_the_zone_people_use(name, label):
    at = dt.datetime(2024, 2, 12, 5, 0)
    assert local_text(at, zone(name)).endswith(" " + label)
    assert local_text(at, WIB) == "2024-02-12 12:00:00 WIB"
    # A typed 12:00 WIB is 05:00 UTC; a local day starts at 17:00 UTC the day before.
    assert to_utc(dt.datetime(2024, 2, 12, 12, 0), WIB) == at
    assert day_bounds(dt.date(2024, 2, 12), WIB) == (dt.datetime(2024, 2, 11, 17, 0),
                                                           dt.datetime(2024, 2, 12, 17, 0))


def test_an_unknown_time_zone_is_refused_by_name():
    with pytest.raises(ValueError, match="Asia/Jakartaa"):
        zone("Asia/Jakartaa")


def test_scan_log_keeps_to_the_region_and_pages_without_overlap(session):
    story = data.build(session)
    region = story["region"]
    f = ScanFilter(region_path=region["3513"].path)
    everything = [r[0] for r in session.execute(scan_log_select(f))]
    assert everything == sorted(everything, reverse=True)
    forged_uuid = story["forged"].evidence[0]
    assert forged_uuid not in {r[1] for r in session.execute(scan_log_select(f))}
    pages, before = [], None
    while True:
        page = [r[0] for r in session.execute(scan_log_select(f, before_id=before, limit=4))]
        if not page:
            break
        pages += page
        before = page[-1]
    assert pages == everything
    streamed = [r[0] for r in scan_log_rows(session, f, batch=3)]
    assert streamed == sorted(everything)


def test_scan_log_filters_by_action_operator_and_evidence(session):
    story = data.build(session)
    region = story["region"]
    f = ScanFilter(region_path=region["3513"].path, action="receive", operator="pps-ngadisari")
    rows = session.execute(scan_log_select(f)).all()
    assert len(rows) == 3 and {r[6] for r in rows} == {"receive"}
    f = ScanFilter(region_path=region["3513"].path, uuids=story["damaged"].evidence)
    rows = session.execute(scan_log_select(f)).all()
    assert [(r[8], r[7]) for r in rows] == [("3513010001001-KOTAK", "damaged")]


def test_bast_counts_by_item_type_and_lists_discrepancies(session):
    story = data.build(session)
    region = story["region"]
    d = bast_data(session, region["351301"], region["3513010001"], dt.date(2024, 2, 10))
    table = {line.item_type: line for line in d.lines}
    assert table["SS-DPR"].received == 2 and table["SS-DPR"].quantity == 600
    assert table["KOTAK"].received == 1 and table["KOTAK"].damaged == 1
    assert table["KOTAK"].dispatched == 2 and table["KOTAK"].short == 1
    assert [(p.package_id, p.outcome) for p in d.packages] == [
        ("3513010001001-KOTAK", "damaged"), ("3513010001002-KOTAK", "short")]
    assert d.packages[0].kinds == ["damaged"]
    assert d.operators == ["pps-ngadisari"]
    # Another day: nothing was received, and nothing had been dispatched yet either.
    before = bast_data(session, region["351301"], region["3513010001"], dt.date(2024, 2, 9))
    assert before.totals["received"] == 0 and before.packages == []
    # Days are local: the receipts of 10:00 UTC fall on 10 February in WIB but on the 11th
    # in a zone 14 hours ahead.
    assert receipt_days(session, region["3513010001"], WIB) == [dt.date(2024, 2, 10)]
    assert receipt_days(session, region["3513010001"],
                                zone("Pacific/Kiritimati")) == [dt.date(2024, 2, 11)]
    kiri = bast_data(session, region["351301"], region["3513010001"], dt.date(2024, 2, 11),
                             tz=zone("Pacific/Kiritimati"))
    assert kiri.totals["received"] == d.totals["received"] == 3


def _pdf_text(blob: bytes, tmp_path) -> str:
    path = tmp_path / "bast.pdf"
    path.write_bytes(blob)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_bast_pdf_reads_as_a_handover_report(session, tmp_path):
    story = data.build(session)
    region = story["region"]
    d = bast_data(session, region["351301"], region["3513010001"], dt.date(2024, 2, 10))
    out = io.BytesIO()
    bast_pdf(d, out, made_at=dt.datetime(2024, 2, 10, 12, 0), tz=WIB)
    text = _pdf_text(out.getvalue(), tmp_path)
    for expected in ("HANDOVER REPORT", "Sukapura (351301)", "Ngadisari (3513010001)", "2024-02-10",
                     "2024-02-10 17:00:00 WIB", "2024-02-10 19:00 WIB",
                     "Surat suara DPR", "3513010001002-KOTAK", "no receipt scanned",
                     "kotak suara penyok", "First party (hands over)", "Second party (receives)"):
        assert expected in text, expected
    png = tmp_path / "bast"
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1",
                    str(tmp_path / "bast.pdf"), str(png)], check=True)
    assert list(tmp_path.glob("bast*.png"))


@pytest.mark.parametrize("lang", ["id", "en"])
def test_bast_item_names_follow_the_language(session, tmp_path, lang):
    story = data.build(session)
    region = story["region"]
    d = bast_data(session, region["3513"], region["351301"], None)
    out = io.BytesIO()
    bast_pdf(d, out, lang=lang)
    text = _pdf_text(out.getvalue(), tmp_path)
    assert ("Kotak suara" if lang == "id" else "Ballot box") in text


def test_scan_log_csv_is_the_same_on_every_database(session):
    story = data.build(session)
    f = ScanFilter(region_path=story["region"]["3513"].path, action="receive")
    direct = b"".join(csv_chunks(SCAN_HEADER, scan_log_rows(session, f),
                                         tz=WIB))
    # On PostgreSQL scan_log_csv has the server write the CSV (COPY); it must read the same.
    served = b"".join(scan_log_csv(session, f, tz=WIB))
    assert b",2024-02-09T18:00:00+07:00,2024-02-09T18:01:00+07:00,351301," in served
    assert list(csv.reader(io.StringIO(served.decode("utf-8-sig")))) == \
        list(csv.reader(io.StringIO(direct.decode("utf-8-sig"))))
    assert served.count(b"\n") == 10  # header and nine receipts


@pytest.mark.parametrize("window", [1, 3, 1000])
def test_scan_log_pages_are_the_same_whichever_way_they_are_gathered(session, window):
    story = data.build(session)
    for code in ("3513", "3513010001", "35"):
        f = ScanFilter(region_path=story["region"][code].path)
        everything = [r[0] for r in session.execute(scan_log_select(f))]
        pages, before = [], None
        while True:
            page = [r[0] for r in scan_log_page(session, f, before, 4, window=window)]
            pages += page
            if len(page) < 4:
                break
            before = page[-1]
        assert pages == everything, (code, window)


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"klik\")", "+1+1", "-2+3", "@SUM(A1:A2)",
            "\t=1+1", "=cmd|' /C calc'!A0"]


def test_csv_cells_that_start_like_a_formula_are_kept_as_text():
    rows = [(i, text) for i, text in enumerate(FORMULAS)] + [(99, "Budi -2")]
    read = list(csv.reader(io.StringIO(b"".join(csv_chunks(("id", "operator"), rows))
                                       .decode("utf-8-sig"))))
    assert [r[1] for r in read[1:]] == ["'" + t for t in FORMULAS] + ["Budi -2"]


def test_xlsx_cells_that_start_like_a_formula_are_text_not_formulas(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"".join(xlsx_chunks(("id", "operator"), [(i, t) for i, t in enumerate(FORMULAS)])))
    sheet = load_workbook(path).active
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == FORMULAS  # the text itself, unchanged
    assert {c.data_type for c in cells} == {"s"}  # shown as text, never evaluated
    assert sheet.cell(2, 1).value == 0 and sheet.cell(2, 1).data_type == "n"


def test_the_scan_log_csv_defuses_formulas_on_every_database(session):
    story = data.build(session)
    ngadisari = story["region"]["3513010001"]
    data.add_scan(session, None, ngadisari, "receive", data.T0, operator="=HYPERLINK(\"x\")",
                  claimed="@X", raw="+CMD")
    session.commit()
    f = ScanFilter(region_path=ngadisari.path, operator="=HYPERLINK(\"x\")")
    for served in (b"".join(scan_log_csv(session, f, tz=WIB)),
                   b"".join(csv_chunks(SCAN_HEADER, scan_log_rows(session, f), tz=WIB))):
        [header, row] = list(csv.reader(io.StringIO(served.decode("utf-8-sig"))))
        got = dict(zip(header, row))
        assert got["operator"] == "'=HYPERLINK(\"x\")"
        assert got["claimed_package"] == "'@X" and got["raw_code"] == "'+CMD"
