"""My Number Card figures per municipality and prefecture, in every layout MIC has published.

Eras (see realdata/PROVENANCE.md and SOURCES.md):
- 2016-2022 (「マイナンバーカード交付状況について」): 算出基準日, 都道府県名, 市区町村名, 総数（人口）, 交付枚数,
  人口に対する交付枚数率, 人口算出基準日, 交付件数基準日, 団体コード. Cards *issued*; the reference date is in the
  file, the population has its own date. 団体コード is written as a number (札幌市 = 11002), `<NA>` for the two
  island villages of Tokyo from 2021-08; names carry their district (石狩郡当別町) or island (三宅島三宅村) and
  variant kanji (檮原町). The prefecture tables of that era (no 市区町村名; 交付枚数算出基準日) land in
  card_issuance_prefecture, reconciled against the sum of their municipalities but never altered.
- 2023+ (sheet 公表用): 都道府県名, 市区町村名, 人口, 保有枚数 (申請数, 交付枚数 when present), no codes, a title
  line naming the month; cards *held* at the end of that month. Total rows (計, 合計, a prefecture alone) are
  skipped. A coded layout (municipality_code, period, population, ...) is accepted too. A table of the 2016-2022
  layout with 保有枚数 (its rows carrying 算出基準日) is of that date, as the 2016-2022 tables are.
*Issued* and *held* are different measures and are never stored in each other's column.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Any

import duckdb

from collectors.base import Collector, Column, ParseContext, RowError, Table
from collectors.values import (
    cell,
    fold,
    is_blank,
    parse_count,
    parse_date,
    parse_float,
    parse_period,
    text_id,
)
from observatory.cells import Bad, days_named, is_note, months_named
from observatory.reference import Municipality, MunicipalityIndex, normalise_name
from observatory.reference.codes import check_municipality_code, code_readings, jis_check_digit

PUBLISHED = (
    Column("prefecture", ("都道府県名", "都道府県", "prefecture_name")),
    Column("municipality_name", ("市区町村名", "市区町村", "団体名", "municipality")),
    Column("population", ("人口", "住民基本台帳人口", "総数（人口）", "人口（総数）")),
    Column("applications", ("申請数", "申請件数", "有効申請受付数"), required=False),
    Column("issued", ("交付枚数", "交付数", "交付件数"), required=False),
    Column("held", ("保有枚数", "保有数")),
    # a table whose rows carry their reference date (the 2016-2022 layout continued with 保有枚数) is of that date
    Column("as_of", ("算出基準日", "基準日"), required=False),
    Column("population_as_of", ("人口算出基準日",), required=False),
)
CODED = (
    Column("municipality_code", ("市区町村コード", "団体コード", "地方公共団体コード", "code")),
    Column("period", ("期間", "年月", "対象年月", "month"), required=False),
    Column("population", ("人口",)),
    Column("applications", ("申請数",), required=False),
    Column("issued", ("交付枚数",), required=False),
    Column("held", ("保有枚数",), required=False),
)
# MIC 2016-2022, municipal table
ISSUED_ERA = (
    Column("as_of", ("算出基準日", "基準日")),
    Column("prefecture", ("都道府県名", "都道府県")),
    Column("municipality_name", ("市区町村名", "市区町村", "団体名")),
    Column("population", ("総数（人口）", "総数", "人口")),
    Column("issued", ("交付枚数",)),
    Column("rate", ("人口に対する交付枚数率", "交付率"), required=False),
    Column("population_as_of", ("人口算出基準日",), required=False),
    Column("issued_as_of", ("交付件数基準日", "交付枚数算出基準日"), required=False),
    Column("municipality_code", ("団体コード", "市区町村コード", "地方公共団体コード"), required=False),
)
# MIC 2016-2022, prefecture table
ISSUED_ERA_PREFECTURE = (
    Column("as_of", ("算出基準日", "基準日")),
    Column("prefecture", ("都道府県名", "都道府県")),
    Column("population", ("総数（人口）", "総数", "人口")),
    Column("issued", ("交付枚数",)),
    Column("rate", ("人口に対する交付枚数率", "交付率"), required=False),
    Column("population_as_of", ("人口算出基準日",), required=False),
    Column("issued_as_of", ("交付枚数算出基準日", "交付件数基準日"), required=False),
)
# MIC 2023+, prefecture table (cards held; the month in the title or --period, as the municipal table)
HELD_ERA_PREFECTURE = (
    Column("prefecture", ("都道府県名", "都道府県", "prefecture_name")),
    Column("population", ("人口", "住民基本台帳人口", "総数（人口）", "人口（総数）")),
    Column("issued", ("交付枚数", "交付数", "交付件数"), required=False),
    Column("held", ("保有枚数", "保有数")),
)
TOTAL_WORDS = {"計", "合計", "小計", "総計", "全国", "全国計", "総数", "total", "subtotal"}
MISSING_CODE_WORDS = {"<na>", "na", "n/a", "nan", "null", "none", "-", "－", "ー", "―"}
RATE_TOLERANCE_POINTS = 0.1


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


def month_end(first: date) -> date:
    """The last day of `first`'s month: the reference date of an end-of-month table."""
    return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


