"""The one row reader: the records of a CSV (or tab-separated) text and the rows of an XLSX sheet, streamed, for
collectors and submissions alike (cells then mean the same through observatory.cells).

Row numbers are where a user finds the row in the file as they have it, never in a converted copy:
- text (CSV, tab-separated, any encoding and line end: LF, CRLF or CR alone): the line where the record starts,
  as a text editor numbers it (a quoted line break inside a cell does not renumber the records after it; blank
  lines and title lines count);
- XLSX: the sheet row as Excel shows it (blank rows, title rows and line breaks inside cells change nothing), and
  the sheet is named (`RowError.sheet`);
- JSON (collectors only): the record's 1-based place in the list; malformed text, where no record can be read,
  is named by its line in the reason ("malformed JSON at line 12").
Whoever converts a file before checking it (collectors.access_log writes a CSV for DuckDB) carries these numbers
with each record. Text is decoded strictly: its encoding was detected or checked over the whole file first
(observatory.encodings), and a byte that still does not decode is an error naming the line, never a silent U+FFFD.
A row's trailing empty XLSX cells are dropped (Excel shows nothing there), unless the cell holds a formula.
Limits are observatory.bounded's. A problem ends the file as a `RowError` naming row and reason, with a `code`
saying which kind for reports; the caller names the file. What a cell may contain (a NUL, an Individual Number)
is the caller's judgement, made with the column's name.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from observatory import bounded, encodings
from observatory.cells import is_blank
from observatory.errors import UserError
from observatory.security.pseudonym import mask, mask_text

Opener = Callable[[], IO[bytes]]
CHUNK = 1 << 20
SEPARATOR_SAMPLE = 1 << 16  # characters of a text's first lines, at most, read to find its separator


class RowError(UserError):
    """A problem in an input file, located by file, sheet (a workbook's), row (see the module's docstring for what a
    row is in each format), column and value, with the reason (English / Japanese) and, from the reader, a `code`
    naming its kind (`malformed_csv`, `too_many_rows`, ...)."""

    def __init__(self, reason: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, value: Any = None, code: str | None = None,
                 sheet: str | None = None) -> None:
        self.reason = reason
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column
        self.value = value
        self.code = code
        self.rows_read: int | None = None  # rows of the rejected file, when known (for rows_rejected)
        super().__init__(self.line())

    def line(self) -> str:
        """One line: 'file: row N, column C, value 'v': reason' (a workbook's: 'file: sheet 'S', row N, ...')."""
        where = [f"sheet '{self.sheet}'"] if self.sheet else []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        if self.value not in (None, ""):
            text = mask(self.value)  # an Individual Number never reaches a message, a run row or a log
            where.append(f"value {text[:60]!r}")
        head = f"{self.file}: " if self.file else ""
        return mask_text(f"{head}{', '.join(where)}{': ' if where else ''}{self.reason}".replace("\n", " "))

    def located(self, file: str, sheet: str | None = None) -> RowError:
        """The same error naming `file` and the workbook's `sheet` read (parsers raise without knowing either)."""
        if self.file is None or (sheet and self.sheet is None):
            self.file = self.file or file
            self.sheet = self.sheet or sheet
            self.args = (self.line(),)
        return self

    def reasons(self) -> tuple[str, str]:
        """(English, Japanese) halves of the reason ('en / ja'; the same text twice when it has one language)."""
        en, sep, ja = self.reason.rpartition(" / ")
        return (en, ja) if sep else (self.reason, self.reason)


# ---------------------------------------------------------------------------------------------------- CSV


def lines(stream: IO[str], limit: int = bounded.MAX_LINE_BYTES) -> Iterator[str]:
    """The lines of a text stream, each read with a cap: a line longer than `limit` characters is an error
    naming it (a 200 MB line without a newline is never held whole)."""
    number = 1
    while line := stream.readline(limit + 1):
        if len(line) > limit and not line.endswith(("\n", "\r")):
            raise RowError(f"line longer than {limit:,} characters / 1行が長すぎます", row=number,
                           code="line_too_long")
        number += 1
        yield line


# lines after a title holding commas alone (no tab) that are read to see whether a tab-separated table follows
TITLE_LOOKAHEAD = 10


def separator(first_lines: Iterable[str]) -> str:
    """The separator of a CSV text: the first line holding a tab or a comma decides (a tab when it holds more tabs
    than commas), so the title and blank lines a government sheet has above its header do not; a comma when no line
    holds either. Only that line's counts decide: a row's numbers may hold more commas (1,234,567) than it has tabs.
    But a line of commas alone may be a title ('第1表 人口, 世帯数'): when one of the TITLE_LOOKAHEAD lines after it
    holds tabs and no comma, the text is tab-separated."""
    titled_at = None
    for k, line in enumerate(first_lines):
        tabs, commas = line.count("\t"), line.count(",")
        if titled_at is None:
            if tabs or commas:
                if tabs:
                    return "\t" if tabs > commas else ","
                titled_at = k
        elif tabs and not commas:
            return "\t"
        elif k - titled_at >= TITLE_LOOKAHEAD:
            break
    return ","


def _separator_sample(records: Iterator[str]) -> list[str]:
    """The first lines of a text, up to the first holding a tab (or TITLE_LOOKAHEAD lines past the first holding a
    comma alone), and at most SEPARATOR_SAMPLE characters (each line is capped by `lines`)."""
    sample, size, comma_at = [], 0, None
    for line in records:
        sample.append(line)
        size += len(line)
        if comma_at is None and "," in line:
            comma_at = len(sample)
        if "\t" in line or size >= SEPARATOR_SAMPLE or (
                comma_at is not None and len(sample) - comma_at >= TITLE_LOOKAHEAD):
            break
    return sample


def csv_records(open_bytes: Opener, encoding: str, limit_rows: bool = True) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells) for every CSV (or tab-separated: `separator` decides) record, streamed;
    blank records are kept as []. Over-long lines, too many columns or rows, malformed quoting (an unterminated
    quote named at the line it opens) and a byte that does not decode are errors naming the line. The row limit
    (bounded.MAX_ROWS) bounds the work on a file of unbounded size (a fetched one); a caller whose files are capped
    in bytes (submissions: max_file_mb) passes limit_rows=False."""
    with open_bytes() as raw:
        stream = io.TextIOWrapper(raw, encoding=encoding, newline="")  # strict: see the module's docstring
        start = 1
        try:
            records = lines(stream)
            sample = _separator_sample(records)
            # strict: a quote that runs on is an error, not the lines after it read into one cell (_malformed)
            reader = csv.reader(itertools.chain(sample, records), delimiter=separator(sample), strict=True)
            for count, record in enumerate(reader):
                # the field limit checked here: csv's own is process-global, and a library may raise it
                if record and max(map(len, record)) > bounded.MAX_FIELD_CHARS:
                    raise RowError(f"malformed CSV: field larger than field limit ({bounded.MAX_FIELD_CHARS}) / "
                                   "CSVの形式が不正です", row=start, code="malformed_csv")
                if len(record) > bounded.MAX_COLUMNS:
                    raise RowError(f"{len(record)} columns (limit {bounded.MAX_COLUMNS}) / 列が多すぎます", row=start,
                                   code="too_many_columns")
                if limit_rows and count >= bounded.MAX_ROWS:
                    raise RowError(f"more than {bounded.MAX_ROWS:,} rows / 行数が上限を超えています", row=start,
                                   code="too_many_rows")
                yield start, record
                start = reader.line_num + 1
        except csv.Error as exc:
            raise _malformed(exc, start, reader.line_num) from None
        except UnicodeDecodeError as exc:  # text is decoded ahead in chunks: find the line from the bytes
            problem = encodings.check(open_bytes, encoding)
            raise RowError(f"cannot decode as {encoding} ({exc.reason}) / {encoding}として読めません",
                           row=problem.line if problem else start, code="bad_encoding") from None


# the reason of a quote that runs on, for this reader and DuckDB's (collectors.access_log) alike
UNTERMINATED_QUOTE = "unterminated quote: the quote opened on this line is not closed / 引用符が閉じられていません"


def _malformed(exc: csv.Error, start: int, at: int) -> RowError:
    """The error of a record csv could not read, which began on line `start` and was read up to line `at`. A quote
    that is never closed (the file ends inside it), or that ran over a line break before the reading failed (at a
    later quote followed by text, or past the field limit), is an unterminated quote, named at the line where it
    opens: the lines it swallowed are not the problem."""
    if "unexpected end of data" in str(exc) or at > start:  # csv's words for the end of the file inside quotes
        return RowError(UNTERMINATED_QUOTE, row=start, code="unterminated_quote")
    return RowError(f"malformed CSV: {exc} / CSVの形式が不正です", row=start, code="malformed_csv")


# --------------------------------------------------------------------------------------------------- XLSX

# a compound file's first bytes: an Excel 97-2003 workbook (.xls), or an .xlsx saved with a password (encrypted)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OLE_REASON = ("Excel 97-2003 (.xls) or a password-protected workbook is not accepted; save it as .xlsx without a "
              "password, or as CSV / Excel 97-2003 形式（.xls）またはパスワード付きのブックは受け付けません。"
              "パスワードなしの .xlsx または CSV で保存してください")
ODS_REASON = ("an OpenDocument spreadsheet (.ods) is not accepted; save it as .xlsx or CSV / OpenDocument 形式（.ods）"
              "は受け付けません。.xlsx または CSV で保存してください")


@dataclass(frozen=True, slots=True)
class CellNote:
    """What an XLSX says about one cell beyond its value."""

    formula: str | None = None  # the formula text when the cell holds one
    percent_format: bool = False  # a number formatted as a percentage (the value is a fraction)


Notes = dict[int, CellNote]  # by 0-based column index
_FORMULA = re.compile(rb"<(?:\w+:)?f[ >/]")


def xlsx_rows(source: bytes | Path, sheet: str | None = None, default_sheet: str | None = None, *,
              percents: bool = False, formulas: bool = False,
              on_sheet: Callable[[str, list[str]], None] | None = None
              ) -> Iterator[tuple[int, list[Any], Notes | None]]:
    """(sheet row, values, notes) of the named sheet, else `default_sheet` when the file has it, else the first
    visible one, streamed (openpyxl read-only, values as Excel last computed them). With `percents` a number
    formatted as a percentage gets a note, with `formulas` a cell holding a formula (read in a second pass, only
    when the sheet has one); notes are None for a row without any. `on_sheet` hears the chosen sheet's name and
    the names of all the workbook's sheets (for a message naming them)."""
    import openpyxl  # here: openpyxl is loaded only for an XLSX file

    _refuse_unsafe(source)
    fh, book = _open_book(source, openpyxl)
    formula_fh = None
    try:
        chosen = _choose_sheet(book.sheetnames, sheet, default_sheet, book.worksheets)
        if on_sheet is not None:
            on_sheet(chosen, list(book.sheetnames))
        ws = book[chosen]
        ws.reset_dimensions()  # rows as stored, not padded to a width the file merely claims
        formula_rows = None
        if formulas and _has_formulas(source, ws):
            formula_fh, formula_book = _open_book(source, openpyxl, data_only=False)
            formula_ws = formula_book[chosen]
            formula_ws.reset_dimensions()
            formula_rows = _stored_rows(formula_ws)
        rows = _stored_rows(ws, values_only=not (percents or formula_rows is not None))
        yield from _noted_rows(rows, formula_rows, percents)
    finally:
        book.close()
        fh.close()
        if formula_fh is not None:
            formula_fh.close()


