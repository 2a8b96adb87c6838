"""Getting bytes and cells: HTTP(S) with conditional GET and retries, drop directories, encodings, formats.

Formats: CSV (UTF-8, UTF-8 with BOM, UTF-16, Shift_JIS/CP932, detected) and XLSX (values), read by the one row
reader of collectors and submissions (observatory.rows); JSON (a list of objects or {"rows": [...]}). `read_table` finds the header row (title and blank lines may stand above it)
and maps header aliases to canonical column names, so a parser only sees named cells and line numbers.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import ipaddress
import itertools
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse

import httpx

from collectors.base import Column, RowError, Table, canonical_headers
from collectors.values import percent_text
from observatory import bounded, encodings, rows
from observatory.errors import UserError

HEADER_SEARCH_LINES = 30
XLSX_MAGIC = b"PK\x03\x04"
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class FetchError(UserError):
    """A source could not be fetched (after retries); the message names the URL and the last problem."""


# ---------------------------------------------------------------------------------------------- encodings

Opener = Callable[[], IO[bytes]]


def detect_encoding(data: bytes) -> str:
    """'utf-8-sig' (BOM), 'utf-16' (BOM), 'utf-8', or 'cp932' (Shift_JIS with Microsoft extensions); RowError
    naming the line otherwise. The one detection (observatory.encodings), over bytes in memory."""
    found = encodings.detect(lambda: io.BytesIO(data))
    if isinstance(found, encodings.Undecodable):
        raise RowError("not UTF-8, UTF-16 nor Shift_JIS (CP932) text / 文字コードを判別できません", row=found.line)
    return found


def encoding_of(open_bytes: Opener, declared: str | None) -> str:
    """The declared encoding (checked) or the detected one; a RowError names the line that does not decode."""
    if not declared:
        found = encodings.detect(open_bytes)
        if isinstance(found, encodings.Undecodable):
            raise RowError("not UTF-8, UTF-16 nor Shift_JIS (CP932) text / 文字コードを判別できません", row=found.line)
        return found
    enc = encodings.canonical(declared)
    try:
        problem = encodings.check(open_bytes, enc)
    except LookupError:
        raise RowError(f"cannot decode as {enc} / {enc}として読めません", row=1) from None
    if problem is not None:
        raise RowError(f"cannot decode as {enc} / {enc}として読めません", row=problem.line)
    return enc


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding used); a declared encoding is honoured, a wrong one reported with the line."""
    enc = encoding_of(lambda: io.BytesIO(data), encoding)
    return data.decode(enc), enc


# ------------------------------------------------------------------------------------------------ formats


