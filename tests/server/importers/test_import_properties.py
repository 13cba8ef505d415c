"""Property-based tests of the planning importers: whatever the file holds, an import either
succeeds or exits 2 with a reason, never crashes, and a rejected file changes nothing."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.models import LEVELS, Deadline, ItemType, Location, Package

COMMANDS = {  # command -> its columns (docs/import-format.md)
    "import-locations": ("code", "name", "level", "parent_code", "dapil"),
    "import-packages": ("package_id", "item_type", "quantity", "destination", "dapil"),
    "import-schedule": ("level", "deadline", "region"),
    "import-item-types": ("code", "name_id", "name_en", "has_dapil"),
}
TABLES = (Location, Package, Deadline, ItemType)

PROPS = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

HOSTILE = st.sampled_from([
    "", " ", "'; DROP TABLE locations; --", "<script>alert(1)</script>", "\x00", "\u202e3513",
    "٣٥١٣", "ＡＢＣ", "3513\n3514", '"', '""', ",", ";", "\t", "1e9", "-1", "0", "9999999",
    "10000000", "NaN", "inf", "2024-02-30", "2024-02-13T25:00", "9999-12-31T23:59:59+14:00",
    "x" * 500, "true", "ya", "TIDAK", "=cmd|' /C calc'!A0",
])
EXISTING_CODES = st.sampled_from(["35", "3513", "351301", "3513010001", "3513010001001", "3514",
                                  "3599", "351399", "3513019999", "3513010001999"])
VALUES = {
    "code": EXISTING_CODES | st.from_regex(r"[0-9A-Z-]{1,14}", fullmatch=True),
    "parent_code": EXISTING_CODES,
    "name": st.text(max_size=30),
    "level": st.sampled_from(LEVELS + ("TPS", "desa")),
    "dapil": st.sampled_from(["", "DPR-JATIM-2", "DPR-JATIM-2;DPRDK-3513-1", "DPRDK-3513-1;;", "X"]),
    "package_id": st.just("") | st.from_regex(r"[0-9A-Z-]{1,41}", fullmatch=True),
    "item_type": st.sampled_from(["SS-DPR", "KOTAK", "SS-PPWP", "kotak", "NOPE", "SS-DPRDK"]),
    "quantity": st.integers(min_value=-5, max_value=10_000_001).map(str),
    "destination": EXISTING_CODES,
    "deadline": st.sampled_from(["2024-02-13", "2024-02-13T18:00", "2024-02-13 18:00:00+07:00",
                                 "2024-02-13T11:00Z", "13/02/2024"]),
    "region": st.just("") | EXISTING_CODES,
    "name_id": st.text(max_size=30),
    "name_en": st.text(max_size=30),
    "has_dapil": st.sampled_from(["true", "false", "1", "0", "yes", "no", ""]),
}


def snapshot(db) -> tuple[int, ...]:
    """Return the row count of every planning table."""
    with db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in TABLES)


def run(runner, command: str, path) -> tuple[int, str]:
    """Run an import command and fail on anything but a clean exit 0 or 2."""
    result = runner.invoke(args=[command, str(path)])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def check_all_or_nothing(db, runner, command: str, path) -> None:
    """Import a file and check: exit 2 changed nothing; exit 0 added rows."""
    before = snapshot(db)
    code, output = run(runner, command, path)
    after = snapshot(db)
    event(f"{command} exit {code}")
    if code == 2:
        assert after == before, output
        assert output.strip(), "a rejected file must say why"
    elif command == "import-schedule":
        # A schedule re-import replaces the deadline of the same level and region.
        assert sum(after) >= sum(before), output
    else:
        assert sum(after) > sum(before), output


# Rows that are valid with good odds against the test region, so whole files also succeed.
PLAUSIBLE = {
    "import-locations": st.one_of(
        st.builds(lambda n: {"code": f"3513010{n:03d}", "name": f"Desa {n}", "level": "village",
                             "parent_code": "351301", "dapil": ""}, st.integers(3, 999)),
        st.builds(lambda n: {"code": f"3513010001{n:03d}", "name": f"TPS {n}", "level": "tps",
                             "parent_code": "3513010001", "dapil": "DPR-JATIM-2;DPRDK-3513-1"},
                  st.integers(3, 999))),
    "import-packages": st.builds(
        lambda dest, qty, item: {"package_id": "", "item_type": item, "quantity": str(qty),
                                 "destination": dest, "dapil": "DPR-JATIM-2" if item == "SS-DPR" else ""},
        st.sampled_from(["3513010001001", "3513010001002", "3513010002001", "351301"]),
        st.integers(1, 9_999_999), st.sampled_from(["KOTAK", "SS-PPWP", "SS-DPR", "TINTA"])),
    "import-schedule": st.builds(lambda level, day, region: {"level": level, "deadline": f"2024-02-{day:02d}T18:00",
                                                             "region": region},
                                 st.sampled_from(LEVELS), st.integers(1, 28), st.sampled_from(["", "3513", "35"])),
    "import-item-types": st.builds(lambda code, flag: {"code": code, "name_id": code.title(), "name_en": code.lower(),
                                                       "has_dapil": flag},
                                   st.from_regex(r"X[A-Z]{2,8}", fullmatch=True), st.sampled_from(["true", "false"])),
}


@st.composite
def tables(draw, command: str) -> list[list[str]]:
    """Return a header (the command's columns, shuffled, rarely one dropped or extra) and rows.

    Most rows are plausible; some cells are replaced by hostile or random values.
    """
    columns = list(draw(st.permutations(COMMANDS[command])))
    if draw(st.integers(0, 5)) == 0 and len(columns) > 1:
        columns.pop(draw(st.integers(0, len(columns) - 1)))
    if draw(st.integers(0, 9)) == 0:
        columns.append(draw(st.sampled_from(["extra", "CODE", " code ", ""])))
    rows = []
    clean = draw(st.booleans())  # half the files have no spoiled cell at all
    for _ in range(draw(st.integers(0, 8))):
        good = draw(PLAUSIBLE[command])
        row = []
        for c in columns:
            name = c.strip().lower()
            spoil = 2 if clean else draw(st.integers(0, 11))
            if spoil == 0:
                row.append(draw(HOSTILE))
            elif spoil == 1:
                row.append(draw(VALUES.get(name, st.text(max_size=5))))
            else:
                row.append(good.get(name, ""))
        rows.append(row)
    return [columns] + rows


def to_csv(table: list[list[str]], delimiter: str) -> str:
    """Write a table as CSV text."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(table)
    return out.getvalue()


@PROPS
@given(command=st.sampled_from(sorted(COMMANDS)), data=st.binary(max_size=400))
def test_any_bytes_as_a_csv_file_import_cleanly_or_change_nothing(db, runner, region, tmp_path,
                                                                  command, data):
    path = tmp_path / "plan.csv"
    path.write_bytes(data)
    check_all_or_nothing(db, runner, command, path)


@PROPS
@given(command=st.sampled_from(sorted(COMMANDS)), data=st.binary(max_size=400))
def test_any_bytes_as_an_xlsx_file_are_rejected_cleanly(db, runner, region, tmp_path, command, data):
    path = tmp_path / "plan.xlsx"
    path.write_bytes(data)
    before = snapshot(db)
    code, _output = run(runner, command, path)
    assert code == 2 and snapshot(db) == before


@settings(PROPS, max_examples=150)
@given(data=st.data(), command=st.sampled_from(sorted(COMMANDS)),
       delimiter=st.sampled_from([",", ",", ";", "\t"]), encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
def test_any_rows_import_whole_or_not_at_all(db, runner, region, tmp_path, data, command, delimiter,
                                             encoding):
    table = data.draw(tables(command), label="table")
    path = tmp_path / "plan.csv"
    path.write_bytes(to_csv(table, delimiter).encode(encoding, errors="replace"))
    check_all_or_nothing(db, runner, command, path)


@settings(PROPS, max_examples=30)
@given(data=st.data(), command=st.sampled_from(sorted(COMMANDS)))
def test_any_cells_in_an_xlsx_file_import_whole_or_not_at_all(db, runner, region, tmp_path, data, command):
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    table = data.draw(tables(command), label="table")
    cell = st.one_of(st.integers(-10, 10**8), st.floats(allow_nan=True), st.booleans(), st.none(),
                     st.dates(), st.datetimes())
    book = Workbook()
    sheet = book.active
    for r, row in enumerate(table):
        values = [data.draw(cell, label="cell") if r and data.draw(st.integers(0, 4)) == 0 else v
                  for v in row]
        # openpyxl refuses control characters in cells; a spreadsheet cannot hold them either.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values])
    path = tmp_path / "plan.xlsx"
    book.save(path)
    check_all_or_nothing(db, runner, command, path)
