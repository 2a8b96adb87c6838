"""The warehouse tables a KPI may read: an allow-list of tables, with how each maps to periods and entities.

Column names and types come from the real schema (the shipped migrations applied to an in-memory DuckDB),
so a definition naming a column that does not exist fails validation. Derived columns are expressions
written here in code, never in YAML; YAML only names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from observatory.warehouse import migrations, refresh_access_view

SUBMISSION = "submission"
DERIVED = "derived"
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN")
TIME_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
ROW_LEVELS = ("municipality", "prefecture")  # values of a table's level_column


@dataclass(frozen=True)
class TableInfo:
    """How the engine reads one table: period columns (first = default), entity columns, lineage, grain."""

    name: str
    period_columns: tuple[str, ...] = ()  # empty: a snapshot table (applies to every period)
    ministry_column: str | None = None
    municipality_column: str | None = None
    prefecture_column: str | None = None  # 2-digit code of rows that are a prefecture's own figures
    level_column: str | None = None  # a table holding rows of several levels: the column naming each row's level
    grain: tuple[str, ...] = ()  # the row key besides the period (over_time: last)
    lineage: tuple[str, ...] = ("run_id",)
    derived: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (SQL over alias t, type)
    dated_snapshots: bool = False  # rows are snapshots on reference dates, several a month possible

    def levels(self, rows_level: str | None = None) -> set[str]:
        """The levels this table can be aggregated at (for a table with a level column: from its rows of
        `rows_level`; prefecture rows feed prefecture and national values, municipality rows all three)."""
        out = {"national"}
        if self.ministry_column:
            out.add("ministry")
        if self.municipality_column and rows_level in (None, "municipality"):
            out |= {"municipality", "prefecture"}
        if self.prefecture_column and rows_level in (None, "prefecture"):
            out.add("prefecture")
        return out

    def rows_level(self, where: dict) -> str | None:
        """The row level an aggregate's filter keeps (`{level_column: municipality}`), or None when the filter
        does not hold it to exactly one level."""
        if not self.level_column:
            return None
        cond = where.get(self.level_column)
        value = getattr(cond, "eq", None) if hasattr(cond, "operator") else cond
        return value if value in ROW_LEVELS else None


_DAYS = "(epoch(t.decided_at) - epoch(t.submitted_at)) / 86400.0"

TABLES: dict[str, TableInfo] = {
    "procedure_usage": TableInfo(
        "procedure_usage", ("period",), ministry_column="ministry_code", grain=("procedure_id",),
        lineage=("run_id", "submission_id"),
    ),
    # Digital Agency inventory of national procedures (行政手続等の棚卸調査): one row per procedure and fiscal year
    "procedure_inventory": TableInfo(
        "procedure_inventory", ("period",), ministry_column="ministry_code", grain=("procedure_id",),
    ),
    "card_issuance": TableInfo(
        "card_issuance", ("as_of", "period"), municipality_column="municipality_code",
        grain=("municipality_code",), lineage=("run_id", "submission_id"), dated_snapshots=True,
        derived={"backlog": ("(t.applications - t.issued)", "BIGINT")},
    ),
    "procedure_cases": TableInfo(
        "procedure_cases", ("decided_at", "submitted_at"), ministry_column="ministry_code",
        municipality_column="municipality_code", grain=("case_ref",), lineage=("run_id", "submission_id"),
        derived={
            "days_to_decision": (f"CASE WHEN t.decided_at IS NULL THEN NULL ELSE {_DAYS} END", "DOUBLE"),
            "decided": ("(t.decided_at IS NOT NULL)", "BOOLEAN"),
            "within_standard": (
                f"CASE WHEN t.decided_at IS NULL OR t.standard_days IS NULL THEN NULL "
                f"ELSE {_DAYS} <= t.standard_days END", "BOOLEAN"),
        },
    ),
    "alerts": TableInfo(
        "alerts", ("created_at", "first_seen", "closed_at"), grain=("alert_id",), lineage=(),
        derived={
            "hours_to_triage": (
                "(SELECT (epoch(min(h.at_time)) - epoch(t.created_at)) / 3600.0 FROM alert_history h "
                "WHERE h.alert_id = t.alert_id AND h.action IN ('assigned', 'status'))", "DOUBLE"),
        },
    ),
    # Digital Agency DX dashboards: municipalities' figures (6-digit entity_code) and the prefectural
    # governments' own (2-digit) in one table; a KPI filters entity_level to one of them (rules/names.py)
    "municipal_dx": TableInfo(
        "municipal_dx", ("released_on",), municipality_column="entity_code", prefecture_column="entity_code",
        level_column="entity_level", grain=("indicator_id", "entity_level", "entity_code"),
    ),
    "staff": TableInfo("staff", (), grain=("staff_id",)),
    "subjects": TableInfo("subjects", (), municipality_column="municipality_code", grain=("subject_id",)),
}


@cache
def schema_columns() -> dict[str, dict[str, str]]:
    """{table: {column: DuckDB type}} of the warehouse schema built from the shipped migrations."""
    con = duckdb.connect(":memory:")
    try:
        for _version, _name, sql in migrations():
            con.execute(sql)
        refresh_access_view(con, Path("/nonexistent-events-dir"))
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, {})[column] = dtype
    return out


def table_columns(name: str) -> dict[str, str]:
    """Readable columns of an allow-listed table: real columns plus its code-defined derived columns."""
    info = TABLES[name]
    cols = dict(schema_columns().get(name, {}))
    cols.update({k: t for k, (_sql, t) in info.derived.items()})
    return cols


def is_numeric(dtype: str) -> bool:
    return dtype.startswith(NUMERIC_TYPES)


def is_time(dtype: str) -> bool:
    return dtype in TIME_TYPES


@cache
def _caster() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


def value_fits(dtype: str, value: object) -> bool:
    """Whether a filter value can be compared with a column of this type the way the compiled SQL compares it
    (the value a parameter, the column as it is): text must cast to the column's type (DuckDB decides); a number
    or true/false against a text, date or timestamp column would make DuckDB cast the column instead, and fail."""
    if not isinstance(value, str):
        return dtype != "VARCHAR" and not is_time(dtype)
    if dtype == "VARCHAR":
        return True
    if dtype not in set(schema_columns_types()):
        return True  # a type this check does not know: let the engine decide
    return _caster().execute(f"SELECT TRY_CAST(CAST(? AS VARCHAR) AS {dtype}) IS NOT NULL", [value]).fetchall()[0][0]


def schema_columns_types() -> set[str]:
    """Every column type of the allow-listed tables (types are spliced into a cast: only these)."""
    return {t for name in TABLES for t in table_columns(name).values()}
