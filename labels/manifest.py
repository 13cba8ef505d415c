"""Read the packages to label (and, optionally, location names) from CSV or XLSX.

PACKAGES files have the columns ``package_id,item_type,quantity,destination,dapil``
and optionally ``label_version`` (the same columns the server imports).  A bad
file is rejected whole: :class:`ManifestError` lists every bad row by line and
column, so one run fixes them all.

The locations reader takes the server's locations file
(``code,name,level,parent_code,dapil``), possibly only part of the tree, and
returns destination names by code.  It is deliberately small: ``labels`` must
not import ``server``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .i18n import ITEM_HAS_DAPIL, ITEM_NAMES
from .payload import Label, PayloadError

PACKAGE_COLUMNS = ("package_id", "item_type", "quantity", "destination", "dapil")
OPTIONAL_PACKAGE_COLUMNS = ("label_version",)
LOCATION_COLUMNS = ("code", "name")


@dataclass(frozen=True)
class PackageRow:
    """One package to label: the fields the QR code signs."""

    package_id: str
    item_type: str
    quantity: int
    destination: str
    dapil: str = ""
    version: int = 1

    def label(self) -> Label:
        """Return the unsigned label of this package."""
        return Label(self.package_id, self.item_type, self.destination, self.quantity,
                     self.dapil, self.version)


class ManifestError(ValueError):
    """A packages or locations file is unreadable or has bad rows; ``errors`` lists them all."""

    def __init__(self, path, errors: list[str]):
        """Keep the file name and every problem; the message lists them."""
        self.path = str(path)
        self.errors = errors
        shown = "\n  ".join(errors[:200])
        more = f"\n  ... and {len(errors) - 200} more" if len(errors) > 200 else ""
        super().__init__(f"{self.path}: {len(errors)} problem(s), nothing was rendered:\n  {shown}{more}")


def _rows(path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Return (header, [(line number, cells)]) of a CSV or XLSX file."""
    p = Path(path)
    if not p.is_file():
        raise ManifestError(path, [f"file not found: {str(path)!r}"])
    if p.suffix.lower() == ".xlsx":
        return _xlsx_rows(p)
    if p.suffix.lower() != ".csv":
        raise ManifestError(path, [f"{p.name!r} is neither .csv nor .xlsx"])
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ManifestError(path, [f"line {line}: not UTF-8 text (byte {data[exc.start]:#04x}); "
                                   "save the file as CSV UTF-8"]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    header = None
    for cells in reader:
        if header is None:
            header = [c.strip().lower() for c in cells]
            continue
        rows.append((reader.line_num, cells))
    return header or [], rows


def _xlsx_rows(p: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Return (header, rows) of the first sheet of an XLSX workbook."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a corrupt file
        raise ManifestError(p, [f"not a readable XLSX workbook: {exc}"]) from None
    try:
        sheet = book.worksheets[0]
        header, rows = None, []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = ["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer()
                                           else str(v)) for v in values]
            if header is None:
                header = [c.strip().lower() for c in cells]
                continue
            rows.append((number, cells))
    finally:
        book.close()
    return header or [], rows


def _columns(path, header: list[str], required, optional=()) -> dict[str, int]:
    """Map column names to indexes, rejecting a file that lacks a required column."""
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(path, [f"line 1: missing column(s) {', '.join(missing)} "
                                   f"(found: {', '.join(h for h in header if h) or 'none'})"])
    return {c: header.index(c) for c in (*required, *optional) if c in header}


def _whole_number(value: str, column: str, errors: list[str], where: str) -> int | None:
    """Parse a whole number, recording an error for anything else (its range is the payload's rule)."""
    try:
        return int(value)
    except ValueError:
        errors.append(f"{where}, column {column}: {value!r} is not a whole number")
        return None


def read_packages(path, dapils: dict[str, tuple[str, ...]] | None = None) -> list[PackageRow]:
    """Read and check every row of a packages file; raise ManifestError listing all bad rows.

    ``dapils`` (TPS code -> its dapil codes, from :func:`read_location_table`)
    also checks that a ballot's dapil is one its TPS votes in; destinations the
    (possibly partial) locations file does not list are not checked.
    """
    header, rows = _rows(path)
    cols = _columns(path, header, PACKAGE_COLUMNS, OPTIONAL_PACKAGE_COLUMNS)
    errors: list[str] = []
    packages: list[PackageRow] = []
    first_line: dict[str, int] = {}
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue  # blank lines at the end of a spreadsheet export
        where = f"line {line}"
        value = {c: (cells[i].strip() if i < len(cells) else "") for c, i in cols.items()}
        before = len(errors)
        package_id = value["package_id"].upper()
        if not package_id:
            errors.append(f"{where}, column package_id: empty; labels need the id (the server "
                          "generates missing ids on import: print those labels from the server)")
        elif package_id in first_line:
            errors.append(f"{where}, column package_id: {package_id!r} already on line "
                          f"{first_line[package_id]}")
        else:
            first_line[package_id] = line
        quantity = _whole_number(value["quantity"], "quantity", errors, where)
        version = 1
        if value.get("label_version"):
            version = _whole_number(value["label_version"], "label_version", errors, where)
        item_type, dapil = value["item_type"].upper(), value["dapil"].upper()
        if item_type in ITEM_NAMES:
            if item_type in ITEM_HAS_DAPIL and not dapil:
                errors.append(f"{where}, column dapil: empty, but {item_type} ballots carry a dapil")
            elif item_type not in ITEM_HAS_DAPIL and dapil:
                errors.append(f"{where}, column dapil: {dapil!r} given, but {item_type} has no dapil")
        destination = value["destination"].upper()
        listed = (dapils or {}).get(destination)
        if dapil and listed and dapil not in listed:
            errors.append(f"{where}, column dapil: {dapil!r} is not a dapil of TPS {destination} "
                          f"({', '.join(listed)})")
        row = PackageRow(package_id, item_type, quantity, destination, dapil, version)
        try:
            row.label()
        except PayloadError:
            # Report every column the payload format rejects, so all problems show at once.
            _check_format(row, errors, where)
            continue
        if len(errors) == before:
            packages.append(row)
    if errors:
        raise ManifestError(path, errors)
    if not packages and not errors:
        raise ManifestError(path, ["no packages: the file has a header but no rows"])
    return packages


def _check_format(row: PackageRow, errors: list[str], where: str) -> None:
    """Record a column-level error for each field of ``row`` the payload format rejects.

    Each field is checked alone against :class:`Label`'s own rules (the others
    set to a valid placeholder); a field already reported (empty id, not a
    number) is skipped.
    """
    placeholder = {"package_id": "X", "item_type": "X", "destination": "X", "quantity": 1}
    for column, field in (("package_id", "package_id"), ("item_type", "item_type"),
                          ("destination", "destination"), ("dapil", "dapil"),
                          ("quantity", "quantity"), ("label_version", "version")):
        value = getattr(row, field)
        if value is None or (field == "package_id" and not value):
            continue  # already reported: not a whole number, or an empty id
        try:
            Label(**{**placeholder, field: value})
        except PayloadError as exc:
            errors.append(f"{where}, column {column}: {exc}")


def read_location_table(path) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Return ({code: name}, {TPS code: dapil codes}) from a locations CSV/XLSX.

    Only ``code`` and ``name`` are required; ``dapil`` (';'-separated, TPS rows)
    is used when present, other columns are ignored.
    """
    header, rows = _rows(path)
    cols = _columns(path, header, LOCATION_COLUMNS, ("dapil",))
    names: dict[str, str] = {}
    dapils: dict[str, tuple[str, ...]] = {}
    errors = []

    def cell(cells, column):
        i = cols.get(column)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    for line, cells in rows:
        code, name = cell(cells, "code").upper(), cell(cells, "name")
        if not code and not name:
            continue
        if not code:
            errors.append(f"line {line}, column code: empty")
        elif code in names and names[code] != name:
            errors.append(f"line {line}, column code: {code!r} appears twice with different names")
        else:
            names[code] = name
            listed = tuple(d.strip().upper() for d in cell(cells, "dapil").split(";") if d.strip())
            if listed:
                dapils[code] = listed
    if errors:
        raise ManifestError(path, errors)
    return names, dapils


def read_locations(path) -> dict[str, str]:
    """Return {location code: name} from a locations CSV/XLSX."""
    return read_location_table(path)[0]
