"""Importing planning data from CSV and XLSX: all of a good file, nothing of a bad one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.importers.locations import read_locations
from server.importers.read import ImportFileError
from server.models import Deadline, ItemType, Location, Package

HEADER = "code,name,level,parent_code,dapil\n"
# A small tree written children-first: parents are resolved within the file.
TREE = HEADER + (
    "3513010001001,TPS 001 Ngadisari,tps,3513010001,DPR-JATIM-2;DPRDK-3513-1\n"
    "3513010001002,TPS 002 Ngadisari,tps,3513010001,DPR-JATIM-2;DPRDK-3513-1\n"
    "3513010001,Ngadisari,village,351301,\n"
    "351301,Sukapura,district,3513,\n"
    "3513,Kabupaten Probolinggo,regency,35,\n"
    "35,Jawa Timur,province,,\n"
)


def write(tmp_path, name: str, text: str | bytes) -> str:
    """Write a file for an import and return its path."""
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return str(path)


def count(session, model) -> int:
    """Return the number of rows of a table, reading fresh from the database."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def invoke(runner, command: str, path: str):
    """Run an import command."""
    return runner.invoke(args=[command, path])


def test_locations_in_any_order_are_imported_with_their_paths(runner, session, tmp_path):
    result = invoke(runner, "import-locations", write(tmp_path, "loc.csv", TREE))
    assert result.exit_code == 0, result.output
    assert "imported 6 locations (1 province, 1 regency, 1 district, 1 village, 2 TPS)" in result.output
    tps = session.scalar(select(Location).where(Location.code == "3513010001002"))
    assert tps.path == "/35/3513/351301/3513010001/3513010001002/"
    assert tps.dapils == ["DPR-JATIM-2", "DPRDK-3513-1"]
    assert tps.parent.code == "3513010001"


def test_semicolons_bom_and_crlf_are_accepted(runner, session, tmp_path):
    text = TREE.replace(",", ";").replace("DPR-JATIM-2;DPRDK-3513-1", '"DPR-JATIM-2;DPRDK-3513-1"')
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
    result = invoke(runner, "import-locations", write(tmp_path, "loc.csv", data))
    assert result.exit_code == 0, result.output
    assert count(session, Location) == 6
    tps = session.scalar(select(Location).where(Location.code == "3513010001001"))
    assert tps.dapil == "DPR-JATIM-2;DPRDK-3513-1"


def test_parents_already_in_the_database_are_used(runner, session, region, tmp_path):
    text = HEADER + ("3513010002002,TPS 002 Wonotoro,tps,3513010002,DPR-JATIM-2\n"
                     "3513010003,Sapikerep,village,351301,\n")
    result = invoke(runner, "import-locations", write(tmp_path, "more.csv", text))
    assert result.exit_code == 0, result.output
    village = session.scalar(select(Location).where(Location.code == "3513010003"))
    assert village.path == "/35/3513/351301/3513010003/"


def test_a_corrupt_locations_file_names_every_bad_row_and_changes_nothing(runner, session,
                                                                         region, tmp_path):
    before = count(session, Location)
    data = (HEADER.encode() +
            b"351303,Kuripan,district,3513,\n"                    # line 2: good
            b"3513030001,Kedawung,village,35139,\n"               # line 3: unknown parent
            b"351303,Kuripan lagi,district,3513,\n"               # line 4: duplicate in file
            b"3513030002,Wringinanom,desa,351303,\n"              # line 5: bad level
            b"3513030003,Jatisari \xe9,village,351303,\n"         # line 6: not UTF-8
            b"3513-03_4,Menyono,village,351303,\n"                # line 7: bad code characters
            b"351301,Sukapura,district,3513,\n"                   # line 8: already in the database
            b"3513030005,Tambelang,village,3513,\n")              # line 9: parent a level too high
    result = invoke(runner, "import-locations", write(tmp_path, "bad.csv", data))
    assert result.exit_code == 2
    out = result.output
    assert "line 3, column parent_code: unknown parent '35139'" in out
    assert "line 4, column code: duplicate code '351303' (first on line 2)" in out
    assert "line 5, column level: bad level 'desa'" in out
    assert "line 6: not UTF-8" in out
    assert "line 7, column code: bad code '3513-03_4'" in out
    assert "line 8, column code: duplicate code '351301': already in the database" in out
    assert "line 9, column parent_code: parent '3513' is a regency; a village must be under a district" in out
    assert "\nline 2," not in out
    assert count(session, Location) == before


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    (HEADER, "the file has a header but no rows"),
    ("code,name,parent_code,dapil\n35,Jawa Timur,,\n", "column level: missing column"),
    ("code\tname\tlevel\tparent_code\tdapil\n35\tJawa Timur\tprovince\t\t\n",
     "columns are separated by a tab"),
    (HEADER + "35;Jawa Timur;province;;\n", "wrong delimiter: this line uses ';'"),
    ("kode,name,level,parent_code\n35,Jawa Timur,province,\n", "column kode: unknown column"),
])
def test_malformed_files_are_rejected_with_a_reason(runner, session, tmp_path, text, message):
    result = invoke(runner, "import-locations", write(tmp_path, "f.csv", text))
    assert result.exit_code == 2
    assert message in result.output
    assert count(session, Location) == 0