def _period_argument(ctx: ParseContext) -> date | None:
    """The first day of the `--period` month, None when not given; a malformed one is an error."""
    if not ctx.period:
        return None
    try:
        return parse_period(ctx.period)
    except ValueError as exc:
        raise RowError(f"period argument: {exc}", column="period", value=ctx.period) from None


def file_period(ctx: ParseContext) -> date:
    """The `period` argument, else the month the title lines name (notes above the table, ※ 人口は令和5年1月1日
    時点..., are not titles); title lines naming more than one month, one of which is the population's, do not say
    which the figures are of: an error, as no title is. The error says how to give it."""
    given = _period_argument(ctx)
    if given is not None:
        return given
    named: list[tuple[int, int]] = []
    for title in ctx.title_lines:
        if is_note([title]):
            continue
        for found in months_named(title):
            if isinstance(found, Bad):
                raise RowError(f"period in the title: {found}", column="period", value=title)
            named.append(found)
    months = list(dict.fromkeys(named))
    if len(months) == 1:
        return date(*months[0], 1)
    if months:
        shown = ", ".join(f"{y}-{m:02d}" for y, m in months)
        raise RowError(f"the title names more than one month ({shown}): which one the figures are of is not known; "
                       f"give --period YYYY-MM / 見出しに複数の年月（{shown}）があり対象年月が分かりません（--period を指定して"
                       f"ください）", column="period", value=" ".join(ctx.title_lines))
    raise RowError("no period: the title names no month (令和N年M月) and no --period YYYY-MM was given "
                   "/ 対象年月が分かりません（--period を指定してください）")


def _by_name(line: int, prefecture: str, name: str) -> Municipality:
    found = _index().match(prefecture, name)
    if found is not None:
        return found
    if _index().prefecture_code(prefecture) is None:
        raise RowError("unknown prefecture / 都道府県名が不明です", row=line, column="prefecture", value=prefecture)
    elsewhere = _index().candidates(name)
    hint = f" (exists in {', '.join(m.code + ' ' + m.name_ja for m in elsewhere)})" if elsewhere else ""
    raise RowError(f"no municipality of this name in {prefecture}{hint} / 該当する市区町村がありません",
                   row=line, column="municipality_name", value=name)


def _code_candidates(raw: str) -> list[str]:
    """Six-digit codes a published code may stand for (observatory.reference.codes.code_readings: itself, with its
    leading zero restored, 11002 -> 011002, or a five-digit code without its check digit, 01100 -> 011002), a
    spreadsheet's float (11002.0) read as its digits."""
    return code_readings(raw[:-2] if raw.endswith(".0") else raw)


