"""Reading a submitted file as rows: CSV in UTF-8 / UTF-8 BOM / Shift_JIS (CP932) / UTF-16, or XLSX.

Rows are streamed (a generator) by the one row reader of collectors and submissions (observatory.rows): a
500,000-row file is never held as Python objects at once. The format and encoding are detected from the bytes,
not trusted from the file name, and stated in the report; a problem that ends the file becomes a report entry.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from observatory import encodings, rows
from observatory.rows import CellNote, Notes, Opener
from observatory.security.pseudonym import mask_text
from observatory.submissions.problems import Report

__all__ = ["CellNote", "Row", "csv_rows", "detect_encoding", "opener", "sniff_format", "xlsx_rows"]

_ZIP = b"PK\x03\x04"
_OLE = rows.OLE_MAGIC

Row = tuple[int, list[Any], Notes | None]  # (row number as the user finds it, cells, notes by column index)


def sniff_format(head: bytes) -> str:
    """'xlsx', 'xls' or 'csv' from the first bytes."""
    if head.startswith(_ZIP):
        return "xlsx"
    if head.startswith(_OLE):
        return "xls"
    return "csv"


def detect_encoding(open_bytes: Opener) -> tuple[str | None, str | None]:
    """(encoding, None) for UTF-8 BOM, UTF-16 BOM, UTF-8 or CP932; (None, reason) when none decodes. The one
    detection of observatory.encodings."""
    found = encodings.detect(open_bytes)
    if isinstance(found, encodings.Undecodable):
        return None, f"byte {found.offset}"
    return found, None


def csv_rows(open_bytes: Opener, encoding: str, report: Report) -> Iterator[Row]:
    """Records of a CSV (or tab-separated) file, read by the one reader (observatory.rows): numbered by their first
    line; a problem that ends the file (malformed quoting, limits) is an error in `report`. No row limit: a
    submission's size is capped in bytes (submissions.max_file_mb) before it is read, which bounds the work."""
    return _reported(((n, cells, None) for n, cells in rows.csv_records(open_bytes, encoding, limit_rows=False)),
                     report)


def xlsx_rows(source: bytes | Path, sheet: str | None, report: Report) -> Iterator[Row]:
    """Rows of one sheet (named, else the first), read by the one reader with formulas and percent formats noted
    per cell; the sheet read goes into `report` (its name is the sender's text: an Individual Number in it is
    masked), a problem that ends the file is an error in it."""
    chosen = rows.xlsx_rows(source, sheet, percents=True, formulas=True,
                            on_sheet=lambda name, _sheets: setattr(report, "sheet", mask_text(name)))
    return _reported(chosen, report)


def _reported(entries: Iterator[Row], report: Report) -> Iterator[Row]:
    try:
        yield from entries
    except rows.RowError as exc:
        en, ja = exc.reasons()
        report.error(exc.code or "unreadable_file", en, ja, row=exc.row, column=exc.column,
                     value=None if exc.value is None else str(exc.value))


def opener(source: bytes | Path) -> Opener:
    """A function opening the submitted bytes (in memory or on disk) afresh for each pass."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return lambda: io.BytesIO(data)
    path = Path(source)
    return lambda: open(path, "rb")  # noqa: SIM115 - the caller closes it
