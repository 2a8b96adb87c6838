"""Compile KPI measures into parameterised DuckDB SQL.

Nothing from a definition is spliced into SQL except identifiers that validation checked against the
allow-listed tables (tables.py) or the KPI's declared submission columns, always double-quoted; values
from filters and ids travel as parameters. Formulas are parsed into a tiny arithmetic AST and re-emitted.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import date

from observatory.kpis.model import Aggregate, Comparison, KpiDefinition, parse_expression
from observatory.kpis.periods import TIMEZONE, bucket_sql, day_sql
from observatory.kpis.rules.names import submission_columns
from observatory.kpis.tables import SUBMISSION, TABLES, TableInfo, table_columns


def q(name: str) -> str:
    """Double-quote an identifier already checked against an allow-list."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"refusing identifier {name!r}")
    return '"' + name + '"'


@dataclass
class Sql:
    """SQL text with its positional parameters, built in order."""

    text: str = ""
    params: list = field(default_factory=list)


def _source(definition: KpiDefinition, table: str) -> tuple[Sql, TableInfo, dict[str, str]]:
    """The FROM-able relation `t` for a table or the KPI's latest accepted submissions, pivoted wide."""
    if table != SUBMISSION:
        info = TABLES[table]
        return Sql(f"SELECT * FROM {q(table)}"), info, table_columns(table)
    spec = definition.submission
    columns = submission_columns(definition)
    parts, params = [], []
    for c in spec.columns:
        if columns[c.name] == "VARCHAR":
            parts.append(f"max(text_value) FILTER (WHERE column_name = ?) AS {q(c.name)}")
        elif columns[c.name] == "BOOLEAN":
            parts.append(f"CAST(max(value) FILTER (WHERE column_name = ?) AS BOOLEAN) AS {q(c.name)}")
        else:
            parts.append(f"max(value) FILTER (WHERE column_name = ?) AS {q(c.name)}")
        params.append(c.name)
    text = (
        "SELECT submission_id, period, entity_code, " + ", ".join(parts) + " FROM ("
        " SELECT sv.* FROM submission_values sv JOIN submissions s ON s.submission_id = sv.submission_id"
        " WHERE sv.kpi_id = ? AND s.status = 'accepted'"
        " QUALIFY sv.submission_id = max(sv.submission_id) OVER (PARTITION BY sv.ministry_code, sv.period)"
        ") GROUP BY submission_id, period, entity_code"
        " QUALIFY submission_id = max(submission_id) OVER (PARTITION BY period, entity_code)"
    )
    params.append(definition.id)
    level = spec.level
    info = TableInfo(
        SUBMISSION, ("period",),
        ministry_column="entity_code" if level == "ministry" else None,
        municipality_column="entity_code" if level == "municipality" else None,
        grain=("entity_code",), lineage=("submission_id",),
    )
    columns = {**columns, "period": "DATE", "entity_code": "VARCHAR", "submission_id": "BIGINT"}
    return Sql(text, params), info, columns


def _column_sql(info: TableInfo, name: str) -> str:
    if name in info.derived:
        return info.derived[name][0]
    return f"t.{q(name)}"


def _condition(info: TableInfo, name: str, cond) -> Sql:
    col = _column_sql(info, name)
    if isinstance(cond, Comparison):
        op, value = cond.operator()
        if op == "is_null":
            return Sql(f"({col} IS {'' if value else 'NOT '}NULL)")
        if op in ("in", "not_in"):
            marks = ", ".join("?" for _ in value)
            return Sql(f"({col} {'NOT ' if op == 'not_in' else ''}IN ({marks}))", list(value))
        sym = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return Sql(f"({col} {sym} ?)", [value])
    if isinstance(cond, list):
        return Sql(f"({col} IN ({', '.join('?' for _ in cond)}))", list(cond))
    return Sql(f"({col} = ?)", [cond])


