"""Online usage of administrative procedures per ministry and month (行政手続のオンライン利用率).

Layout: ministry_code, procedure_id, procedure_name, field, period (YYYY-MM), cases_total, cases_online,
online_available (true/false/1/0/○/×). Rows upsert on (procedure_id, period) into procedure_usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.base import Collector, Column, ParseContext, RowError, Table
from collectors.values import cell, parse_bool, parse_count, parse_period, text_id
from observatory.cells import is_note
from observatory.reference import ministries

COLUMNS = (
    Column("ministry_code", ("府省コード", "府省庁コード", "省庁コード", "ministry")),
    Column("procedure_id", ("手続ID", "手続id", "手続コード", "手続番号", "procedure")),
    Column("procedure_name", ("手続名", "手続名称", "name"), required=False),
    Column("field", ("分野", "手続分野", "category")),
    Column("period", ("期間", "年月", "対象年月", "month"), required=False),
    Column("cases_total", ("総手続件数", "手続件数", "件数", "total", "total_cases")),
    Column("cases_online", ("オンライン手続件数", "オンライン件数", "online", "online_cases")),
    Column("online_available", ("オンライン化状況", "オンライン完結", "オンライン可否", "available")),
)


def parse(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated procedure_usage rows; the `period` argument stands in when the file has no period column; a note
    under (or above) the table is passed over (cells.is_note), as in the published tables."""
    known = {m.code for m in ministries()}
    default_period = parse_period(ctx.period) if ctx.period else None
    for line, rec in table.rows:
        if is_note(rec.values()):  # ※ 件数は速報値 under the table
            ctx.count("notes_skipped")
            continue
        ministry = cell(line, rec, "ministry_code", text_id).upper()
        if ministry not in known:
            raise RowError(f"unknown ministry code (known: {', '.join(sorted(known))}) / 府省コードが不明です",
                           row=line, column="ministry_code", value=ministry)
        period = cell(line, rec, "period", parse_period, required=default_period is None) or default_period
        total = cell(line, rec, "cases_total", parse_count)
        online = cell(line, rec, "cases_online", parse_count)
        if online > total:
            raise RowError(f"cases_online {online} exceeds cases_total {total} / オンライン件数が総件数を超えています",
                           row=line, column="cases_online", value=online)
        yield line, {
            "ministry_code": ministry,
            "procedure_id": cell(line, rec, "procedure_id", text_id),
            "procedure_name": cell(line, rec, "procedure_name", required=False),
            "field": cell(line, rec, "field", text_id),
            "period": period,
            "cases_total": total,
            "cases_online": online,
            "online_available": cell(line, rec, "online_available", parse_bool),
        }


COLLECTOR = Collector(
    kind="usage-rates",
    table="procedure_usage",
    key=("procedure_id", "period"),
    mode="upsert",
    columns=COLUMNS,
    parse=parse,
    table_columns=("ministry_code", "procedure_id", "procedure_name", "field", "period", "cases_total",
                   "cases_online", "online_available"),
    period_column="period",
    description="procedure usage and online rates per ministry and month",
)
