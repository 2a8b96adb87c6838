"""Collector runs: archive every file first, parse and validate it whole, then load it in one transaction.

`ingest_files` (the `observatory ingest` path) and `run_source` (the scheduler path: HTTP(S) with conditional GET,
or a drop directory) share `_load_file`. Every run is a row in collector_runs: inserted `running` at the start,
updated at the end, also on failure. A file loads completely or not at all; a failed run names file, row,
column and reason in one line.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import socket
import time
import traceback
import typing
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from collectors.base import BulkOutcome, Collector, ParseContext, RowError, RunResult, Table
from collectors.sources import detect_format, drop_files, expand_paths, fetch, rows_read, stream_cells
from observatory import bounded, events
from observatory.archive import ArchivedFile, archive_bytes, archive_file
from observatory.calendar import local_date
from observatory.config import Source
from observatory.errors import UserError, os_problem
from observatory.security import sealed
from observatory.security.pseudonym import IndividualNumberFound, mask_data, mask_text, none_in, protect
from observatory.warehouse import for_workspace, next_id, transaction
from observatory.workspace import Workspace

Progress = Callable[..., Any]  # progress(label, done, total=None), e.g. the CLI's rich bar
log = logging.getLogger("collectors")


def _kinds() -> dict[str, Collector]:
    from collectors import KINDS  # here: collectors/__init__ imports this module

    return KINDS


def collector_for(kind: str) -> Collector:
    """The collector of `kind`; a UserError lists the known kinds."""
    kinds = _kinds()
    if kind not in kinds:
        raise UserError(f"種類 {kind!r} は不明です / unknown kind {kind!r} (known: {', '.join(kinds)})")
    return kinds[kind]


# ---------------------------------------------------------------------------------------------- run rows


def start_run(con: duckdb.DuckDBPyConnection, source: str, kind: str, triggered_by: str) -> RunResult:
    """Insert a `running` row in collector_runs and return the result to fill in."""
    run_id = next_id(con)
    pid, host, started = process_identity()
    con.execute(
        "INSERT INTO collector_runs (run_id, source, kind, started_at, status, triggered_by, pid, host, "
        "process_started) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
        [run_id, source, kind, datetime.now(UTC), triggered_by, pid, host, started],
    )
    return RunResult(run_id=run_id, source=source, kind=kind, status="running")


def _process_started(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (/proc), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def process_identity() -> tuple[int, str, str | None]:
    """(pid, host, start time) of this process: what a run records so a later start can tell it is gone."""

    return os.getpid(), socket.gethostname(), _process_started(os.getpid())


def _alive(pid: int | None, host: str | None, started: str | None) -> bool:

    if pid is None or host != socket.gethostname():
        return True  # another machine, or a run from before pids were recorded: not ours to judge
    if pid == os.getpid():
        return True
    now = _process_started(pid)
    return now is not None and (started is None or now == started)  # a reused pid has another start time


def reap_stale_runs(con: duckdb.DuckDBPyConnection, ws: Workspace | None = None) -> list[int]:
    """Mark failed the runs left `running` by a process that is gone (killed, crashed); a live run of
    another process is left alone. With `ws`, what those runs left on disk (staging directories, decrypted
    copies, which may hold personal data in clear) is removed too. Returns the run ids marked."""
    rows = con.execute("SELECT run_id, pid, host, process_started, kind FROM collector_runs "
                       "WHERE status = 'running'").fetchall()
    gone = [r[0] for r in rows if not _alive(r[1], r[2], r[3])]
    bulk = {r[0] for r in rows if r[4] == "access-log"}
    for run_id in gone:
        con.execute(
            "UPDATE collector_runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ? "
            "AND status = 'running'",
            [datetime.now(UTC), "interrupted: the process running it ended before it finished (killed or "
             "crashed); nothing of it was loaded / 処理中にプロセスが終了しました（読込なし）", run_id])
    if gone:
        log.warning("marked %d interrupted run(s) failed: %s", len(gone), gone)
    if ws is not None:
        for run_id in gone:
            if run_id in bulk:  # killed between publishing its events and recording them: they go too
                events.unpublish(ws.events_dir, str(run_id))
            for d in (ws.events_dir.parent / ".staging").glob(f"run-{run_id}-*"):
                shutil.rmtree(d, ignore_errors=True)
        if (ws.home / ".work").is_dir():
            sealed.sweep(ws.home / ".work")
    return gone


def finish_run(con: duckdb.DuckDBPyConnection, result: RunResult) -> None:
    """Write the final status, counts, error, file hashes and detail of a run."""
    detail = dict(result.detail)
    detail.setdefault("tables_touched", result.tables_touched)
    detail.setdefault("periods_touched", [d.isoformat() for d in result.periods_touched])
    con.execute(
        "UPDATE collector_runs SET finished_at = ?, status = ?, rows_read = ?, rows_loaded = ?, rows_rejected = ?, "
        "error = ?, file_hashes = ?, detail = ? WHERE run_id = ?",
        [datetime.now(UTC), result.status, result.rows_read, result.rows_loaded, result.rows_rejected,
         mask_text(result.error) if result.error else result.error, list(result.file_hashes),
         # warnings may quote cells, and a file's name is the sender's text (masked before JSON escapes a tab in it)
         mask_text(json.dumps(mask_data(detail), ensure_ascii=False, default=str)),
         result.run_id],
    )


INTERRUPTED = "中断されました（Ctrl-C） / interrupted (Ctrl-C)"


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C: a KeyboardInterrupt, or the DuckDB query it interrupted (DuckDB raises RuntimeError('Query
    interrupted'), an Exception, which must not pass for a failed file: the command stops, a drop file stays)."""
    return isinstance(exc, (KeyboardInterrupt, duckdb.InterruptException)) or (
        type(exc) is RuntimeError and str(exc) == "Query interrupted")