def entity_sql(info: TableInfo, level: str, submission_level: str | None = None) -> str | None:
    """SQL for the entity code of a row at a level (None: the table cannot feed that level)."""
    if level == "national":
        return "'JP'"
    if level == "ministry":
        return f"t.{q(info.ministry_column)}" if info.ministry_column else None
    if level == "municipality":
        return _of_rows(info, "municipality", f"t.{q(info.municipality_column)}") if info.municipality_column else None
    if level == "prefecture":
        if submission_level == "prefecture":
            return "t.entity_code"
        own = _of_rows(info, "prefecture", f"t.{q(info.prefecture_column)}") if info.prefecture_column else None
        via = _of_rows(info, "municipality", "m.prefecture_code") if info.municipality_column else None
        if own and via:
            return f"coalesce({own}, {via})"
        return own or via
    return None


def _of_rows(info: TableInfo, rows_level: str, expr: str) -> str:
    """`expr` for the rows of one level of a table holding several (level_column), NULL for the others."""
    if not info.level_column:
        return expr
    return f"CASE WHEN t.{q(info.level_column)} = '{rows_level}' THEN {expr} END"


def scan_key(definition: KpiDefinition, agg: Aggregate) -> tuple:
    """Aggregates with the same key are computed in one scan of their table."""
    return (agg.table or definition.source, agg.period_column, agg.over_time, agg.missing)


def aggregate_sql(definition: KpiDefinition, aggs: list[Aggregate], levels: list[str], frequency: str,
                  start: date, until: date | None, timezone: str = TIMEZONE) -> tuple[Sql, bool]:
    """SQL giving (level, entity_code, period, val_0..val_n, n_rows, runs, subs) for aggregates sharing
    one scan_key, computed in one pass over their table.

    n_rows counts the rows passing any of the filters (all rows for `missing: zero` terms); the engine
    only builds its entity x period grid from rows with n_rows > 0. Rows are restricted to periods in
    [start, until); returns (sql, is_snapshot). A snapshot table has no period: its rows come with
    period NULL and apply to every period.
    """
    first = aggs[0]
    table = first.table or definition.source
    src, info, columns = _source(definition, table)
    sub_level = definition.submission.level if table == SUBMISSION else None
    snapshot = not info.period_columns
    pcol = None if snapshot else first.period_column or info.period_columns[0]
    day = None if pcol is None else day_sql(f"t.{q(pcol)}", columns[pcol], timezone)
    sql = Sql("WITH t AS (" + src.text + "), src AS MATERIALIZED (SELECT ", list(src.params))
    rows = _row_select(info, aggs, levels, frequency, sub_level, day)
    sql.text += rows.text + " FROM t"
    sql.params += rows.params
    if "prefecture" in levels and info.municipality_column and sub_level != "prefecture":
        sql.text += f" LEFT JOIN municipalities m ON m.code = t.{q(info.municipality_column)}"
    if pcol is not None:
        within = _period_filter(info, first, frequency, f"t.{q(pcol)}", columns[pcol], day, start, until)
        sql.text += within.text
        sql.params += within.params
    sql.text += ") "
    vals = [f"CAST({_aggregate_value(agg, j)} AS DOUBLE) AS val_{j}" for j, agg in enumerate(aggs)]
    any_keep = " OR ".join(f"keep_{j}" for j in range(len(aggs)))
    n_rows = "count(*)" if first.missing == "zero" else f"count(*) FILTER (WHERE {any_keep})"
    row_key_level = _row_key_level(info, None if pcol is None else columns[pcol], first, frequency)
    parts = []
    for level in levels:
        e = q("e_" + level)
        parts.append(
            f"SELECT ? AS level, {e} AS entity_code, _period AS period, {', '.join(vals)}, {n_rows} AS n_rows, "
            f"{_lineage_sql(any_keep, one_row=level == row_key_level)} FROM src WHERE {e} IS NOT NULL "
            f"GROUP BY {e}, _period"
        )
        sql.params.append(level)
    sql.text += " UNION ALL ".join(parts)
    return sql, snapshot


