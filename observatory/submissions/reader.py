"""Reading a submitted file as rows: CSV in UTF-8 / UTF-8 BOM / Shift_JIS (CP932) / UTF-16, or XLSX.

Rows are streamed (a generator): a 500,000-row file is never held as Python objects at once. The format and
encoding are detected from the bytes, not trusted from the file name, and stated in the report.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from observatory import bounded, encodings
from observatory.submissions.problems import Report

CHUNK = 1 << 20
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True, slots=True)
class CellNote:
    """What the raw XLSX says about one cell beyond its value."""

    formula: str | None = None  # the formula text when the cell holds one
    percent_format: bool = False  # number format shows a percentage (the value is a fraction)


Row = tuple[int, list[Any], dict[int, CellNote] | None]  # (1-based row number, cells, notes by column index)
Opener = Callable[[], IO[bytes]]


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


def _csv_delimiter(first_line: str) -> str:
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def csv_rows(open_bytes: Opener, encoding: str, report: Report) -> Iterator[Row]:
    """Records of a CSV (or tab-separated) file; a malformed record ends the file with an error in `report`."""
    with open_bytes() as raw:
        stream = io.TextIOWrapper(raw, encoding=encoding, newline="", errors="replace")
        first = stream.readline()
        stream.seek(0)
        reader = csv.reader(stream, delimiter=_csv_delimiter(first), strict=False)
        row_no = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                report.error("malformed_csv", f"malformed CSV: {exc}", f"CSVの形式が不正です: {exc}", row=row_no + 1)
                return
            row_no += 1
            if len(record) > bounded.MAX_COLUMNS:
                report.error("too_many_columns", f"{len(record)} columns (limit {bounded.MAX_COLUMNS})",
                             f"列が多すぎます（{len(record)} 列、上限 {bounded.MAX_COLUMNS}）", row=row_no)
                return
            yield row_no, record, None


def _has_formulas(archive: zipfile.ZipFile, sheet_xml: str) -> bool:
    pattern = re.compile(rb"<(?:\w+:)?f[ >/]")
    with archive.open(sheet_xml) as fh:
        tail = b""
        while chunk := fh.read(CHUNK):
            if pattern.search(tail + chunk):
                return True
            tail = chunk[-8:]
    return False


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> worksheet XML member, from workbook.xml and its relationships."""
    wb = archive.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    targets = {m[1]: m[0] for m in re.findall(r'<Relationship[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)}
    targets.update({m[0]: m[1] for m in re.findall(r'<Relationship[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)})
    out = {}
    for name, rid in re.findall(r'<sheet\b[^>]*?name="([^"]*)"[^>]*?r:id="([^"]+)"', wb):
        target = targets.get(rid, "")
        out[name] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def xlsx_rows(open_bytes: Opener, sheet: str | None, report: Report) -> Iterator[Row]:
    """Rows of one sheet (named, else the first), read-only and streamed; formulas noted per cell."""
    import openpyxl  # imported here: CSV-only use should not pay for it

    with open_bytes() as fh:
        problem = bounded.xlsx_problem(fh.read() if isinstance(fh, io.BytesIO) else Path(fh.name))
    if problem:  # checked from the zip directory before anything is inflated
        en, _, ja = problem.partition(" / ")
        report.error("xlsx_too_large", en, ja or en)
        return
    try:
        with open_bytes() as fh:
            archive = zipfile.ZipFile(fh)
            paths = _sheet_paths(archive)
            names = list(paths)
            chosen = sheet if sheet is not None else (names[0] if names else None)
            if chosen not in paths:
                report.error("sheet_not_found", f"no sheet named {sheet!r}; the file has: {', '.join(names)}",
                             f"シート「{sheet}」がありません。ファイル内のシート: {'、'.join(names)}", value=sheet)
                return
            formulas = _has_formulas(archive, paths[chosen])
        report.sheet = chosen
        values_fh = open_bytes()
        wb_values = openpyxl.load_workbook(values_fh, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        report.error("bad_xlsx", f"not a readable XLSX file ({type(exc).__name__})",
                     f"XLSXファイルとして読めません（{type(exc).__name__}）")
        return
    formula_fh = None
    try:
        ws_values = wb_values[chosen]
        ws_values.reset_dimensions()  # rows as stored, not padded to a width the file merely claims
        value_rows = ws_values.iter_rows()
        formula_rows: Iterator[Any] | None = None
        if formulas:
            formula_fh = open_bytes()
            wb_formulas = openpyxl.load_workbook(formula_fh, read_only=True, data_only=False)
            ws_formulas = wb_formulas[chosen]
            ws_formulas.reset_dimensions()
            formula_rows = ws_formulas.iter_rows()
        for index, cells in enumerate(value_rows, start=1):
            fcells = next(formula_rows) if formula_rows is not None else None
            notes: dict[int, CellNote] | None = None
            row_no = getattr(cells[0], "row", None) or index if cells else index
            if index > bounded.MAX_ROWS or len(cells) > bounded.MAX_COLUMNS:
                report.error("too_many_rows", f"more than {bounded.MAX_ROWS:,} rows or {bounded.MAX_COLUMNS} "
                             "columns", "行数または列数が上限を超えています", row=row_no)
                return
            values = []
            for col, cell in enumerate(cells):
                value = getattr(cell, "value", None)
                values.append(value)
                fmt = getattr(cell, "number_format", None) or ""
                formula = None
                if fcells is not None and col < len(fcells):
                    fv = getattr(fcells[col], "value", None)
                    if getattr(fcells[col], "data_type", None) == "f":
                        formula = str(fv)
                if formula or (isinstance(value, int | float) and "%" in fmt):
                    notes = notes or {}
                    notes[col] = CellNote(formula, "%" in fmt)
            yield row_no, values, notes
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on damaged files; report, never crash
        report.error("bad_xlsx", f"the XLSX file is damaged ({type(exc).__name__}: {exc})",
                     f"XLSXファイルが壊れています（{type(exc).__name__}）")
    finally:
        wb_values.close()
        values_fh.close()
        if formula_fh is not None:
            formula_fh.close()


def opener(source: bytes | Path) -> Opener:
    """A function opening the submitted bytes (in memory or on disk) afresh for each pass."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return lambda: io.BytesIO(data)
    path = Path(source)
    return lambda: open(path, "rb")  # noqa: SIM115 - the caller closes it
