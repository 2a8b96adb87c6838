"""My Number Card issuance per municipality and month (マイナンバーカード交付状況), as the ministry publishes it.

The published layout has Japanese headers 都道府県名, 市区町村名, 人口, 保有枚数 (申請数, 交付枚数 when present) and no
municipality codes; a title line such as 'マイナンバーカード交付状況（令和8年10月末時点）' and blank rows may stand above
the header; subtotal/total rows (計, 合計, 小計, a row naming only the prefecture) are skipped. Names become codes
through MunicipalityIndex.match(prefecture, name) - 25 names repeat across prefectures, so never by name alone.
A coded layout (municipality_code, period, population, applications, issued, held) is accepted too.
The period is the `period` argument (YYYY-MM) or else the month named in the title line.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Any

from collectors.base import Collector, Column, ParseContext, RowError, Table
from collectors.values import cell, find_year_month, is_blank, parse_count, parse_period, text_id
from observatory.reference import MunicipalityIndex, normalise_name
from observatory.reference.codes import check_municipality_code

PUBLISHED = (
    Column("prefecture", ("都道府県名", "都道府県", "prefecture_name")),
    Column("municipality_name", ("市区町村名", "市区町村", "団体名", "municipality")),
    Column("population", ("人口", "住民基本台帳人口", "総数（人口）", "人口（総数）")),
    Column("applications", ("申請数", "申請件数", "有効申請受付数"), required=False),
    Column("issued", ("交付枚数", "交付数", "交付件数"), required=False),
    Column("held", ("保有枚数", "保有数")),
)
CODED = (
    Column("municipality_code", ("市区町村コード", "団体コード", "地方公共団体コード", "code")),
    Column("period", ("期間", "年月", "対象年月", "month"), required=False),
    Column("population", ("人口",)),
    Column("applications", ("申請数",), required=False),
    Column("issued", ("交付枚数",), required=False),
    Column("held", ("保有枚数",), required=False),
)
TOTAL_WORDS = {"計", "合計", "小計", "総計", "全国", "全国計", "総数", "total", "subtotal"}


@cache
def _index() -> MunicipalityIndex:
    """The name/code index of the shipped municipality list (built once per process)."""
    return MunicipalityIndex()


def is_total_row(prefecture: str, name: str) -> bool:
    """Subtotal and total rows: 計/合計/小計, '北海道計', or a row naming only the prefecture."""
    pref, nm = normalise_name(prefecture), normalise_name(name)
    if nm.lower() in TOTAL_WORDS or pref.lower() in TOTAL_WORDS:
        return True
    if nm.endswith("計") and (not nm[:-1] or nm[:-1] == pref or _index().prefecture_code(nm[:-1])):
        return True
    if not nm and pref:
        return True
    return bool(nm) and _index().prefecture_code(nm) is not None and (not pref or nm == pref)


def file_period(ctx: ParseContext) -> date:
    """The `period` argument, else the month in a title line; an error says how to give it."""
    if ctx.period:
        try:
            return parse_period(ctx.period)
        except ValueError as exc:
            raise RowError(f"period argument: {exc}", column="period", value=ctx.period) from None
    for title in ctx.title_lines:
        found = find_year_month(title)
        if found:
            return date(found[0], found[1], 1)
    raise RowError("no period: the title names no month (令和N年M月) and no --period YYYY-MM was given "
                   "/ 対象年月が分かりません（--period を指定してください）")


def _municipality(line: int, prefecture: str, name: str) -> str:
    found = _index().match(prefecture, name)
    if found is not None:
        return found.code
    if _index().prefecture_code(prefecture) is None:
        raise RowError("unknown prefecture / 都道府県名が不明です", row=line, column="prefecture", value=prefecture)
    elsewhere = _index().candidates(name)
    hint = f" (exists in {', '.join(m.code + ' ' + m.name_ja for m in elsewhere)})" if elsewhere else ""
    raise RowError(f"no municipality of this name in {prefecture}{hint} / 該当する市区町村がありません",
                   row=line, column="municipality_name", value=name)


def parse(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated card_issuance rows with municipality codes; total rows counted in detail rows_skipped."""
    coded = "municipality_code" in table.columns
    ctx.title_lines = ctx.title_lines or table.title_lines
    default_period = None if coded and ctx.period is None and "period" in table.columns else file_period(ctx)
    last_prefecture = ""
    for line, rec in table.rows:
        if coded:
            code, problem = check_municipality_code(cell(line, rec, "municipality_code", text_id), _index().by_code)
            if problem:
                raise RowError(problem, row=line, column="municipality_code", value=code)
            period = cell(line, rec, "period", parse_period, required=default_period is None) or default_period
        else:
            prefecture = "" if is_blank(rec.get("prefecture")) else str(rec["prefecture"]).strip()
            name = "" if is_blank(rec.get("municipality_name")) else str(rec["municipality_name"]).strip()
            if is_total_row(prefecture, name):
                ctx.count("rows_skipped")
                if prefecture and _index().prefecture_code(prefecture):
                    last_prefecture = prefecture
                elif name and _index().prefecture_code(name):  # a prefecture heading in the name column
                    last_prefecture = name
                continue
            prefecture = prefecture or last_prefecture  # merged prefecture cells arrive empty
            last_prefecture = prefecture
            code = _municipality(line, prefecture, name)
            period = default_period
        yield line, {
            "municipality_code": code,
            "period": period,
            "population": cell(line, rec, "population", parse_count),
            "applications": cell(line, rec, "applications", parse_count, required=False),
            "issued": cell(line, rec, "issued", parse_count, required=False),
            "held": cell(line, rec, "held", parse_count, required=False),
        }


COLLECTOR = Collector(
    kind="card-issuance",
    table="card_issuance",
    key=("municipality_code", "period"),
    mode="upsert",
    columns=PUBLISHED,
    alternative_layouts=(CODED,),
    parse=parse,
    table_columns=("municipality_code", "period", "population", "applications", "issued", "held"),
    period_column="period",
    default_sheet="公表用",
    find_header=True,
    description="My Number Card applications, issuance and holdings per municipality",
)
