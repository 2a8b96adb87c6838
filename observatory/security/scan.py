"""`observatory scan-pii`: look for Individual Numbers in clear anywhere in a workspace.

The warehouse and every Parquet file are decoded (compressed pages hide strings from a byte search): every
column of every table is read as text (numbers also as whole numbers) through an RE2 pre-filter, and the
candidates go through the same finder the loaders use. Every other file is searched byte by byte, as UTF-8 and
as Shift_JIS (CP932), in chunks. `.secrets/` is skipped (random keys, not data).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from observatory.security.pseudonym import (
    OTHER_DIGITS,
    PREFILTER_SQL,
    individual_numbers,
    mask,
    normal_form,
    number_spans,
    whole_number,
)

CHUNK = 1 << 20
OVERLAP = 256
EDGE = 40  # characters; a number with separators is at most 12 digits + 2 x 3 separators
# ASCII digits, full-width ones in UTF-8 and CP932, and the kanji and dingbat digits in both (pseudonym.OTHER_DIGITS;
# CP932 has a few of them)
_D = (rb"(?:[0-9]|\xef\xbc[\x90-\x99]|\x82[\x4f-\x58]|" + b"|".join(
    re.escape(b) for b in dict.fromkeys(c.encode(enc, "ignore") for c in OTHER_DIGITS
                                        for enc in ("utf-8", "cp932")) if b) + b")")
_BYTES_PREFILTER = re.compile(_D + rb"(?:[^0-9]{0,9}?" + _D + rb"){11}")
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER", "DOUBLE", "FLOAT",
            "REAL", "DECIMAL")
SKIP_DIRS = (".secrets",)


@dataclass
class Finding:
    where: str  # file path, or table.column
    masked: str

    def line(self) -> str:
        return f"{self.where}: Individual Number in clear ({self.masked}) / 個人番号が平文で残っています"


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    tables: int = 0
    columns: int = 0
    parquet_files: int = 0
    files: int = 0
    bytes_scanned: int = 0

    @property
    def clean(self) -> bool:
        return not self.findings


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# columns holding lists of record keys (alerts' and findings' evidence), read by the record key's rule
_KEY_LISTS = {"event_ids": "event_id"}


def _column_findings(con: duckdb.DuckDBPyConnection, relation: str, column: str, dtype: str) -> Iterator[str]:
    """Individual Numbers in one column of `relation` (a quoted table name or a read_parquet call), by the rule the
    loaders read that column with (pseudonym.RECORD_KEY_COLUMNS)."""
    col = _q(column)
    rows = con.execute(f"SELECT DISTINCT CAST({col} AS VARCHAR) FROM {relation} "  # names from the catalogue
                       f"WHERE regexp_matches(CAST({col} AS VARCHAR), ?)", [PREFILTER_SQL]).fetchall()
    if dtype.upper().startswith(_NUMERIC):
        rows += con.execute(f"SELECT DISTINCT {col} FROM {relation} WHERE {col} >= 100000000000 "
                            f"AND {col} < 1000000000000").fetchall()
    key = _KEY_LISTS.get(column, column)
    found = {number for (value,) in rows for text in _read_as(value) for number in individual_numbers(text, key)}
    for number in sorted(found):
        yield mask(number)


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[tnrfb])")
_ESCAPED = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "b": "\b"}


def _read_as(value: Any) -> list[Any]:
    """A stored value, and where it holds a JSON text's escapes (a run's detail, a report) the text they stand for:
    1993\\t5181\\t9090 in a JSON column is a number parted by tabs."""
    if not isinstance(value, str) or "\\" not in value:
        return [value]
    return [value, _ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "u"
                               else _ESCAPED[m.group(1)], value)]


def scan_database(con: duckdb.DuckDBPyConnection, result: ScanResult, label: str) -> None:
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary "
                         "ORDER BY 1, 2").fetchall()
    for schema, table in tables:
        result.tables += 1
        relation = f"{_q(schema)}.{_q(table)}"
        cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? "
                           "AND table_name = ? ORDER BY column_index", [schema, table]).fetchall()
        for column, dtype in cols:
            result.columns += 1
            for masked in _column_findings(con, relation, column, dtype):
                result.findings.append(Finding(f"{label}:{table}.{column}", masked))


def scan_parquet(path: Path, result: ScanResult, label: str) -> None:
    con = duckdb.connect()
    try:
        relation = f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"  # our own file path
        cols = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        result.parquet_files += 1
        for column, dtype, *_ in cols:
            result.columns += 1
            for masked in _column_findings(con, relation, column, dtype):
                result.findings.append(Finding(f"{label}:{column}", masked))
    finally:
        con.close()


# a file's lines, and its fields (a CSV's or a TSV's, quoted or not): each read as a whole cell is, for the forms
# the finder reads only in a whole cell (199,351,819,090; 1.99351819090E+11; 199-351819-090; keycaps)
_LINE = re.compile(r"[^\r\n]+")
_FIELD = re.compile(r'"[^"\r\n]*"|[^\r\n",\t;]+')
# where one may be, in the text as the finder reads it (normal_form): twelve digits, each within nine characters of
# the one before on a line, or a number in scientific text with the exponent of twelve digits (1.00000004E+11 writes
# fewer)
_WHOLE_CANDIDATE = re.compile(r"[0-9](?:[^0-9\n]{0,9}[0-9]){11}|[0-9](?:\.[0-9]+)?[eE]\+?11")


def _encodings(path: Path) -> tuple[str, ...]:
    """How to read a file's bytes: UTF-16 where it starts with a byte order mark (a spreadsheet's 'Unicode text'),
    else as UTF-8 and as CP932."""
    with open(path, "rb") as fh:
        bom = fh.read(2)
    return {b"\xff\xfe": ("utf-16-le",), b"\xfe\xff": ("utf-16-be",)}.get(bom, ("utf-8", "cp932"))


def _numbers_in(text: str, first: bool, last: bool) -> Iterator[str]:
    """The numbers written in a window's text: inside longer text (number_spans), and as the whole of a line or a
    field; what touches an inner edge of the window is left to the neighbouring one, which sees it whole. (Read in
    the finder's normal form, once: positions are in it.)"""
    text = normal_form(text)

    def inside(start: int, end: int) -> bool:
        return (first or start >= EDGE) and (last or end <= len(text) - EDGE)

    for start, end, number in number_spans(text):
        if inside(start, end):
            yield number
    lines = {}  # the lines with a candidate (start -> end): only they are read as lines and fields
    for m in _WHOLE_CANDIDATE.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        lines[start] = len(text) if end < 0 else end
    for start, end in lines.items():
        for pattern in (_LINE, _FIELD):
            for m in pattern.finditer(text, start, end):
                if (number := whole_number(m.group(0).strip('"'))) and inside(m.start(), m.end()):
                    yield number


def scan_bytes(path: Path, result: ScanResult, label: str) -> None:
    """Search a file byte by byte (as UTF-8 and as CP932, or as UTF-16 where it says so) in overlapping windows; a
    number touching a window's inner edge is left to the neighbouring window, which sees it whole."""
    seen: set[str] = set()
    size = path.stat().st_size
    encodings = _encodings(path)
    with open(path, "rb") as fh:
        tail = b""
        offset = 0  # file offset of the window's first byte
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            result.bytes_scanned += len(chunk)
            data = tail + chunk
            first, last = offset == 0, offset + len(data) >= size
            if _BYTES_PREFILTER.search(data):
                for enc in encodings:
                    text = data.decode(enc, "replace")
                    for number in _numbers_in(text, first, last):
                        if number not in seen:
                            seen.add(number)
                            result.findings.append(Finding(label, mask(number)))
            tail = data[-OVERLAP:]
            offset += len(data) - len(tail)


def scan_workspace(ws, con: duckdb.DuckDBPyConnection) -> ScanResult:
    """Scan the warehouse (through `con`), every Parquet file and every other file under the workspace."""
    result = ScanResult()
    scan_database(con, result, ws.db_path.name)
    home = ws.home
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        rel = path.relative_to(home)
        if rel.parts[0] in SKIP_DIRS or path == ws.db_path or path.name == ws.db_path.name + ".wal":
            continue
        result.files += 1
        if path.suffix == ".parquet":
            scan_parquet(path, result, str(rel))
        else:
            scan_bytes(path, result, str(rel))
    return result
