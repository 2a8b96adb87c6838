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

import duckdb

from observatory.security.pseudonym import (
    DINGBAT_DIGITS,
    KANJI_DIGITS,
    PREFILTER_SQL,
    individual_numbers,
    mask,
    number_spans,
)

CHUNK = 1 << 20
OVERLAP = 256
EDGE = 40  # characters; a number with separators is at most 12 digits + 2 x 3 separators
# ASCII digits, full-width ones in UTF-8 and CP932, and the kanji and dingbat digits in both (pseudonym.KANJI_DIGITS,
# DINGBAT_DIGITS; CP932 has a few of them)
_D = (rb"(?:[0-9]|\xef\xbc[\x90-\x99]|\x82[\x4f-\x58]|" + b"|".join(
    re.escape(b) for b in dict.fromkeys(c.encode(enc, "ignore") for c in (*KANJI_DIGITS, *DINGBAT_DIGITS)
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
    found = {number for (value,) in rows for number in individual_numbers(value, key)}
    for number in sorted(found):
        yield mask(number)


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


def scan_bytes(path: Path, result: ScanResult, label: str) -> None:
    """Search a file byte by byte (as UTF-8 and as CP932) in overlapping windows; a number touching a window's
    inner edge is left to the neighbouring window, which sees it whole."""
    seen: set[str] = set()
    size = path.stat().st_size
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
                for enc in ("utf-8", "cp932"):
                    text = data.decode(enc, "replace")
                    for start, end, number in number_spans(text):
                        if (not first and start < EDGE) or (not last and end > len(text) - EDGE):
                            continue
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
