"""Access logs of systems holding personal data (アクセスログ): who viewed whose records, when and how.

Layout: event_id, occurred_at (ISO 8601; with a UTC offset or Z, or without one as the workspace time zone's wall-clock
time, as the cases roster and every other date are read: an Excel date cell has none), staff_id, org_code (municipality code or ministry/agency
code), subject_id, action (view|search|print|export|update in any case, or the Japanese names of ACTION_ALIASES:
閲覧 照会 参照 / 検索 / 印刷 / 出力 エクスポート ダウンロード / 更新 変更 修正 訂正, read in NFKC as every cell is:
ＶＩＥＷ, ﾀﾞｳﾝﾛｰﾄﾞ; stored as the English name),
record_type, case_id (empty when not under a case), record_count (a count as the one cell parser reads one: 1,200,
12.0, １２ and ３件 are stored as 1200, 12, 12, 3), terminal_id.

Unlike the other collectors this one does not yield dicts: millions of events a day must not pass through Python
objects. `load` is the generator's equivalent as one relation pipeline in DuckDB: read_csv with explicit column
types into a temp table, read its identifiers as the rosters read theirs (observatory.cells.text: NFKC and stripped,
so ＳＴ００１ is the roster's ST001; Python folds only the few distinct values that are not ASCII, joined back),
validate in SQL (the first bad rows are then located, by their rows in the user's file, and the file is rejected
whole: a converted file's records carry their rows, SOURCE_ROW), replace raw Individual Numbers by keyed hashes
(regex in SQL, check digit and HMAC in Python for the distinct candidates only, joined back), drop events
already stored (anti-join) or repeated in the file (the same event delivered again; an id used for a different
event refuses the file: _refuse_reused_ids), and write month-partitioned Parquet `events/access/month=YYYY-MM/part-<run_id>.parquet` through
temporary names renamed into place, so a crash leaves no partial file visible (the layout and the writer are
observatory/events.py's). `row_problem` states the same
rules for one row in Python; it is used to locate bad rows and by small-file tests.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from collectors.base import BulkOutcome, Collector, Column, ParseContext, RowError
from collectors.sources import (
    GZIP_MAGIC,
    detect_format,
    encoding_of,
    normalise_header,
    open_source,
    read_table,
    refuse_ambiguous,
)
from collectors.values import NONE_WHERE_REQUIRED, latest_allowed, not_ahead
from observatory import bounded, calendar, cells, events
from observatory.calendar import DEFAULT_TIMEZONE
from observatory.reference import organisation_codes
from observatory.reference.codes import UNKNOWN_MUNICIPALITY, check_municipality_code
from observatory.rows import UNTERMINATED_QUOTE, separator
from observatory.security.pseudonym import (
    DIGIT_LIKE,
    LETTERED_TOKEN_RE2,
    PERSON_COLUMNS,
    PREFILTER_SQL,
    RECORD_KEY_COLUMNS,
    SCIENTIFIC_SQL,
    IndividualNumberFound,
    individual_numbers,
    pseudonymise,
)
from observatory.warehouse import refresh_access_view

COLUMNS = (
    Column("event_id", ("イベントID", "ログID", "event")),
    Column("occurred_at", ("発生日時", "日時", "アクセス日時", "timestamp")),
    Column("staff_id", ("職員ID", "職員番号", "staff")),
    Column("org_code", ("組織コード", "団体コード", "organisation", "organization")),
    Column("subject_id", ("本人ID", "住民ID", "subject"), required=False),
    Column("action", ("操作", "操作種別", "operation")),
    Column("record_type", ("記録種別", "データ種別", "record"), required=False),
    Column("case_id", ("案件ID", "案件番号", "case"), required=False),
    Column("record_count", ("件数", "レコード件数", "records"), required=False),
    Column("terminal_id", ("端末ID", "端末番号", "terminal"), required=False),
)
NAMES = tuple(c.name for c in COLUMNS)
# none may hold a character nobody sees (observatory.cells.hidden_character), a required one must hold more than
# spaces, an optional one of spaces only is absent (as observatory.cells reads it)
IDENTIFIERS = ("event_id", "staff_id", "subject_id", "case_id", "terminal_id")
# the stored text columns; occurred_at, org_code, action and record_count are validated to strict forms
TEXT_COLUMNS = ("event_id", "staff_id", "subject_id", "record_type", "case_id", "terminal_id")
OPTIONAL_IDENTIFIERS = tuple(c.name for c in COLUMNS if c.name in IDENTIFIERS and not c.required)
# stored as the rosters store theirs (observatory.cells.text: NFKC, stripped; organisation codes in upper case), so that
# one staff member, subject, case or event is one value everywhere: ＳＴ００１ is ST001
FOLDED = (*IDENTIFIERS, "org_code")
# ... the operation, folded to its contract name (canonical_action) where it is not ASCII, and the record count to
# plain digits where it is not written so (stored_count: 1,200, 12.0, １２)
FOLDED_VALUES = (*FOLDED, "action", "record_count")
# every character the one cell parser reads as a dash alone, "none / not applicable" (cells.is_none_mark: NONE_MARKS
# and what NFKC makes one of, － ﹣ ⁻), for the SQL that stages the rows: an optional identifier or record count of one
# is absent, a required identifier of one is refused (a test keeps the list whole)
NONE_MARK_SPELLINGS = tuple(sorted(cells.NONE_MARKS | {"⁻", "₋", "︱", "︲", "﹘", "﹣", "－"}))
NONE_MARKS_SQL = ", ".join(f"'{m}'" for m in NONE_MARK_SPELLINGS)  # constants, never user values
# a count as stored (0 to 999,999,999), one pattern for Python and SQL; the rest is folded or refused
RECORD_COUNT_RE = "[0-9]{1,9}"


def record_count_ok_sql(column: str) -> str:
    """SQL: whether `column` (a declared name, never a user value) holds a count as stored (RECORD_COUNT_RE)."""
    return f"regexp_full_match({column}, '{RECORD_COUNT_RE}')"


ACTIONS = ("view", "search", "print", "export", "update")
# the same operations as Japanese systems name them (操作種別); other words (削除, 登録, delete) are refused
ACTION_ALIASES = {"閲覧": "view", "照会": "view", "参照": "view", "検索": "search", "印刷": "print",
                  "出力": "export", "エクスポート": "export", "ダウンロード": "export",
                  "更新": "update", "変更": "update", "修正": "update", "訂正": "update"}
TIMESTAMP_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
_TIMESTAMP = re.compile(TIMESTAMP_RE, re.ASCII)
# the shape exactly, in one pattern for Python and RE2 (TIMESTAMP_OK_SQL): hours 00-23, minutes and seconds 00-59, an
# offset of at most 14:00 with its minutes 00-59. DuckDB reads 24:00 as the next midnight and +09:60 as +10:00, Python
# refuses the first and reads +09:99 as +10:39, so each rule the two read apart is written here
TIMESTAMP_EXACT_RE = ("[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,9})?)?"
                      "(Z|[+-]((0[0-9]|1[0-3])(:?[0-5][0-9])?|14(:?00)?))?")
_TIMESTAMP_EXACT = re.compile(TIMESTAMP_EXACT_RE)
SAMPLE_BYTES = 1 << 16
# a UTC offset beyond +-14:00 exists nowhere (DuckDB reads +99:00 and shifts the time by 99 hours), and a year outside
# the calendar's range cannot be an access (year 9999 made every later detection run overflow)
MAX_OFFSET_HOURS, MIN_YEAR, MAX_YEAR = cells.MAX_OFFSET_HOURS, cells.MIN_YEAR, cells.MAX_YEAR  # the one bound of an instant
OUT_OF_RANGE = (f"UTC offset beyond +-{MAX_OFFSET_HOURS}:00 or year outside {MIN_YEAR}-{MAX_YEAR - 1} / "
                "時差または年が範囲外です")
# nor can an access happen more than collectors.values.MAX_AHEAD after the file holding it was ingested
MAX_REPORTED = 3
# DuckDB's reader keeps what it needs for every line it rejects whatever rejects_limit says (some 8.5 KB a line
# of ten columns: 13.8 GB for a 4.5 MB file of a million and a half one-letter lines, DuckDB 2.0.1), so a file
# is first read strictly (no rejects: a bad line stops it at once), and only a refused one is read again for its
# rejects, after a streaming count of its records with the wrong number of fields has refused the file outright
# when they are REJECTS_LIMIT or more (_refuse_ragged). rejects_limit still caps the rejects table itself.
REJECTS_LIMIT = 1_000


def org_codes() -> frozenset[str]:
    """Organisation codes access events may carry: the reference's one set (municipalities, prefectures,
    ministries and agencies), as the staff roster checks them."""
    return organisation_codes()


# the most characters NFKC makes of one (U+FDFA ﷺ is 18; ㍻ is two)
NFKC_MAX_GROWTH = 18
TOO_LONG = (f"a cell longer than {bounded.MAX_FIELD_CHARS:,} characters (the limit on one cell) / "
            "セルが長すぎます")


def row_problem(rec: dict[str, Any], known_orgs: set[str], now: datetime | None = None,
                timezone: str = DEFAULT_TIMEZONE) -> tuple[str, str] | None:
    """(column, reason) of the first rule one event breaks, or None - the rules `load` checks in SQL. `now` is the
    ingest's clock (aware; the present when None): an event more than collectors.values.MAX_AHEAD after it is
    refused. A timestamp without an offset is wall-clock time in `timezone` (the workspace's)."""
    def blank(c: str) -> bool:
        return rec.get(c) is None or str(rec.get(c)).strip() == ""

    for c in ("event_id", "occurred_at", "staff_id", "org_code", "action"):
        if blank(c):
            return c, "value missing / 値がありません"
    for c in ("event_id", "staff_id"):
        if cells.is_none_mark(str(rec[c])):
            return c, NONE_WHERE_REQUIRED
    for c in TEXT_COLUMNS:  # the one row reader's limit on a cell (bounded.MAX_FIELD_CHARS), on an identifier as
        # stored, as the SQL measures it: NFKC may lengthen it (folded only when it might pass the limit)
        value = None if rec.get(c) is None else str(rec[c])
        if value is not None and len(value) * NFKC_MAX_GROWTH > bounded.MAX_FIELD_CHARS and len(
                stored_identifier(value, c) if c in FOLDED else value) > bounded.MAX_FIELD_CHARS:
            return c, TOO_LONG
    for c in IDENTIFIERS:
        hidden = None if rec.get(c) is None else cells.hidden_character(str(rec[c]))
        if hidden:
            return c, str(hidden)
    ts = str(rec["occurred_at"]).strip()
    if not _TIMESTAMP.match(ts):
        return "occurred_at", "not an ISO 8601 timestamp (2026-10-01T09:15:00+09:00) / ISO 8601日時ではありません"
    try:
        when = datetime.fromisoformat(ts.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return "occurred_at", "not a valid date and time / 日時として不正です"
    if when.tzinfo is None:
        when = when.replace(tzinfo=calendar.zone(timezone))
    if abs(when.utcoffset().total_seconds()) > MAX_OFFSET_HOURS * 3600 or not MIN_YEAR <= when.year < MAX_YEAR:
        return "occurred_at", OUT_OF_RANGE
    if not _TIMESTAMP_EXACT.fullmatch(ts):  # what is left: an offset's minutes over 59 (+09:60, +0999)
        return "occurred_at", "not a valid UTC offset (minutes 00-59) / 時差が不正です"
    try:
        not_ahead(when, now)
    except ValueError as exc:
        return "occurred_at", str(exc)
    if canonical_action(rec["action"]) is None:
        return "action", (f"action must be one of {', '.join(ACTIONS)} (or {', '.join(ACTION_ALIASES)}) / "
                          "操作種別が不正です")
    # as stored: ministry codes in upper case (nta, ｎｔａ is NTA), a short local government code read (13101 is 131016)
    org = stored_identifier(str(rec["org_code"]), "org_code")
    if org not in known_orgs:
        problem = check_municipality_code(org, known_orgs)[1] if org.isascii() and org.isdigit() else None
        return "org_code", (problem if problem and problem != UNKNOWN_MUNICIPALITY else
                            "unknown organisation code (municipality or ministry) / 組織コードが不明です")
    if not blank("record_count") and not cells.is_none_mark(str(rec["record_count"])) and not re.fullmatch(RECORD_COUNT_RE, stored_count(str(rec["record_count"]))):
        return "record_count", "not a whole number from 0 to 999999999 / 0〜999999999の整数ではありません"
    return None


def stored_identifier(value: str, column: str) -> str:
    """An identifier as it is stored: the one cell parser's text (NFKC, stripped), an organisation code in upper
    case and, where it is a shorter run of digits, the local government code it reads as (five digits without
    the check digit, or a leading zero dropped: observatory.reference.codes.check_municipality_code; kept as
    written when it reads as none or as two). A value holding a character nobody sees stays as written, to be
    refused by the rules."""
    if cells.hidden_character(value):
        return value
    folded = cells.text(value)
    if column != "org_code":
        return folded
    folded = folded.upper()
    if folded.isascii() and folded.isdigit() and len(folded) < 6:
        code, problem = check_municipality_code(folded, org_codes())
        return folded if problem else code
    return folded


def stored_count(value: str) -> str:
    """A record count as stored: plain digits, read by the one cell parser as it reads every count
    (observatory.cells.count: 1,200, 12.0 from a spreadsheet, １２ and ３件 from a legacy export); kept as written
    when it is no whole number, to be refused by the rules (as one over RECORD_COUNT_RE's nine digits is)."""
    got = cells.count(value)
    return value if isinstance(got, cells.Bad) else str(got)


def canonical_action(value: Any) -> str | None:
    """The contract's name of an operation (view, search, print, export, update) from any case of it or its
    Japanese name, read as the one cell parser reads text (observatory.cells.text: NFKC, so that the half-width
    katakana of a legacy Shift_JIS export, ﾀﾞｳﾝﾛｰﾄﾞ, and full-width letters, ＶＩＥＷ, are the names they show);
    None for anything else. ACTION_SQL is the same rule for the staged rows' ASCII and exact Japanese names, and
    the load folds the others (few distinct values) with this function."""
    text = cells.text(value)
    return text.lower() if text.lower() in ACTIONS else ACTION_ALIASES.get(text)


# constants only (ACTIONS, ACTION_ALIASES), never user values; any other value is staged as written (trimmed), for
# _scan to fold the ones that are not ASCII and the rules to refuse what is left
ACTION_SQL = ("CASE WHEN lower(trim(action)) IN ({}) THEN lower(trim(action)) ELSE coalesce(CASE trim(action) {} END, "
              "trim(action)) END"
              .format(", ".join(f"'{a}'" for a in ACTIONS),
                      " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in ACTION_ALIASES.items())))


# ------------------------------------------------------------------------------------------- file preparation

# The converted CSV's last column: each record's row in the user's file (observatory.rows: the sheet row of a
# workbook, the line where a text record starts, a JSON record's place in the list). A row is needed only when a
# file is refused, so it travels with the records on disk (memory stays bounded) and is read back then.
SOURCE_ROW = "__source_row"


@dataclass(frozen=True)
class Prepared:
    """The UTF-8 CSV DuckDB reads for a file: `path`, what the original was read as (`read_as`: its encoding, or
    xlsx / json), the workbook's sheet read, and whether it was `converted` (records rewritten, each carrying its
    SOURCE_ROW) rather than the file itself or a transcoded copy (the same lines, so the same line numbers)."""

    path: Path
    read_as: str
    sheet: str | None = None
    converted: bool = False


def _header(path: Path, encoding: str, name: str) -> list[str]:
    """The first record of the UTF-8 text DuckDB reads; a byte that does not decode is an error naming its line
    (a BOM said UTF-8, the bytes after it do not: nothing to fall back on)."""
    with open(path, encoding=encoding, newline="") as fh:
        try:
            return next(csv.reader(fh), [])
        except UnicodeDecodeError:
            raise _undecodable(path, name, None) from None


def _as_utf8_csv(path: Path, name: str, fmt: str, encoding: str | None, sheet: str | None,
                 workdir: Path) -> Prepared:
    """The UTF-8 CSV DuckDB reads: the file itself, CP932 transcoded, or XLSX, JSON and text DuckDB's reader does
    not take converted (each record with its row in the original, SOURCE_ROW)."""
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    kind = detect_format(*_plain_sample(path, name, sample), fmt)
    if kind in ("xlsx", "json") or (kind == "csv" and (_lone_carriage_returns(sample)
                                                        or (not encoding and _not_for_duckdb(sample)))):
        return _converted(path, name, kind, encoding, sheet, workdir)
    enc = (encoding or "").lower().replace("_", "-")
    if not enc:
        if sample.startswith(b"\xef\xbb\xbf"):
            enc = "utf-8"
        else:
            try:
                sample.decode("utf-8")
                enc = "utf-8"
            except UnicodeDecodeError as exc:
                enc = "utf-8" if exc.start > len(sample) - 4 else "cp932"  # a character cut at the sample end
    enc = {"utf8": "utf-8", "utf-8-sig": "utf-8", "shift-jis": "cp932", "sjis": "cp932", "shiftjis": "cp932"}.get(enc, enc)
    if not _header_first(sample, enc):
        return _converted(path, name, kind, encoding, sheet, workdir)
    if enc == "utf-8":
        return Prepared(path, "utf-8")
    return Prepared(_transcode(path, enc, name, workdir, encoding), enc)


def _plain_sample(path: Path, name: str, sample: bytes) -> tuple[str, bytes]:
    """(name, first bytes) to tell the format by: a gzip file's own name without .gz and its content's first
    bytes (a .json.gz or .xlsx.gz log is JSON or a workbook, read through the row reader, which decompresses it)."""
    if not sample.startswith(GZIP_MAGIC):
        return name, sample
    plain, opener, _ = open_source(name, path)
    with opener() as fh:
        return plain, fh.read(SAMPLE_BYTES)


def _converted(path: Path, name: str, kind: str, encoding: str | None, sheet: str | None,
               workdir: Path) -> Prepared:
    """Through the one row reader, streamed, into the UTF-8 CSV DuckDB reads: a workbook, JSON records, and text
    DuckDB's reader does not take (UTF-16, tab-separated: Excel's 'Unicode text'; old Mac line ends; a title above
    the header, which the row reader passes over). Each record
    keeps its row in the original (SOURCE_ROW); what DuckDB would refuse by the converted text's line (a NUL, a
    line over its limit) is refused here, by the original's row and the column."""
    table, meta = read_table(name, path, [COLUMNS], fmt=kind, encoding=encoding, sheet=sheet, stream=True,
                             find_header=True)
    out = workdir / "converted.csv"
    try:
        with open(out, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([*NAMES, SOURCE_ROW])
            for row, rec in table.rows:
                texts = ["" if rec.get(c) is None else _cell_text(rec.get(c), c) for c in NAMES]
                _refuse_unwritable(texts, row)
                w.writerow([*texts, row])
    except RowError as exc:
        raise exc.located(name, meta.get("sheet")) from None
    return Prepared(out, meta.get("encoding", kind), meta.get("sheet"), converted=True)


def _refuse_unwritable(texts: list[str], row: int) -> None:
    """A NUL character, or a record whose CSV text has a line over the line limit (DuckDB would skip it), is an
    error naming the row and column. The exact line measure runs only for a record long enough to need it."""
    joined = "".join(texts)
    if "\x00" in joined:
        column = next(c for c, t in zip(NAMES, texts, strict=True) if "\x00" in t)
        raise RowError("NUL character (\\x00) in the cell; remove it / NUL文字が含まれています", row=row, column=column)
    if len(joined) * 4 + 3 * len(texts) > bounded.MAX_LINE_BYTES:  # 4: the most bytes a character takes in UTF-8
        buf = io.StringIO()
        csv.writer(buf).writerow(texts)
        longest = max(len(line.encode("utf-8")) for line in buf.getvalue().splitlines())
        if longest > bounded.MAX_LINE_BYTES:
            column = max(zip(texts, NAMES, strict=True), key=lambda tc: len(tc[0]))[1]
            raise RowError(f"a line of {longest:,} bytes in the cell (limit {bounded.MAX_LINE_BYTES:,}) / "
                           "行が長すぎます", row=row, column=column)


def _not_for_duckdb(sample: bytes) -> bool:
    """Text DuckDB's comma-separated UTF-8 reader would misread: UTF-16 (a byte-order mark), or text separated by
    tabs rather than commas, as the one row reader judges it (observatory.rows.separator) on the sample's lines (a
    tab and a comma are one byte alike in UTF-8 and CP932, so the bytes are counted as Latin-1 characters)."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return separator(sample.decode("latin-1").split("\n")) == "\t"


def _lone_carriage_returns(sample: bytes) -> bool:
    """Whether lines end in a carriage return alone (old Mac; Excel's 'CSV (Macintosh)'), every line or some among
    CRLF/LF ones. DuckDB takes one kind of line end per file (a mixture ends in its parser's 'invalid state') and
    the line checks count LF (2 MB of CR lines were 'one line too long'); the one row reader reads every kind, and
    its CSV goes to DuckDB with CRLF. A CR at the sample's end may be half of a CRLF."""
    return b"\r" in sample.replace(b"\r\n", b"").rstrip(b"\r")


def _transcode(path: Path, enc: str, name: str, workdir: Path, declared: str | None) -> Path:
    """Stream a CP932 (or other declared) file into UTF-8 for DuckDB."""
    out = workdir / "transcoded.csv"
    try:
        with open(path, encoding=enc, newline="") as src, open(out, "w", encoding="utf-8", newline="") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    except (UnicodeDecodeError, LookupError):
        raise _undecodable(path, name, declared) from None
    return out


def _undecodable(path: Path, name: str, declared: str | None) -> RowError:
    """The error of a text that does not decode, naming the line of the first bad byte as every reader does: of
    the `declared` encoding, else of the encoding detection would choose (a BOM's, else UTF-8 or CP932)."""
    try:
        encoding_of(lambda: open(path, "rb"), declared)  # noqa: SIM115 - encoding_of closes what it opens
    except RowError as exc:
        return exc.located(name)
    return RowError(f"cannot decode as {declared} / {declared}として読めません", file=name)


def _cell_text(value: Any, column: str) -> str:
    """Spreadsheet/JSON cell as CSV text; a numeric org code gets back its leading zero (011002)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(6) if column == "org_code" else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _aliases() -> dict[str, str]:
    """{normalised header: column} of every name and alias of the contract's columns."""
    return {normalise_header(a): col.name for col in COLUMNS for a in (col.name, *col.aliases)}


def _header_first(sample: bytes, enc: str) -> bool:
    """Whether a text's first line is its header (it names a column of the contract), as DuckDB's reader takes it.
    A title or a blank line above the header (a log saved from a spreadsheet) leaves finding the header to the one
    row reader (collectors.sources.read_table with find_header, as every collector's files are read)."""
    try:
        text = sample.decode("utf-8-sig" if enc == "utf-8" else enc, errors="replace")
    except LookupError:  # an encoding no codec names: refused as such when transcoded
        return True
    if not text.strip():
        return True  # empty: refused as such when staged
    first = next(csv.reader([text.splitlines()[0]]), [])
    aliases = _aliases()
    return any(normalise_header(cell) in aliases for cell in first)


def _columns(header: list[str], name: str) -> dict[str, str]:
    """read_csv `columns` in file order: canonical names for known headers, placeholders for the rest."""
    aliases = _aliases()
    out: dict[str, str] = {}
    named: dict[str, list[str]] = {}
    for i, h in enumerate(header):
        canonical = aliases.get(normalise_header(h))
        if canonical:
            named.setdefault(canonical, []).append(h)
        key = canonical if canonical and canonical not in out else f"extra_{i}"
        out[key] = "VARCHAR"
    # a column twice (or two of its aliases): which one is meant is not known
    refuse_ambiguous({c: hs for c, hs in named.items() if len(hs) > 1}, row=1, file=name)
    missing = [c.name for c in COLUMNS if c.required and c.name not in out]
    if missing:
        raise RowError(f"header is missing column(s) {', '.join(missing)} (expected {', '.join(NAMES)}) "
                       "/ 必要な列がありません", file=name, row=1, column=missing[0])
    return out


# --------------------------------------------------------------------------------------------- validation


def _records(prepared: Prepared, name: str) -> Iterator[tuple[int, dict[str, str] | None]]:
    """(row in the user's file, {column: cell}) of the CSV DuckDB read, read again to name a refused file's rows:
    a converted record's SOURCE_ROW, else the line where the record starts. A record with a cell over csv's field
    limit (the row reader's, bounded.MAX_FIELD_CHARS) comes as (its row, None), the last."""
    with open(prepared.path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        keys = list(_columns(next(reader, []), name))
        start = reader.line_num + 1
        while True:
            try:
                record = next(reader, None)
            except csv.Error:  # a cell over csv's field limit: the reader cannot go on past it
                yield start, None
                return
            if record is None:
                return
            yield (int(record[-1]) if prepared.converted else start), dict(zip(keys, record, strict=False))
            start = reader.line_num + 1


def _locate(prepared: Prepared, name: str, known_orgs: set[str], now: datetime, timezone: str = DEFAULT_TIMEZONE,
            limit: int = MAX_REPORTED) -> list[RowError]:
    """The first bad rows with their rows in the user's file (only run when SQL found a problem)."""
    found: list[RowError] = []
    for row, rec in _records(prepared, name):
        problem = (None, TOO_LONG) if rec is None else row_problem(rec, known_orgs, now, timezone)
        if problem:
            col, reason = problem
            found.append(RowError(reason, file=name, row=row, column=col, value=None if rec is None else rec.get(col)))
            if len(found) >= limit:
                break
    return found


def _reject(errors: list[RowError], total_bad: int, name: str, at_least: bool = False) -> RowError:
    first = errors[0]
    more = "; ".join(e.line().removeprefix(f"{name}: ") for e in errors[1:])
    suffix = f" (also {more})" if more else ""
    if at_least:
        suffix += f" - {total_bad} bad rows or more, file rejected whole / 不正な行{total_bad}行以上、ファイル全体を不採用"
    elif total_bad > len(errors):
        suffix += f" - {total_bad} bad rows in all, file rejected whole / ファイル全体を不採用"
    return RowError(first.reason + suffix, file=name, row=first.row, column=first.column, value=first.value)


def _check_rejects(con: duckdb.DuckDBPyConnection, rejects: str, name: str, rows_ok: int,
                   prepared: Prepared) -> None:
    """The lines DuckDB could not read refuse the file, each named by its row in the user's file (DuckDB numbers
    records, not lines: see _record_rows)."""
    rows = con.execute(
        f"SELECT line, column_name, error_type, csv_line, error_message FROM {rejects} "
        "ORDER BY line, error_type <> 'UNQUOTED VALUE' LIMIT ?",  # a runaway quote before its consequences
        [MAX_REPORTED]).fetchall()
    if not rows:
        return
    # a line rejects per column; at REJECTS_LIMIT rejects the reader stopped recording, so there are more
    total, capped = con.execute(f"SELECT count(DISTINCT line), count(*) >= {REJECTS_LIMIT} FROM {rejects}").fetchall()[0]
    user_rows = _record_rows(prepared, {int(r[0]) for r in rows})
    errors = []
    runaway: set[int] = set()  # lines whose quote is not closed: their other rejects are its consequences
    for line, column, etype, csv_line, message in rows:
        if int(line) in runaway:
            continue
        reason = {"MISSING COLUMNS": "too few columns / 列が不足しています",
                  "TOO MANY COLUMNS": "too many columns / 列が多すぎます",
                  "LINE SIZE OVER MAXIMUM": f"a record longer than {bounded.MAX_LINE_BYTES:,} bytes (a quote left open "
                                            "over many lines?) / レコードが長すぎます",
                  "INVALID ENCODING": "invalid characters / 不正な文字コード"}.get(str(etype), str(message))
        if str(etype) == "UNQUOTED VALUE":
            reason, unterminated = _quote_reason(csv_line or "")
            if unterminated:
                runaway.add(int(line))
        errors.append(RowError(reason, file=name, row=user_rows.get(int(line)), column=column or None,
                               value=None if column else (csv_line or "")[:40]))
    error = _reject(errors, int(total), name, at_least=bool(capped))
    error.rows_read = rows_ok + int(total)
    raise error


def _record_lines(path: Path) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line where its record starts, line number, the line, whether the record ends on it) of each line of the CSV
    DuckDB reads, a line break inside quotes continuing the record (an even count of quote characters ends it; a
    doubled quote counts twice), so no field limit applies and only the line is held (no line is over the line
    limit: _check_lines); run only for a refused file."""
    with open(path, "rb") as fh:
        start, quotes = 1, 0
        for number, line in enumerate(fh, start=1):
            quotes += line.count(b'"')
            ends = quotes % 2 == 0
            yield start, number, line, ends
            if ends:
                start, quotes = number + 1, 0


def _record_rows(prepared: Prepared, ordinals: set[int]) -> dict[int, int]:
    """{record's place in the CSV DuckDB read (the header is 1, a blank line counts, as DuckDB's rejects number
    them): its row in the user's file} (_record_lines)."""
    found: dict[int, int] = {}
    if not ordinals:
        return found
    last, ordinal, open_since = max(ordinals), 1, None
    for start, _, line, ends in _record_lines(prepared.path):
        if not ends:
            open_since = start  # inside a quoted cell: the record goes on
            continue
        open_since = None
        if ordinal in ordinals:  # a converted record ends with its row, unquoted
            found[ordinal] = int(line.rstrip(b"\r\n").rsplit(b",", 1)[-1]) if prepared.converted else start
        if ordinal >= last:
            return found
        ordinal += 1
    # the file ended inside quotes (a quote never closed): the record starts where it opened
    if open_since is not None and ordinal in ordinals and not prepared.converted:
        found[ordinal] = open_since
    return found


def _record_start(path: Path, line: int) -> int:
    """The line where the record holding line `line` of the CSV DuckDB reads starts (_record_lines, read up to the
    line before it): a NUL is named by its record's row, as the one row reader names it."""
    for start, number, _, ends in _record_lines(path) if line > 1 else ():
        if number == line - 1:
            return number + 1 if ends else start
    return line


def _quote_reason(csv_line: str) -> tuple[str, bool]:
    """(reason, unterminated?) of DuckDB's 'UNQUOTED VALUE' (it reports it at the line where the quote opens, with
    the text it read from there): a quote that ran over a line break is not closed, as the one row reader says
    (observatory.rows); on one line it is text after a closing quote."""
    if "\n" in csv_line or "\r" in csv_line:
        return UNTERMINATED_QUOTE, True
    return ('text after a closing quote (write "" for a quote inside a quoted cell) / 閉じ引用符の後に文字があります',
            False)


# the timestamp rules of row_problem on the text: TIMESTAMP_EXACT_RE, the shape with Z or an offset of at most 14:00
# (+09:00, +0900, +09) in one RE2 match (quicker than the character tests it replaced: this runs on every row of files with
# millions of events), the year as written, and no later than latest_allowed (the one parameter: the ingest's clock +
# MAX_AHEAD); the cast in staging (s.ts) checks the values
TIMESTAMP_OK_SQL = (f"regexp_full_match(s.occurred_at, '{TIMESTAMP_EXACT_RE}') "
                    f"AND substr(s.occurred_at, 1, 4) BETWEEN '{MIN_YEAR}' AND '{MAX_YEAR - 1}' AND s.ts <= ?")


# the identifier rules of row_problem: no hidden character in any (one scan of them joined: a character class cannot
# match across two), and more than spaces or a dash alone in the required ones (staged trimmed, _staged: DuckDB's trim
# takes the Unicode spaces, as row_problem's strip() does, so one of spaces only is empty there)
IDENTIFIERS_OK_SQL = (f"NOT regexp_matches(concat({', '.join('s.' + c for c in IDENTIFIERS)}), "
                      f"'{cells.HIDDEN_RE2}') AND s.event_id <> '' AND s.staff_id <> '' "
                      f"AND (length(s.event_id) > 1 OR s.event_id NOT IN ({NONE_MARKS_SQL})) "
                      f"AND (length(s.staff_id) > 1 OR s.staff_id NOT IN ({NONE_MARKS_SQL}))")


# a cell over the one row reader's limit: its byte length (stored with the string, no scan) first, its characters only
# for the rare cell long enough in bytes
CELL_TOO_LONG_SQL = " OR ".join(f"(strlen(s.{c}) > {bounded.MAX_FIELD_CHARS} AND length(s.{c}) > "
                                f"{bounded.MAX_FIELD_CHARS})" for c in TEXT_COLUMNS)


# which of a file's rows repeating one event id is kept: the same whatever order DuckDB's threads read them in (an
# unordered row_number() kept either row of a pair 300,000 rows apart from run to run): the earliest, then by content
KEEP_ORDER = ", ".join(f"{c} NULLS LAST" for c in ("ts", "staff_id", "org_code", "subject_id", "action",
                                                   "record_type", "case_id", "record_count", "terminal_id"))


def _survey(con: duckdb.DuckDBPyConnection, staged: str, orgs: str, now: datetime) -> tuple[int, bool]:
    """One scan: (rows breaking a rule, whether every row's event id is its own), for a file ingested at `now`.

    The ids are told apart by their 64-bit hashes (counting the distinct hashes of 5 M ids takes half the time of
    the distinct strings): as many distinct hashes as rows proves the ids distinct, and fewer (repeated ids, or
    once in billions two ids of one hash) only sends the load the way that keeps one row of each id (KEEP_ORDER)."""
    actions = ", ".join(f"'{a}'" for a in ACTIONS)  # constants, not user values
    row = con.execute(
        f"""SELECT count(*) FILTER (WHERE s.event_id IS NULL OR s.staff_id IS NULL OR s.org_code IS NULL
                   OR s.action IS NULL OR s.ts IS NULL OR NOT ({TIMESTAMP_OK_SQL})
                   OR NOT ({IDENTIFIERS_OK_SQL}) OR {CELL_TOO_LONG_SQL}
                   OR s.action NOT IN ({actions}) OR o.code IS NULL
                   OR (s.record_count IS NOT NULL AND NOT {record_count_ok_sql("s.record_count")})),
                  count(DISTINCT hash(s.event_id)) = count(*)
           FROM {staged} s LEFT JOIN {orgs} o ON o.code = s.org_code""", [latest_allowed(now)]).fetchall()[0]
    return int(row[0]), bool(row[1])




@dataclass
class Scanned:
    """What one scan of the staged rows hands on: {column: {raw: stored}} of the identifiers and operations folding
    changes (not ASCII), and {column: {stored value: occurrences}} of the values that may hold an Individual Number."""

    folds: dict[str, dict[str, str]]
    candidates: dict[str, dict[str, int]]


def number_candidate(c: str) -> tuple[str, list[str]]:
    """(SQL, its parameters): whether a value of column `c` may hold an Individual Number, a superset of what the
    finder (pseudonym.individual_numbers) reads in that column. A text column: twelve digits with separators
    (PREFILTER_SQL). A record key: the same once more without its serials written with letters, as the finder reads
    a record key (a key that is not ASCII is folded, so a candidate anyway), unless the whole key is a number in
    scientific text, which the finder reads before the blanking (its E is a letter). Other columns: none. The finder
    passes over an ASCII value shorter than twelve characters, but not over a shorter one that is not ASCII (9.635e+11
    between ideographic spaces: the fold makes them spaces, and nine digits and an exponent are twelve)."""
    long = f"(length({c}) >= 12 OR strlen({c}) <> length({c}))"
    if c in RECORD_KEY_COLUMNS:
        return (f"({long} AND regexp_matches({c}, ?) AND (regexp_matches({c}, ?) "
                f"OR regexp_matches(regexp_replace({c}, ?, ' ', 'g'), ?)))",
                [PREFILTER_SQL, SCIENTIFIC_SQL, LETTERED_TOKEN_RE2, PREFILTER_SQL])
    if c in TEXT_COLUMNS:
        return f"({long} AND regexp_matches({c}, ?))", [PREFILTER_SQL]
    return "false", []


def _scan(con: duckdb.DuckDBPyConnection, staged: str) -> Scanned:
    """One scan of the staged rows for the few values Python must see: those not ASCII among the identifiers and
    the operations and the organisation codes shorter than six digits (to fold them), and those that may hold an
    Individual Number (an RE2 pre-filter: twelve digits, ASCII or full-width, with separators), by column. Candidates are keyed by their stored form, as the folded rows hold them.

    NFKC makes digits of more than the full-width ones (①, ⑪, 𝟏, ㉑: pseudonym.DIGIT_LIKE), so a value the
    pre-filter passes over may hold a number once read: a folded identifier is a candidate (Python sees it anyway),
    and a record type that is not ASCII is one when it holds such a character (checked only on those rows)."""
    parts, params = [], []
    for c in dict.fromkeys((*TEXT_COLUMNS, *FOLDED_VALUES)):  # names from the declared lists
        candidate, found_by = number_candidate(c)
        foreign = f"strlen({c}) <> length({c})"  # bytes <> characters: not ASCII
        if c == "org_code":  # ... or fewer digits than a local government code has (read by stored_identifier)
            foreign = f"({foreign} OR (length({c}) < 6 AND regexp_full_match({c}, '[0-9]+')))"
        elif c == "record_count":  # any count not written in plain digits (read by stored_count)
            foreign = f"NOT {record_count_ok_sql(c)}"
        if c not in FOLDED_VALUES:  # not folded, so only for the digits NFKC would make
            foreign = f"({foreign} AND regexp_matches({c}, ?))" if c in TEXT_COLUMNS else "false"
        parts.append(f"SELECT '{c}' AS col, {c} AS val, count(*) AS n, bool_or({candidate}) AS candidate "
                     f"FROM {staged} WHERE {candidate} OR {foreign} GROUP BY {c}")
        params += found_by * 2
        params += [_DIGIT_LIKE_RE2] * (c in TEXT_COLUMNS and c not in FOLDED)
    scanned = Scanned({}, {})
    for col, val, n, candidate in con.execute(" UNION ALL ".join(parts), params).fetchall():
        if col == "action":
            stored = val if val.isascii() else canonical_action(val) or val
        elif col == "record_count":
            stored = stored_count(val)
        else:  # (an organisation code here is not ASCII or a short code: both are read)
            stored = stored_identifier(val, col) if col in FOLDED and (col == "org_code" or not val.isascii()) else val
        if stored != val:
            scanned.folds.setdefault(col, {})[val] = stored
        if candidate or (col in TEXT_COLUMNS and not val.isascii()):
            found = scanned.candidates.setdefault(col, {})
            found[stored] = found.get(stored, 0) + int(n)
    return scanned


# the characters other than ASCII digits that NFKC turns into digits (pseudonym.DIGIT_LIKE), as an RE2 class (the
# ASCII ones in a text are PREFILTER_SQL's)
_DIGIT_LIKE_RE2 = DIGIT_LIKE.pattern.replace("[0-9", "[", 1)


def _fold(con: duckdb.DuckDBPyConnection, staged: str, folds: dict[str, dict[str, str]],
          fmaps: dict[str, str]) -> None:
    """The staged rows with their identifiers folded: the (raw, stored) tables registered as `fmaps` and joined as
    the pseudonyms are joined when the rows are written. Only a file with identifiers that are not ASCII pays it."""
    names = {c: fmaps[c] for c in folds}
    for col, pairs in folds.items():
        con.register(names[col], _map_table(pairs))
    replace = ", ".join(f"{_mapped(c, names)} AS {c}" for c in names)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT s.* REPLACE ({replace}) FROM {staged} s "
                f"{_map_joins(names)}")


def _map_table(pairs: dict[str, str]) -> pa.Table:
    """A (raw, stored) mapping as the table the SQL joins."""
    return pa.table({"raw": pa.array(list(pairs), pa.string()), "stored": pa.array(list(pairs.values()), pa.string())})


# ------------------------------------------------------------------------------------------------ loading


def _pseudonym_maps(candidates: dict[str, dict[str, int]], key: str, prepared: Prepared,
                    name: str) -> tuple[dict[str, pa.Table], int]:
    """({person column: raw -> stored table}, occurrences replaced). An Individual Number in any other column
    refuses the file, naming the first row and column with the value masked."""
    maps: dict[str, pa.Table] = {}
    replaced = 0
    for col, values in candidates.items():
        # a value that is not ASCII is read both as written (what an unfolded column such as the record type stores)
        # and as the identifier it folds to (NFKC and stripped: what an identifier column stores); either finding
        # counts (5.059e11 and an ideographic space is a number as written, not once stripped to eight characters)
        found = {v: individual_numbers(v, col) if v.isascii() else
                 (individual_numbers(v, col) or individual_numbers(cells.text(v), col)) for v in values}
        found = {v: nums for v, nums in found.items() if nums}
        if not found:
            continue
        if col not in PERSON_COLUMNS or any(len(nums) != 1 for nums in found.values()):
            bad = next(v for v, nums in found.items() if col not in PERSON_COLUMNS or len(nums) != 1)
            error = IndividualNumberFound(col, bad)
            raise RowError(str(error).split(" (value")[0] + " / この列に個人番号を含めることはできません",
                           file=name, row=_row_of(prepared, col, bad), column=col, value=error.masked)
        maps[col] = _map_table({r: pseudonymise(nums[0], key) for r, nums in found.items()})
        replaced += sum(values[r] for r in found)
    return maps, replaced


def _row_of(prepared: Prepared, column: str, value: str) -> int | None:
    """The row in the user's file of the first record whose `column` is `value` as stored (only to name a refused
    file's row)."""
    def stored(rec: dict[str, str]) -> str | None:
        cell = rec.get(column)
        return stored_identifier(cell, column) if cell is not None and column in FOLDED else cell

    return next((row for row, rec in _records(prepared, "file") if rec and stored(rec) == value), None)


def _sweep(staging_root: Path, older_than_s: float = 6 * 3600) -> None:
    """Remove staging directories a killed run left behind (never visible as events, only disk space)."""
    for d in staging_root.glob("run-*"):
        try:
            if time.time() - d.stat().st_mtime > older_than_s:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


_LOAD_LOCK = threading.Lock()  # the duplicate check and the Parquet publish must not interleave in one process


@contextmanager
def _loaders_lock(root: Path) -> Iterator[None]:
    """One access-log load at a time across processes (the duplicate check reads the Parquet files as they are)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".load.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load(wh, ws, path: Path, run_id: int, ctx: ParseContext, *, name: str, fmt: str = "auto",
         encoding: str | None = None, sheet: str | None = None, progress=None,
         commit: Callable[[duckdb.DuckDBPyConnection, BulkOutcome], None] | None = None) -> BulkOutcome:
    """Validate and load one access-log file whole through DuckDB; RowError (nothing written) when bad.

    Reading, validation, pseudonymisation and the Parquet writing run in a private in-memory DuckDB, outside
    the workspace lock (`wh`, a Warehouse); only the publish (renames into events/), the view refresh and
    `commit(con, outcome)` (the run's row) hold it, so the dashboards keep answering during a long load.
    Loads run one at a time (a lock beside the event archive), so two sources carrying the same events
    cannot both pass the duplicate check."""
    with _LOAD_LOCK, _loaders_lock(ws.events_dir.parent):
        mem = duckdb.connect()
        try:  # a timestamp without an offset is cast (staging's ts) as wall-clock time in the workspace's zone
            mem.execute("SET TimeZone = ?", [ctx.timezone])
            refresh_access_view(mem, ws.events_dir)  # the events already stored, for the duplicate check
            return _load(mem, wh, ws, path, run_id, ctx, name=name, fmt=fmt, encoding=encoding, sheet=sheet,
                         progress=progress, commit=commit)
        finally:
            mem.close()


def _load(con: duckdb.DuckDBPyConnection, wh, ws, path: Path, run_id: int, ctx: ParseContext, *, name: str,
          fmt: str = "auto", encoding: str | None = None, sheet: str | None = None, progress=None,
          commit: Callable[[duckdb.DuckDBPyConnection, BulkOutcome], None] | None = None) -> BulkOutcome:
    events_dir: Path = ws.events_dir
    workdir = _scratch(con, events_dir, run_id)
    staged, rejects, orgs = (f"access_staged_{run_id}", f"access_rejects_{run_id}", f"access_orgs_{run_id}")
    pmaps = {c: f"access_pmap_{c}_{run_id}" for c in PERSON_COLUMNS}
    fmaps = {c: f"access_fmap_{c}_{run_id}" for c in FOLDED_VALUES}
    step = (lambda label, done, total=None: progress(f"{name}: {label}", done, total)) if progress else (
        lambda *a, **k: None)
    prepared: Prepared | None = None
    try:
        step("read", 0, 4)
        prepared = _as_utf8_csv(path, name, fmt, encoding, sheet, workdir)
        prepared, rows_read = _read(con, path, name, encoding, prepared, workdir, staged, rejects)
        original_encoding = prepared.read_as
        step("validate", 1, 4)
        scanned = _scan(con, staged)
        if scanned.folds:
            _fold(con, staged, scanned.folds, fmaps)
        unique = _validate(con, prepared, name, staged, orgs, rows_read, ctx.now, ctx.timezone)
        step("pseudonymise", 2, 4)
        mappings, replaced = _pseudonym_maps(scanned.candidates, ctx.pseudonym_key, prepared, name)
        for col, mapping in mappings.items():
            con.register(pmaps[col], mapping)
        source = staged if unique else (
            f"(SELECT * FROM {staged} QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY {KEEP_ORDER}) = 1)")
        step("write", 3, 4)
        out_dir = workdir / "out"
        new_rows = events.write_staged(con, _event_select(source, mappings, pmaps), [run_id, ctx.timezone], out_dir)
        if not unique or new_rows < rows_read:  # an id repeated or already stored: the same event, or refused
            _refuse_reused_ids(con, _event_select(staged, mappings, pmaps, new_only=False), [run_id, ctx.timezone],
                               prepared, name, rows_read)
        # the first local day the file's events fall on: where detection after the load starts (observatory.jobs)
        first_day = con.execute(f"SELECT CAST(timezone(?, min(ts)) AS DATE) FROM {staged}", [ctx.timezone]).fetchone()[0]
        detail = {"individual_numbers_replaced": replaced, "duplicates_dropped": rows_read - new_rows,
                  **({"first_day": first_day.isoformat()} if first_day else {}),
                  **({"format": original_encoding} if original_encoding in ("xlsx", "json") else
                     {"format": "csv", "encoding": original_encoding})}
        outcome = BulkOutcome(rows_read=rows_read, rows_loaded=new_rows, detail=detail)
        step("commit", 4, 4)
        _commit(wh, out_dir, events_dir, run_id, outcome, commit)
        step("done", 4, 4)
        return outcome
    except RowError as exc:  # a workbook's rows are named with its sheet
        raise exc.located(name, prepared.sheet if prepared else None) from None
    finally:
        _drop_scratch(con, [orgs, *pmaps.values(), *fmaps.values()], [staged, rejects, f"{rejects}_scan"], workdir)


def _scratch(con: duckdb.DuckDBPyConnection, events_dir: Path, run_id: int) -> Path:
    """The run's private working directory under the archive's staging root (older runs' leftovers swept), where
    DuckDB spills too."""
    staging_root = events.staging_root(events_dir)
    staging_root.mkdir(parents=True, exist_ok=True)
    _sweep(staging_root)
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{run_id}-", dir=staging_root))
    spill = str(workdir / "spill").replace("'", "''")  # our own temporary directory, not a user value
    con.execute(f"SET temp_directory = '{spill}'")
    return workdir


def _commit(wh, out_dir: Path, events_dir: Path, run_id: int, outcome: BulkOutcome,
            commit: Callable[[duckdb.DuckDBPyConnection, BulkOutcome], None] | None) -> None:
    """The only part under the workspace lock: the written months renamed into the archive, the view refreshed,
    the run's row (`commit`)."""
    with wh.connect() as wcon:
        try:
            months = events.publish(out_dir, events_dir, str(run_id)) if outcome.rows_loaded else []
            outcome.periods = [date(int(m[:4]), int(m[5:7]), 1) for m in months]
            if outcome.rows_loaded:
                refresh_access_view(wcon, events_dir)
            if commit is not None:
                commit(wcon, outcome)
        except BaseException:  # the run is not recorded as loaded: neither are its events (a killed process's
            events.unpublish(events_dir, str(run_id))  # are removed when its run is reaped)
            raise


def _drop_scratch(con: duckdb.DuckDBPyConnection, registered: list[str], tables: list[str], workdir: Path) -> None:
    """Forget the run's registered mappings and scratch tables and remove its working directory."""
    for obj in registered:
        try:
            con.unregister(obj)
        except Exception:  # noqa: BLE001 - not registered when an earlier step failed
            pass
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    shutil.rmtree(workdir, ignore_errors=True)


def _read(con: duckdb.DuckDBPyConnection, path: Path, name: str, encoding: str | None, prepared: Prepared,
          workdir: Path, staged: str, rejects: str) -> tuple[Prepared, int]:
    """The prepared UTF-8 CSV of file `path` staged into temp table `staged`; returns (what was staged, rows). A
    line DuckDB could not read rejects the file (RowError naming the row in the user's file)."""
    try:
        first_reject = _stage(con, prepared, name, staged, rejects)
    except _Unparsable:
        if prepared.converted:
            raise
        # what DuckDB's reader cannot take at all (line ends mixed past the sample _lone_carriage_returns reads:
        # its parser's 'invalid state') is read by the one row reader, which takes it or names the row
        declared = encoding or (None if prepared.read_as == "utf-8" else prepared.read_as)
        prepared = _converted(path, name, "csv", declared, None, workdir)
        first_reject = _stage(con, prepared, name, staged, rejects)
    if first_reject == "INVALID ENCODING" and not encoding and prepared.read_as == "utf-8" and not prepared.converted:
        # UTF-8 at the start, Shift_JIS further down: read the whole file as CP932 instead.
        prepared = Prepared(_transcode(path, "cp932", name, workdir, None), "cp932")
        _stage(con, prepared, name, staged, rejects)
    rows_read = int(con.execute(f"SELECT count(*) FROM {staged}").fetchall()[0][0])
    _check_rejects(con, rejects, name, rows_read, prepared)
    return prepared, rows_read


def _validate(con: duckdb.DuckDBPyConnection, prepared: Prepared, name: str, staged: str, orgs: str,
              rows_read: int, now: datetime, timezone: str = DEFAULT_TIMEZONE) -> bool:
    """The access-log rules over the staged rows in SQL (organisation codes registered as `orgs`) for a file
    ingested at `now`; on a break, the first bad rows located with their lines (RowError). Returns whether every
    row's event id is its own (_survey)."""
    known = org_codes()
    con.register(orgs, pa.table({"code": pa.array(sorted(known), pa.string())}))
    bad, unique = _survey(con, staged, orgs, now)
    if bad:
        located = _locate(prepared, name, known, now, timezone)
        error = _reject(located, bad, name) if located else RowError(
            f"{bad} rows break the access-log rules / 不正な行があります", file=name)
        error.rows_read = rows_read
        raise error
    return unique


# what an event is, beyond its id: a re-delivered event has the same, a different event under a used id does not
EVENT_CONTENT = ("occurred_at", "staff_id", "org_code", "subject_id", "action", "record_type", "case_id",
                 "record_count", "terminal_id")


def _refuse_reused_ids(con: duckdb.DuckDBPyConnection, rows: str, params: list[Any], prepared: Prepared,
                       name: str, rows_read: int) -> None:
    """An event id the file repeats, or the archive already holds, for a different event (another person, time,
    action, ...) refuses the file: dropped as a re-delivery, the second event would be lost without a word, and an
    audit log whose ids name two events is one to look into. `rows`: the file's events as the archive would store
    them (_event_select over every staged row)."""
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM a.{c}" for c in EVENT_CONTENT)
    first = " ".join(f"WHEN n.{c} IS DISTINCT FROM a.{c} THEN '{c}'" for c in EVENT_CONTENT)
    content = ", ".join(EVENT_CONTENT)
    found = con.execute(f"""
        WITH n AS ({rows}),
        stored AS (SELECT n.event_id, CASE {first} END AS col, 'stored' AS what FROM n
                   JOIN access_events a ON a.event_id = n.event_id WHERE {differs} LIMIT 1),
        repeated AS (SELECT event_id, NULL AS col, 'repeated' AS what FROM n GROUP BY event_id
                     HAVING count(DISTINCT ({content})) > 1 LIMIT 1)
        SELECT * FROM stored UNION ALL SELECT * FROM repeated LIMIT 1""", params).fetchall()
    if not found:
        return
    event_id, column, what = found[0]
    row = next((r for r, rec in _records(prepared, name) if rec and cells.text(rec.get("event_id")) == event_id), None)
    if what == "stored":
        reason = (f"event_id already stored for a different event ({column} differs): an access log's events do not "
                  "change, and a reused id must not hide an access / 同じイベントIDで内容の異なるイベントが既に格納されています")
    else:
        reason = ("event_id repeated in the file for different events: each access needs its own id / "
                  "ファイル内で同じイベントIDが内容の異なるイベントに使われています")
    error = RowError(reason, file=name, row=row, column="event_id", value=event_id, code="event_id_reused")
    error.rows_read = rows_read
    raise error


def _event_select(source: str, mappings: dict[str, pa.Table], pmaps: dict[str, str], *,
                  new_only: bool = True) -> str:
    """The archive's columns (observatory.events) from the staged rows: person columns pseudonymised, events
    already stored left out (unless not `new_only`); parameters: run id, time zone."""
    return f"""
        SELECT s.event_id,
               s.ts AS occurred_at,
               {_mapped('staff_id', mappings)} AS staff_id, s.org_code,
               {_mapped('subject_id', mappings)} AS subject_id,
               s.action, s.record_type, s.case_id,
               COALESCE(CAST(s.record_count AS INTEGER), 1) AS record_count, s.terminal_id,
               CAST(? AS BIGINT) AS run_id,
               {events.month_sql('s.ts')} AS month
        FROM {source} s
        {_map_joins({c: pmaps[c] for c in mappings})}
        {"WHERE NOT EXISTS (SELECT 1 FROM access_events a WHERE a.event_id = s.event_id)" if new_only else ""}"""


def _mapped(column: str, mappings: Mapping[str, Any]) -> str:
    """The select expression of a column of the staged rows `s`: its mapped value (a pseudonym where the raw value
    was an Individual Number, the folded identifier) where `mappings` has one, else as it is."""
    return f"COALESCE(m_{column}.stored, s.{column})" if column in mappings else f"s.{column}"


def _map_joins(names: Mapping[str, str]) -> str:
    """The joins of the registered (raw, stored) tables {column: table name} to the staged rows `s`."""
    return " ".join(f"LEFT JOIN {table} m_{c} ON m_{c}.raw = s.{c}" for c, table in names.items())


class _Unparsable(RowError):
    """A file DuckDB's CSV reader cannot read at all (not a line it rejects)."""


def _stage(con: duckdb.DuckDBPyConnection, prepared: Prepared, name: str, staged: str, rejects: str) -> str | None:
    """read_csv into a temp table, every column VARCHAR; returns the error type of the first rejected line."""
    for table in (rejects, f"{rejects}_scan"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    csv_path = prepared.path
    _check_lines(prepared, name)
    header = _header(csv_path, "utf-8-sig", name)
    if not header:
        raise RowError("the file is empty / ファイルが空です", file=name)
    if len(header) > bounded.MAX_COLUMNS:  # refused before DuckDB reads a line (a column per header cell)
        raise RowError(f"{len(header)} columns (limit {bounded.MAX_COLUMNS}) / 列が多すぎます", file=name, row=1)
    columns = _columns(header, name)
    try:  # strictly first: the usual, clean file, without keeping rejects
        _read_csv(con, csv_path, columns, staged, None)
        con.execute(f"CREATE TEMP TABLE {rejects} (line BIGINT, column_name VARCHAR, error_type VARCHAR, "
                    "csv_line VARCHAR, error_message VARCHAR)")
        return None
    except duckdb.Error:
        pass
    if not prepared.converted:
        _refuse_ragged(csv_path, header, name)
    try:
        _read_csv(con, csv_path, columns, staged, rejects)
    except duckdb.Error as exc:  # a file DuckDB cannot read as CSV at all (rows it can read go to rejects)
        raise _Unparsable(f"cannot read as an access-log CSV: {str(exc).splitlines()[0]} / CSVとして読めません",
                       file=name) from None
    first = con.execute(f"SELECT error_type FROM {rejects} ORDER BY line LIMIT 1").fetchall()
    return str(first[0][0]) if first else None


def _check_lines(prepared: Prepared, name: str) -> None:
    """Refuse what read_csv would drop or keep silently: a line longer than its buffer (DuckDB skips a line
    over max_line_size without a reject when it is longer than the read buffer) and NUL bytes, named as the one
    row reader names them (observatory.rows; the lines are the user's: the file itself or a transcoded copy): a
    long line by its line (no record is read past it), a NUL by the line where its record starts (_record_start,
    only once one is found: the scan stays at memchr speed). A converted file was checked by row as it was written
    (_refuse_unwritable), so none is named for it here."""
    long, nul = bounded.line_problems(prepared.path)
    if long is not None:
        line, size = long
        raise RowError(f"line of {size:,} bytes (limit {bounded.MAX_LINE_BYTES:,}); nothing was loaded / "
                       "行が長すぎます（読込なし）", file=name, row=None if prepared.converted else line)
    if nul is not None:
        raise RowError("NUL character (\\x00) in the file; remove it / NUL文字が含まれています", file=name,
                       row=None if prepared.converted else _record_start(prepared.path, nul))


def _read_csv(con: duckdb.DuckDBPyConnection, csv_path: Path, columns: dict[str, str], staged: str,
              rejects: str | None) -> None:
    """read_csv into `staged`; with `rejects`, a line it cannot read goes to that table, else it raises."""
    col_sql = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"  # names from the allow-list
    keep = (f", store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{rejects}_scan', "
            f"rejects_limit = {REJECTS_LIMIT}") if rejects else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT {', '.join(_select_list(columns))}, "
        "TRY_CAST(trim(occurred_at) AS TIMESTAMPTZ) AS ts "
        f"FROM read_csv(?, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"columns = {col_sql}, max_line_size = {bounded.MAX_LINE_BYTES}{keep})",
        [str(csv_path)],
    )


def _refuse_ragged(path: Path, header: list[str], name: str) -> None:
    """Refuse a file with REJECTS_LIMIT records or more whose number of fields is not the header's, naming the
    first of them by the line where they start, from one streaming pass (memory does not grow with the file);
    fewer are left to DuckDB's rejects, which name the column. A record Python's reader cannot take ends the count
    (DuckDB's rejects name it)."""
    bad: list[tuple[int, int]] = []
    count = records = 0
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        try:
            next(reader, None)
            start = reader.line_num + 1
            for record in reader:
                records += 1
                if record and len(record) != len(header):
                    count += 1
                    if len(bad) < MAX_REPORTED:
                        bad.append((start, len(record)))
                start = reader.line_num + 1
        except csv.Error:
            pass
    if count < REJECTS_LIMIT:
        return
    errors = [RowError(f"{n} columns where the header has {len(header)} / "
                       f"{'列が不足しています' if n < len(header) else '列が多すぎます'}", file=name, row=line)
              for line, n in bad]
    error = _reject(errors, count, name)
    error.rows_read = records
    raise error


def _select_list(columns: dict[str, str]) -> list[str]:
    """Select list for the staged table: every canonical column, NULL for optional ones absent from the file."""
    return [f"{_staged(c)} AS {c}" if c in columns else f"NULL::VARCHAR AS {c}" for c in NAMES]


def _staged(column: str) -> str:
    """How a column of the file is staged. A timestamp is read without the spaces around it, as row_problem reads it
    (the rules must agree, or a break found in SQL cannot be located by line); identifiers too, as the rosters read
    them (DuckDB's trim takes the Unicode spaces, Zs, which NFKC and strip take too; `_fold` does the rest), and an
    optional one (or a record count) of spaces only or a dash alone is absent, as the one cell parser reads an
    optional value; the record type, text, is absent when it is spaces only and else kept as written (a dash too)."""
    if column == "org_code":
        return "upper(trim(org_code))"
    if column == "action":
        return ACTION_SQL
    if column in (*OPTIONAL_IDENTIFIERS, "record_count"):  # a dash alone is "none", as the rosters read it
        return (f"CASE WHEN length(trim({column})) = 1 AND trim({column}) IN ({NONE_MARKS_SQL}) THEN NULL "
                f"ELSE NULLIF(trim({column}), '') END")  # (each mark is one character: the set only for those)
    if column == "record_type":
        return "CASE WHEN trim(record_type) = '' THEN NULL ELSE record_type END"
    return f"trim({column})" if column in (*IDENTIFIERS, "occurred_at") else column


COLLECTOR = Collector(
    kind="access-log",
    table="access_events",
    key=("event_id",),
    mode="append",
    columns=COLUMNS,
    parse=None,
    bulk=load,
    uses_pseudonyms=True,
    description="access events of staff to personal records (Parquet archive, view access_events)",
)