@pytest.mark.parametrize("name", ["loc.txt", "loc.xls", "loc"])
def test_only_csv_and_xlsx_are_accepted(runner, tmp_path, name):
    result = invoke(runner, "import-locations", write(tmp_path, name, TREE))
    assert result.exit_code == 2
    assert "give a .csv or .xlsx file" in result.output


def test_xlsx_with_numeric_code_cells_is_imported(runner, session, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for line in TREE.splitlines():
        # Spreadsheets store codes typed as digits as numbers.
        sheet.append([int(v) if v.isdigit() else (v or None) for v in line.split(",")])
    path = tmp_path / "loc.xlsx"
    book.save(path)
    result = invoke(runner, "import-locations", str(path))
    assert result.exit_code == 0, result.output
    assert session.scalar(select(Location.path).where(Location.code == "3513010001001")) \
        == "/35/3513/351301/3513010001/3513010001001/"


def test_a_bad_xlsx_row_is_reported_by_its_row_number(runner, session, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["code", "name", "level", "parent_code", "dapil"])
    sheet.append(["35", "Jawa Timur", "province", None, None])
    sheet.append(["3513", "Kabupaten Probolinggo", "kabupaten", "35", None])
    path = tmp_path / "loc.xlsx"
    book.save(path)
    result = invoke(runner, "import-locations", str(path))
    assert result.exit_code == 2
    assert "line 3, column level: bad level 'kabupaten'" in result.output
    assert count(session, Location) == 0


def test_a_file_that_is_not_a_workbook_is_rejected(runner, tmp_path):
    result = invoke(runner, "import-locations", write(tmp_path, "loc.xlsx", TREE))
    assert result.exit_code == 2
    assert "not a readable XLSX workbook" in result.output


def test_read_locations_allows_a_partial_tree_without_a_database(tmp_path):
    path = write(tmp_path, "part.csv", HEADER + "3513010001001,TPS 001 Ngadisari,tps,3513010001,"
                 "DPR-JATIM-2\n3513010001,Ngadisari,village,351301,\n")
    rows = read_locations(path)
    assert [(r["code"], r["name"], r["line"]) for r in rows] == [
        ("3513010001001", "TPS 001 Ngadisari", 2), ("3513010001", "Ngadisari", 3)]
    assert rows[0]["dapil"] == ["DPR-JATIM-2"]

    bad = write(tmp_path, "bad.csv", HEADER + "3513010001,Ngadisari,village,3513010001001,\n"
                "3513010001001,TPS 001,tps,3513010001,dpr-jatim-2\n")
    with pytest.raises(ImportFileError) as caught:
        read_locations(bad)
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith("line 2, column parent_code: parent '3513010001001' is a tps") for m in messages)
    assert any(m.startswith("line 3, column dapil: bad code 'dpr-jatim-2'") for m in messages)


PACKAGES_HEADER = "package_id,item_type,quantity,destination,dapil\n"


def test_packages_are_imported_and_blank_ids_generated(runner, session, region, tmp_path):
    text = PACKAGES_HEADER + (
        ",SS-DPR,306,3513010001001,DPR-JATIM-2\n"
        ",SS-DPR,306,3513010001001,DPR-JATIM-2\n"
        "PKG-1,KOTAK,1,3513010001001,\n"
        ",SS-DPRDK,900,351301,DPRDK-3513-1\n")
    result = invoke(runner, "import-packages", write(tmp_path, "p.csv", text))
    assert result.exit_code == 0, result.output
    assert "imported 4 packages" in result.output
    ids = set(session.scalars(select(Package.package_id)))
    assert ids == {"3513010001001-SS-DPR-1", "3513010001001-SS-DPR-2", "PKG-1",
                   "351301-SS-DPRDK-1"}
    # Importing the generated rows again gives fresh ids, never a clash.
    again = invoke(runner, "import-packages", write(tmp_path, "p2.csv", PACKAGES_HEADER +
                                                    ",SS-DPR,306,3513010001001,DPR-JATIM-2\n"))
    assert again.exit_code == 0, again.output
    assert "3513010001001-SS-DPR-3" in set(session.scalars(select(Package.package_id)))