def _stop(ws: Workspace, result: RunResult, exc: BaseException) -> typing.NoReturn:
    """Stop the command on Ctrl-C, the run recorded failed as interrupted: its transaction rolled back, so nothing
    of it is loaded. A COMMIT the interrupt reached may have gone through all the same (DuckDB raises after it):
    the run's row, written ok in that transaction, says so and is kept."""
    with for_workspace(ws).connect() as con:
        stored = con.execute("SELECT status FROM collector_runs WHERE run_id = ?", [result.run_id]).fetchone()
        if stored is None or stored[0] != "ok":
            result.status = "failed"
            result.error = INTERRUPTED
            finish_run(con, result)
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    raise KeyboardInterrupt from exc


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return str(exc).replace("\n", " ")
    told = os_problem(exc) if isinstance(exc, OSError) else None
    if told is not None:  # a full disk, a path refused: what the operator can act on, said as the CLI says it
        return told[0].replace("\n", " ")
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return f"internal error {type(exc).__name__}: {exc}{where}".replace("\n", " ")


# ------------------------------------------------------------------------------------------ parse and load


def _table_for(collector: Collector, name: str, data: bytes | Path, *, fmt: str, encoding: str | None,
               sheet: str | None) -> tuple[Collector, Table, dict]:
    """The variant of `collector` whose layout the file has, with its named cells (streamed from a path: the
    rows are read as the parser asks for them). A file matching none is the main layout's error (which names
    the missing columns)."""
    if collector.reader is not None:
        raw = data.read_bytes() if isinstance(data, Path) else data
        table = collector.reader(name, raw, fmt=fmt, encoding=encoding, sheet=sheet)
        plain = name[:-3] if name.lower().endswith(".gz") else name
        return collector, table, {"format": detect_format(plain, raw, fmt),
                                  **({"sheet": table.sheet} if table.sheet else {})}
    try:
        cells = stream_cells(name, data, fmt=fmt, encoding=encoding, sheet=sheet,
                             default_sheet=collector.default_sheet)
    except RowError as exc:
        exc.rows_read = 0  # nothing of an unreadable file was read
        raise
    first_error: RowError | None = None
    for variant in collector.all_variants():
        try:
            return variant, cells.table(variant.layouts(), find_header=variant.find_header), cells.meta
        except RowError as exc:
            first_error = first_error or exc
    assert first_error is not None
    if first_error.rows_read is None:  # no header matched: the records under the first line were read
        first_error.rows_read = cells.records_read()
    raise first_error.located(name, cells.meta.get("sheet")) from None


class StagedRows:
    """The validated rows of one file, staged in private scratch Parquet files (plain-<pid>-*.parquet in the
    workspace's .work, 0600, removed on close, swept after a crash) in batches as they are parsed, typed as the
    target table's columns: a 50 MB file is never held in memory, and writing a batch costs what Arrow's writer
    costs (a scratch DuckDB table cost ten times more). A part holds PART_ROWS rows: the load writes one part per
    statement, which keeps an upsert within DuckDB's memory bound. Iterating gives the rows back as dicts."""

    BATCH = 8192
    PART_ROWS = 65_536

    def __init__(self, columns: tuple[str, ...], types: dict[str, str], workdir: Path) -> None:
        self.columns = tuple(c for c in columns if c in types) or columns
        self._workdir = workdir
        self.sql_types = {c: types.get(c, "VARCHAR") for c in self.columns}
        self._schema = pa.schema([("_line", pa.int64()), *((c, _arrow_type(types.get(c))) for c in self.columns)])
        self.parts: list[Path] = []
        self._writer: Any = None
        self._in_part = 0
        self._complete = False
        self._pending: dict[str, list[Any]] = {c: [] for c in self.columns}  # column-wise: Arrow builds it fast
        self._lines: list[int] = []
        self.count = 0

    def __enter__(self) -> StagedRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._end_part()
        for part in self.parts:
            part.unlink(missing_ok=True)

    def _end_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer, self._in_part = None, 0

    def _part(self) -> Any:
        """The writer of the part being filled (a new part when the last one is full)."""
        if self._complete:
            raise RuntimeError("rows appended to staged rows that were already read")
        if self._writer is not None and self._in_part >= self.PART_ROWS:
            self._end_part()
        if self._writer is None:
            self._workdir.mkdir(parents=True, exist_ok=True)
            os.chmod(self._workdir, 0o700)
            path = self._workdir / f"plain-{os.getpid()}-{os.urandom(4).hex()}.parquet"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self.parts.append(path)
            self._writer = pq.ParquetWriter(os.fdopen(fd, "wb"), self._schema, compression="none")
        return self._writer

    def append(self, line: int, row: dict[str, Any]) -> None:
        for c, values in self._pending.items():
            values.append(row.get(c))
        self._lines.append(line)
        self.count += 1
        if len(self._lines) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        arrays = [pa.array(self._lines, pa.int64())]
        for field in list(self._schema)[1:]:
            values = self._pending[field.name]
            if self.sql_types[field.name] == "JSON":  # cells as published: a dict per row, stored as JSON text
                values = [_stored(v) for v in values]
            arrays.append(_arrow_array(values, field))
        self._part().write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self._in_part += len(self._lines)
        self._pending, self._lines = {c: [] for c in self.columns}, []

    def staged_parts(self) -> list[Path]:
        """The complete scratch files (columns `_line` and the target columns, in file order) for a reader."""
        self.flush()
        self._end_part()
        self._complete = True
        return list(self.parts)

    def duplicate(self, key: tuple[str, ...]) -> tuple[int, int, tuple] | None:
        """(line, first line with the same key, key) of the first repeated key in file order, or None."""
        parts = self.staged_parts()
        if self.count < 2:
            return None
        names = ", ".join(_ident(k) for k in key)
        on = " AND ".join(f"s.{_ident(k)} = d.{_ident(k)}" for k in key)
        with duckdb.connect(config={"threads": 1, "memory_limit": bounded.STAGING_MEMORY_LIMIT,
                                    "temp_directory": str(self._workdir)}) as con:
            row = con.execute(
                f"WITH staged AS (SELECT _line, {names} FROM read_parquet(?)) "
                f"SELECT s._line, d.first, {', '.join('s.' + _ident(k) for k in key)} FROM staged s JOIN "
                f"(SELECT {names}, min(_line) AS first FROM staged GROUP BY {names} HAVING count(*) > 1) d ON {on} "
                "WHERE s._line > d.first ORDER BY s._line LIMIT 1", [[str(p) for p in parts]]).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), tuple(row[2:]))

    def batches(self, size: int) -> Iterator[pa.RecordBatch]:
        """The staged rows (target columns, file order) as Arrow batches of at most `size` rows."""
        for part in self.staged_parts():
            with pq.ParquetFile(part) as staged:
                yield from staged.iter_batches(batch_size=size, columns=list(self.columns))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.batches(self.BATCH):
            yield from batch.to_pylist()


