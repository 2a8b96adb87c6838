"""Bounded input: limits every reader checks before it spends memory on a file (issue 11).

An XLSX is a zip: its declared member sizes and compression ratios are checked before openpyxl opens it (a 1 MB
file that expands to 1 GiB is refused unread; Python's zipfile never inflates a member past its declared size).
Sheets are read in streaming mode with capped rows and columns; CSV lines and JSON nesting are capped too.
Each check returns a bilingual reason (or None), so collectors and submissions word their errors alike.
"""

from __future__ import annotations

import io
import logging
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import duckdb

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_XLSX_UNCOMPRESSED = 768 * 1024 * 1024  # all members together, as declared in the zip directory
MAX_XLSX_MEMBER = 512 * 1024 * 1024  # one sheet's XML
MAX_XLSX_RATIO = 100  # uncompressed / compressed of one member (sheet XML compresses ~5-20x)
MAX_XLSX_MEMBERS = 10_000
# openpyxl holds the whole shared-strings table as Python strings, read-only mode too: some 130 bytes each
# (4 million one-letter strings, 87 MB of XML in a 10 MB file, took 630 MB). Both the table's XML and its number
# of strings are bounded (about 200 MB at the worst); an honest workbook at Excel's row limit with a distinct
# text per row stays inside. The count is read only when the XML could hold more (each string takes 17 bytes).
MAX_SHARED_STRINGS = 1_100_000
MAX_SHARED_STRINGS_XML = 64 * 1024 * 1024
_SHARED_STRING_BYTES = len(b"<si><t></t></si>")
_STRING_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?si>|<(?:[A-Za-z_][\w.-]*:)?si\s*/>")
RATIO_FLOOR = 4 * 1024 * 1024  # members smaller than this may compress as well as they like
MAX_ROWS = 1_048_576  # Excel's own limit
MAX_COLUMNS = 16_384  # Excel's own limit (XFD); the DX dashboards publish 1,744 columns (one per municipality)
# The cells of one table as it is read: a workbook's row is padded to its last cell, and a JSON record to every key
# of the file, so a small file can make a table of a billion cells to go through one by one (a 281 KB workbook of
# one cell at XFD per row, 57,000 rows: 934 M cells, 36 s of work; a 640 KB JSON file of 50,000 records each with a
# key of its own: 2.5 G cells, 86 s). The inventory, the largest publication read, is 2.9 M cells.
MAX_CELLS = 50_000_000
TOO_MANY_CELLS = (f"more cells than the limit ({MAX_CELLS:,} in all, each row counted to its last cell, each JSON record "
                  "to every field of the file) / セル数が上限を超えています")
MAX_LINE_BYTES = 2_000_000  # one CSV line (DuckDB's max_line_size, the same limit on every path)
# one CSV field: the csv module's default limit, enforced by observatory.rows itself because csv.field_size_limit is
# process-global and a library may raise it (frictionless does on import)
MAX_FIELD_CHARS = 131_072
MAX_JSON_DEPTH = 32


def xlsx_problem(source: bytes | Path) -> str | None:
    """Why an XLSX must not be opened (a decompression bomb, a shared-strings table too long to hold, or not a
    zip), or None."""
    try:
        fh = io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")  # noqa: SIM115
        with fh, zipfile.ZipFile(fh) as z:
            members = z.infolist()
            if problem := _size_problem(members) or _package_problem(members):
                return problem
            strings, sheets = _parts(z, members)
            return (_shared_strings_problem(z, members, strings) or _styles_problem(z, members)
                    or _long_text_problem(z, members, strings, sheets))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return unreadable_workbook(exc)


def damage(exc: BaseException) -> tuple[str, str]:
    """What a workbook that could not be read has wrong, in words (English, Japanese) for the user, rather than
    the class name of what the ZIP or XML reader raised (a fuzzing helper's finding: '(ValueError)', '(KeyError)')."""
    if type(exc).__module__.startswith("defusedxml"):
        return "its XML declares entities or a DTD, refused for safety", "安全のためXMLの実体宣言を拒否しました"
    if isinstance(exc, zipfile.BadZipFile | EOFError | zlib.error):
        return "not a complete ZIP archive", "ZIPとして不完全です"
    if isinstance(exc, SyntaxError):  # xml.etree's ParseError
        return "its XML cannot be read", "XMLが読めません"
    if isinstance(exc, KeyError | IndexError):
        return "a part it refers to is missing (a sheet, a shared string)", "参照先（シートや共有文字列）が欠けています"
    if isinstance(exc, ValueError | OverflowError | TypeError):
        return ("a cell whose value or reference cannot be read (a date out of range, a malformed cell reference)",
                "読めないセル（範囲外の日付、不正なセル参照など）があります")
    return "it cannot be read", "読めません"


