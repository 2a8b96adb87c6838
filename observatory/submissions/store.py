"""Submissions in the warehouse: recording attempts, loading values, superseding earlier versions, history.

All SQL is parameterised. Loading happens inside the caller's transaction: the submission row, its values,
its per-period history rows and the supersession of earlier versions commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import pyarrow as pa

from observatory.submissions.staging import Staging
from observatory.warehouse import dict_rows


@dataclass(frozen=True, slots=True)
class Attempt:
    """What is known about a submission attempt when its row is written."""

    submission_id: int
    kpi_id: str
    ministry_code: str
    submitted_by: str
    role: str
    submitted_at: datetime
    origin: str | None
    file_sha256: str
    file_name: str | None
    encoding: str | None
    sheet: str | None


def insert(con: duckdb.DuckDBPyConnection, a: Attempt, *, status: str, periods: list[date], rows_total: int,
           rows_accepted: int, errors: int, warnings: int, report: dict[str, Any], receipt: dict[str, Any] | None,
           supersedes: int | None = None, duplicate_of: int | None = None) -> None:
    """Write the submissions row of one attempt (accepted, rejected or duplicate)."""
    con.execute(
        "INSERT INTO submissions (submission_id, kpi_id, ministry_code, submitted_by, submitted_at, origin, "
        "file_sha256, file_name, encoding, status, supersedes, periods, rows_total, rows_accepted, errors, "
        "warnings, report, receipt, duplicate_of, sheet, submitter_role) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [a.submission_id, a.kpi_id, a.ministry_code, a.submitted_by, a.submitted_at, a.origin, a.file_sha256,
         a.file_name, a.encoding, status, supersedes, periods, rows_total, rows_accepted, errors, warnings,
         json.dumps(report, ensure_ascii=False, default=str),
         None if receipt is None else json.dumps(receipt, ensure_ascii=False, default=str),
         duplicate_of, a.sheet, a.role],
    )


def set_receipt(con: duckdb.DuckDBPyConnection, submission_id: int, receipt: dict[str, Any]) -> None:
    con.execute("UPDATE submissions SET receipt = ? WHERE submission_id = ?",
                [json.dumps(receipt, ensure_ascii=False, default=str), submission_id])


def accepted_twin(con: duckdb.DuckDBPyConnection, kpi_id: str, ministry_code: str, sha256: str) -> int | None:
    """The accepted, still current submission with the same bytes for this KPI and ministry, if any."""
    row = con.execute(
        "SELECT min(submission_id) FROM submissions WHERE kpi_id = ? AND ministry_code = ? AND file_sha256 = ? "
        "AND status = 'accepted'", [kpi_id, ministry_code, sha256]
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def load_values(con: duckdb.DuckDBPyConnection, submission_id: int, kpi_id: str, ministry_code: str,
                staging: Staging) -> int:
    """Copy the staged valid rows into submission_values in ONE statement reading an Arrow stream of batches:
    DuckDB then writes full row groups as they fill instead of holding the transaction's rows in memory."""
    reader = staging.long_reader()
    if reader is None:
        return 0
    counted = _Counted(reader)
    stream = pa.RecordBatchReader.from_batches(reader.schema, counted)  # noqa: F841 - read by DuckDB's scan
    con.execute(
        "INSERT INTO submission_values (submission_id, kpi_id, ministry_code, period, entity_code, "
        "column_name, value, text_value) SELECT ?, ?, ?, period, entity_code, column_name, value, text_value "
        "FROM stream", [submission_id, kpi_id, ministry_code])
    return counted.rows