_ARROW_TYPES = {"VARCHAR": pa.string(), "JSON": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
                "DOUBLE": pa.float64(), "DATE": pa.date32(), "BOOLEAN": pa.bool_(),
                "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC")}


def _arrow_type(sql_type: str | None) -> pa.DataType:
    """A warehouse column's type as staged; any other type is staged as text, which DuckDB casts on the insert."""
    return _ARROW_TYPES.get(sql_type or "VARCHAR", pa.string())


def _arrow_array(values: list[Any], field: pa.Field) -> pa.Array:
    """One staged column, converted by Arrow as it infers it and then cast safely to the column's type (a fraction
    in an integer column or an integer too large for it is an error, never truncated). A text column takes
    whatever a cell holds as text (JSON columns: dicts as JSON)."""
    try:
        return pa.array(values).cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        if not pa.types.is_string(field.type):
            raise
    return pa.array([v if v is None or isinstance(v, str) else _stored(v) if isinstance(v, dict) else str(v)
                     for v in values], type=field.type)


def _ident(name: str) -> str:
    """A declared column name as a quoted identifier (names come from collectors and the schema, never files)."""
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"not a column name: {name!r}")
    return f'"{name}"'


def column_types(con: duckdb.DuckDBPyConnection, collector: Collector) -> dict[str, dict[str, str]]:
    """table -> column -> SQL type, for the tables a collector's variants write."""
    tables = [v.table for v in collector.all_variants()]
    marks = ", ".join("?" for _ in tables)
    out: dict[str, dict[str, str]] = {t: {} for t in tables}
    for table, column, sql_type in con.execute(
            f"SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_name IN ({marks}) "
            "AND table_schema = 'main'", tables).fetchall():
        out[table][column] = sql_type
    return out


def stage_file(collector: Collector, name: str, data: bytes | Path, ctx: ParseContext, *,
               types: dict[str, dict[str, str]], workdir: Path, fmt: str = "auto", encoding: str | None = None,
               sheet: str | None = None) -> tuple[Collector, StagedRows, dict]:
    """(the variant that takes the file, its validated rows staged on disk, read meta) or the first RowError
    naming the file; the caller closes the StagedRows. The file is read as it is parsed; a repeated key is an
    error (found in SQL once the rows are staged). meta: format, encoding, rows_read, periods."""
    collector, table, meta = _table_for(collector, name, data, fmt=fmt, encoding=encoding, sheet=sheet)
    ctx.title_lines = table.title_lines
    staged = StagedRows(collector.table_columns or collector.key, types.get(collector.table, {}), workdir)
    periods: set[date] = set()
    try:
        for line, row in collector.parse(table, ctx):
            _protect_row(row, line, ctx)
            period = _period_of(collector, row)
            if period is not None:
                periods.add(period)
            staged.append(line, row)
        repeated = staged.duplicate(collector.key)
        if repeated is not None:
            line, first, key = repeated
            raise RowError(f"duplicate {'+'.join(collector.key)} (first on row {first}) / キーが重複しています",
                           row=line, column=collector.key[0], value="/".join(str(k) for k in key))
    except BaseException as exc:
        staged.close()
        if isinstance(exc, RowError):
            exc.rows_read = rows_read(table)
            raise exc.located(name, meta.get("sheet")) from None
        raise
    meta["rows_read"] = rows_read(table)
    meta["periods"] = sorted(periods)
    return collector, staged, meta


