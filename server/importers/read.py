"""Read planning spreadsheets (CSV or XLSX) into rows with line numbers, collecting every problem.

The importers validate a whole file before writing anything, so reading never
stops at the first mistake: every problem goes into a :class:`Problems` list
with its line and column, and the caller raises :class:`ImportFileError` with
all of them at the end.

* The format is chosen by the file's extension: ``.csv`` or ``.xlsx`` (first
  worksheet, read-only mode); anything else is rejected.
* CSV: UTF-8 with or without a byte-order mark, ``,`` or ``;`` between columns
  (sniffed from the header line), LF or CRLF line ends, ``"`` quoting.  A line
  that is not valid UTF-8 is reported with its number.
* The first line is the header; column names are matched case-insensitively.
  Values are stripped of surrounding spaces; wholly blank lines are skipped.
* Line numbers are the file's own (1 = header), so they match what a
  spreadsheet or text editor shows.

No Flask and no database here: the label printer reads location files with it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator

from server.errors import DomainError

# Codes go into the QR payload (labels/payload.py): 1-32 characters 0-9, A-Z, inner '-'.
CODE_RULE = re.compile(r"[0-9A-Z](?:[0-9A-Z-]{0,30}[0-9A-Z])?")


CODE_RULE_TEXT = "1-32 characters 0-9, A-Z and '-' (not first or last)"


# Package ids: the same alphabet, up to 40 characters.
PACKAGE_ID_RULE = re.compile(r"[0-9A-Z](?:[0-9A-Z-]{0,38}[0-9A-Z])?")


PACKAGE_ID_RULE_TEXT = "1-40 characters 0-9, A-Z and '-' (not first or last)"


ITEM_TYPE_RULE = re.compile(r"[A-Z][0-9A-Z-]{0,15}")


ITEM_TYPE_RULE_TEXT = "1-16 characters A-Z, 0-9 and '-', starting with a letter"


EXTENSIONS = (".csv", ".xlsx")


DELIMITERS = (",", ";")


# Delimiters we recognise only to say clearly that they are not accepted.
FOREIGN_DELIMITERS = {"\t": "a tab", "|": "'|'"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a planning file, where it is."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        return (", ".join(where) + ": " if where else "") + self.message


class Problems(list):
    """The problems found in one file, in the order they were found."""

    def add(self, line: int | None, column: str | None, message: str) -> None:
        """Record a problem."""
        self.append(Problem(line, column, message))

    def sorted(self) -> list[Problem]:
        """Return the problems ordered by line (file-wide ones first), stable otherwise."""
        return sorted(self, key=lambda p: -1 if p.line is None else p.line)


class ImportFileError(DomainError):
    """A planning file was rejected as a whole; ``problems`` says every row that is wrong."""

    def __init__(self, path, problems: Iterable[Problem]):
        self.path = str(path)
        self.problems = Problems(problems).sorted()
        super().__init__(self.render())

    def render(self, limit: int | None = None) -> str:
        """Return the message: a header line, then one line per problem."""
        n = len(self.problems)
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [f"{self.path} rejected, nothing imported: "
                 f"{n} problem{'s' if n != 1 else ''}"]
        lines += [str(p) for p in shown]
        if len(shown) < n:
            lines.append(f"... and {n - len(shown)} more")
        return "\n".join(lines)


def check_extension(path) -> str:
    """Return 'csv' or 'xlsx' for a file name, or raise ImportFileError naming what is accepted."""
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return suffix[1:]
    hint = ""
    if suffix in (".xls", ".ods", ".xlsm"):
        hint = "; save it from the spreadsheet as .xlsx or .csv"
    raise ImportFileError(path, [Problem(None, None,
        f"unsupported file type {suffix or '(no extension)'!r}: give a .csv or .xlsx file{hint}")])


def read_table(path, required: tuple[str, ...], optional: tuple[str, ...],
               problems: Problems) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, {column: value}) for each data row of a CSV or XLSX file.

    Header problems (missing or unknown columns, wrong delimiter, empty file)
    and row-shape problems go into ``problems``; rows that cannot be read are
    not yielded.  When a required column is missing no rows are yielded at all.
    """
    kind = check_extension(path)
    try:
        if kind == "csv":
            meta: dict = {}
            with open(path, "rb") as fh:
                yield from _rows(_csv_records(fh, required + optional, problems, meta),
                                 required, optional, problems, meta)
        else:
            yield from _rows(_xlsx_records(path, problems), required, optional, problems, {})
    except OSError as exc:
        problems.add(None, None, f"cannot read the file: {exc.strerror or exc}")