class _Counted:
    """The batches of a reader, counting the rows that went through."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.reader, self.rows = reader, 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self.reader:
            self.rows += batch.num_rows
            yield batch


def supersede(con: duckdb.DuckDBPyConnection, submission_id: int, kpi_id: str, ministry_code: str,
              period_rows: list[tuple[date, int]]) -> list[dict[str, Any]]:
    """Make this submission current for its periods; returns per-period changes vs the version it replaces."""
    earlier = con.execute(
        "SELECT count(*) FROM submission_periods WHERE kpi_id = ? AND ministry_code = ? AND superseded_by IS NULL "
        "AND submission_id <> ? AND period IN (SELECT DISTINCT period FROM submission_values WHERE submission_id = ?)",
        [kpi_id, ministry_code, submission_id, submission_id]).fetchone()[0]
    if not earlier:  # nothing to compare with: every row is new (skips the diff on first loads)
        diff = [(p, None, n, 0, 0, 0) for p, n in period_rows]
    else:
        diff = _diff(con, submission_id, kpi_id, ministry_code)
    return _record_periods(con, submission_id, kpi_id, ministry_code, period_rows, diff)


def _diff(con: duckdb.DuckDBPyConnection, submission_id: int, kpi_id: str, ministry_code: str) -> list[tuple]:
    """Per period: (period, previous submission, rows added, changed, removed, unchanged), joined value by value."""
    return con.execute(
        """
        WITH n AS (
            SELECT period, entity_code, column_name, value, text_value FROM submission_values
            WHERE submission_id = ?),
        cur AS (
            SELECT p.period, p.submission_id FROM submission_periods p
            WHERE p.kpi_id = ? AND p.ministry_code = ? AND p.superseded_by IS NULL AND p.submission_id <> ?
              AND p.period IN (SELECT DISTINCT period FROM n)),
        o AS (
            SELECT v.period, v.entity_code, v.column_name, v.value, v.text_value FROM submission_values v
            JOIN cur ON cur.submission_id = v.submission_id AND cur.period = v.period),
        rows AS (
            SELECT coalesce(n.period, o.period) AS period, coalesce(n.entity_code, o.entity_code) AS entity_code,
                   count(n.column_name) AS new_cols, count(o.column_name) AS old_cols,
                   bool_or(n.column_name IS NULL OR o.column_name IS NULL OR n.value IS DISTINCT FROM o.value
                           OR n.text_value IS DISTINCT FROM o.text_value) AS differs
            FROM n FULL OUTER JOIN o ON n.period = o.period AND n.entity_code = o.entity_code
                 AND n.column_name = o.column_name
            GROUP BY 1, 2)
        SELECT period, (SELECT max(submission_id) FROM cur WHERE cur.period = r.period) AS previous,
               count(*) FILTER (WHERE old_cols = 0) AS added,
               count(*) FILTER (WHERE new_cols > 0 AND old_cols > 0 AND differs) AS changed,
               count(*) FILTER (WHERE new_cols = 0) AS removed,
               count(*) FILTER (WHERE new_cols > 0 AND old_cols > 0 AND NOT differs) AS unchanged
        FROM rows r GROUP BY period ORDER BY period
        """,
        [submission_id, kpi_id, ministry_code, submission_id],
    ).fetchall()


def _record_periods(con: duckdb.DuckDBPyConnection, submission_id: int, kpi_id: str, ministry_code: str,
                    period_rows: list[tuple[date, int]], diff: list[tuple]) -> list[dict[str, Any]]:
    counts = dict(period_rows)
    out = []
    for period, previous, added, changed, removed, unchanged in diff:
        con.execute(
            "INSERT INTO submission_periods (submission_id, kpi_id, ministry_code, period, rows_total, supersedes, "
            "superseded_by, rows_added, rows_changed, rows_removed, rows_unchanged) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)",
            [submission_id, kpi_id, ministry_code, period, counts.get(period, 0), previous, added, changed, removed,
             unchanged],
        )
        out.append({"period": period, "supersedes": previous, "rows": counts.get(period, 0), "added": added,
                    "changed": changed, "removed": removed, "unchanged": unchanged})
    con.execute(
        "UPDATE submission_periods SET superseded_by = ? WHERE kpi_id = ? AND ministry_code = ? "
        "AND superseded_by IS NULL AND submission_id <> ? "
        "AND period IN (SELECT period FROM submission_periods WHERE submission_id = ?)",
        [submission_id, kpi_id, ministry_code, submission_id, submission_id],
    )
    con.execute(
        "UPDATE submissions SET status = 'superseded' WHERE status = 'accepted' AND kpi_id = ? "
        "AND ministry_code = ? AND submission_id <> ? AND NOT EXISTS (SELECT 1 FROM submission_periods p "
        "WHERE p.submission_id = submissions.submission_id AND p.superseded_by IS NULL)",
        [kpi_id, ministry_code, submission_id],
    )
    return out


def period_history(con: duckdb.DuckDBPyConnection, submission_id: int) -> list[dict[str, Any]]:
    """Per period: rows, what it superseded, what superseded it, rows added/changed/removed."""
    cur = con.execute(
        "SELECT period, rows_total, supersedes, superseded_by, rows_added, rows_changed, rows_removed, "
        "rows_unchanged FROM submission_periods WHERE submission_id = ? ORDER BY period", [submission_id])
    return dict_rows(cur)


def changed_rows(con: duckdb.DuckDBPyConnection, submission_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Value-level differences vs the superseded versions: (period, entity, column, old, new)."""
    cur = con.execute(
        """
        WITH p AS (SELECT period, supersedes FROM submission_periods WHERE submission_id = ? AND supersedes IS NOT NULL),
        n AS (SELECT v.period, entity_code, column_name, value, text_value FROM submission_values v
              WHERE submission_id = ? AND period IN (SELECT period FROM p)),
        o AS (SELECT v.period, entity_code, column_name, value, text_value FROM submission_values v
              JOIN p ON v.submission_id = p.supersedes AND v.period = p.period)
        SELECT coalesce(n.period, o.period) AS period, coalesce(n.entity_code, o.entity_code) AS entity_code,
               coalesce(n.column_name, o.column_name) AS column_name,
               CASE WHEN NOT EXISTS (SELECT 1 FROM o o2 WHERE o2.period = coalesce(n.period, o.period)
                                     AND o2.entity_code = coalesce(n.entity_code, o.entity_code)) THEN 'added'
                    WHEN NOT EXISTS (SELECT 1 FROM n n2 WHERE n2.period = coalesce(n.period, o.period)
                                     AND n2.entity_code = coalesce(n.entity_code, o.entity_code)) THEN 'removed'
                    ELSE 'changed' END AS change,
               coalesce(CAST(o.value AS VARCHAR), o.text_value) AS old_value,
               coalesce(CAST(n.value AS VARCHAR), n.text_value) AS new_value
        FROM n FULL OUTER JOIN o ON n.period = o.period AND n.entity_code = o.entity_code
             AND n.column_name = o.column_name
        WHERE n.column_name IS NULL OR o.column_name IS NULL OR n.value IS DISTINCT FROM o.value
              OR n.text_value IS DISTINCT FROM o.text_value
        ORDER BY 1, 2, 3 LIMIT ?
        """, [submission_id, submission_id, limit])
    return dict_rows(cur)