def _period_of(collector: Collector, row: dict[str, Any]) -> date | None:
    if collector.period_column and row.get(collector.period_column) is not None:
        return row[collector.period_column]
    if collector.period_of is not None:
        return collector.period_of(row)
    return None


def parse_file(collector: Collector, name: str, data: bytes | Path, ctx: ParseContext, *, fmt: str = "auto",
               encoding: str | None = None, sheet: str | None = None
               ) -> tuple[Collector, list[dict[str, Any]], dict]:
    """(the variant that takes the file, every validated row, read meta) or the first RowError naming the file;
    duplicate keys are errors. The rows as a list, for callers that want them all at hand (see stage_file)."""
    collector, table, meta = _table_for(collector, name, data, fmt=fmt, encoding=encoding, sheet=sheet)
    ctx.title_lines = table.title_lines
    rows: list[dict[str, Any]] = []
    seen: dict[tuple, int] = {}
    try:
        for line, row in collector.parse(table, ctx):
            _protect_row(row, line, ctx)
            key = tuple(row[k] for k in collector.key)
            if key in seen:
                raise RowError(f"duplicate {'+'.join(collector.key)} (first on row {seen[key]}) / キーが重複しています",
                               row=line, column=collector.key[0], value="/".join(str(k) for k in key))
            seen[key] = line
            rows.append(row)
    except RowError as exc:
        exc.rows_read = rows_read(table)
        raise exc.located(name, meta.get("sheet")) from None
    meta["rows_read"] = rows_read(table)
    return collector, rows, meta


def _protect_row(row: dict[str, Any], line: int, ctx: ParseContext) -> None:
    """Every cell of a validated row: an Individual Number becomes its keyed pseudonym in a person-key column
    (subject_id, staff_id) and refuses the file anywhere else, naming row and column with the value masked;
    a NUL character refuses it too (never stored). One scan of the whole row first: most rows hold neither."""
    cells: list[Any] = []
    for value in row.values():
        if type(value) is dict:
            cells.extend(value.values())
        else:
            cells.append(value)
    if none_in(cells):
        return
    for column, value in row.items():
        if isinstance(value, dict):  # a JSON column (cells as published): each value is a cell of its own
            _protect_json(value, column, line)
            continue
        if isinstance(value, str) and "\x00" in value:
            raise RowError("NUL character (\\x00) in the cell; remove it / NUL文字が含まれています", row=line,
                           column=column, value=value.replace("\x00", "\\x00"))
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            try:
                stored, replaced = protect(value, column, ctx.pseudonym_key)
            except IndividualNumberFound as exc:
                raise RowError(str(exc).split(" (value")[0] + " / この列に個人番号を含めることはできません",
                               row=line, column=column, value=exc.masked) from None
            if replaced:
                if not ctx.pseudonym_key:
                    raise RowError("an Individual Number (個人番号) where none is expected / 個人番号は受け付けません",
                                   row=line, column=column, value=IndividualNumberFound(column, value).masked)
                row[column] = stored
                ctx.count("individual_numbers_replaced")


def _protect_json(values: dict[str, Any], column: str, line: int) -> None:
    """The values of a JSON column hold no Individual Number and no NUL (checked one by one: a number cannot
    run across two JSON values); a person key is never kept in JSON, so a number refuses the file."""
    for key, value in values.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            raise RowError("NUL character (\\x00) in the cell; remove it / NUL文字が含まれています", row=line,
                           column=f"{column}.{key}", value=value.replace("\x00", "\\x00"))
        try:
            protect(value, key, "", person=False)
        except IndividualNumberFound as exc:
            raise RowError(str(exc).split(" (value")[0] + " / この列に個人番号を含めることはできません",
                           row=line, column=f"{column}.{key}", value=exc.masked) from None


def _stored(value: Any) -> Any:
    """A cell as written to the warehouse: dicts (JSON columns) as JSON text."""
    return _JSON.encode(value) if isinstance(value, dict) else value


_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps with options builds one per call


def parse_rows(collector: Collector, name: str, data: bytes, ctx: ParseContext, *, fmt: str = "auto",
               encoding: str | None = None, sheet: str | None = None) -> tuple[list[dict[str, Any]], dict]:
    """Every validated row of a file (see parse_file), without saying which variant took it."""
    _, rows, meta = parse_file(collector, name, data, ctx, fmt=fmt, encoding=encoding, sheet=sheet)
    return rows, meta


def write_rows(con: duckdb.DuckDBPyConnection, collector: Collector, rows: StagedRows, run_id: int) -> int:
    """Upsert (or append) staged rows into the collector's table with run_id lineage, read by DuckDB from their
    scratch parts, a statement per part; call inside a transaction. An upsert is a merge (update the keys present
    whose values changed, insert the others), which costs a third of INSERT ... ON CONFLICT."""
    if not len(rows):
        return 0
    cols = list(collector.table_columns)
    source = "(SELECT " + ", ".join(f"CAST({_ident(c)} AS {rows.sql_types.get(c, 'VARCHAR')}) AS {_ident(c)}"
                                    for c in cols) + " FROM read_parquet(?))"
    for part in rows.staged_parts():
        if collector.mode == "upsert":
            _merge_part(con, collector, cols, source, str(part), run_id)
        else:
            con.execute(f"INSERT INTO {collector.table} ({', '.join([*cols, 'run_id'])}) "
                        f"SELECT {', '.join(cols)}, ?::BIGINT FROM {source}", [run_id, str(part)])
    return len(rows)


