"""ZPL and codes output, manifests, and the jejak-labels commands (keygen, render, verify, command-sheet)."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from labels.cli import main
from labels.manifest import ManifestError, read_packages
from labels.payload import (
    BadSignature,
    Label,
    SupersededLabel,
    UnknownKey,
    key_id_for,
    parse,
    sign,
    verify,
)
from labels.render import render_packages
from labels.templates import DOT_MM, get

from .conftest import decode_both, rasterize


def run(capsys, *args):
    """Run jejak-labels in-process; return (exit status, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_payload_round_trip_and_each_verification_failure(test_key):
    from labels.keys import generate

    keys = {key_id_for(test_key.public_key()): test_key.public_key()}
    label = Label("3513010001001-SS-DPR", "SS-DPR", "3513010001001", 300, "DPR-JATIM-2", 2)
    text = sign(label, test_key).text
    assert verify(text, keys).unsigned() == label == parse(text).unsigned()
    position = text.index(".300.") + 1
    altered = text[:position] + "9" + text[position + 1:]  # 300 -> 900 ballots
    with pytest.raises(BadSignature) as exc:
        verify(altered, keys)
    assert not isinstance(exc.value, UnknownKey)
    with pytest.raises(UnknownKey):
        verify(sign(label, generate()).text, keys)
    with pytest.raises(SupersededLabel):
        verify(text, keys, current_version=3)


def test_zpl_is_one_well_formed_label_per_package_inside_the_label(tmp_path, manifest, locations, test_key):
    from labels.manifest import read_locations

    rows = read_packages(manifest)
    for name in ("thermal-100x150", "thermal-50x30"):
        template = get(name)
        [path] = render_packages(rows, tmp_path / f"{name}.zpl", test_key, name, "zpl",
                                 names=read_locations(locations))
        text = path.read_text(encoding="utf-8")
        blocks = re.findall(r"\^XA(.*?)\^XZ", text, re.S)
        assert len(blocks) == len(rows) and text.count("^XA") == len(rows)
        assert re.sub(r"\^XA.*?\^XZ", "", text, flags=re.S).strip() == ""
        width, height = round(template.label_w / DOT_MM), round(template.label_h / DOT_MM)
        for block, row in zip(blocks, rows):
            code = sign(row.label(), test_key).text
            qr = re.search(r"\^FO(\d+),(\d+)\^BQN,2,(\d+)\^FDQA,([^^]*)\^FS", block)
            assert qr and qr.group(4) == code
            x, y, mag = map(int, qr.group(1, 2, 3))
            side = (len(decode_matrix(code))) * mag
            assert 0 <= x and x + side <= width and 0 <= y and y + side <= height, name
            assert f"^PW{width}" in block and f"^LL{height}" in block and "^CI28" in block
            for fx, fy in re.findall(r"\^FO(\d+),(\d+)\^A0N", block):
                assert 0 <= int(fx) < width and 0 <= int(fy) < height
            texts = "".join(re.findall(r"\^A0N,\d+,\d+\^FH_\^FD([^^]*)\^FS", block))
            assert row.package_id in texts and sign(row.label(), test_key).verification_code in texts
        assert "Ma'ruf" in text or name == "thermal-50x30"


def decode_matrix(code):
    """Return the module matrix zxing encodes for code."""
    from labels.qr import encode

    return encode(code)


def test_zpl_refuses_a_sheet_template(tmp_path, manifest, test_key, capsys, key_files):
    code, _, err = run(capsys, "render", manifest, "-o", tmp_path / "x.zpl", "--key", key_files[0],
                       "--format", "zpl", "--template", "a4-3x8")
    assert code == 2 and "thermal" in err


def test_codes_format_is_exactly_the_qr_text(tmp_path, manifest, test_key, capsys, key_files):
    code, _, _ = run(capsys, "render", manifest, "-o", tmp_path / "c.jsonl", "--key", key_files[0],
                     "--format", "codes")
    assert code == 0
    lines = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    rows = read_packages(manifest)
    assert lines == [{"package_id": r.package_id, "code": sign(r.label(), test_key).text} for r in rows]
    [pdf] = render_packages(rows[:2], tmp_path / "c.pdf", test_key, "a4-3x8")
    z, _ = decode_both(rasterize(pdf)[0])
    assert {r.text for r in z} == {line["code"] for line in lines[:2]}


def test_bad_manifest_is_rejected_whole_with_every_bad_row(tmp_path, capsys, key_files):
    bad = tmp_path / "bad.csv"
    bad.write_text("package_id,item_type,quantity,destination,dapil\n"
                   "P-1,SS-DPR,300,3513010001001,DPR-JATIM-2\n"
                   "P-2,KOTAK,lima,3513010001001,\n"
                   "P-1,KOTAK,5,3513010001001,\n"
                   "P-4,SS-DPR,300,35 13,\n"
                   "P-5,KOTAK,0,3513010001001,DPR-JATIM-2\n"
                   "P-6,KOTAK,99999999,3513010001001,\n", encoding="utf-8")
    code, out, err = run(capsys, "render", bad, "-o", tmp_path / "x.pdf", "--key", key_files[0])
    assert code == 2 and not (tmp_path / "x.pdf").exists()
    for expected in ("line 3, column quantity: 'lima'", "line 4, column package_id: 'P-1' already on line 2",
                     "line 5, column destination", "line 5, column dapil", "line 6, column quantity",
                     "line 6, column dapil", "line 7, column quantity"):
        assert expected in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("content, message", [
    (b"package_id,item_type,quantity,destination\nP-1,KOTAK,1,35\n", "missing column(s) dapil"),
    (b"package_id,item_type,quantity,destination,dapil\nP-1,KOTAK,1,Mal\xe9,\n", "line 2: not UTF-8"),
    (b"package_id,item_type,quantity,destination,dapil\n", "no packages"),
])
def test_unreadable_manifests_name_the_problem(tmp_path, content, message):
    path = tmp_path / "m.csv"
    path.write_bytes(content)
    with pytest.raises(ManifestError) as exc:
        read_packages(path)
    assert message in str(exc.value)


def test_xlsx_manifest_with_label_version(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["package_id", "item_type", "quantity", "destination", "dapil", "label_version"])
    sheet.append(["3513010001001-KOTAK", "KOTAK", 5, "3513010001001", None, 3])
    book.save(tmp_path / "p.xlsx")
    [row] = read_packages(tmp_path / "p.xlsx")
    assert (row.package_id, row.quantity, row.dapil, row.version) == ("3513010001001-KOTAK", 5, "", 3)


def test_keygen_writes_a_private_0600_and_a_public_file(tmp_path, capsys):
    code, out, _ = run(capsys, "keygen", "--out", tmp_path / "k")
    assert code == 0
    [private] = (tmp_path / "k").glob("*private.pem")
    [public] = (tmp_path / "k").glob("*public.pem")
    assert str(private) in out and str(public) in out
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert "PUBLIC KEY" in public.read_text() and "PRIVATE KEY" in private.read_text()


def test_verify_prints_one_json_line_per_code_and_says_what_is_wrong(tmp_path, capsys, monkeypatch,
                                                                    key_files, test_key):
    from labels.keys import generate

    good = sign(Label("P-1", "KOTAK", "3513010001001", 5), test_key).text
    altered = good.replace(".5.1.", ".6.1.")
    foreign = sign(Label("P-1", "KOTAK", "3513010001001", 5), generate()).text
    code, out, _ = run(capsys, "verify", "--public-key", key_files[1], good)
    assert code == 0
    record = json.loads(out)
    assert record["valid"] is True and record["package_id"] == "P-1" and record["error"] is None
    assert record["code"] == good and record["quantity"] == 5
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{good}\n{altered}\n{foreign}\nnot a label\n"))
    code, out, _ = run(capsys, "verify", "--public-key", key_files[1])
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [r["valid"] for r in records] == [True, False, False, False]
    assert records[1]["error"].startswith("altered or forged") and records[1]["package_id"] == "P-1"
    assert records[2]["error"].startswith("unknown key")
    assert records[3]["error"].startswith("malformed") and records[3]["package_id"] is None


def test_command_sheet_codes_switch_modes(tmp_path, capsys):
    from PIL import Image

    from labels import commands
    from labels.command_sheet import CELL_H, CELL_W, COUNT_SHEET, SHEET, SHIPMENT_SHEET, cell_origin

    code, _, _ = run(capsys, "command-sheet", "-o", tmp_path / "cmd.pdf")
    assert code == 0
    pages = rasterize(tmp_path / "cmd.pdf")
    k = 150 / 25.4
    assert [text for text, _ in SHEET + COUNT_SHEET + SHIPMENT_SHEET] == list(commands.COMMANDS)
    cells = [(pages[0], i, t) for i, (t, _) in enumerate(SHEET)]
    cells += [(pages[1], i, t) for i, (t, _) in enumerate(COUNT_SHEET)]
    cells += [(pages[2], i, t) for i, (t, _) in enumerate(SHIPMENT_SHEET)]
    for number, (path, index, text) in enumerate(cells):
        page = Image.open(path)
        index, cell_no = index, number
        # One cell at a time, as a scanner pointed at one code sees it.
        x, y = cell_origin(index)
        cell = tmp_path / f"cell{cell_no}.png"
        page.crop((int(x * k), int((297 - y - CELL_H) * k), int((x + CELL_W) * k),
                   int((297 - y) * k))).save(cell)
        z, p = decode_both(cell)
        assert [r.text for r in z] == [text] and [s.data.decode() for s in p] == [text]
        assert re.fullmatch(r"[A-Z0-9.-]+", text) and commands.parse_command(text.lower())


def test_locations_file_checks_each_ballots_dapil_against_its_tps(tmp_path, capsys, key_files,
                                                                  locations):
    manifest = tmp_path / "p.csv"
    manifest.write_text("package_id,item_type,quantity,destination,dapil\n"
                        "P-1,SS-DPR,300,3513010001001,DPR-JATIM-2\n"
                        "P-2,SS-DPR,300,3513010001001,DPR-JATIM-9\n"
                        "P-3,SS-DPR,300,3599999999999,DPR-JATIM-9\n", encoding="utf-8")
    code, _, err = run(capsys, "render", manifest, "-o", tmp_path / "x.pdf", "--key", key_files[0],
                       "--locations", locations)
    assert code == 2
    assert "line 3, column dapil: 'DPR-JATIM-9' is not a dapil of TPS 3513010001001" in err
    assert "line 4" not in err  # a TPS the partial locations file does not list is not checked