def test_a_corrupt_packages_file_names_every_bad_row_and_changes_nothing(runner, session,
                                                                        region, tmp_path):
    session.add(Package(package_id="OLD-1", item_type="KOTAK", quantity=1,
                        destination_id=region["3513010001001"].id))
    session.commit()
    text = PACKAGES_HEADER + (
        "A1,SS-DPR,306,3513010001001,DPR-JATIM-2\n"         # 2 good
        "A2,SS-DPR,tiga ratus,3513010001001,DPR-JATIM-2\n"  # 3 quantity not a number
        "A1,KOTAK,1,3513010001001,\n"                       # 4 duplicate id in file
        "OLD-1,KOTAK,1,3513010001001,\n"                    # 5 duplicate id in database
        "A5,PERAHU,1,3513010001001,\n"                      # 6 unknown item type
        "A6,SS-DPR,306,3513010001001,DPR-JATIM-3\n"         # 7 dapil not the TPS's
        "A7,SS-DPR,306,3513010001001,\n"                    # 8 ballot without dapil
        "A8,KOTAK,1,3513010001001,DPR-JATIM-2\n"            # 9 dapil on a box
        "A9,KOTAK,1,9999,\n"                                # 10 unknown destination
        "A10,SS-DPRDK,900,351301,DPRDK-3513-2\n"            # 11 no TPS under it has that dapil
        "A11,TINTA,0,3513010001001,\n"                      # 12 quantity not positive
        "a12,TINTA,1,3513010001001,\n")                     # 13 lower case
    result = invoke(runner, "import-packages", write(tmp_path, "p.csv", text))
    assert result.exit_code == 2
    out = result.output
    for expected in (
            "line 3, column quantity: quantity 'tiga ratus' is not a whole number",
            "line 4, column package_id: duplicate package id 'A1' (first on line 2)",
            "line 5, column package_id: duplicate package id 'OLD-1': already in the database",
            "line 6, column item_type: unknown item type 'PERAHU'",
            "line 7, column dapil: dapil 'DPR-JATIM-3' is not one of TPS 3513010001001's",
            "line 8, column dapil: missing dapil",
            "line 9, column dapil: KOTAK has no dapil",
            "line 10, column destination: unknown destination '9999'",
            "line 11, column dapil: dapil 'DPRDK-3513-2' is not the dapil of any TPS under district 351301",
            "line 12, column quantity: quantity 0 must be from 1",
            "line 13, column package_id: bad package id 'a12'",
            "did you mean 'A12'? (upper case only)"):
        assert expected in out
    assert "\nline 2," not in out
    assert count(session, Package) == 1


def test_schedule_without_offset_is_wib_and_reimport_replaces(runner, session, region, tmp_path):
    first = write(tmp_path, "s.csv", "level,deadline\nregency,2024-02-08T18:00\n"
                  "tps,2024-02-13\nvillage,2024-02-12T08:00:00+00:00\n")
    result = invoke(runner, "import-schedule", first)
    assert result.exit_code == 0, result.output
    stored = {d.level: d.deadline for d in session.scalars(select(Deadline))}
    assert stored["regency"] == dt.datetime(2024, 2, 8, 11, 0)          # 18:00 WIB
    assert stored["tps"] == dt.datetime(2024, 2, 13, 16, 59, 59)        # end of the day WIB
    assert stored["village"] == dt.datetime(2024, 2, 12, 8, 0)

    again = invoke(runner, "import-schedule",
                   write(tmp_path, "s2.csv", "level,deadline,region\nregency,2024-02-09T18:00,\n"
                         "district,2024-02-10,3513\n"))
    assert again.exit_code == 0, again.output
    session.expire_all()
    rows = {(d.level, d.region_id): d.deadline for d in session.scalars(select(Deadline))}
    assert rows[("regency", None)] == dt.datetime(2024, 2, 9, 11, 0)
    assert rows[("district", region["3513"].id)] == dt.datetime(2024, 2, 10, 16, 59, 59)
    assert len(rows) == 4


def test_a_bad_schedule_is_rejected_whole(runner, session, region, tmp_path):
    text = "level,deadline,region\nregency,2024-02-08,\nkecamatan,2024-02-10,\n" \
           "tps,13 Feb 2024,\nvillage,2024-02-12,9999\nregency,2024-02-09,\n"
    result = invoke(runner, "import-schedule", write(tmp_path, "s.csv", text))
    assert result.exit_code == 2
    assert "line 3, column level: bad level 'kecamatan'" in result.output
    assert "line 4, column deadline: deadline '13 Feb 2024' is not an ISO-8601" in result.output
    assert "line 5, column region: unknown region '9999'" in result.output
    assert "line 6, column level: level 'regency' appears twice" in result.output
    assert count(session, Deadline) == 0