def _merge_part(con: duckdb.DuckDBPyConnection, collector: Collector, cols: list[str], source: str, part: str,
                run_id: int) -> None:
    """The upsert of one staged part as UPDATE (keys present, rows that changed) then INSERT (keys absent). An
    identical row keeps its lineage: loading twice changes nothing; a collected row replaces a submitted one."""
    table = collector.table
    on = " AND ".join(f"{table}.{k} = new.{k}" for k in collector.key)
    values = [c for c in cols if c not in collector.key]
    updates = [f"{c} = new.{c}" for c in values] + ["run_id = new.run_id"]
    if table in ("procedure_usage", "card_issuance", "procedure_cases"):
        updates.append("submission_id = NULL")
    changed = " OR ".join(f"{table}.{c} IS DISTINCT FROM new.{c}" for c in values) or "false"
    con.execute(f"UPDATE {table} SET {', '.join(updates)} FROM (SELECT *, ?::BIGINT AS run_id FROM {source}) new "
                f"WHERE {on} AND ({changed})", [run_id, part])
    con.execute(f"INSERT INTO {table} ({', '.join([*cols, 'run_id'])}) SELECT {', '.join(cols)}, ?::BIGINT FROM "
                f"{source} new WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {on})", [run_id, part])


def _context(ws: Workspace, collector: Collector, name: str, period: str | None, *,
             fiscal_year: int | None = None, released_on: str | None = None,
             now: datetime | None = None) -> ParseContext:
    key = ws.secret(ws.config.security.pseudonym_key_env)  # any file may carry a person key to pseudonymise
    ctx = ParseContext(file=name, period=period, fiscal_year=fiscal_year, released_on=released_on,
                       pseudonym_key=key, timezone=ws.config.timezone)
    if now is not None:
        ctx.now = now
    return ctx


WARNINGS_SHOWN = 50  # warnings a run keeps (ParseContext.warn's limit); warnings_total counts them all
NO_ROWS = "データ行がありません（見出しのみ） / the file has no rows of data (a header alone)"


def _merge(result: RunResult, *, read: int, loaded: int, tables: list[str], periods: list[date],
           detail: dict[str, Any]) -> None:
    result.rows_read += read
    result.rows_loaded += loaded
    for t in tables:
        if t not in result.tables_touched:
            result.tables_touched.append(t)
    result.periods_touched = sorted(set(result.periods_touched) | set(periods))
    for k, v in detail.items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            result.detail[k] = result.detail.get(k, 0) + v
        elif k == "warnings":  # a run of several files keeps every file's (a later file's replaced them)
            shown = result.detail.setdefault("warnings", [])
            shown.extend(v[:max(0, WARNINGS_SHOWN - len(shown))])
        else:
            result.detail[k] = v


def _archive(con: duckdb.DuckDBPyConnection, ws: Workspace, result: RunResult, *, name: str,
             path: Path | None, data: bytes | None, received_by: str | None, origin: str | None) -> ArchivedFile:
    """Keep the file (content-addressed) before anything reads it; its hash joins the run."""
    if path is not None:
        archived = archive_file(con, ws.archive_dir, path, source=result.source, received_by=received_by,
                                origin=origin, key=sealed.workspace_key(ws), original_name=name)
    else:
        archived = archive_bytes(con, ws.archive_dir, data or b"", original_name=name, source=result.source,
                                 received_by=received_by, origin=origin, key=sealed.workspace_key(ws))
    result.file_hashes.append(archived.sha256)
    return archived


def _load_archived(ws: Workspace, collector: Collector, result: RunResult, archived: ArchivedFile, *, name: str,
                   data: bytes | None = None, period: str | None = None, sheet: str | None = None,
                   fmt: str = "auto", encoding: str | None = None, progress: Progress | None = None,
                   finish: bool = False, fiscal_year: int | None = None, released_on: str | None = None,
                   now: datetime | None = None) -> None:
    """Parse an archived file whole, then load it in one transaction; with `finish` the run is marked ok in
    that same transaction. A problem raises and nothing of the file is loaded. `now`: the ingest's clock (the
    time the file is read when None)."""
    wh = for_workspace(ws)
    ctx = _context(ws, collector, name, period, fiscal_year=fiscal_year, released_on=released_on, now=now)
    if collector.bulk is not None:
        def commit(con: duckdb.DuckDBPyConnection, outcome: BulkOutcome) -> None:
            _merge(result, read=outcome.rows_read, loaded=outcome.rows_loaded,
                   tables=[collector.table] if outcome.rows_loaded else [], periods=outcome.periods,
                   detail=outcome.detail)
            _note_file(result, name, archived.sha256, outcome.rows_read, outcome.rows_loaded, outcome.detail)
            if finish:
                result.status = "ok"
                finish_run(con, result)

        try:  # the archived copy (decrypted): what is loaded is exactly what is kept; the loader stages it
            # outside the workspace lock and takes the lock only to publish and commit
            with sealed.plaintext_copy(archived.path, sealed.workspace_key(ws), ws.home / ".work") as plain:
                collector.bulk(wh, ws, plain, result.run_id, ctx, name=name, fmt=fmt, encoding=encoding,
                               sheet=sheet, progress=progress, commit=commit)
        except RowError as exc:
            result.rows_read += exc.rows_read or 0
            raise
        return
    if progress:
        progress(f"{name}: parse", 0, None)
    with wh.connect() as con:
        types = column_types(con, collector)
    try:
        with contextlib.ExitStack() as stack:  # the archived copy, decrypted to a private file, is read as parsed
            source = data if data is not None else stack.enter_context(
                sealed.plaintext_copy(archived.path, sealed.workspace_key(ws), ws.home / ".work"))
            collector, rows, meta = stage_file(collector, name, source, ctx, types=types, workdir=ws.home / ".work",
                                               fmt=fmt, encoding=encoding, sheet=sheet)
    except RowError as exc:
        result.rows_read += exc.rows_read or 0
        raise
    with rows:
        try:
            _commit_staged(ws, collector, result, rows, meta, ctx, archived, name=name, progress=progress,
                           finish=finish)
        except RowError as exc:
            result.rows_read += exc.rows_read or 0
            raise


