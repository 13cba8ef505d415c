"""Rows to bytes: streamed CSV and XLSX, and the anomaly export's rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from typing import Callable, Iterable, Iterator

from server.reconcile.anomalies import as_anomaly_dict
from server.reconcile.details import dumps, text_of
from server.reports.localtime import CHUNK_ROWS, UTC, local

# "detail" is the reader's sentence (their language and zone); "facts" the same as JSON.
ANOMALY_HEADER = ("id", "kind", "package_id", "location", "detected_at", "status", "detail",
                  "evidence", "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by",
                  "resolution_note", "facts")


def anomaly_row(item, words: Callable[[dict], str] = text_of) -> tuple:
    """Return one anomaly (domain dict or Anomaly row) as an export row, its detail in ``words``."""
    item = as_anomaly_dict(item)
    out = []
    for key in ANOMALY_HEADER:
        value = item.get(key)
        if key == "evidence":
            value = " ".join(str(v) for v in (value or []))
        elif key == "detail":
            value = words(item)
        elif key == "facts":
            value = dumps(value) if value else ""
        out.append(value)
    return tuple(out)


def anomaly_rows(list_page: Callable, page: int = 1000,
                 words: Callable[[dict], str] = text_of) -> Iterator[tuple]:
    """Yield every anomaly a keyset-paged lister returns: list_page(after_id, limit) -> (items, last)."""
    after = None
    while True:
        items, last = list_page(after, page)
        for item in items:
            yield anomaly_row(item, words)
        if last is None or not items:
            return
        after = last


# A cell whose text starts with one of these is a formula to a spreadsheet program (or, for
# tab and CR, hides one): an operator name "=HYPERLINK(...)" must stay text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(text: str) -> str:
    """Return CSV cell text a spreadsheet shows as text: a leading apostrophe before a formula start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value, tz: dt.tzinfo = UTC):
    """Return a value as export text: ISO times with their offset in ``tz``, 1/0 booleans, '' for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        # The offset makes the instant unambiguous for a machine reading the file.
        return local(value, tz).isoformat(timespec="seconds")
    return value


def _csv_cell(value, tz: dt.tzinfo):
    """Return a value as CSV text, formula starts defused."""
    value = _cell(value, tz)
    return formula_safe(value) if isinstance(value, str) else value


def csv_chunks(header: Iterable[str], rows: Iterable[tuple],
               tz: dt.tzinfo = UTC) -> Iterator[bytes]:
    """Yield a CSV file (UTF-8 with BOM, so spreadsheet programs read it right) in chunks."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow([formula_safe(h) for h in header])
    n = 0
    for row in rows:
        writer.writerow([_csv_cell(v, tz) for v in row])
        n += 1
        if n % CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def xlsx_chunks(header: Iterable[str], rows: Iterable[tuple], title: str = "jejak",
                chunk: int = 1 << 16, tz: dt.tzinfo = UTC) -> Iterator[bytes]:
    """Yield an XLSX workbook written in openpyxl's write-only mode (rows never held in memory)."""
    # openpyxl only when an XLSX is written.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])

    def cell(value):
        """Return a value as a cell: numbers as numbers, everything else as text, never a formula."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        text = WriteOnlyCell(ws, value=_cell(value, tz))
        # openpyxl makes any text starting with "=" a formula; the exported text is data.
        text.data_type = "s"
        return text

    ws.append([cell(h) for h in header])
    for row in rows:
        ws.append([cell(v) for v in row])
    with tempfile.TemporaryFile() as fh:
        wb.save(fh)
        fh.seek(0)
        while True:
            data = fh.read(chunk)
            if not data:
                return
            yield data