def detect_format(name: str, data: bytes, declared: str = "auto") -> str:
    """csv | xlsx | json from the declared format, the file suffix, or the first bytes (`data` may be just the
    first 64 bytes)."""
    if data.startswith(rows.OLE_MAGIC):  # whatever its name or declared format says
        raise RowError(rows.OLE_REASON, code="xls_not_supported")
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:14].lower().startswith((b"<!doctype html", b"<html")):
        raise RowError("an HTML page, not a data file (a saved error or sign-in page?); download the file itself / "
                       "データファイルではなくHTMLページです（エラーページやログイン画面など）。ファイル本体を取得してください",
                       code="html_not_data")
    if declared and declared != "auto":
        return declared
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".json":
        return "json"
    if data.startswith(XLSX_MAGIC):
        return "xlsx"
    if head[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def csv_records(open_bytes: Opener, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, cells) for every CSV (or tab-separated) record, streamed by the one reader
    (observatory.rows); blank records are kept as []. A NUL character refuses the file (never stored)."""
    for start, record in rows.csv_records(open_bytes, encoding):
        if any("\x00" in c for c in record):
            raise RowError("NUL character (\\x00) in the file; remove it / NUL文字が含まれています", row=start)
        yield start, record


def csv_grid(text: str) -> list[tuple[int, list[Any]]]:
    """(first line of the record, cells) for every CSV record of a text; blank records are kept as []."""
    data = text.encode("utf-8")
    return list(csv_records(lambda: io.BytesIO(data), "utf-8"))


def xlsx_records(source: bytes | Path, sheet: str | None = None, default_sheet: str | None = None, *,
                 percents_as_text: bool = False, on_sheet: Callable[[str, list[str]], None] | None = None
                 ) -> Iterator[tuple[int, list[Any]]]:
    """(sheet row number, values) of the named sheet, else `default_sheet` when present, else the first, streamed
    by the one reader (observatory.rows). With `percents_as_text` a number formatted as a percentage is read as
    the text it shows ('88.8%'); `on_sheet` hears the sheet read and the workbook's sheets. A formula with no
    computed value (a workbook written by a program that does not calculate) is an error, never a blank, as in
    submissions."""
    for number, cells, notes in rows.xlsx_rows(source, sheet, default_sheet, percents=percents_as_text,
                                               formulas=True, on_sheet=on_sheet):
        for col, note in (notes or {}).items():
            if note.formula and (col >= len(cells) or cells[col] is None):
                raise RowError("the cell holds a formula with no computed value (the file was saved without "
                               "calculating); open and save it in Excel, or paste values / 数式のみで計算結果が"
                               "ありません。Excelで開いて保存するか、値として貼り付けてください", row=number,
                               column=_column_letter(col), value=note.formula, code="formula_without_value")
            if note.percent_format:
                cells[col] = percent_text(float(cells[col]))
        yield number, cells


def _column_letter(index: int) -> str:
    """Excel's letter of a 0-based column index (0 -> A, 26 -> AA)."""
    from openpyxl.utils import get_column_letter  # here: openpyxl is loaded only for an XLSX file

    return get_column_letter(index + 1)


def xlsx_grid(data: bytes | Path, sheet: str | None = None, default_sheet: str | None = None, *,
              percents_as_text: bool = False) -> list[tuple[int, list[Any]]]:
    """Every (sheet row number, values) of a sheet (see xlsx_records)."""
    return list(xlsx_records(data, sheet, default_sheet, percents_as_text=percents_as_text))


JSON_CHUNK = 1 << 20  # characters decoded at a time


def json_stream(open_bytes: Opener, encoding: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based index, object) of each record of a JSON list or of {"rows": [...]}, read a chunk at a time: the
    file is never held whole. A record over MAX_LINE_BYTES characters or nested over MAX_JSON_DEPTH levels, a
    record that is not an object, anything else than those two shapes and malformed JSON are RowErrors (the record
    as the row; text that cannot be read as a record, by its line in the reason)."""
    enc = encoding_of(open_bytes, encoding)
    with open_bytes() as fh:
        text = _JsonText(io.TextIOWrapper(fh, encoding=enc, newline=""))
        first = text.skip_space()
        if first == "[":
            text.pos += 1
            yield from _json_array(text)
        elif first == "{":
            text.pos += 1
            yield from _json_rows_member(text)
        else:
            raise RowError('JSON must be a list of objects or {"rows": [...]} / JSONの構造が不正です')
        if text.skip_space() is not None:
            text.malformed("extra data after the JSON value")


class _JsonText:
    """A decoded JSON text read in chunks: a window over it, and values decoded one at a time from it."""

    def __init__(self, reader: IO[str]) -> None:
        self._reader = reader
        self.buf, self.pos, self.eof, self._lines_before = "", 0, False, 0
        self.surrogate_escape = False  # whether the last value's text escapes a surrogate (\ud800-\udfff)

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self._reader.read(JSON_CHUNK)
        if not chunk:
            self.eof = True
            return False
        if self.pos > JSON_CHUNK:  # drop what was read
            self._lines_before += self.buf.count("\n", 0, self.pos)
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += chunk
        return True

    def skip_space(self) -> str | None:
        """The next character that is not white space (not consumed), or None at the end of the text."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n\ufeff":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return None

    def value(self) -> Any:
        """The JSON value at the position (consumed), reading more of the text until it is complete."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos <= bounded.MAX_LINE_BYTES and self._more():
                    continue
                if len(self.buf) - self.pos > bounded.MAX_LINE_BYTES:
                    at = self.line(self.pos)
                    raise RowError(f"a JSON value longer than {bounded.MAX_LINE_BYTES:,} characters at line {at} / "
                                   f"JSONの値が長すぎます（{at}行目）") from None
                self.malformed(exc.msg, exc.pos)
            except RecursionError:
                at = self.line(self.pos)
                raise RowError(f"JSON nested too deeply at line {at} / JSONの入れ子が深すぎます（{at}行目）") from None
            except _RepeatedKey as exc:
                at = self.line(self.pos)
                raise RowError(f"a JSON object names {exc.args[0]!r} twice, from line {at}: which value is meant? / "
                               f"JSONオブジェクトに同じキーが2回あります（{at}行目から）", column=str(exc.args[0]),
                               code="json_repeated_key") from None
            if end == len(self.buf) and self._more():  # a number cut at the window's end: read on
                continue
            self.surrogate_escape = _SURROGATE_ESCAPE.search(self.buf, self.pos, end) is not None
            self.pos = end
            return value

    def line(self, pos: int) -> int:
        return self._lines_before + self.buf.count("\n", 0, pos) + 1

    def malformed(self, msg: str, pos: int | None = None) -> None:
        """A RowError for text that is not JSON: named by its line in the reason, as no record can be read there
        (a JSON file's row is a record's place in the list: observatory.rows)."""
        at = self.line(self.pos if pos is None else pos)
        raise RowError(f"malformed JSON at line {at}: {msg} / JSONの形式が不正です（{at}行目）")

    def expect(self, chars: str) -> str:
        c = self.skip_space()
        if c is None or c not in chars:
            self.malformed(f"expected {' or '.join(repr(ch) for ch in chars)}")
        self.pos += 1
        return c


def _json_int(text: str) -> int | str:
    """A JSON integer; one too long for Python's int (over 4,300 digits: ValueError) kept as its digits, so that
    its column judges it (out of range for a count) by row and column instead of the reader failing."""
    try:
        return int(text)
    except ValueError:
        return text


class _RepeatedKey(Exception):
    """A JSON object naming one key twice."""


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; one naming a key twice is refused (Python's json keeps the last value without a word)."""
    record = dict(pairs)
    if len(record) < len(pairs):
        seen: set[str] = set()
        raise _RepeatedKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return record


_DECODER = json.JSONDecoder(parse_int=_json_int, object_pairs_hook=_json_object)


def _json_array(text: _JsonText) -> Iterator[tuple[int, dict[str, Any]]]:
    if text.skip_space() == "]":
        text.pos += 1
        return
    index = 0
    while True:
        text.skip_space()
        record = text.value()
        index += 1
        if not isinstance(record, dict):
            raise RowError("JSON record is not an object / レコードがオブジェクトではありません", row=index)
        if bounded.nesting_depth(record) > bounded.MAX_JSON_DEPTH:
            raise RowError(f"JSON nested more than {bounded.MAX_JSON_DEPTH} levels deep / JSONの入れ子が深すぎます",
                           row=index)
        if text.surrogate_escape:
            _refuse_lone_surrogates(record, index)
        yield index, record
        if text.expect(",]") == "]":
            return


# A JSON text may escape half of a surrogate pair alone ("\ud800"): Python decodes it to a string no UTF-8 can
# hold, which failed deep in the load (UnicodeEncodeError as an internal error; found by a fuzzing helper). A pair
# ("\ud83d\ude00") decodes to its one character and is fine; only a value whose text escapes one is walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_lone_surrogates(record: dict[str, Any], index: int) -> None:
    """A RowError naming the record and member whose text holds a lone surrogate (in its name or its value)."""
    def bad(value: Any) -> bool:
        if isinstance(value, str):
            return _SURROGATE.search(value) is not None
        if isinstance(value, dict):
            return any(bad(k) or bad(v) for k, v in value.items())
        return isinstance(value, list) and any(bad(v) for v in value)

    for key, value in record.items():
        if bad(key) or bad(value):
            raise RowError("half of a Unicode surrogate pair escaped alone (\\ud800-\\udfff): not a character / "
                           "不正な文字（サロゲートの片割れ）", row=index, column=key if not bad(key) else None)


def _json_rows_member(text: _JsonText) -> Iterator[tuple[int, dict[str, Any]]]:
    """The records of {"rows": [...]} (other members are read and left aside)."""
    found = False
    if text.skip_space() == "}":
        text.pos += 1
    else:
        while True:
            text.skip_space()
            key = text.value()
            if not isinstance(key, str):
                text.malformed("expected a member name")
            text.expect(":")
            if key == "rows" and text.skip_space() == "[":
                text.pos += 1
                found = True
                yield from _json_array(text)
            else:
                text.skip_space()
                text.value()
            if text.expect(",}") == "}":
                break
    if not found:
        raise RowError('JSON must be a list of objects or {"rows": [...]} / JSONの構造が不正です')


_BRACKETED = re.compile(r"[(\[【〔].*?[)\]】〕]")


def normalise_header(text: Any, *, keep_brackets: bool = False) -> str:
    """Header text folded for matching: NFKC, lower case, no bracketed notes ('人口（R8.1.1時点）') unless
    `keep_brackets`, no spaces, underscores, hyphens or dots."""
    folded = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    if not keep_brackets:
        folded = _BRACKETED.sub("", folded) or folded
    for ch in (" ", "\u3000", "_", "-", ".", "\n", "\r", "\t"):
        folded = folded.replace(ch, "")
    return folded


def _match_layout(cells: list[Any], layout: tuple[Column, ...]
                  ) -> tuple[dict[int, str], list[str], dict[str, list[str]]]:
    """(cell index -> canonical name, required columns missing, columns more than one header names -> those
    headers) for a candidate header row.

    An exact match (folded, brackets kept) wins; only then are bracketed notes ignored, so columns whose names
    differ only inside brackets (処理期間(オンライン) / 処理期間(非オンライン)) are never merged. A column that two
    headers name alike (the same name twice, two of its aliases, or, with no exact one, two that match once their
    notes are ignored: 交付枚数（当月分） and 交付枚数（累計） in a later edition) is ambiguous: which one is meant is not
    known, and reading the first stored the wrong figures, so the caller refuses the file (`refuse_ambiguous`)."""
    exact = canonical_headers(layout, keep_brackets=True)
    loose = canonical_headers(layout)
    by_exact: dict[str, list[int]] = {}
    by_loose: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        name = exact.get(normalise_header(cell, keep_brackets=True))
        if name:
            by_exact.setdefault(name, []).append(i)
        elif name := loose.get(normalise_header(cell)):
            by_loose.setdefault(name, []).append(i)
    chosen = by_exact | {name: where for name, where in by_loose.items() if name not in by_exact}
    found = dict(sorted((where[0], name) for name, where in chosen.items()))
    missing = [c.name for c in layout if c.required and c.name not in found.values()]
    ambiguous = {name: [str(cells[i]) for i in where] for name, where in chosen.items() if len(where) > 1}
    return found, missing, ambiguous


def refuse_ambiguous(ambiguous: dict[str, list[str]], row: int | None = None, file: str | None = None) -> None:
    """A RowError naming the first column that more than one header names, and those headers (`_match_layout`)."""
    for name, headers in ambiguous.items():
        shown = ", ".join(repr(h) for h in headers)
        raise RowError(f"{len(headers)} headers could each be column {name} ({shown}): which one is meant is not "
                       f"known; keep one or rename the others / 列{name}に当たる見出しが複数あります"
                       f"（{'、'.join(headers)}）", file=file, row=row, column=name)


def _blank(cells: list[Any]) -> bool:
    return not any(c not in (None, "") and str(c).strip() for c in cells)


class RowStream:
    """The data rows under a header, read once as they are needed: (line, {column: cell}). It counts the rows
    it has read and keeps the current row's cells (`Table.cells[i]` for the row just handed out), so a 50 MB file
    is never held as Python objects; `drain()` reads the rest to count the file's records."""

    def __init__(self, entries: Iterator[tuple[int, list[Any]]], found: dict[int, str], *,
                 keep_blank: bool = False, width: int | None = None) -> None:
        self._entries = entries
        self._found = found
        self._keep_blank = keep_blank  # JSON: an empty record is a record
        self._width = width  # the header's cells: a row's value beyond them is refused (_beyond_header)
        self.count = 0
        self.current: list[Any] = []

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        found = self._found
        for line, cells in self._entries:
            if not self._keep_blank and _blank(cells):
                continue
            self.count += 1
            self.current = cells
            if self._width is not None and len(cells) > self._width:
                _beyond_header(line, cells, self._width)
            yield line, {name: (cells[i] if i < len(cells) else None) for i, name in found.items()}

    def drain(self) -> int:
        """Read the rows not read yet (without naming their cells); the number of rows of the file."""
        for _, cells in self._entries:
            if self._keep_blank or not _blank(cells):
                self.count += 1
        return self.count


class _CurrentCells:
    """`Table.cells` of a streamed table: only the row just read is at hand."""

    def __init__(self, stream: RowStream) -> None:
        self._stream = stream

    def __len__(self) -> int:
        return self._stream.count

    def __getitem__(self, index: int) -> list[Any]:
        if index != self._stream.count - 1:
            raise IndexError("a streamed table keeps only the current row's cells")
        return self._stream.current


def rows_read(table: Table) -> int:
    """The number of data rows of the table's file (a streamed table is read to its end to count them)."""
    return table.rows.drain() if isinstance(table.rows, RowStream) else len(table.rows)


def grid_table(grid: list[tuple[int, list[Any]]], layouts: Iterable[tuple[Column, ...]], *,
               find_header: bool = False, rest: Iterator[tuple[int, list[Any]]] | None = None) -> Table:
    """Find the header row and name the cells; the missing required columns are an error naming the line.
    With `find_header`, a header may be two rows (a workbook's merged group headings above their columns:
    `_two_row_header`). With `rest` (the entries after `grid`, which then holds only the first lines), the rows
    are streamed."""
    layouts = list(layouts)
    titles: list[str] = []
    best: tuple[int, list[str], int, tuple[Column, ...]] | None = None  # (line, missing, matched, layout)
    for idx, (line, cells) in enumerate(grid):
        if _blank(cells):
            continue
        for layout in layouts:
            found, missing, ambiguous = _match_layout(cells, layout)
            if not missing:
                refuse_ambiguous(ambiguous, line)
                return _table_below(grid, idx + 1, found, line, cells, titles, rest)
            if best is None or len(found) > best[2]:
                best = (line, missing, len(found), layout)
        if not find_header or idx >= HEADER_SEARCH_LINES:
            break
        two = _two_row_header(grid, idx, layouts)
        if two is not None:
            below, found, header = two
            return _table_below(grid, below + 1, found, grid[below][0], header, titles, rest)
        titles.append(" ".join(str(c) for c in cells if c not in (None, "")))
    if best is None:
        raise RowError("no header row found (the file is empty) / 見出し行がありません", code="no_header")
    line, missing, _, closest = best  # the layout the header came closest to (an older edition's, say)
    expected = ", ".join(c.name for c in closest if c.required)
    headers = {c.name: c for c in closest}
    named = ", ".join(_as_published(headers[m]) if m in headers else m for m in missing)
    raise RowError(f"header is missing column(s) {named} (expected {expected}) / 必要な列がありません",
                   row=line, column=missing[0], code="no_header")


def _two_row_header(grid: list[tuple[int, list[Any]]], idx: int, layouts: list[tuple[Column, ...]]
                    ) -> tuple[int, dict[int, str], list[Any]] | None:
    """(index of the second row, cell index -> name, the header as read) where the row at `idx` and the next
    non-blank one are one header: a column's name is the lower row's cell, else the upper one's (都道府県名 merged
    down over two rows beside マイナンバーカード merged across 申請数 / 交付枚数 / 保有枚数), and neither row is a
    header alone. None otherwise."""
    below = next((j for j in range(idx + 1, len(grid)) if not _blank(grid[j][1])), None)
    if below is None or any(not _match_layout(grid[below][1], layout)[1] for layout in layouts):
        return None
    upper, lower = grid[idx][1], grid[below][1]
    header = [lower[i] if i < len(lower) and lower[i] not in (None, "") else (upper[i] if i < len(upper) else None)
              for i in range(max(len(upper), len(lower)))]
    for layout in layouts:
        found, missing, ambiguous = _match_layout(header, layout)
        if not missing:
            refuse_ambiguous(ambiguous, grid[below][0])
            return below, found, header
    return None


def _table_below(grid: list[tuple[int, list[Any]]], start: int, found: dict[int, str], line: int, cells: list[Any],
                 titles: list[str], rest: Iterator[tuple[int, list[Any]]] | None) -> Table:
    """The table whose header (`cells`, at `line`) names the columns `found`, its rows from grid[start:] (and
    `rest`, streamed)."""
    header = ["" if c is None else str(c) for c in cells]
    if rest is not None:
        stream = RowStream(itertools.chain(grid[start:], rest), found, width=len(header))
        return Table(columns=list(found.values()), rows=stream, header_line=line, title_lines=titles,
                     header=header, cells=_CurrentCells(stream))
    rows = []
    kept = []
    for rline, rcells in grid[start:]:
        if _blank(rcells):
            continue
        if len(rcells) > len(header):
            _beyond_header(rline, rcells, len(header))
        rows.append((rline, {name: (rcells[i] if i < len(rcells) else None) for i, name in found.items()}))
        kept.append(rcells)
    return Table(columns=list(found.values()), rows=rows, header_line=line, title_lines=titles,
                 header=header, cells=kept)


def _beyond_header(line: int, cells: list[Any], width: int) -> None:
    """A value in a cell past the header's last (an unquoted comma inside a value: every cell after it shifted
    one column right) refuses the row; empty cells there (a spreadsheet's trailing separators) are nothing."""
    extra = next((i for i in range(width, len(cells)) if cells[i] not in (None, "")), None)
    if extra is not None:
        raise RowError(f"{len(cells)} cells where the header has {width}: a value past the last column (quote a "
                       f"value that holds a comma) / 見出しより列が多い行です（{width}列に対し{len(cells)}列）",
                       row=line, column=f"#{extra + 1}", value=cells[extra], code="extra_cells")


def _as_published(column: Column) -> str:
    """A column as a user finds it in the file: the header a publication writes (its first alias), with the
    canonical name the messages and the warehouse use ('処理期間(オンライン) (processing_period_online)')."""
    heading = next((a for a in column.aliases if a != column.name), None)
    return f"{heading} ({column.name})" if heading else column.name


def json_table(records: list[dict[str, Any]] | list[str], layouts: Iterable[tuple[Column, ...]], *,
               rest: Iterator[tuple[int, list[Any]]] | None = None) -> Table:
    """Name the keys of JSON records like a header row; row numbers are the 1-based record index. With `rest`,
    `records` is the list of every key and `rest` the records' values in that order, streamed (every record is
    a row, an empty one too: none is dropped)."""
    if rest is not None:
        keys = [str(k) for k in records]
    else:
        keys = list(dict.fromkeys(k for rec in records for k in rec))
        if len(records) * len(keys) > bounded.MAX_CELLS:  # (each record becomes a row of every key)
            raise RowError(bounded.TOO_MANY_CELLS, row=len(records), code="too_many_cells")
    layouts = list(layouts)
    best_missing: list[str] | None = None
    for layout in layouts:
        found, missing, ambiguous = _match_layout(keys, layout)
        if not missing:
            refuse_ambiguous(ambiguous)
            if rest is not None:
                stream = RowStream(rest, found, keep_blank=True)
                return Table(columns=list(found.values()), rows=stream, header=keys, cells=_CurrentCells(stream))
            mapping = {keys[i]: name for i, name in found.items()}
            rows = [(n, {mapping[k]: v for k, v in rec.items() if k in mapping}) for n, rec in enumerate(records, 1)]
            return Table(columns=list(found.values()), rows=rows, header=[str(k) for k in keys],
                         cells=[[rec.get(k) for k in keys] for rec in records])
        if best_missing is None or len(missing) < len(best_missing):
            best_missing = missing
    if rest is None and not records:
        return Table(columns=[c.name for c in layouts[0]], rows=[])
    raise RowError(f"records lack field(s) {', '.join(best_missing or [])} / 必要な項目がありません",
                   column=(best_missing or [None])[0])


GZIP_MAGIC = b"\x1f\x8b"
MAX_GUNZIPPED_BYTES = 256 * 1024 * 1024


def gunzip(name: str, data: bytes, limit: int = MAX_GUNZIPPED_BYTES) -> tuple[str, bytes]:
    """(name without .gz, bytes) of a gzip file (published copies ship as .csv.gz); other files unchanged.
    The output is capped: a gzip bomb is an error, not a full memory."""
    if not data.startswith(GZIP_MAGIC):
        return name, data

    parts: list[bytes] = []
    size, rest = 0, data
    while rest:  # a gzip file is a series of members (`cat a.gz b.gz`), each read to its end marker
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            part = inflater.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise RowError(f"broken gzip file ({exc}) / gzipファイルが壊れています") from None
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise RowError(f"gzip content larger than {limit // 2**20} MB / 展開後のサイズが上限を超えています")
        if not inflater.eof:  # the file ends inside a member: cut short, never read as if whole
            raise RowError("broken gzip file (Compressed file ended before the end-of-stream marker was reached) / "
                           "gzipファイルが壊れています")
        parts.append(part)
        rest = inflater.unused_data
    stem = name[:-3] if name.lower().endswith(".gz") else name
    return stem, b"".join(parts)


class _GunzipCapped(io.RawIOBase):
    """A gzip file's content, read in pieces and capped: a gzip bomb is an error, not a full memory."""

    def __init__(self, path: Path, limit: int = MAX_GUNZIPPED_BYTES) -> None:

        self._fh = gzip.open(path, "rb")
        self._left = limit
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:

        try:
            data = self._fh.read(len(buffer))
        except (OSError, EOFError, zlib.error) as exc:
            raise RowError(f"broken gzip file ({exc}) / gzipファイルが壊れています") from None
        self._left -= len(data)
        if self._left < 0:
            raise RowError(f"gzip content larger than {self._limit // 2**20} MB / 展開後のサイズが上限を超えています")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_source(name: str, source: bytes | Path) -> tuple[str, Opener, Path | None]:
    """(name without .gz, a function opening the plain bytes afresh, the plain file's path when it is one).
    A gzip file on disk is decompressed as it is read, never whole."""
    if isinstance(source, bytes | bytearray):
        name, data = gunzip(name, bytes(source))
        return name, (lambda: io.BytesIO(data)), None
    path = Path(source)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == GZIP_MAGIC
    if not gzipped:
        return name, (lambda: open(path, "rb")), path  # noqa: SIM115 - the caller closes it
    stem = name[:-3] if name.lower().endswith(".gz") else name
    return stem, (lambda: io.BufferedReader(_GunzipCapped(path), 1 << 20)), None


@dataclass
class Cells:
    """A file's cells before the header is known: a grid (CSV, XLSX) or JSON records, and how it was read.
    A streamed grid holds only its first lines; `rest` yields the others once."""

    grid: list[tuple[int, list[Any]]] | None
    records: list[dict[str, Any]] | None
    meta: dict[str, str]
    rest: Iterator[tuple[int, list[Any]]] | None = None
    json_keys: list[str] | None = None  # a streamed JSON file: every key of its records (rest: their values)
    json_count: int = 0
    sheets: list[str] = field(default_factory=list)  # a workbook's sheets (meta["sheet"]: the one read)

    def table(self, layouts: Iterable[tuple[Column, ...]], *, find_header: bool = False) -> Table:
        if self.records is not None:
            return json_table(self.records, layouts)
        if self.json_keys is not None:
            return json_table(self.json_keys, layouts, rest=self.rest)
        try:
            return grid_table(self.grid or [], layouts, find_header=find_header, rest=self.rest)
        except RowError as exc:
            raise self._on_which_sheet(exc) from None

    def _on_which_sheet(self, exc: RowError) -> RowError:
        """A workbook's missing header, naming the sheet read and the workbook's sheets and how to read another:
        the data is often on another sheet than the first (a cover or notes sheet before it)."""
        read = self.meta.get("sheet")
        if exc.code != "no_header" or read is None:
            return exc
        en, ja = exc.reasons()
        en += f" in sheet {read!r} (the workbook's sheets: {', '.join(map(repr, self.sheets))})"
        ja += f"（読み込んだシート: 「{read}」、ブック内のシート: {'、'.join(f'「{s}」' for s in self.sheets)}）"
        if len(self.sheets) > 1:
            en += "; read another with --sheet NAME (observatory ingest) or sheet: in the source's observatory.yaml"
            ja += "。別のシートは --sheet（observatory ingest）または observatory.yaml のソースの sheet: で指定してください"
        return RowError(f"{en} / {ja}", file=exc.file, row=exc.row, column=exc.column, value=exc.value,
                        code=exc.code, sheet=exc.sheet)

    def records_read(self) -> int:
        """Non-blank records of the file after its first line (reads a streamed grid to its end)."""
        if self.json_keys is not None:
            return self.json_count
        if self.records is not None:
            return len(self.records)
        grid = [g for g in self.grid or [] if any(c not in (None, "") for c in g[1])]
        more = sum(1 for g in self.rest if any(c not in (None, "") for c in g[1])) if self.rest is not None else 0
        return max(0, len(grid) + more - 1)


def stream_cells(name: str, source: bytes | Path, *, fmt: str = "auto", encoding: str | None = None,
                 sheet: str | None = None, default_sheet: str | None = None,
                 percents_as_text: bool = False) -> Cells:
    """The cells of a CSV, XLSX or JSON file (gzip-compressed or not), streamed: the first lines are read, the
    rest as the table's rows are consumed (JSON: the keys in a first pass, then record by record). Errors name the
    file (and a workbook's sheet), also while streaming."""
    meta: dict[str, str] = {}
    try:
        inner, open_bytes, plain = open_source(name, source)  # errors name the file as given (t.csv.gz)
        with open_bytes() as fh:
            head = fh.read(64)
        kind = detect_format(inner, head, fmt)
        sheets: list[str] = []
        if kind == "xlsx":
            xlsx_source = plain if plain is not None else _spooled(open_bytes)
            meta = {"format": "xlsx"}

            def heard(read: str, names: list[str]) -> None:  # as the sheet is opened, with the first rows
                meta["sheet"] = read
                sheets[:] = names

            entries = xlsx_records(xlsx_source, sheet, default_sheet, percents_as_text=percents_as_text,
                                   on_sheet=heard)
            if plain is None:
                entries = _removing(entries, xlsx_source)
        elif kind == "json":  # read twice: once for the keys of every record, once for the rows
            keys: dict[str, None] = {}
            count = 0
            for count, rec in json_stream(open_bytes, encoding):  # noqa: B007 - the last index is the count
                keys.update(dict.fromkeys(rec))
            if count == 0:
                return Cells(None, [], {"format": "json"})
            names = list(keys)
            if count * len(names) > bounded.MAX_CELLS:  # each record is read as a row of every key of the file
                raise RowError(bounded.TOO_MANY_CELLS, row=count, code="too_many_cells")
            rows = ((i, _json_values(i, rec, names)) for i, rec in json_stream(open_bytes, encoding))
            return Cells(None, None, {"format": "json"}, rest=_located(name, rows), json_keys=names,
                         json_count=count)
        else:
            enc = encoding_of(open_bytes, encoding)
            entries = csv_records(open_bytes, enc)
            meta = {"format": "csv", "encoding": enc}
        located = _located(name, entries, meta)
        head_rows = list(itertools.islice(located, HEADER_SEARCH_LINES + 1))
        return Cells(head_rows, None, meta, rest=located, sheets=sheets)
    except RowError as exc:
        raise exc.located(name, meta.get("sheet")) from None


def _spooled(open_bytes: Opener) -> Path:
    """A gzipped workbook's content in a temporary file (openpyxl seeks in it): on disk, not in memory, piece by
    piece (a 254 KB .xlsx.gz held its 256 MB inside the cap in memory, 733 MB at its peak)."""
    fd, name = tempfile.mkstemp(prefix="observatory-xlsx-", suffix=".xlsx")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open_bytes() as fh:
            shutil.copyfileobj(fh, out, 1 << 20)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _removing(entries: Iterator[Any], path: Path) -> Iterator[Any]:
    """The entries, the temporary file they are read from removed once they are read (or dropped)."""
    try:
        yield from entries
    finally:
        path.unlink(missing_ok=True)


def _json_values(index: int, record: dict[str, Any], names: list[str]) -> list[Any]:
    """A JSON record's cells in the order of `names`. A cell is a value (text, number, true/false or null): an object
    or a list is refused by its row and column (it was stored as Python's text of it, "['S2']" for ["S2"])."""
    for key, value in record.items():
        if isinstance(value, dict | list):
            raise RowError("an object or a list is not a value for a cell / セルの値がオブジェクトまたは配列です",
                           row=index, column=key)
    return [record.get(k) for k in names]


def _located(name: str, entries: Iterator[tuple[int, list[Any]]],
             meta: dict[str, str] | None = None) -> Iterator[tuple[int, list[Any]]]:
    """The entries, a RowError raised while reading them naming the file (and the workbook's sheet read)."""
    try:
        yield from entries
    except RowError as exc:
        raise exc.located(name, (meta or {}).get("sheet")) from None


def read_cells(name: str, data: bytes | Path, *, fmt: str = "auto", encoding: str | None = None,
               sheet: str | None = None, default_sheet: str | None = None, percents_as_text: bool = False) -> Cells:
    """The cells of a CSV, XLSX or JSON file (gzip-compressed or not), all in memory (see stream_cells, which
    reads them the same way); errors name the file."""
    cells = stream_cells(name, data, fmt=fmt, encoding=encoding, sheet=sheet, default_sheet=default_sheet,
                         percents_as_text=percents_as_text)
    if cells.json_keys is not None and cells.rest is not None:
        keys = cells.json_keys
        return Cells(None, [dict(zip(keys, values, strict=True)) for _, values in cells.rest], cells.meta)
    if cells.rest is not None:
        cells.grid = [*(cells.grid or []), *cells.rest]
        cells.rest = None
    return cells


def read_table(name: str, data: bytes | Path, layouts: Iterable[tuple[Column, ...]], *, fmt: str = "auto",
               encoding: str | None = None, sheet: str | None = None, default_sheet: str | None = None,
               find_header: bool = False, stream: bool = False) -> tuple[Table, dict[str, str]]:
    """(named cells, {"format", "encoding"}) of a CSV, XLSX or JSON file; errors name the file. With `stream`, the
    rows are read as they are consumed (stream_cells), not held."""
    read = stream_cells if stream else read_cells
    cells = read(name, data, fmt=fmt, encoding=encoding, sheet=sheet, default_sheet=default_sheet)
    try:
        return cells.table(layouts, find_header=find_header), cells.meta
    except RowError as exc:
        raise exc.located(name, cells.meta.get("sheet")) from None


# --------------------------------------------------------------------------------------------------- HTTP


MAX_FETCH_BYTES = 1 << 30  # one fetched file, as decoded: larger is refused, never a full memory or disk
MAX_FETCH_S = 30 * 60  # one attempt, request to last byte: a server sending a byte a second cannot hold a run
FETCH_CHUNK = 1 << 16
MAX_RETRY_AFTER_S = 120  # a server asking to wait longer is not asked again in this run (the next run will)


@dataclass
class Fetched:
    """An HTTP answer: 200 with content (in `content`, or in the private file `path` when fetched `into` a
    directory: the caller removes it), or 304 (not modified) with no content."""

    url: str
    status: int
    content: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    attempts: int = 1
    path: Path | None = None
    size: int = 0
    sha256: str | None = None
    final_url: str | None = None  # where the body came from, after redirects

    @property
    def name(self) -> str:
        """A file name for the archive and the run's messages: the last segment of the (final) URL's decoded path
        ('..%2Fx.csv' is x.csv), without control characters (an escape sequence, a new line)."""
        last = re.split(r"[/\\]", unquote(urlparse(self.final_url or self.url).path))[-1]
        name = "".join(c for c in last if unicodedata.category(c) != "Cc")
        return name if name not in ("", ".", "..") else "download"


class _Retry(Exception):
    """A problem another attempt may not have (a cut or too slow body, 503), and how long the server asks to
    wait before it (Retry-After)."""

    def __init__(self, problem: str, wait: float = 0.0) -> None:
        super().__init__(problem)
        self.wait = wait


class _Deadline:
    """One attempt's deadline, request to last byte: at MAX_FETCH_S its connection is shut, whatever it waits for
    (a server sending its headers or its body a byte a second resets httpx's timeout, which is per read)."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: learns the socket of each connection the attempt opens (redirects too)."""
        if event == "connection.connect_tcp.complete":
            self._socket = info["return_value"].get_extra_info("socket")
            if self.expired:
                self._expire()

    def _expire(self) -> None:
        self.expired = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)  # the blocked read returns: the attempt ends

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class _Inflater:
    """A Content-Encoding (gzip, deflate: zlib or raw) undone piece by piece, each piece at most FETCH_CHUNK bytes
    (a gzip bomb never inflates in one go); `end` refuses a stream cut short, which decodes to a shorter file."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._z: Any = None
        self._head = b""

    def _start(self, data: bytes) -> Any:
        if self.coding == "deflate":  # RFC 9110: zlib; some servers send raw deflate
            zlib_wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._z = self._start(data)
        while data:
            if self._z.eof:  # a gzip file is a series of members (`cat a.gz b.gz`); zero padding may follow
                if self.coding == "deflate" or not data.strip(b"\0"):
                    return
                self._z = self._start(data)
            try:
                piece = self._z.decompress(data, FETCH_CHUNK)
            except zlib.error as exc:
                raise FetchError(f"broken {self.coding} content ({exc}) / 圧縮データが壊れています") from None
            data = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
            if piece:
                yield piece

    def end(self) -> None:
        if self._z is None or not self._z.eof:
            raise _Retry(f"{self.coding} content cut short (no end-of-stream marker) / 圧縮データが途中で切れています")


def _decoder(encoding: str | None) -> _Inflater | None:
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip", "deflate"):
        return _Inflater("deflate" if coding == "deflate" else "gzip")
    raise FetchError(f"unsupported Content-Encoding {encoding!r} (gzip and deflate are read) / "
                     "対応していない圧縮形式です")


class _Body:
    """The decoded body as it arrives: counted against MAX_FETCH_BYTES, hashed, kept in memory or written to a
    private file (plain-<pid>-*, 0600: swept after a crash like a decrypted copy)."""

    def __init__(self, into: Path | None) -> None:
        self.size, self.hash, self.parts = 0, hashlib.sha256(), []
        self.path: Path | None = None
        self._fh: Any = None
        if into is not None:
            into.mkdir(parents=True, exist_ok=True)
            os.chmod(into, 0o700)
            self.path = into / f"plain-{os.getpid()}-{os.urandom(4).hex()}.fetch"
            self._fh = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > MAX_FETCH_BYTES:
            raise FetchError(_too_large())
        self.hash.update(piece)
        if self._fh is not None:
            self._fh.write(piece)
        else:
            self.parts.append(piece)

    def close(self, keep: bool) -> None:
        if self._fh is not None:
            self._fh.close()
        if not keep and self.path is not None:
            self.path.unlink(missing_ok=True)


def _too_large() -> str:
    return (f"larger than {MAX_FETCH_BYTES:,} bytes (the limit on one fetched file) / "
            "ファイルが大きすぎます（取得できるサイズの上限を超えています）")


def _read_body(resp: httpx.Response, into: Path | None) -> _Body:
    """The whole decoded body of a 200 answer, or FetchError (too large, broken encoding) or _Retry (cut short):
    a file is read whole or not at all."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and "content-encoding" not in resp.headers and int(declared) > MAX_FETCH_BYTES:
        raise FetchError(_too_large())  # said before a byte is read
    inflater = _decoder(resp.headers.get("Content-Encoding"))
    body = _Body(into)
    received = 0
    try:
        for chunk in resp.iter_raw():  # as received: a trickle is seen
            received += len(chunk)
            for piece in inflater.feed(chunk) if inflater else (chunk,):
                body.write(piece)
        if declared.isdigit() and int(declared) != received:
            raise _Retry(f"truncated body: {received} of {declared} bytes")
        if inflater is not None:
            inflater.end()
    except BaseException:
        body.close(keep=False)
        raise
    body.close(keep=True)
    return body


