"""Rule: every table, column and period column a measure names exists in the warehouse schema (or the
KPI's declared submission columns), with a type that fits the aggregate and the KPI's levels."""

from __future__ import annotations

from observatory.kpis.issues import Issue
from observatory.kpis.model import Aggregate, Comparison
from observatory.kpis.rules.submission import FEEDS
from observatory.kpis.tables import (
    DERIVED,
    ROW_LEVELS,
    SUBMISSION,
    TABLES,
    is_numeric,
    is_time,
    table_columns,
    value_fits,
)

NUMERIC_AGGS = ("sum", "avg", "median", "min", "max")
SUBMISSION_TYPES = {"integer": "BIGINT", "number": "DOUBLE", "percent": "DOUBLE", "boolean": "BOOLEAN",
                    "text": "VARCHAR", "enum": "VARCHAR", "date": "VARCHAR"}


def submission_columns(definition) -> dict[str, str]:
    """Declared submission columns as {name: DuckDB type}."""
    if definition.submission is None:
        return {}
    return {c.name: SUBMISSION_TYPES[c.type] for c in definition.submission.columns}


def _aggregate_issues(e, agg: Aggregate, path: tuple) -> list[Issue]:
    d = e.definition
    table = agg.table or d.source
    out: list[Issue] = []
    scope = _scope(e, agg, table, path, out)
    if scope is None:
        return out
    columns, what, levels, what_rows = scope
    out += _column_issues(e, agg, columns, what, path)
    out += _filter_issues(e, agg, table, columns, what, path)
    out += _time_issues(e, agg, table, path)
    for i, level in enumerate(d.levels):
        if level not in levels:
            out.append(e.issue(f"level {level} cannot be computed from {what_rows} "
                               f"(possible: {', '.join(sorted(levels))})", "levels", i))
    return out


def _scope(e, agg: Aggregate, table: str, path: tuple, out: list[Issue]) -> tuple[dict, str, set, str] | None:
    """The aggregate's table: its columns, how to name a missing one, the levels its rows feed and how to name
    those rows; None (with the issue in `out`, if any) when the table is unknown or has no submission."""
    d = e.definition
    if table == SUBMISSION:
        if d.submission is None:
            return None  # reported by the submission rule
        return submission_columns(d), "the submission has no declared column", FEEDS[d.submission.level], table
    if table not in TABLES:
        at = (*path, "table") if agg.table else ("source",)
        known = ", ".join(sorted([*TABLES, SUBMISSION]))
        out.append(e.issue(f"unknown table '{table}' (known: {known})", *at))
        return None
    info = TABLES[table]
    what_rows = table
    if info.level_column and info.rows_level(agg.where) is None:
        out.append(e.issue(f"{table} holds rows of several levels: filter `{info.level_column}` to one of "
                           f"{', '.join(ROW_LEVELS)}", *path, "where"))
    elif info.level_column:
        what_rows = f"{table} ({info.level_column} {info.rows_level(agg.where)})"
    return table_columns(table), f"{table} has no column", info.levels(info.rows_level(agg.where)), what_rows


def _column_issues(e, agg: Aggregate, columns: dict, what: str, path: tuple) -> list[Issue]:
    if agg.column is None:
        return []
    if agg.column not in columns:
        return [e.issue(f"{what} '{agg.column}'", *path, "column")]
    if agg.agg in NUMERIC_AGGS and not is_numeric(columns[agg.column]):
        return [e.issue(f"{agg.agg} needs a numeric column; '{agg.column}' is {columns[agg.column]}",
                        *path, "column")]
    return []


def _filter_issues(e, agg: Aggregate, table: str, columns: dict, what: str, path: tuple) -> list[Issue]:
    """Filters name existing columns, compare orderable ones, and use a submission column's allowed values."""
    d = e.definition
    out = []
    for name, cond in agg.where.items():
        if name not in columns:
            out.append(e.issue(f"filter: {what} '{name}'", *path, "where", name))
            continue
        if isinstance(cond, Comparison):
            op, _value = cond.operator()
            if op in ("gt", "gte", "lt", "lte") and not (is_numeric(columns[name]) or is_time(columns[name])):
                out.append(e.issue(f"filter {op} needs a numeric or date column; '{name}' is {columns[name]}",
                                   *path, "where", name))
        operands = _operands(cond)
        for v in operands:
            if not value_fits(columns[name], v):
                out.append(e.issue(f"filter value {v!r} cannot be compared with '{name}' ({columns[name]})"
                                   + (": write it in quotes" if columns[name] == "VARCHAR" else ""),
                                   *path, "where", name))
                break
        if table == SUBMISSION and d.submission is not None:
            col = next(c for c in d.submission.columns if c.name == name)
            values = cond if isinstance(cond, list) else ([cond] if not isinstance(cond, Comparison) else [])
            if col.allowed:
                for v in values:
                    if str(v) not in col.allowed:
                        out.append(e.issue(f"filter value {v!r} is not an allowed value of '{name}' "
                                           f"({', '.join(col.allowed)})", *path, "where", name))
    return out


def _operands(cond) -> list:
    """The values a filter compares its column with (none for is_null)."""
    if isinstance(cond, Comparison):
        op, value = cond.operator()
        return [] if op == "is_null" else list(value) if isinstance(value, list) else [value]
    return list(cond) if isinstance(cond, list) else [cond]


def _time_issues(e, agg: Aggregate, table: str, path: tuple) -> list[Issue]:
    out = []
    if agg.period_column is not None:
        if table == SUBMISSION or agg.period_column not in TABLES[table].period_columns:
            allowed = ", ".join(TABLES[table].period_columns) if table in TABLES else "none"
            out.append(e.issue(f"'{agg.period_column}' is not a period column of {table} (allowed: {allowed})",
                               *path, "period_column"))
    if agg.over_time == "last" and table in TABLES and not TABLES[table].period_columns:
        out.append(e.issue(f"over_time: last needs a table with periods; {table} is a snapshot",
                           *path, "over_time"))
    return out


def check(entries: list) -> list[Issue]:
    """Names in every aggregate of every version, and the `source` itself."""
    out = []
    for e in entries:
        d = e.definition
        if d.source not in TABLES and d.source not in (SUBMISSION, DERIVED):
            uses_source = any(a.table is None for v in d.versions for _n, a in v.measure.aggregates())
            if not uses_source:
                out.append(e.issue(f"unknown source '{d.source}' (a table, submission or derived)", "source"))
        for i, v in enumerate(d.versions):
            m = v.measure
            base = ("versions", i, "measure")
            if m.aggregate:
                out.extend(_aggregate_issues(e, m.aggregate, (*base, "aggregate")))
            elif m.ratio:
                out.extend(_aggregate_issues(e, m.ratio.numerator, (*base, "ratio", "numerator")))
                out.extend(_aggregate_issues(e, m.ratio.denominator, (*base, "ratio", "denominator")))
            else:
                for name, term in m.formula.terms.items():
                    if isinstance(term, Aggregate):
                        out.extend(_aggregate_issues(e, term, (*base, "formula", "terms", name)))
    return sorted(set(out), key=lambda i: (i.line, i.message))