def _commit_staged(ws: Workspace, collector: Collector, result: RunResult, rows: StagedRows, meta: dict[str, Any],
                   ctx: ParseContext, archived: ArchivedFile, *, name: str, progress: Progress | None,
                   finish: bool) -> None:
    """Load staged rows in one transaction (DuckDB's memory bounded meanwhile); with `finish` the run is marked ok
    in that same transaction."""
    wh = for_workspace(ws)
    if progress:
        progress(f"{name}: load", 0, len(rows))

    def load() -> None:
        before, detail = copy.deepcopy(vars(result)), copy.deepcopy(ctx.detail)
        try:
            with transaction(con):
                if collector.before_load is not None:
                    try:  # a check against the warehouse names the file as the readers' errors do
                        collector.before_load(con, rows, ctx)
                    except RowError as exc:
                        exc.rows_read = meta["rows_read"]
                        raise exc.located(name) from None
                loaded = write_rows(con, collector, rows, result.run_id)
                if collector.after_load is not None:
                    collector.after_load(con, rows, ctx)
                _merge(result, read=meta["rows_read"], loaded=loaded, tables=[collector.table] if loaded else [],
                       periods=meta["periods"], detail=ctx.detail)
                _note_file(result, name, archived.sha256, meta["rows_read"], loaded, meta)
                if finish:
                    result.status = "ok"
                    finish_run(con, result)
                bounded.before_commit(con)
        except BaseException:  # rolled back: the run and the context as they were, for a retry or the report
            vars(result).clear()
            vars(result).update(before)
            ctx.detail.clear()
            ctx.detail.update(detail)
            raise

    with wh.connect() as con:
        bounded.within_memory(con, bounded.LOAD_MEMORY_LIMIT_UPSERT, load)
    if progress:
        progress(f"{name}: load", len(rows), len(rows))


def _load_file(ws: Workspace, collector: Collector, result: RunResult, *, name: str, path: Path | None = None,
               data: bytes | None = None, received_by: str | None = None, origin: str | None = None,
               **options: Any) -> None:
    """Archive, then parse whole and load in one transaction (sources with several files per run)."""
    with for_workspace(ws).connect() as con:
        archived = _archive(con, ws, result, name=name, path=path, data=data, received_by=received_by,
                            origin=origin)
    _load_archived(ws, collector, result, archived, name=name, data=data, **options)


def _note_file(result: RunResult, name: str, sha256: str, read: int, loaded: int, meta: dict[str, Any]) -> None:
    """detail.files: which file, its hash, format, encoding and rows loaded (a run may read several); a file
    without a row of data (a header alone, or notes) is loaded as ok, with a warning that says so."""
    if not read:
        result.detail["warnings_total"] = result.detail.get("warnings_total", 0) + 1
        shown = result.detail.setdefault("warnings", [])
        if len(shown) < WARNINGS_SHOWN:
            shown.append(f"{name}: {NO_ROWS}")
    entry = {"name": name, "sha256": sha256, "rows": loaded}
    entry.update({k: v for k, v in meta.items() if k in ("format", "encoding")})
    result.detail.setdefault("files", []).append(entry)


def _fail(result: RunResult, exc: BaseException, read_before: int) -> None:
    if not isinstance(exc, UserError):  # a bug or an environment problem: keep the traceback for operators
        log.error("collector run %s (%s) failed", result.run_id, result.source, exc_info=exc)
    result.status = "failed"
    result.error = _one_line(exc)
    result.detail["bad_input"] = isinstance(exc, UserError)  # the file's fault (exit 2), not a failed run (1)
    result.rows_rejected += max(0, result.rows_read - read_before)


def _record(ws: Workspace, result: RunResult) -> RunResult:
    with for_workspace(ws).connect() as con:
        finish_run(con, result)
    return result


# ------------------------------------------------------------------------------------------------ ingest


