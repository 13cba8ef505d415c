"""Rendered PDF labels: every code decodes (zxing-cpp and pyzbar), verifies and sits over its own text."""

from __future__ import annotations

import pytest

from labels.manifest import read_locations, read_packages
from labels.payload import key_id_for, sign, verify
from labels.render import render_packages
from labels.templates import MM, TEMPLATES, get

from .conftest import decode_both, rasterize, text_in, words

DPI = 150


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, manifest, locations, test_key):
    """Render the manifest on every template; return rows, names and {template: (pdf, pngs)}."""
    rows = read_packages(manifest)
    names = read_locations(locations)
    out = {}
    for name in TEMPLATES:
        folder = tmp_path_factory.mktemp(name)
        [pdf] = render_packages(rows, folder / "labels.pdf", test_key, name, names=names)
        out[name] = (pdf, rasterize(pdf, DPI))
    return rows, names, out


def cell_box(template, index):
    """Return (page number, x, y, w, h) of a label in points from the page's top-left."""
    page, position = divmod(index, template.per_page)
    x, y = template.label_origin(position)
    top = template.page_h - y - template.label_h
    return page + 1, x * MM, top * MM, template.label_w * MM, template.label_h * MM


def centre_pt(position) -> tuple[float, float]:
    """Return the centre of a zxing position in points (the image is at DPI)."""
    xs = [p.x for p in (position.top_left, position.top_right, position.bottom_left, position.bottom_right)]
    ys = [p.y for p in (position.top_left, position.top_right, position.bottom_left, position.bottom_right)]
    return sum(xs) / 4 * 72 / DPI, sum(ys) / 4 * 72 / DPI


def qr_box_pt(position) -> tuple[float, float, float, float]:
    """Return the bounding box of a zxing position in points."""
    pts = (position.top_left, position.top_right, position.bottom_left, position.bottom_right)
    k = 72 / DPI
    return (min(p.x for p in pts) * k, min(p.y for p in pts) * k,
            max(p.x for p in pts) * k, max(p.y for p in pts) * k)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_code_decodes_with_both_decoders_and_verifies_in_its_own_cell(rendered, name, test_key):
    rows, _, out = rendered
    template = get(name)
    pdf, pages = out[name]
    keys = {key_id_for(test_key.public_key()): test_key.public_key()}
    expected = {sign(r.label(), test_key).text: i for i, r in enumerate(rows)}
    seen_z, seen_p = {}, set()
    for page_no, png in enumerate(pages, start=1):
        z, p = decode_both(png)
        for result in z:
            assert result.text in expected, f"{name} page {page_no}: unexpected code {result.text[:40]}"
            index = expected[result.text]
            page, x, y, w, h = cell_box(template, index)
            cx, cy = centre_pt(result.position)
            assert page == page_no and x <= cx <= x + w and y <= cy <= y + h, (
                f"{name}: code of {rows[index].package_id} is not inside its label cell")
            label = verify(result.text, keys)
            assert label.package_id == rows[index].package_id
            assert (label.destination, label.quantity, label.dapil) == (
                rows[index].destination, rows[index].quantity, rows[index].dapil)
            seen_z[result.text] = index
        seen_p.update(s.data.decode("ascii") for s in p)
    assert set(seen_z) == set(expected), f"{name}: zxing-cpp missed some labels"
    assert seen_p == set(expected), f"{name}: pyzbar missed some labels"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_text_under_each_code_names_its_package(rendered, name, test_key):
    rows, names, out = rendered
    template = get(name)
    pdf, _ = out[name]
    cell_texts = []
    for index, row in enumerate(rows):
        page, x, y, w, h = cell_box(template, index)
        text = text_in(pdf, page, x, y, w, h)
        cell_texts.append(" ".join(text.split()))
        flat = "".join(text.split())
        signed = sign(row.label(), test_key)
        assert row.package_id in flat, f"{name}: id of {row.package_id} missing in {text!r}"
        assert signed.verification_code in flat, f"{name}: code missing in {text!r}"
        if len(row.package_id) < 30:  # the 40-character id may crowd other fields off 50x30
            assert row.destination in flat, f"{name}: destination missing in {text!r}"
            assert str(row.quantity) in flat
            if row.dapil:
                assert row.dapil in flat
    if name != "thermal-50x30":
        all_text = " ".join(cell_texts)
        assert "Desa Ma'ruf" in all_text and "Çempaka Ñusantara" in all_text
        assert "Surat suara DPR" in all_text and "Tujuan" in all_text  # Indonesian by default


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_no_text_runs_off_its_label_or_over_the_code_or_below_6pt(rendered, name):
    rows, _, out = rendered
    template = get(name)
    pdf, pages = out[name]
    for page_no, png in enumerate(pages, start=1):
        qr_boxes = [qr_box_pt(r.position) for r in decode_both(png)[0]]
        first = (page_no - 1) * template.per_page
        cells = [cell_box(template, i)[1:] for i in range(first, min(first + template.per_page, len(rows)))]
        for word, x0, y0, x1, y1 in words(pdf, page_no):
            inside = [c for c in cells if c[0] - 0.5 <= x0 and x1 <= c[0] + c[2] + 0.5
                      and c[1] - 0.5 <= y0 and y1 <= c[1] + c[3] + 0.5]
            assert inside, f"{name} page {page_no}: {word!r} runs off its label"
            for bx0, by0, bx1, by1 in qr_boxes:
                assert x1 <= bx0 or x0 >= bx1 or y1 <= by0 or y0 >= by1, (
                    f"{name}: {word!r} overlaps a QR code")
            assert y1 - y0 >= 6.0 * 0.95, f"{name}: {word!r} is smaller than 6 pt"