SUMMARY_COLUMNS = ("submission_id", "kpi_id", "ministry_code", "submitted_by", "submitted_at", "origin", "status",
                   "file_name", "file_sha256", "encoding", "rows_total", "rows_accepted", "errors", "warnings",
                   "supersedes", "duplicate_of", "periods")


def summaries(con: duckdb.DuckDBPyConnection, *, ministry_code: str | None, kpi_id: str | None = None,
              status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Newest first, optionally restricted to one ministry, KPI and status."""
    sql = f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM submissions WHERE 1=1"
    params: list[Any] = []
    for column, value in (("ministry_code", ministry_code), ("kpi_id", kpi_id), ("status", status)):
        if value is not None:
            sql += f" AND {column} = ?"  # column names from the fixed tuple above, values as parameters
            params.append(value)
    sql += " ORDER BY submission_id DESC LIMIT ?"
    params.append(limit)
    cur = con.execute(sql, params)
    return dict_rows(cur)


def one(con: duckdb.DuckDBPyConnection, submission_id: int) -> dict[str, Any] | None:
    """Every column of one submission, with report and receipt decoded."""
    cur = con.execute("SELECT * FROM submissions WHERE submission_id = ?", [submission_id])
    row = cur.fetchone()
    if row is None:
        return None
    out = dict(zip([d[0] for d in cur.description], row, strict=True))
    for key in ("report", "receipt"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out