def _validator(resp: httpx.Response, name: bytes) -> str | None:
    """A validator (ETag, Last-Modified) as received, byte for byte: its bytes as Latin-1 text, which any byte
    is (a UTF-8 ETag is legal; httpx's decoded text could not be sent back)."""
    return next((v.decode("latin-1") for k, v in resp.headers.raw if k.lower() == name), None)


def _on_wire(value: str) -> bytes:
    """A remembered validator as sent back: the bytes received (or the UTF-8 of one stored before as text)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _retry_after(resp: httpx.Response) -> float | None:
    """Seconds the server asks to wait (Retry-After: seconds or an HTTP date), None when it does not say."""
    value = resp.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _refused_status(resp: httpx.Response, conditional: bool) -> str | None:
    """Why an answer that is not an error status brings no whole file, or None: 200 (and 203), 304 when asked."""
    code = resp.status_code
    if code in (200, 203) or (code == 304 and conditional):
        return None
    if code == 304:
        return "HTTP 304 Not Modified to a request that was not conditional / 条件付きでない要求に304が返されました"
    if 300 <= code < 400:
        return (f"HTTP {code} {resp.reason_phrase}: a redirect without a usable Location / "
                "転送先が示されていません")
    return f"HTTP {code} {resp.reason_phrase}: not a whole file / ファイル全体ではありません"


def _addresses(host: str, resolve: Callable[[str], list[str]]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of a URL's host: the host itself when it is one, else what `resolve` gives."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        return [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host)]
    except (OSError, ValueError):
        return []  # unresolvable: the connection fails on its own


def _resolve(host: str) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, None)]


def redirect_problem(origin: str, target: str, resolve: Callable[[str], list[str]] = _resolve) -> str | None:
    """Why a redirect from the configured URL `origin` to `target` is not followed, or None. Not from https to
    plain http (the file would travel unprotected), and not into this machine's or its network's private
    addresses from a public source (a published file's server must not make the collector fetch the dashboard on
    127.0.0.1, a cloud's metadata service on 169.254.169.254 or an office's intranet); a link-local address
    (metadata services) is refused from any source but a link-local one. The target's name is resolved only when
    the origin is public (its addresses are then looked up as the connection would)."""
    o, t = httpx.URL(origin), httpx.URL(target)
    if o.scheme == "https" and t.scheme != "https":
        return "a redirect from https to plain http is not followed / httpsからhttpへの転送には従いません"
    mine = _addresses(o.host, resolve) if o.host else []
    origin_public = bool(mine) and all(a.is_global for a in mine)
    if origin_public:
        theirs = _addresses(t.host, resolve)
        if any(not a.is_global for a in theirs):
            return (f"a redirect from a public server to a private address ({t.host}) is not followed / "
                    "公開サーバから内部アドレスへの転送には従いません")
    elif not any(a.is_link_local for a in mine):
        if any(a.is_link_local for a in _addresses(t.host, lambda _h: [])):
            return (f"a redirect to a link-local address ({t.host}) is not followed / "
                    "リンクローカルアドレスへの転送には従いません")
    return None


def _redirect_guard(origin: str) -> Callable[[httpx.Request], None]:
    """httpx's request hook: every request after the configured one (a redirect) is checked by redirect_problem
    before it is sent."""
    def check(request: httpx.Request) -> None:
        target = str(request.url)
        if target != origin:
            problem = redirect_problem(origin, target)
            if problem:
                raise FetchError(problem)
    return check


def fetch(url: str, *, etag: str | None = None, last_modified: str | None = None, timeout_s: float = 30.0,
          retries: int = 3, backoff_s: float = 1.0, client: httpx.Client | None = None,
          into: Path | None = None) -> Fetched:
    """GET with If-None-Match/If-Modified-Since, a timeout, and retries with exponential backoff; with `into`,
    the body is written to a private file in that directory as it arrives, never held.

    Retries connection failures, timeouts, truncated bodies, attempts past MAX_FETCH_S and 408/429/5xx (waiting as
    Retry-After asks, up to MAX_RETRY_AFTER_S); other 4xx fail at once, as do an answer that is not a whole file,
    a redirect loop, a body over MAX_FETCH_BYTES (decoded: a gzip bomb too) or one whose encoding is broken.
    """
    headers: dict[str, str | bytes] = {"User-Agent": "egov-observatory/0.1 (+collectors)",
                                       "Accept-Encoding": "gzip, deflate", "Connection": "close"}
    if etag:
        headers["If-None-Match"] = _on_wire(etag)
    if last_modified:
        headers["If-Modified-Since"] = _on_wire(last_modified)
    own = client is None
    client = client or httpx.Client(timeout=timeout_s, follow_redirects=True,
                                    event_hooks={"request": [_redirect_guard(str(httpx.URL(url)))]})
    last_problem, wait = "no attempt made", 0.0
    try:
        for attempt in range(1, max(1, retries + 1) + 1):
            if attempt > 1:
                time.sleep(max(backoff_s * 2 ** (attempt - 2), wait))
            try:
                got = _attempt(client, url, headers, into, timeout_s)
            except _Retry as exc:
                last_problem, wait = str(exc), exc.wait
                if wait > MAX_RETRY_AFTER_S:
                    raise FetchError(f"{url}: 取得に失敗しました / {last_problem}; the server asks to wait (Retry-After "
                                     f"{wait:.0f} s): the next scheduled run asks again / 時間をおいて再取得します") from None
                continue
            except FetchError as exc:
                raise FetchError(f"{url}: 取得に失敗しました / {exc}") from None
            got.attempts = attempt
            if got.status == 304:
                got.etag, got.last_modified = etag, last_modified
            return got
        raise FetchError(f"{url}: 取得に失敗しました / {last_problem} (after {max(1, retries + 1)} attempts)")
    finally:
        if own:
            client.close()


def _attempt(client: httpx.Client, url: str, headers: dict[str, str | bytes], into: Path | None,
             timeout_s: float) -> Fetched:
    """One GET: 200 with its whole body or 304 when asked; FetchError when another attempt would not help, _Retry
    when it might."""
    with _Deadline(MAX_FETCH_S) as deadline:
        try:
            with client.stream("GET", url, headers=headers, extensions={"trace": deadline.trace}) as resp:
                status = f"HTTP {resp.status_code} {resp.reason_phrase}"
                if resp.status_code in RETRY_STATUSES:
                    raise _Retry(status, _retry_after(resp) or 0.0)
                if resp.status_code >= 400:
                    raise FetchError(status)
                problem = _refused_status(resp, "If-None-Match" in headers or "If-Modified-Since" in headers)
                if problem:
                    raise FetchError(problem)
                if resp.status_code == 304:
                    return Fetched(url, 304)
                body = _read_body(resp, into)
                return Fetched(url, resp.status_code, b"".join(body.parts), _validator(resp, b"etag"),
                               _validator(resp, b"last-modified"), resp.headers.get("Content-Type"),
                               path=body.path, size=body.size, sha256=body.hash.hexdigest(),
                               final_url=str(resp.url))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _transport_problem(exc, deadline.expired, timeout_s) from None


def _transport_problem(exc: Exception, expired: bool, timeout_s: float) -> Exception:
    """An httpx error as _Retry (the connection failed, timed out or broke; the attempt ran out of time) or
    FetchError (a redirect loop, a redirect to a URL that cannot be requested)."""
    if expired:
        return _Retry(f"too slow: not done after {MAX_FETCH_S:g} s / 受信が遅すぎます")
    if isinstance(exc, httpx.TimeoutException):
        return _Retry(f"timed out after {timeout_s:g} s")
    if isinstance(exc, httpx.RemoteProtocolError):
        return _Retry(f"connection broken ({exc})")
    if isinstance(exc, httpx.UnsupportedProtocol):  # a redirect to file:// or ftp://: the same next time
        return FetchError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.TransportError):
        return _Retry(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.TooManyRedirects):
        return FetchError("too many redirects (a redirect loop?) / 転送が繰り返されています")
    return FetchError(f"{type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------------------- drop directories


def _waiting_file(p: Path) -> bool:
    return p.is_file() and not p.name.startswith((".", "~$")) and not p.name.endswith((".part", ".tmp", ".crdownload"))


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """The files named, a directory standing for its files (not recursive) in name order: a backfill of
    dated files loads oldest first. A path that does not exist is kept, so that its run reports it."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted((f for f in p.iterdir() if _waiting_file(f)), key=lambda f: f.name))
        else:
            out.append(p)
    return out


def drop_files(directory: Path) -> list[Path]:
    """Files waiting in a drop directory, oldest first; hidden, temporary and Office lock files are left."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _waiting_file(p)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))