def _refuse_unsafe(source: bytes | Path) -> None:
    """Sizes and ratios from the zip directory, before anything is inflated (observatory.bounded)."""
    problem = bounded.xlsx_problem(source)
    if problem:
        raise RowError(problem, code="bad_xlsx" if problem.startswith("not a readable") else "xlsx_too_large")


def _open_book(source: bytes | Path, openpyxl: Any, *, data_only: bool = True) -> tuple[IO[bytes], Any]:
    """(file, read-only workbook); a file object, not a path: openpyxl judges a path by its suffix, and the
    archive's copies have none."""
    fh = io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")  # noqa: SIM115
    try:
        return fh, openpyxl.load_workbook(fh, read_only=True, data_only=data_only)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a broken file
        fh.close()
        if _is_ods(source):
            raise RowError(ODS_REASON, code="bad_xlsx") from None
        raise RowError(bounded.unreadable_workbook(exc), code="bad_xlsx") from None


def _is_ods(source: bytes | Path) -> bool:
    """Whether a zip that openpyxl could not open is an OpenDocument spreadsheet (its 'mimetype' member says so)."""
    try:
        fh = io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")  # noqa: SIM115
        with fh, zipfile.ZipFile(fh) as z, z.open("mimetype") as member:
            return member.read(100).startswith(b"application/vnd.oasis.opendocument")
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return False