def _rows(records: Iterator[tuple[int, list[str]]], required, optional, problems: Problems,
          meta: dict) -> Iterator[tuple[int, dict[str, str]]]:
    """Match each record to the header and yield the known columns of every non-blank row.

    ``meta`` holds the CSV delimiter once the header is read (empty for XLSX).
    """
    first = next(records, None)
    if first is None:
        if not problems:
            problems.add(None, None, "the file is empty: expected a header line with the columns "
                         + ",".join(required + optional))
        return
    header_line, header = first
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in header]
    known = set(required) | set(optional)
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            # Spreadsheets often carry empty trailing header cells; those are harmless.
            continue
        if name not in known:
            problems.add(header_line, name, "unknown column (expected "
                         + ", ".join(required + optional) + ")")
        elif name in index:
            problems.add(header_line, name, "column appears twice in the header")
        else:
            index[name] = i
    missing = [c for c in required if c not in index]
    for column in missing:
        problems.add(header_line, column, "missing column (the header has: "
                     + ", ".join(n for n in names if n) + ")")
    if missing:
        return
    width = max(index.values()) + 1
    seen_data = False
    for line, values in records:
        if not any(v.strip() for v in values):
            continue
        seen_data = True
        if len(values) > len(names) and any(v.strip() for v in values[len(names):]):
            problems.add(line, None, f"{len(values)} fields where the header has {len(names)} "
                         "(a value containing the delimiter must be quoted)")
            continue
        if len(values) < width:
            other = {",": ";", ";": ","}.get(meta.get("delimiter"))
            if len(values) == 1 and other and other in values[0]:
                problems.add(line, None, f"wrong delimiter: this line uses {other!r} but the "
                             f"header uses {meta['delimiter']!r}")
            else:
                problems.add(line, None, f"{len(values)} fields where the header has "
                             f"{len(names)} (an empty value still needs its delimiter)")
            continue
        yield line, {name: values[i].strip() for name, i in index.items()}
    if not seen_data:
        problems.add(None, None, "the file has a header but no rows")


def _decoded_lines(fh, problems: Problems) -> Iterator[str]:
    """Yield the file's lines as text, reporting each line that is not valid UTF-8."""
    for number, raw in enumerate(fh, 1):
        if number == 1:
            if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                problems.add(None, None, "the file is UTF-16 text; save it as CSV UTF-8")
                return
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.add(number, None, f"not UTF-8: byte 0x{raw[exc.start]:02X} at position "
                         f"{exc.start + 1}; save the file as CSV UTF-8")
            text = raw.decode("utf-8", "replace")
        if "\x00" in text:
            problems.add(number, None, "contains a NUL byte: not a text CSV file")
            text = text.replace("\x00", "")
        yield text


def _sniff_delimiter(header: str, columns: tuple[str, ...]) -> str | None:
    """Return the delimiter that splits the header into the most known column names."""
    best, best_score = None, 0
    for delimiter in DELIMITERS + tuple(FOREIGN_DELIMITERS):
        try:
            names = next(csv.reader([header], delimiter=delimiter), [])
        except csv.Error:  # e.g. a bare CR inside the header: reported when the file is read
            continue
        score = sum(1 for n in names if n.strip().lower() in columns)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_records(fh, columns: tuple[str, ...], problems: Problems,
                 meta: dict) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number, fields) for each CSV record, the delimiter sniffed from the header."""
    lines = _decoded_lines(fh, problems)
    header = next(lines, None)
    if header is None:
        return
    if not header.strip():
        if any(line.strip() for line in lines):
            problems.add(1, None, "the first line is blank: it must be the header")
        return  # a file of blank lines is empty, reported by the caller
    delimiter = _sniff_delimiter(header, columns)
    if delimiter in FOREIGN_DELIMITERS:
        problems.add(1, None, f"columns are separated by {FOREIGN_DELIMITERS[delimiter]}; "
                     "use ',' or ';'")
        return
    if delimiter is None:
        # No known column at all: split by whatever is most frequent so the
        # missing-column message shows what the header really holds.
        delimiter = ";" if header.count(";") > header.count(",") else ","
    meta["delimiter"] = delimiter
    reader = csv.reader(chain([header], lines), delimiter=delimiter)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.add(reader.line_num, None, f"cannot be read as CSV: {exc}")
            return
        yield start, fields
        start = reader.line_num + 1


def _cell_text(value) -> str:
    """Return a spreadsheet cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        # Date-formatted cells come back as midnight; treat them as the date they show.
        return value.date().isoformat()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def _xlsx_records(path, problems: Problems) -> Iterator[tuple[int, list[str]]]:
    """Yield (row number, cell texts) for each row of the workbook's first sheet."""
    # openpyxl (and zipfile) only for XLSX files.
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        problems.add(None, None, f"not a readable XLSX workbook ({exc}); save it again as .xlsx")
        return
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            yield number, [_cell_text(v) for v in values]
    finally:
        workbook.close()