def _prefecture_code_of(raw_code: Any, prefecture: str) -> bool:
    """Whether a row's code is its prefecture's own (北海道 010006, written 10006): the prefecture's total row
    of a table that lists the prefectures among the municipalities."""
    pref = _index().prefecture_code(prefecture)
    if pref is None:
        return False
    five = f"{pref}000"
    return f"{five}{jis_check_digit(five)}" in _code_candidates(fold(str(raw_code)).strip())


def resolve_municipality(line: int, raw_code: Any, prefecture: str, name: str) -> str:
    """The municipality code of a row that gives a code (perhaps without its leading zero, or `<NA>`), a
    prefecture and a name. A given code must exist, carry a valid check digit and agree with the name;
    a missing code is resolved by prefecture + name. Anything else is an error naming row and value."""
    try:
        code_text = "" if is_blank(raw_code) else text_id(raw_code)
    except ValueError as exc:  # a character nobody sees in the code
        raise RowError(str(exc), row=line, column="municipality_code", value=raw_code) from None
    if fold(code_text).lower() in MISSING_CODE_WORDS:
        code_text = ""
    if not code_text:
        return _by_name(line, prefecture, name).code
    candidates = _code_candidates(code_text)
    if not candidates:
        raise RowError("not a local government code / 団体コードではありません", row=line,
                       column="municipality_code", value=code_text)
    checked = [check_municipality_code(c, _index().by_code) for c in candidates]
    known = [code for code, problem in checked if problem is None]
    if not known:
        raise RowError(checked[0][1], row=line, column="municipality_code", value=code_text)
    if not name:
        return known[0]
    agreeing = [c for c in known if _index().names_agree(_index().by_code[c], name)]
    if not agreeing:
        holder = _index().by_code[known[0]]
        raise RowError(f"code {holder.code} is {holder.name_ja}, not the row's name / 団体コードと名称が一致しません",
                       row=line, column="municipality_code", value=f"{code_text} {name}")
    prefecture_code = _index().prefecture_code(prefecture) if prefecture else None
    if prefecture_code and agreeing[0][:2] != prefecture_code:
        raise RowError(f"code {agreeing[0]} is not in {prefecture} / 団体コードと都道府県名が一致しません",
                       row=line, column="municipality_code", value=code_text)
    return agreeing[0]


def reference_date(ctx: ParseContext, month: date) -> date:
    """The reference date of a table of `month` (file_period): the tables are of the month's end
    (令和5年3月末時点), unless the title names one day of that month and never its end (令和5年4月23日時点)."""
    said = {(y, m, d) for title in ctx.title_lines if not is_note([title]) for y, m, d in days_named(title)
            if (y, m) == (month.year, month.month)}
    if len(said) == 1 and (day := next(iter(said))[2]) is not None:
        return month.replace(day=day)
    return month_end(month)


def _check_rate(ctx: ParseContext, line: int, issued: int | None, population: int | None, rate: float | None) -> None:
    """A printed rate that disagrees with issued / population by more than 0.1 point is a warning. A rate
    printed as a share (0.568, or a cell formatted as a percentage in a re-saved workbook) is read as one."""
    if issued is None or not population or rate is None:
        return
    computed = 100.0 * issued / population
    if min(abs(computed - rate), abs(computed - 100.0 * rate)) > RATE_TOLERANCE_POINTS + 1e-9:
        ctx.warn(f"{ctx.file}: row {line}: printed rate {rate:g} % but issued {issued:,} / population "
                 f"{population:,} = {computed:.2f} % / 交付率の記載値と計算値が一致しません")


def _era_dates(line: int, rec: dict[str, Any], ctx: ParseContext,
               given: date | None) -> tuple[date, date | None]:
    """(as_of, population_as_of) of a 2016-2022 row; a `--period` that names another month is an error."""
    tz = ctx.timezone
    as_of = cell(line, rec, "as_of", lambda v: parse_date(v, tz))
    if given is not None:
        if (given.year, given.month) != (as_of.year, as_of.month):
            raise RowError(f"--period {ctx.period} disagrees with the file's reference date / 対象年月がファイルの"
                           f"算出基準日と異なります", row=line, column="as_of", value=as_of.isoformat())
    return as_of, cell(line, rec, "population_as_of", lambda v: parse_date(v, tz), required=False)