def unreadable_workbook(exc: BaseException) -> str:
    """The reason for a workbook that does not open, in both languages."""
    en, ja = damage(exc)
    return f"not a readable XLSX workbook: {en} / Excelファイルとして読めません（{ja}）"


_BOMB = "展開後のサイズが大きすぎるため受け付けません"


def _beyond(size: int, limit: int) -> str:
    """A size over its limit, as the user reads it: in MB ('12 MB (limit 8 MB)'), or in bytes where MB would round
    the size to the limit or below ('8,388,700 bytes (limit 8,388,608 bytes)', not '8 MB (limit 8 MB)')."""
    if round(size / 2**20) > round(limit / 2**20):
        return f"{size / 2**20:,.0f} MB (limit {limit / 2**20:,.0f} MB)"
    return f"{size:,} bytes (limit {limit:,} bytes)"


def _size_problem(members: list[zipfile.ZipInfo]) -> str | None:
    """Why the zip directory's declared sizes make the workbook a possible decompression bomb, or None."""
    if len(members) > MAX_XLSX_MEMBERS:
        return f"XLSX has {len(members)} parts (limit {MAX_XLSX_MEMBERS}) / 構成要素が多すぎます"
    total = 0
    for m in members:
        total += m.file_size
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > MAX_XLSX_MEMBER:
            return (f"XLSX part {m.filename} expands to {_beyond(m.file_size, MAX_XLSX_MEMBER)}: refused as a "
                    f"possible decompression bomb / {_BOMB}")
        if m.file_size > RATIO_FLOOR and ratio > MAX_XLSX_RATIO:
            return (f"XLSX part {m.filename} expands to {m.file_size / 2**20:,.0f} MB, {ratio:,.1f}x its compressed "
                    f"size (limit {MAX_XLSX_RATIO}x): refused as a possible decompression bomb / {_BOMB}")
    if total > MAX_XLSX_UNCOMPRESSED:
        return (f"XLSX expands to {_beyond(total, MAX_XLSX_UNCOMPRESSED)} / "
                "展開後のサイズが上限を超えています")
    return None