def test_schedule_return_deadlines_per_item_type(runner, session, region, tmp_path):
    text = ("level,deadline,region,direction,item_type\n"
            "village,2024-02-12,,,\n"
            "village,2024-02-15T12:00,3513,return,KOTAK\n"
            "district,2024-02-16,3513,RETURN,\n"
            "village,2024-02-11,,outbound,SS-DPR\n")
    result = invoke(runner, "import-schedule", write(tmp_path, "s.csv", text))
    assert result.exit_code == 0, result.output
    rows = {(d.level, d.direction, d.item_type): d.deadline for d in session.scalars(select(Deadline))}
    assert rows == {("village", "outbound", ""): dt.datetime(2024, 2, 12, 16, 59, 59),
                    ("village", "return", "KOTAK"): dt.datetime(2024, 2, 15, 5, 0),
                    ("district", "return", ""): dt.datetime(2024, 2, 16, 16, 59, 59),
                    ("village", "outbound", "SS-DPR"): dt.datetime(2024, 2, 11, 16, 59, 59)}
    # Importing the return row again replaces it, and only it.
    again = invoke(runner, "import-schedule", write(
        tmp_path, "s2.csv", "level,deadline,region,direction,item_type\n"
        "village,2024-02-15T18:00,3513,return,KOTAK\n"))
    assert again.exit_code == 0, again.output
    session.expire_all()
    assert session.scalar(select(Deadline.deadline).where(Deadline.direction == "return",
                                                          Deadline.level == "village")) \
        == dt.datetime(2024, 2, 15, 11, 0)
    assert count(session, Deadline) == 4


def test_a_bad_return_schedule_is_rejected_whole(runner, session, region, tmp_path):
    text = ("level,deadline,direction,item_type\n"
            "village,2024-02-15,back,\n"
            "tps,2024-02-15,return,\n"
            "district,2024-02-15,return,KOTAKK\n"
            "district,2024-02-16,return,\n"
            "district,2024-02-17,return,\n")
    result = invoke(runner, "import-schedule", write(tmp_path, "s.csv", text))
    assert result.exit_code == 2
    assert "line 2, column direction: bad direction 'back'" in result.output
    assert "line 3, column direction: a return deadline is for a level" in result.output
    assert "line 4, column item_type: unknown item type 'KOTAKK'" in result.output
    assert "line 6, column level: level 'district' appears twice" in result.output
    assert count(session, Deadline) == 0


def test_a_regency_can_extend_the_catalogue(runner, session, region, tmp_path):
    types = write(tmp_path, "t.csv", "code,name_id,name_en,has_dapil\n"
                  "GENSET,Generator listrik,Power generator,tidak\n"
                  "SS-DPRDK-X,Surat suara DPRD khusus,Special DPRD ballots,ya\n")
    result = invoke(runner, "import-item-types", types)
    assert result.exit_code == 0, result.output
    assert session.get(ItemType, "SS-DPRDK-X").has_dapil is True
    packages = write(tmp_path, "p.csv", PACKAGES_HEADER + "G1,GENSET,1,3513010001,\n")
    assert invoke(runner, "import-packages", packages).exit_code == 0

    dup = invoke(runner, "import-item-types",
                 write(tmp_path, "t2.csv", "code,name_id,name_en,has_dapil\nKOTAK,a,b,maybe\n"))
    assert dup.exit_code == 2
    assert "line 2, column code: duplicate code 'KOTAK': already in the catalogue" in dup.output
    assert "line 2, column has_dapil: has_dapil 'maybe' is not yes/no" in dup.output


def test_the_province_generator_writes_files_the_importers_take(runner, session, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "province", Path(__file__).resolve().parents[3] / "benchmarks" / "province.py")
    province = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(province)
    counts = province.generate(tmp_path, regency_count=1, seed=5, scans=False)
    assert counts == province.generate(tmp_path / "again", regency_count=1, seed=5, scans=False)
    for command, name in (("import-locations", "locations.csv"), ("import-packages", "packages.csv"),
                          ("import-schedule", "schedule.csv")):
        result = invoke(runner, command, str(tmp_path / name))
        assert result.exit_code == 0, result.output
    assert count(session, Location) == counts["locations"]
    assert count(session, Package) == counts["packages"]
    # Pacitan: 12 kecamatan, and every TPS gets its 14 packages.
    districts = session.scalar(select(func.count()).select_from(Location)
                               .where(Location.level == "district"))
    tps = session.scalar(select(func.count()).select_from(Location).where(Location.level == "tps"))
    assert districts == 12 and counts["packages"] == 14 * tps