def _parse_issued_era(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows carrying their reference date (算出基準日): the 2016-2022 tables (交付枚数), or a table of that layout
    with 保有枚数 (held, and issued when given)."""
    given = _period_argument(ctx)
    held = "held" in table.columns
    for line, rec in table.rows:
        if is_note(rec.values()):  # ※ 交付枚数は速報値です。 under the table
            ctx.count("notes_skipped")
            continue
        prefecture = "" if is_blank(rec.get("prefecture")) else str(rec["prefecture"]).strip()
        name = "" if is_blank(rec.get("municipality_name")) else str(rec["municipality_name"]).strip()
        raw_code = rec.get("municipality_code")
        if (is_blank(raw_code) or _prefecture_code_of(raw_code, prefecture)) and is_total_row(prefecture, name):
            ctx.count("rows_skipped")
            continue
        as_of, population_as_of = _era_dates(line, rec, ctx, given)
        code = resolve_municipality(line, rec.get("municipality_code"), prefecture, name)
        population = cell(line, rec, "population", parse_count)
        issued = cell(line, rec, "issued", parse_count, required=not held)
        _check_rate(ctx, line, issued, population, cell(line, rec, "rate", parse_float, required=False))
        yield line, {"municipality_code": code, "as_of": as_of, "period": as_of.replace(day=1),
                     "population": population, "population_as_of": population_as_of,
                     "applications": cell(line, rec, "applications", parse_count, required=False), "issued": issued,
                     "held": cell(line, rec, "held", parse_count, required=held)}


def parse(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated card_issuance rows with municipality codes; total rows counted in detail rows_skipped."""
    if "as_of" in table.columns:
        yield from _parse_issued_era(table, ctx)
        return
    coded = "municipality_code" in table.columns
    ctx.title_lines = ctx.title_lines or table.title_lines
    default_period = None if coded and ctx.period is None and "period" in table.columns else file_period(ctx)
    default_as_of = None if default_period is None else reference_date(ctx, default_period)
    last_prefecture = ""
    for line, rec in table.rows:
        if is_note(rec.values()):
            ctx.count("notes_skipped")
            continue
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
            code = _by_name(line, prefecture, name).code
            period = default_period
        yield line, {
            "municipality_code": code,
            "as_of": default_as_of if period == default_period else month_end(period),
            "period": period,
            "population": cell(line, rec, "population", parse_count),
            "population_as_of": None,
            "applications": cell(line, rec, "applications", parse_count, required=False),
            "issued": cell(line, rec, "issued", parse_count, required=False),
            "held": cell(line, rec, "held", parse_count, required=False),
        }


def parse_prefectures(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a prefecture table as published (the national total row is skipped): the 2016-2022 layout, whose
    rows carry their reference date, or the 2023+ one of cards held, of the month its title or --period names
    (end of month, as the municipal table of that era)."""
    given = _period_argument(ctx)
    dated = "as_of" in table.columns
    if not dated:
        ctx.title_lines = ctx.title_lines or table.title_lines
        month = file_period(ctx)
        month_as_of = reference_date(ctx, month)
    for line, rec in table.rows:
        if is_note(rec.values()):
            ctx.count("notes_skipped")
            continue
        prefecture = "" if is_blank(rec.get("prefecture")) else str(rec["prefecture"]).strip()
        if normalise_name(prefecture).lower() in TOTAL_WORDS:
            ctx.count("rows_skipped")
            continue
        code = _index().prefecture_code(prefecture)
        if code is None:
            raise RowError("unknown prefecture / 都道府県名が不明です", row=line, column="prefecture", value=prefecture)
        as_of, population_as_of = _era_dates(line, rec, ctx, given) if dated else (month_as_of, None)
        population = cell(line, rec, "population", parse_count)
        issued = cell(line, rec, "issued", parse_count, required=dated)
        _check_rate(ctx, line, issued, population, cell(line, rec, "rate", parse_float, required=False))
        yield line, {"prefecture_code": code, "as_of": as_of, "period": as_of.replace(day=1),
                     "population": population, "population_as_of": population_as_of, "issued": issued,
                     "held": None if dated else cell(line, rec, "held", parse_count)}


def reconcile(con: duckdb.DuckDBPyConnection, as_of: list[date]) -> list[dict[str, Any]]:
    """Prefecture figures as published against the sum of their municipalities on the same date: one dict per
    prefecture and date where both exist, with the differences (published figures are never altered); the
    measure is the one the prefecture table gives (cards issued until 2022, held from 2023)."""
    if not as_of:
        return []
    marks = ", ".join("?" for _ in as_of)
    rows = con.execute(
        f"""SELECT p.prefecture_code, p.as_of, p.population, sum(c.population),
                   CASE WHEN p.held IS NULL THEN 'issued' ELSE 'held' END,
                   coalesce(p.held, p.issued), CASE WHEN p.held IS NULL THEN sum(c.issued) ELSE sum(c.held) END,
                   count(c.municipality_code)
            FROM card_issuance_prefecture p
            JOIN municipalities m ON m.prefecture_code = p.prefecture_code
            JOIN card_issuance c ON c.municipality_code = m.code AND c.as_of = p.as_of
            WHERE p.as_of IN ({marks})
            GROUP BY p.prefecture_code, p.as_of, p.population, p.issued, p.held
            ORDER BY p.as_of, p.prefecture_code""", list(as_of)).fetchall()
    return [{"prefecture_code": r[0], "as_of": r[1], "population": r[2], "population_sum": r[3], "measure": r[4],
             "cards": r[5], "cards_sum": r[6], "municipalities": r[7],
             "agrees": r[2] == r[3] and r[5] == r[6]} for r in rows]


def _report_reconciliation(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], ctx: ParseContext) -> None:
    """After a prefecture table loads: how it compares with the municipalities loaded for the same date."""
    found = reconcile(con, sorted({r["as_of"] for r in rows}))
    ctx.detail["reconciliation"] = {"prefectures_compared": len(found),
                                    "agreeing": sum(1 for f in found if f["agrees"])}
    for f in found:
        if not f["agrees"]:
            ctx.warn(f"{ctx.file}: prefecture {f['prefecture_code']} on {f['as_of']}: published population "
                     f"{f['population']:,} / {f['measure']} {_figure(f['cards'])}, sum of its {f['municipalities']} "
                     f"municipalities {f['population_sum']:,} / {_figure(f['cards_sum'])} "
                     f"/ 都道府県の数値が市区町村の合計と一致しません")


def _figure(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


PREFECTURE_COLLECTOR = Collector(
    kind="card-issuance",
    table="card_issuance_prefecture",
    key=("prefecture_code", "as_of"),
    mode="upsert",
    columns=ISSUED_ERA_PREFECTURE,
    alternative_layouts=(HELD_ERA_PREFECTURE,),
    parse=parse_prefectures,
    table_columns=("prefecture_code", "as_of", "period", "population", "population_as_of", "issued", "held"),
    period_column="period",
    default_sheet="公表用",
    after_load=_report_reconciliation,
    description="My Number Card figures per prefecture as MIC published them (2016-2022 and 2023+ tables)",
)

COLLECTOR = Collector(
    kind="card-issuance",
    table="card_issuance",
    key=("municipality_code", "as_of"),
    mode="upsert",
    columns=PUBLISHED,
    alternative_layouts=(ISSUED_ERA, CODED),
    parse=parse,
    table_columns=("municipality_code", "as_of", "period", "population", "population_as_of", "applications",
                   "issued", "held"),
    period_column="period",
    default_sheet="公表用",
    variants=(PREFECTURE_COLLECTOR,),
    description="My Number Card issuance (2016-2022) and holdings (2023+) per municipality and prefecture",
)