def ingest_files(ws: Workspace, kind: str, paths: Sequence[Path | str], *, triggered_by: str = "cli",
                 period: str | None = None, sheet: str | None = None, received_by: str | None = None,
                 progress: Progress | None = None, fiscal_year: int | None = None,
                 released_on: str | None = None, now: datetime | None = None) -> list[RunResult]:
    """`observatory ingest KIND FILE|DIR...`: one collector run per file (a directory stands for its files, in
    name order), through the same path as the scheduler. Loading a file again changes nothing: an upsert
    rewrites only rows whose values differ (their lineage moves to the new run), access-log drops repeats.
    `now` is the ingest's clock (aware; the time each file is read when None): rows later than it are refused."""
    collector = collector_for(kind)
    files = expand_paths(paths)
    options = {k: v for k, v in (("period", period), ("sheet", sheet), ("fiscal_year", fiscal_year),
                                 ("released_on", released_on)) if v is not None}
    results = []
    with for_workspace(ws).connect() as con:
        reap_stale_runs(con, ws)
    for i, path in enumerate(files):
        if progress:
            progress("files", i, len(files))
        with for_workspace(ws).connect() as con:  # one opening for the run row and the archive
            result = start_run(con, f"ingest:{kind}", kind, triggered_by)
        try:
            results.append(_ingest_one(ws, collector, result, path, options, received_by=received_by or triggered_by,
                                       period=period, sheet=sheet, progress=progress, fiscal_year=fiscal_year,
                                       released_on=released_on, now=now))
        except BaseException as exc:
            if _interrupted(exc):
                _stop(ws, result, exc)
            raise
    if progress:
        progress("files", len(files), len(files))
    return results


def _ingest_one(ws: Workspace, collector: Collector, result: RunResult, path: Path, options: dict[str, Any], *,
                received_by: str, period: str | None, sheet: str | None, progress: Progress | None,
                fiscal_year: int | None, released_on: str | None, now: datetime | None) -> RunResult:
    """One file of `observatory ingest` under its started run: archived, loaded, the run recorded."""
    result.detail["file"] = path.name
    result.detail["options"] = options
    with for_workspace(ws).connect() as con:
        try:
            if not path.is_file():
                raise UserError(f"{path}: not a regular file (a device, a pipe or a directory) / 通常のファイルではありません"
                                if path.exists() else f"{path}: no such file / ファイルがありません")
            archived = _archive(con, ws, result, name=path.name, path=path, data=None, received_by=received_by,
                                origin=str(path.resolve()))
        except Exception as exc:  # noqa: BLE001 - recorded in the run, never a traceback
            if _interrupted(exc):
                raise
            _fail(result, exc, 0)
            finish_run(con, result)
            return result
    try:
        _load_archived(ws, collector, result, archived, name=path.name, period=period, sheet=sheet,
                       progress=progress, finish=True, fiscal_year=fiscal_year, released_on=released_on, now=now)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded in the run, never a traceback
        if _interrupted(exc):
            raise
        _fail(result, exc, 0)
        result.rows_loaded = 0
        _record(ws, result)
    return result


# ------------------------------------------------------------------------------------------- run_source


def _cached(ws: Workspace, url: str) -> tuple[str | None, str | None, str | None]:
    with for_workspace(ws).connect() as con:
        rows = con.execute("SELECT etag, last_modified, sha256 FROM http_cache WHERE url = ?", [url]).fetchall()
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else (None, None, None)


def _remember(ws: Workspace, url: str, etag: str | None, last_modified: str | None, digest: str) -> None:
    with for_workspace(ws).connect() as con:
        con.execute(
            "INSERT INTO http_cache (url, etag, last_modified, sha256, fetched_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, "
            "sha256 = EXCLUDED.sha256, fetched_at = EXCLUDED.fetched_at",
            [url, etag, last_modified, digest, datetime.now(UTC)],
        )


def _http_date(value: str | None) -> str | None:
    """YYYY-MM-DD of an HTTP date (Last-Modified), in Japan's calendar; None when absent or unreadable."""
    if not value:
        return None

    try:
        return local_date(parsedate_to_datetime(value)).isoformat()
    except (TypeError, ValueError):
        return None


def _run_url(ws: Workspace, source: Source, collector: Collector, result: RunResult, backoff_s: float) -> None:
    url = source.url or ""
    etag, last_modified, known_sha = _cached(ws, url)
    got = fetch(url, etag=etag, last_modified=last_modified, timeout_s=source.timeout_s, retries=source.retries,
                backoff_s=backoff_s, into=ws.home / ".work")  # the body goes to a private file, never held
    result.detail["http_attempts"] = got.attempts
    if got.final_url and got.final_url != url:
        result.detail["http_url"] = got.final_url  # redirected: where the bytes came from
    if got.status == 304:
        result.status = "not_modified"
        return
    try:
        digest = got.sha256 or ""
        if known_sha == digest:
            # Same bytes as the last good load (the server sent no validators or ignored them).
            result.status = "not_modified"
            result.file_hashes.append(digest)
            _remember(ws, url, got.etag, got.last_modified, digest)
            return
        released_on = source.released_on or _http_date(got.last_modified)
        _load_file(ws, collector, result, name=got.name, path=got.path, period=source.period, sheet=source.sheet,
                   fmt=source.format, encoding=source.encoding, received_by="scheduler", origin=got.final_url or url,
                   fiscal_year=source.fiscal_year, released_on=released_on)
    finally:
        if got.path is not None:
            got.path.unlink(missing_ok=True)
    _remember(ws, url, got.etag, got.last_modified, digest)  # only after a good load: a failed one is retried
    result.status = "ok"