def _row_select(info: TableInfo, aggs: list[Aggregate], levels: list[str], frequency: str, sub_level: str | None,
                day: str | None) -> Sql:
    """The select list of the scan: period bucket and day, an entity per level, each aggregate's value and
    whether its filters keep the row, lineage ids, and the table's grain."""
    sql = Sql("")
    select = []
    if day is not None:
        select += [f"{bucket_sql(day, frequency)} AS _period", f"{day} AS _day"]
    else:
        select.append("CAST(NULL AS DATE) AS _period")
    for level in levels:
        expr = entity_sql(info, level, sub_level)
        select.append(f"{expr} AS {q('e_' + level)}")
    for j, agg in enumerate(aggs):
        value = _column_sql(info, agg.column) if agg.column else "NULL"
        select.append(f"{value} AS v_{j}")
        keep_parts = []
        for name, cond in agg.where.items():
            c = _condition(info, name, cond)
            keep_parts.append(c.text)
            sql.params += c.params
        select.append(f"coalesce({' AND '.join(keep_parts) or 'TRUE'}, FALSE) AS keep_{j}")
    select.append("t.run_id AS run_id" if "run_id" in info.lineage else "CAST(NULL AS BIGINT) AS run_id")
    select.append("t.submission_id AS sub_id" if "submission_id" in info.lineage
                  else "CAST(NULL AS BIGINT) AS sub_id")
    for g in info.grain:
        select.append(f"t.{q(g)} AS {q('g_' + g)}")
    sql.text = ", ".join(select)
    return sql


def _period_filter(info: TableInfo, first: Aggregate, frequency: str, raw: str, raw_type: str, day: str,
                   start: date, until: date | None) -> Sql:
    """WHERE the row's day is in [start, until), and for `over_time: last` the QUALIFY keeping each entity's
    latest snapshot in the period."""
    sql = Sql("")
    if raw_type != "DATE":
        # a loose bound on the raw timestamp (a day either side) lets DuckDB skip row groups; the exact
        # bound on the Japanese calendar date follows
        sql.text += f" WHERE {raw} >= CAST(? AS TIMESTAMPTZ) - INTERVAL 1 DAY AND"
        sql.params.append(start)
    else:
        sql.text += " WHERE"
    sql.text += f" {day} >= ?"
    sql.params.append(start)
    if until is not None:
        if raw_type != "DATE":
            sql.text += f" AND {raw} < CAST(? AS TIMESTAMPTZ) + INTERVAL 1 DAY"
            sql.params.append(until)
        sql.text += f" AND {day} < ?"
        sql.params.append(until)
    if first.over_time == "last" and (frequency != "monthly" or info.dated_snapshots):
        # each entity's latest snapshot in the period: its latest month, or its latest reference date
        # where a month may hold several publications (card issuance on 2022-06-01 and 2022-06-30)
        grain = ", ".join(q("g_" + g) for g in info.grain)
        unit = "_day" if info.dated_snapshots else "date_trunc('month', _day)"
        sql.text += f" QUALIFY {unit} = max({unit}) OVER (PARTITION BY _period{', ' + grain if grain else ''})"
    return sql


def _aggregate_value(agg: Aggregate, j: int) -> str:
    """The aggregate of value column v_{j} over the rows its filters keep."""
    v = f"v_{j}"
    fn = {"count": "count(*)" if not agg.column else f"count({v})", "count_distinct": f"count(DISTINCT {v})",
          "sum": f"sum(CAST({v} AS DOUBLE))", "avg": f"avg(CAST({v} AS DOUBLE))",
          "median": f"median(CAST({v} AS DOUBLE))", "min": f"min(CAST({v} AS DOUBLE))",
          "max": f"max(CAST({v} AS DOUBLE))"}[agg.agg]
    val = f"{fn} FILTER (WHERE keep_{j})"
    if agg.agg in ("count", "count_distinct"):
        return f"coalesce({val}, 0)"
    if agg.agg == "sum":
        # no rows kept: a true zero (e.g. no confirmed alerts); rows kept but the column empty in every
        # one of them (a file without that column): the input is missing, not zero
        return (f"CASE WHEN count(*) FILTER (WHERE keep_{j}) > 0 AND count({v}) FILTER (WHERE keep_{j}) = 0 "
                f"THEN NULL ELSE coalesce({val}, 0) END")
    return val