def _choose_sheet(names: list[str], sheet: str | None, default_sheet: str | None, tables: list[Any]) -> str:
    """The named sheet, else the default when the file has it, else the first sheet the user sees in Excel (a
    hidden or very hidden sheet before it is not what they checked). Only a worksheet (`tables`, openpyxl's) has
    cells: a chart sheet (グラフ) is refused when named, passed over otherwise."""
    cells = [w.title for w in tables]
    if sheet:
        if sheet not in names:
            raise RowError(f"no sheet {sheet!r} (the file has: {', '.join(names)}) / シート「{sheet}」がありません"
                           f"（ファイル内のシート: {'、'.join(names)}）", value=sheet, code="sheet_not_found")
        if sheet not in cells:
            raise RowError(f"sheet {sheet!r} is a chart sheet, without cells (sheets with cells: {', '.join(cells)}) / "
                           f"シート「{sheet}」はグラフシートで、セルがありません（セルのあるシート: {'、'.join(cells)}）",
                           value=sheet, code="sheet_not_found")
        return sheet
    if default_sheet and default_sheet in cells:
        return default_sheet
    if not cells:
        raise RowError("the workbook has no sheet with cells / セルのあるシートがありません", code="bad_xlsx")
    visible = [w.title for w in tables if getattr(w, "sheet_state", "visible") == "visible"]
    return visible[0] if visible else cells[0]