def _move(path: Path, target_dir: Path, key: bytes) -> Path:
    """Move a failed file to failed/ sealed (it may hold personal data in clear): <name>.sealed, decrypted by
    `observatory archive decrypt`; an Individual Number in the name is masked as the run's record masks it."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target_dir.chmod(0o700)
    name = Path(mask_text(path.name).replace("*", "x"))  # (no glob characters in a file name)
    target = target_dir / f"{name.name}.sealed"
    n = 1
    while target.exists():
        target = target_dir / f"{name.stem}.{n}{name.suffix}.sealed"
        n += 1
    sealed.seal_file(path, target, key)
    path.unlink()
    return target


def _refuse_outside_link(path: Path, directory: Path) -> None:
    """A symbolic link in a drop directory to a file outside it is not read: whoever may drop files would make the
    observatory read (archive, seal into failed/, quote in errors) any file it may read, its own secrets too."""
    if path.is_symlink() and directory.resolve() not in path.resolve().parents:
        raise UserError(f"{path.name}: ドロップディレクトリの外を指すシンボリックリンクは読みません / a symbolic link "
                        f"to a file outside the drop directory is not read (the link is removed); copy the file in")


def _run_directory(ws: Workspace, source: Source, collector: Collector, result: RunResult, settle_s: float) -> None:
    directory = ws.resolve(source.directory or "")
    waiting = [p for p in drop_files(directory) if time.time() - p.stat().st_mtime < settle_s]
    files = [p for p in drop_files(directory) if p not in waiting]
    if waiting:
        # Still being copied in, perhaps: a half-written CSV can end on a row boundary and look complete.
        result.detail["files_settling"] = [p.name for p in waiting]
    if not files:
        result.status = "no_input"
        return
    failed: list[RunResult] = []
    for path in files:
        # Each file is loaded under the run's id; a file that fails is recorded as a run of its own, so the
        # files that did load still count as good data (and trigger the follow-up) while the failure shows.
        part = RunResult(run_id=result.run_id, source=result.source, kind=result.kind, status="running")
        try:
            _refuse_outside_link(path, directory)
            _load_file(ws, collector, part, name=path.name, path=path, period=source.period, sheet=source.sheet,
                       fmt=source.format, encoding=source.encoding, received_by="scheduler", origin=str(path),
                       fiscal_year=source.fiscal_year, released_on=source.released_on)
        except Exception as exc:  # noqa: BLE001 - the file goes to failed/, its run records why
            if _interrupted(exc):
                raise
            _fail(part, exc, 0)
            if path.is_symlink():  # never followed: the link goes, what it points at stays where it is, unread
                path.unlink()
                part.detail.update({"file": path.name, "moved_to": None})
            else:
                moved = _move(path, directory / "failed", sealed.workspace_key(ws))
                part.detail.update({"file": path.name, "moved_to": str(moved.relative_to(directory))})
            failed.append(part)
            continue
        path.unlink()  # the archive holds the bytes (content-addressed) and archived_files records them
        result.file_hashes.extend(part.file_hashes)
        _merge(result, read=part.rows_read, loaded=part.rows_loaded, tables=part.tables_touched,
               periods=part.periods_touched, detail={k: v for k, v in part.detail.items() if k != "files"})
        result.detail.setdefault("files", []).extend(part.detail.get("files", []))
    if failed and len(failed) == len(files):
        result.status = "failed"
        result.error = "; ".join(f.error or "" for f in failed)
        result.rows_read = result.rows_rejected = sum(f.rows_read for f in failed)
        result.file_hashes = [h for f in failed for h in f.file_hashes]
        result.detail["failed_files"] = [f.detail["moved_to"] for f in failed]
        return
    result.status = "ok"
    if failed:
        ids = []
        for f in failed:
            with for_workspace(ws).connect() as con:
                own = start_run(con, result.source, result.kind, result.detail.get("triggered_by", "scheduler"))
            f.run_id = own.run_id
            f.detail["part_of_run"] = result.run_id
            _record(ws, f)
            ids.append(f.run_id)
        result.detail.update({"failed_files": [f.detail["moved_to"] for f in failed], "failed_runs": ids})
        result.error = (f"{len(failed)} of {len(files)} files failed (runs {', '.join(map(str, ids))}): "
                        + "; ".join(f.error or "" for f in failed))


def run_source(ws: Workspace, source: Source, *, triggered_by: str = "scheduler", backoff_s: float = 1.0,
               settle_s: float = 5.0) -> RunResult:
    """Fetch a configured source (URL or drop directory) and load it; always returns a recorded RunResult.

    `backoff_s` is the first retry pause (doubling each retry); drop files younger than `settle_s` wait for the
    next run, so a file still being copied in is never loaded half-written. In a drop directory each file loads
    whole or not at all: when some files fail and others load, the run is `ok` for what loaded, each failed
    file gets a `failed` run of its own (detail failed_runs) and moves to <dir>/failed/.
    """
    with for_workspace(ws).connect() as con:
        reap_stale_runs(con, ws)
        result = start_run(con, source.name, source.kind, triggered_by)
    result.detail["triggered_by"] = triggered_by
    try:
        collector = collector_for(source.kind)
        if not source.enabled:
            result.status = "skipped"
            result.error = "source disabled in observatory.yaml"
        elif source.url:
            _run_url(ws, source, collector, result, backoff_s)
        elif source.directory:
            _run_directory(ws, source, collector, result, settle_s)
        else:
            raise UserError(f"source {source.name}: url も directory も設定されていません / neither url nor directory is set")
    except BaseException as exc:  # noqa: BLE001 - recorded, never raised to the scheduler (but Ctrl-C stops it)
        if _interrupted(exc):
            _stop(ws, result, exc)
        if not isinstance(exc, Exception):
            raise
        _fail(result, exc, 0)
        result.rows_loaded = 0
    return _record(ws, result)