def test_start_leaves_the_first_positions_of_the_first_sheet_empty(tmp_path, manifest, test_key):
    rows = read_packages(manifest)[:3]
    template = get("a4-3x8")
    [pdf] = render_packages(rows, tmp_path / "s.pdf", test_key, "a4-3x8", start=5)
    [png] = rasterize(pdf, DPI)
    z, p = decode_both(png)
    assert len(z) == 3 and len(p) == 3
    for result in z:
        cx, cy = centre_pt(result.position)
        occupied = [i for i in range(template.per_page)
                    if cell_box(template, i)[1] <= cx <= cell_box(template, i)[1] + cell_box(template, i)[3]
                    and cell_box(template, i)[2] <= cy <= cell_box(template, i)[2] + cell_box(template, i)[4]]
        assert occupied and occupied[0] in (5, 6, 7)
    for i in range(5):
        _, x, y, w, h = cell_box(template, i)
        assert text_in(pdf, 1, x, y, w, h).strip() == ""


def test_same_input_and_key_give_the_same_bytes(tmp_path, manifest, locations, test_key):
    rows, names = read_packages(manifest), read_locations(locations)
    a = render_packages(rows, tmp_path / "a.pdf", test_key, "a4-2x7", names=names)[0].read_bytes()
    b = render_packages(rows, tmp_path / "b.pdf", test_key, "a4-2x7", names=names)[0].read_bytes()
    assert a == b


def test_big_runs_are_split_into_numbered_parts(tmp_path, manifest, test_key):
    rows = read_packages(manifest)
    paths = render_packages(rows, tmp_path / "run.pdf", test_key, "thermal-50x30", max_per_file=3)
    assert [p.name for p in paths] == ["run-part001.pdf", "run-part002.pdf", "run-part003.pdf"]
    assert not (tmp_path / "run.pdf").exists()
    decoded = [decode_both(png)[0][0].text for p in paths for png in rasterize(p, DPI)]
    assert decoded == [sign(r.label(), test_key).text for r in rows]


def test_english_labels(tmp_path, manifest, test_key):
    rows = read_packages(manifest)[:1]
    [pdf] = render_packages(rows, tmp_path / "en.pdf", test_key, "a4-2x7", lang="en")
    text = text_in(pdf, 1, 0, 0, 210 * MM, 297 * MM)
    assert "DPR ballot papers" in text and "To:" in text and "Tujuan" not in text


def test_offsets_shift_every_label_by_the_calibration(tmp_path, manifest, test_key):
    rows = read_packages(manifest)[:1]
    [plain] = render_packages(rows, tmp_path / "plain.pdf", test_key, "a4-3x8")
    [moved] = render_packages(rows, tmp_path / "moved.pdf", test_key, "a4-3x8",
                              offset_x=3.0, offset_y=2.0)
    (x0, y0), (x1, y1) = (centre_pt(decode_both(rasterize(p)[0])[0][0].position) for p in (plain, moved))
    assert abs((x1 - x0) - 3.0 * MM) < 1.0 and abs((y1 - y0) - 2.0 * MM) < 1.0  # right and down