def _has_formulas(source: bytes | Path, ws: Any) -> bool:
    """Whether the sheet's XML holds a formula element, scanned in chunks (the second pass costs a second parse)."""
    member = getattr(ws, "_worksheet_path", None)  # openpyxl's read-only sheet knows its zip member
    if member is None:
        return True
    fh = io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")  # noqa: SIM115
    with fh, zipfile.ZipFile(fh) as archive, archive.open(member) as xml:
        tail = b""
        while chunk := xml.read(CHUNK):
            if _FORMULA.search(tail + chunk):
                return True
            tail = chunk[-8:]
    return False


def _stored_rows(ws: Any, values_only: bool = False) -> Iterator[tuple[Any, ...]]:
    """The rows of a read-only sheet as its iter_rows gives them (a row the XML leaves out is an empty one), except
    that a row or cell stored out of order or twice is an error naming the row: openpyxl passes over a row numbered
    at or before the one above it, and the cells of a row right of its last-stored cell, without a word (Excel calls
    such a file damaged); and a row past Excel's limit is refused as it is met, not after a million empty ones."""
    from openpyxl.worksheet._reader import WorkSheetParser  # openpyxl's own parser, as iter_rows drives it

    book = ws.parent
    padded = _zero_padded_styles(book)
    last = cells_read = 0
    with ws._get_source() as src:
        parser = WorkSheetParser(src, ws._shared_strings, data_only=book.data_only, epoch=book.epoch,
                                 date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        for number, cells in parser.parse():
            if number <= last:
                raise RowError(f"row {number} is stored after row {last}: rows out of order or repeated (a damaged "
                               "file) / 行の順序が不正か行が重複しています（ファイルの破損）", row=number, code="bad_xlsx")
            if number > bounded.MAX_ROWS:
                raise RowError(f"more rows than the limit ({bounded.MAX_ROWS:,} rows, {bounded.MAX_COLUMNS} columns) / "
                               "行数または列数が上限を超えています", row=number, code="too_many_rows")
            columns = [cell["column"] for cell in cells]
            if any(after <= before for before, after in zip(columns, columns[1:], strict=False)):
                raise RowError("cells stored out of order or twice in the row (a damaged file) / "
                               "行内のセルの順序が不正か重複しています（ファイルの破損）", row=number, code="bad_xlsx")
            parser.row_dimensions.clear()  # kept by openpyxl for a full load: a styled row's height and format, a
            # dict per row (a million styled empty rows, as Excel leaves after formatting whole columns: 400 MB)
            for _ in range(last + 1, number):
                yield ()
            last = number
            while cells and is_blank(cells[-1]["value"]):  # (the row is padded up to its last cell)
                cells.pop()
            cells_read += cells[-1]["column"] if cells else 0
            if cells_read > bounded.MAX_CELLS:
                raise RowError(bounded.TOO_MANY_CELLS, row=number, code="too_many_cells")
            if padded:
                _as_shown(cells, padded)
            yield ws._get_row(cells, values_only=values_only)


def _zero_padded_styles(book: Any) -> dict[int, int]:
    """{style id: width} of the workbook's cell styles whose number format pads a whole number with zeros
    (000000000000, 000000): the format a spreadsheet gives a column of codes or Individual Numbers so that a leading
    zero shows. Such a cell is read as the text it shows (_as_shown): 52601815907 formatted with twelve zeros is
    052601815907, a municipality code 11002 formatted with six is 011002, as a CSV export of the sheet writes them."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE  # (only for an XLSX file)

    out = {}
    custom = list(getattr(book, "_number_formats", []) or [])
    for style_id, style in enumerate(getattr(book, "_cell_styles", []) or []):
        fid = getattr(style, "numFmtId", 0) or 0
        fmt = BUILTIN_FORMATS.get(fid) if fid < BUILTIN_FORMATS_MAX_SIZE else (
            custom[fid - BUILTIN_FORMATS_MAX_SIZE] if 0 <= fid - BUILTIN_FORMATS_MAX_SIZE < len(custom) else None)
        positive = (fmt or "").split(";")[0]
        if len(positive) >= 2 and positive.strip("0") == "":
            out[style_id] = len(positive)
    return out


def _as_shown(cells: list[dict[str, Any]], padded: dict[int, int]) -> None:
    """A whole number in a zero-padded format becomes the text the cell shows (_zero_padded_styles)."""
    for cell in cells:
        width = padded.get(cell.get("style_id") or 0)
        value = cell.get("value")
        if width and cell.get("data_type") == "n" and isinstance(value, int | float) and not isinstance(value, bool) \
                and value >= 0 and float(value).is_integer():
            cell["value"], cell["data_type"] = str(int(value)).zfill(width), "s"


def _noted_rows(rows: Iterator[Any], formula_rows: Iterator[Any] | None,
                percents: bool) -> Iterator[tuple[int, list[Any], Notes | None]]:
    """Values and notes of each row, trailing empty cells dropped; the limits checked; a sheet openpyxl cannot
    read to its end is an error naming the row it stopped at."""
    cells_given = percents or formula_rows is not None
    number = 0
    try:
        for number, row in enumerate(rows, start=1):  # noqa: B007 - the last number names where it stopped
            if number > bounded.MAX_ROWS or len(row) > bounded.MAX_COLUMNS:
                what = "rows" if number > bounded.MAX_ROWS else "columns"
                raise RowError(f"more {what} than the limit ({bounded.MAX_ROWS:,} rows, {bounded.MAX_COLUMNS} "
                               "columns) / 行数または列数が上限を超えています", row=number, code=f"too_many_{what}")
            formula_row = next(formula_rows, ()) if formula_rows is not None else ()
            if cells_given:
                values = [getattr(c, "value", None) for c in row]
                notes = _notes(row, formula_row, percents)
                if notes and max(notes) >= len(values):  # a noted cell past the row's last value (_stored_rows
                    values += [None] * (max(notes) + 1 - len(values))  # pads a row only to its last value)
            else:
                values, notes = list(row), None
            yield number, _trimmed(values, notes), notes
    except RowError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on damaged files; report, never crash
        en, ja = bounded.damage(exc)
        raise RowError(f"the XLSX file is damaged: {en} / XLSXファイルが壊れています（{ja}）", row=number + 1,
                       code="bad_xlsx") from None


def _notes(row: Any, formula_row: Any, percents: bool) -> Notes | None:
    notes: Notes | None = None
    for col in range(max(len(row), len(formula_row))):  # (a formula's cell may lie past the row's last value)
        cell = row[col] if col < len(row) else None
        formula = None
        if col < len(formula_row) and getattr(formula_row[col], "data_type", None) == "f":
            formula = str(formula_row[col].value)
        value = getattr(cell, "value", None)
        percent = (percents and isinstance(value, int | float) and not isinstance(value, bool)
                   and "%" in (getattr(cell, "number_format", None) or ""))
        if formula or percent:
            notes = notes if notes is not None else {}
            notes[col] = CellNote(formula, percent)
    return notes


def _trimmed(values: list[Any], notes: Notes | None) -> list[Any]:
    end = len(values)
    while end and values[end - 1] in (None, "") and not (notes and end - 1 in notes):
        end -= 1
    del values[end:]
    return values