# How openpyxl finds the parts it builds whole: the shared strings by their content type in [Content_Types].xml,
# the worksheets as the workbook's relationships name them, wherever they are stored. A part is judged by the
# role it will be read in, not by its usual name (a shared-strings table stored as xl/strs.xml and declared so
# was read whole: 8 million strings in an 18 MB file took 1.46 GB).
_STRINGS_TYPE = b"spreadsheetml.sharedStrings+xml"
_SHEET_REL = re.compile(rb"/(?:worksheet|chartsheet|dialogsheet|xlMacrosheet|xlIntlMacrosheet)$")
_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:Override|Relationship)\b[^>]*>")
_ATTRIBUTE = re.compile(rb'\b(PartName|ContentType|Type|Target|TargetMode)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
MAX_PACKAGE_XML = 8 * 1024 * 1024  # [Content_Types].xml or one .rels part (Excel's are a few KB)


def _is_package_part(name: str) -> bool:
    """Whether a member says where the others are: [Content_Types].xml or a .rels part."""
    return name.lower() == "[content_types].xml" or name.lower().endswith(".rels")


def _package_problem(members: list[zipfile.ZipInfo]) -> str | None:
    """Why the parts that say where the others are ([Content_Types].xml, the .rels) are too large to read, or
    None: skipped, a padded one would hide a renamed table or sheet from the checks below."""
    for m in members:
        if _is_package_part(m.filename) and m.file_size > MAX_PACKAGE_XML:
            return (f"XLSX part {m.filename} expands to {_beyond(m.file_size, MAX_PACKAGE_XML)} / "
                    "構成情報が大きすぎるため受け付けません")
    return None


def _parts(z: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> tuple[set[str], set[str]]:
    """The member names (as stored) read as the shared-strings table and as sheets: by their usual names, by
    content type ([Content_Types].xml Override) and by relationship (any .rels part's worksheet targets)."""
    stored = {m.filename.lower(): m.filename for m in members}
    strings = {m.filename for m in members if m.filename.lower().endswith("sharedstrings.xml")}
    sheets = {m.filename for m in members if m.filename.lower().startswith("xl/worksheets/")
              and m.filename.lower().endswith(".xml")}
    for m in members:
        name = m.filename
        if not _is_package_part(name):
            continue
        is_types = name.lower() == "[content_types].xml"
        base = posixpath.dirname(posixpath.dirname(name))  # xl/_rels/workbook.xml.rels -> xl
        for element in _ELEMENT.finditer(z.read(m)):
            attrs = {k: a or b for k, a, b in _ATTRIBUTE.findall(element.group(0))}  # "..." or '...'
            if is_types and _STRINGS_TYPE in attrs.get(b"ContentType", b""):
                target = attrs.get(b"PartName", b"").decode("utf-8", "replace").lstrip("/")
                strings.add(stored.get(target.lower(), target))
            elif not is_types and _SHEET_REL.search(attrs.get(b"Type", b"")) \
                    and attrs.get(b"TargetMode", b"") != b"External":
                target = attrs.get(b"Target", b"").decode("utf-8", "replace")
                path = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
                path = posixpath.normpath(path)
                sheets.add(stored.get(path.lower(), path))
    return strings, sheets - strings


def _shared_strings_problem(z: zipfile.ZipFile, members: list[zipfile.ZipInfo], strings: set[str]) -> str | None:
    """Why the workbook's shared-strings table would not fit in bounded memory, or None (streamed: the XML is
    counted a block at a time, never held)."""
    for m in members:
        if m.filename not in strings:
            continue
        if m.file_size > MAX_SHARED_STRINGS_XML:
            return (f"XLSX shared-strings table {m.filename} expands to {_beyond(m.file_size, MAX_SHARED_STRINGS_XML)}"
                    " / 文字列テーブルが大きすぎるため受け付けません")
        if m.file_size // _SHARED_STRING_BYTES <= MAX_SHARED_STRINGS:
            continue  # too small to hold too many
        count, tail = 0, b""
        with z.open(m) as fh:
            while block := fh.read(1 << 20):
                data = tail + block
                ends = list(_STRING_END.finditer(data))
                count += len(ends)
                tail = data[ends[-1].end():][-32:] if ends else data[-32:]
                if count > MAX_SHARED_STRINGS:
                    return (f"XLSX shared-strings table {m.filename} holds over {MAX_SHARED_STRINGS:,} strings / "
                            "文字列テーブルの件数が上限を超えています")
    return None


# openpyxl builds an object of some 1 KB for every element of the styles part when it opens a workbook (600,000
# formats in a 1.7 MB file took 575 MB). Excel allows 65,490 cell formats and styles; with their alignment and
# protection elements, fonts, fills, borders and number formats a workbook at that limit stays well inside.
MAX_STYLE_ELEMENTS = 200_000


def _styles_problem(z: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> str | None:
    """Why the workbook's styles part holds more elements than any workbook Excel writes, or None (streamed: the
    elements are counted a block at a time, never built)."""
    for m in members:
        if not m.filename.lower().endswith("styles.xml"):
            continue
        count = 0
        with z.open(m) as fh:
            while block := fh.read(1 << 20):
                count += block.count(b"<") - block.count(b"</")
                if count > MAX_STYLE_ELEMENTS:
                    return (f"XLSX styles part {m.filename} holds over {MAX_STYLE_ELEMENTS:,} elements (Excel allows "
                            "65,490 cell formats) / 書式の定義が多すぎるため受け付けません")
    return None


# a run of text this long between two tags may hold a cell over the field limit (a character takes 1 to 4 bytes)
MAX_TEXT_RUN_BYTES = 4 * MAX_FIELD_CHARS
_ROW_NUMBER = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row\b[^>]*?\br="(\d+)"')


def _long_text_problem(z: zipfile.ZipFile, members: list[zipfile.ZipInfo], strings: set[str], sheets: set[str]
                       ) -> str | None:
    """Why a worksheet holds a cell too long to build, or None, streamed a block at a time: a run of text over
    MAX_TEXT_RUN_BYTES, or one cell's XML over MAX_CELL_XML_BYTES (rich text: a cell of millions of short <r><t>
    runs). openpyxl builds a cell whole, and opening a workbook already parses every sheet that has no <dimension>:
    one 300 MB cell in a 4.5 MB file (68x, within the ratio bound) took 800 MB, one of 200 MB in short runs 2.2 GB.
    As CSV fields are capped (MAX_FIELD_CHARS), so are a workbook's."""
    for m in members:
        table = m.filename in strings  # a shared string is built whole as a cell is
        if not (table or m.filename in sheets):
            continue
        with z.open(m) as fh:
            start = _long_text_at(fh, *((b"</si>", _STRING_OPEN) if table else (b"</c>", _CELL_OPEN)))
        if start is not None:
            row = None if table else _row_before(z, m, start)
            return (f"XLSX part {m.filename}{f', row {row}' if row else ''}: a cell longer than "
                    f"{MAX_FIELD_CHARS:,} characters / セルの文字数が多すぎます")
    return None


MAX_CELL_XML_BYTES = 2 * MAX_TEXT_RUN_BYTES  # one cell's XML: its text and the markup of its formatting runs
_CELL_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[ >]")
_STRING_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[ >]")


def _long_text_at(fh: Any, end: bytes, opening: re.Pattern[bytes]) -> int | None:
    """The byte offset where the first too long text run or cell begins in a worksheet's XML (cells end with `end`,
    </c>, and open as `opening` finds; a shared-strings table's strings likewise, </si>), or None. The runs between
    tags and between cell ends are measured in C (split, max); only a long stretch is looked into: it is a long cell
    when a cell opens in it (many empty rows are a long stretch without one)."""
    offset, open_run, gap, cell_at, tail = 0, 0, 0, None, b""  # gap: bytes since the last </c>, a cell open at cell_at
    while block := fh.read(1 << 20):
        runs = list(map(len, block.split(b"<")))
        first = open_run + runs[0]
        if max((first, *runs[1:])) > MAX_TEXT_RUN_BYTES:
            return offset - open_run if first > MAX_TEXT_RUN_BYTES else offset + next(
                sum(runs[:k]) + k for k in range(1, len(runs)) if runs[k] > MAX_TEXT_RUN_BYTES)
        open_run = first if len(runs) == 1 else runs[-1]
        cells = list(map(len, block.split(end)))
        if max((gap + cells[0], *cells[1:])) > MAX_CELL_XML_BYTES:
            start = 0  # of piece k in the block
            for k, length in enumerate(cells[:-1]):
                if (gap if k == 0 else 0) + length > MAX_CELL_XML_BYTES:
                    at = _last_open(opening, tail + block[start:start + length] if k == 0 else
                                    block[start:start + length])
                    opened = (offset + at - len(tail)) if k == 0 and at is not None else (
                        offset + start + at if at is not None else (cell_at if k == 0 else None))
                    if opened is not None and offset + start + length - opened > MAX_CELL_XML_BYTES:
                        return opened
                start += length + len(end)
        last = len(block) - cells[-1]  # the stretch after the block's last </c>, still open
        at = _last_open(opening, (tail if len(cells) == 1 else b"") + block[last:])
        if at is not None:
            cell_at = offset + last + at - (len(tail) if len(cells) == 1 else 0)
        elif len(cells) > 1:
            cell_at = None
        gap = gap + cells[0] if len(cells) == 1 else cells[-1]
        if cell_at is not None and offset + len(block) - cell_at > MAX_CELL_XML_BYTES:
            return cell_at
        offset += len(block)
        tail = block[-16:]
    return None


def _last_open(opening: re.Pattern[bytes], data: bytes) -> int | None:
    """Where the last element `opening` finds (<c ...>, <x:c ...>) opens in `data`, or None."""
    found = None
    for found in opening.finditer(data):  # noqa: B007 - the last one is wanted
        pass
    return found.start() if found is not None else None


def _row_before(z: zipfile.ZipFile, member: zipfile.ZipInfo, position: int) -> int | None:
    """The number of the last row element opening before byte `position` of a worksheet's XML."""
    row, done, tail = None, 0, b""
    with z.open(member) as fh:
        while done < position and (block := fh.read(min(1 << 20, position - done))):
            numbers = _ROW_NUMBER.findall(tail + block)
            row = int(numbers[-1]) if numbers else row
            done += len(block)
            tail = block[-64:]
    return row


def nesting_depth(value: Any, stop: int = MAX_JSON_DEPTH) -> int:
    """Levels of lists and objects in a decoded JSON value (1 for a flat object), counted up to stop + 1."""
    depth, level = 0, [value]
    while level and depth <= stop:
        depth += 1
        level = [v for item in level for v in (item.values() if isinstance(item, dict) else item)
                 if isinstance(v, dict | list)]
    return depth


def line_problems(path: Path, limit: int = MAX_LINE_BYTES, chunk: int = 1 << 23
                  ) -> tuple[tuple[int, int] | None, int | None]:
    """In one streamed pass over a file: ((1-based line, length in bytes) of the first line longer than `limit`
    bytes, or None; 1-based line of the first NUL byte, or None; the scan stops at a long line, so a file with one has
    no NUL line). A 200 MB line without a newline is never held in
    memory.

    The pass works at memchr speed (it runs over every access log of millions of lines before DuckDB reads it): a
    line starting at offset s is within the limit when a newline lies in [s, s + limit], so the scan jumps to the
    last newline of each such window (a handful of searches per block, not one per line), and lines are counted
    only to name one that breaks a rule."""
    long_at: int | None = None  # file offset where the first long line starts
    nul_at: int | None = None
    start = 0  # file offset of the current line's start
    pos = 0  # file offset of the block's first byte
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if nul_at is None and (at := block.find(b"\x00")) >= 0:
                nul_at = pos + at
            end = len(block)
            s = start - pos  # negative while the line began in an earlier block
            while s + limit + 1 <= end:
                n = block.rfind(b"\n", max(s, 0), s + limit + 1)
                if n < 0:
                    long_at = pos + s
                    break
                s = n + 1
            if long_at is not None:
                break
            n = block.rfind(b"\n", max(s, 0), end)
            start = pos + (n + 1 if n >= 0 else s)
            pos += end
        if long_at is None and pos - start > limit:  # the last line, without a newline
            long_at = start
    long = None if long_at is None else (_line_at(path, long_at, chunk), _line_length(path, long_at, chunk))
    return long, None if nul_at is None or long is not None else _line_at(path, nul_at, chunk)


def _line_at(path: Path, offset: int, chunk: int) -> int:
    """The 1-based line holding byte `offset` of a file."""
    line, pos = 1, 0
    with open(path, "rb") as fh:
        while pos < offset and (block := fh.read(min(chunk, offset - pos))):
            line += block.count(b"\n")
            pos += len(block)
    return line


def _line_length(path: Path, offset: int, chunk: int) -> int:
    """Bytes from `offset` to the next newline (or the end of the file)."""
    length = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while block := fh.read(chunk):
            n = block.find(b"\n")
            if n >= 0:
                return length + n
            length += len(block)
    return length


# DuckDB's own memory while a file is staged or loaded: its default (80% of RAM) lets one 50 MB file's insert keep
# hundreds of MB of row groups and buffers; under this limit DuckDB writes them out (or spills to its temp file).
LOAD_MEMORY_LIMIT = "192MB"
LOAD_MEMORY_LIMIT_UPSERT = "256MB"  # an upsert (ON CONFLICT) keeps more in memory than DuckDB can spill
LOAD_THREADS = 1
_UNBOUND: ContextVar[str | None] = ContextVar("memory_limit_before_load", default=None)  # for before_commit
STAGING_MEMORY_LIMIT = "128MB"  # a scratch database holding one file's parsed rows


def within_memory(con: Any, limit: str, work: Callable[[], T]) -> T:
    """`work()` (one transaction) under DuckDB's memory bound. A table's key index stays in memory and grows with
    the table, not with the file, so a bound that holds for a small warehouse can fail a good file on a large
    one: then the rolled-back transaction runs once more without the bound, and the log says so. A file is
    never refused for the bound."""
    try:
        with duckdb_memory(con, limit):
            return work()
    except duckdb.OutOfMemoryException as exc:
        log.warning("load did not fit DuckDB's %s bound (%s); loading again without it", limit,
                    str(exc).splitlines()[0])
        return work()


@contextmanager
def duckdb_memory(con: Any, limit: str = LOAD_MEMORY_LIMIT, threads: int = LOAD_THREADS) -> Iterator[Any]:
    """Run a load with DuckDB's memory limit and threads bounded, then put the previous settings back.

    The settings belong to the database instance: readers sharing it meanwhile (the web server's pages) run under
    the same limit, which DuckDB meets by spilling to disk rather than failing for ordinary queries."""
    before = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
    con.execute(f"SET memory_limit = '{_size(limit)}'")
    con.execute(f"SET threads = {int(threads)}")
    unbound = _UNBOUND.set(before[0])
    try:
        yield con
    finally:
        _UNBOUND.reset(unbound)
        con.execute(f"SET memory_limit = '{_size(before[0])}'")
        con.execute(f"SET threads = {int(before[1])}")


def before_commit(con: Any) -> None:
    """Lift the load's memory bound (duckdb_memory) for its COMMIT, the last statement of its transaction. DuckDB
    writes the transaction's rows out at commit, and an allocation that fails there is fatal: not the
    OutOfMemoryException within_memory runs again on, but a failed commit that invalidates the database for every
    connection (a 3.5 MB DX file of 1.7 million cells, inserted within 256 MB, failed so). Outside duckdb_memory,
    nothing to do."""
    limit = _UNBOUND.get()
    if limit is not None:
        con.execute(f"SET memory_limit = '{_size(limit)}'")


def _size(text: str) -> str:
    """A DuckDB size setting checked before it is spliced into SET (SET takes no parameters)."""

    value = str(text).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]?i?B", value, flags=re.IGNORECASE):
        raise ValueError(f"not a memory size: {value!r}")
    return value