def _row_key_level(info: TableInfo, period_type: str | None, first: Aggregate, frequency: str) -> str | None:
    """The level whose entity is the table's row key (e.g. a municipality's month of card_issuance): there each
    group is one row, so its lineage is that row's."""
    if period_type == "DATE" and (frequency == "monthly" or first.over_time == "last") and len(info.grain) == 1:
        key = info.grain[0]
        if key == info.municipality_column:
            return "municipality"
        if key == info.ministry_column:
            return "ministry"
    return None


def _lineage_sql(any_keep: str, *, one_row: bool) -> str:
    """runs and subs of a group: the distinct ids of its kept rows, or the one row's ids (row-key level)."""
    if one_row:
        one = ("CASE WHEN min({c}) FILTER (WHERE {k}) IS NULL THEN CAST([] AS BIGINT[]) "
               "ELSE [min({c}) FILTER (WHERE {k})] END")
        return one.format(c="run_id", k=any_keep) + " AS runs, " + one.format(c="sub_id", k=any_keep) + " AS subs"
    return (f"list_sort(list(DISTINCT run_id) FILTER (WHERE run_id IS NOT NULL AND ({any_keep}))) AS runs, "
            f"list_sort(list(DISTINCT sub_id) FILTER (WHERE sub_id IS NOT NULL AND ({any_keep}))) AS subs")


def kpi_ref_sql(kpi_id: str, levels: list[str], start: date, until: date | None) -> Sql:
    """Values of another KPI (the latest version present per level, entity and period) as a term."""
    marks = ", ".join("?" for _ in levels)
    text = (
        "SELECT level, entity_code, period, value AS val_0, 1 AS n_rows, "
        "coalesce(CAST(json_extract(lineage, '$.runs') AS BIGINT[]), []) AS runs, "
        "coalesce(CAST(json_extract(lineage, '$.submissions') AS BIGINT[]), []) AS subs "
        f"FROM kpi_values WHERE kpi_id = ? AND level IN ({marks}) AND value IS NOT NULL AND period >= ?"
    )
    params: list = [kpi_id, *levels, start]
    if until is not None:
        text += " AND period < ?"
        params.append(until)
    text += " QUALIFY version = max(version) OVER (PARTITION BY level, entity_code, period)"
    return Sql(text, params)


def expression_sql(expression: str, columns: dict[str, str]) -> Sql:
    """Re-emit a parsed formula as SQL over term columns; division by zero gives NULL (no data)."""
    params: list = []

    def emit(node: ast.AST) -> str:
        if isinstance(node, ast.Expression):
            return emit(node.body)
        if isinstance(node, ast.BinOp):
            left, right = emit(node.left), emit(node.right)
            if isinstance(node.op, ast.Div):
                return f"({left} / NULLIF({right}, 0))"
            sym = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}[type(node.op)]
            return f"({left} {sym} {right})"
        if isinstance(node, ast.UnaryOp):
            return f"(-{emit(node.operand)})" if isinstance(node.op, ast.USub) else emit(node.operand)
        if isinstance(node, ast.Constant):
            params.append(float(node.value))
            return "CAST(? AS DOUBLE)"
        if isinstance(node, ast.Name):
            return columns[node.id]
        raise ValueError(f"unsupported formula element {type(node).__name__}")

    return Sql(emit(parse_expression(expression)), params)
