"""The Digital Agency's inventory of national administrative procedures (行政手続等の棚卸調査), as published.

One CSV row per procedure (75,071 in the FY2023 counts released 2025-07-29), 38 columns, quoted texts with line
breaks; UTF-8 with or without BOM, CP932 or XLSX when re-saved. The file does not say its year: the fiscal year
comes from `--fiscal-year` (or the source's `fiscal_year`). 所管府省庁 is a ministry *name*, resolved to its code
through the reference data (an unknown name is an error naming the row). オンライン化の実施状況 and 手続類型, which the
KPIs filter on, are stored as FY2023 published them whatever their spelling (CODED_VALUES). Texts are kept as
published; a blank count is unknown and stays NULL, never 0; processing periods are kept as text, with whole days
where they parse.
Every published column is kept under its exact header in `published`. Line breaks inside texts are stored as
'\n' (Excel writes CRLF into a CSV's texts, an XLSX keeps no CR), so every copy of a file loads to the same rows.
Rows upsert on (procedure_id, fiscal_year).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from collectors.base import Collector, Column, ParseContext, RowError, Table
from collectors.values import cell, fold, is_blank, parse_count, text_id
from observatory.calendar import fiscal_year_start
from observatory.cells import is_note
from observatory.reference import ministry_names, normalise_name

# canonical column -> the header as the Digital Agency publishes it
HEADERS = {
    "procedure_id": "手続ID",
    "ministry_name": "所管府省庁",
    "procedure_name": "手続名",
    "procedure_type": "手続類型",
    "online_status": "オンライン化の実施状況",
    "cases_total": "総手続件数",
    "cases_online": "オンライン手続件数",
    "cases_offline": "非オンライン手続件数",
    "processing_period_online": "処理期間(オンライン)",
    "processing_period_offline": "処理期間(非オンライン)",
}
COLUMNS = tuple(Column(name, (header,)) for name, header in HEADERS.items())
# The published values of the coded columns the inventory KPIs filter on (kpi_definitions/procedure_inventory.yaml,
# checked by a test). A release writing one otherwise (full-width digits or spaces, the label without its number)
# is stored as published here, or a KPI would count its procedures in no category; a value not among them is kept
# as written and reported.
CODED_VALUES = {
    "online_status": ("1 実施済", "2 未実施", "3 適用除外", "4 その他", "5 一部実施済"),
    "procedure_type": ("1 申請等", "2-1 申請等に基づく処分通知等", "2-2 申請等に基づかない処分通知等",
                       "2-3 交付等（民間手続）", "3 縦覧等", "4 作成・保存等"),
}
_CODE_PREFIX = re.compile(r"^\d+(-\d+)?")

DAYS_PER_UNIT = {"日": 1, "週": 7, "月": 30, "年": 365}
_DURATION = re.compile(r"^(\d+)(日|週|(?:か|ヵ|ヶ|カ|ケ|箇)?月|年)間?$")
_ZERO = re.compile(r"^0+$")
MAX_DAYS = 2**31 - 1
FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR = 2000, 2100


def parse_days(value: Any) -> int | None:
    """Whole days of a processing period as published: '14日' 14, '2週' / '2週間' 14, '1月' / '1か月' 30,
    '1年' 365, '0' 0 (full-width digits too); a range, '不明', 'なし', '-', 'ー' or any other text: None."""
    if is_blank(value):
        return None
    text = "".join(fold(value).split())
    if _ZERO.match(text):
        return 0
    m = _DURATION.match(text)
    if not m:
        return None
    days = int(m.group(1)) * DAYS_PER_UNIT[m.group(2)[-1]]
    return days if days <= MAX_DAYS else None


def one_line_break(text: str) -> str:
    """Line breaks inside a text as '\\n': Excel writes CRLF into a CSV's quoted texts, XLSX keeps no CR."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def published_text(value: Any) -> str:
    """A cell as the CSV shows it: '' for blank, integers without '.0' (an XLSX re-save types the counts), line
    breaks as '\\n'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return one_line_break(value)
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _text(value: Any) -> str | None:
    return None if is_blank(value) else published_text(value).strip()


def _folded(text: str) -> str:
    return "".join(fold(text).split())


class _Coded:
    """The coded columns' values as published (CODED_VALUES) whatever their spelling: the value itself, folded
    (NFKC, no spaces), or its label alone ('実施済'). Another value is kept as written and reported once: the
    KPIs filtering on the column count it in no category."""

    def __init__(self, ctx: ParseContext) -> None:
        self._ctx = ctx
        self._forms: dict[str, dict[str, str]] = {}
        for column, values in CODED_VALUES.items():
            forms = {_CODE_PREFIX.sub("", _folded(v)): v for v in values}
            forms.update({_folded(v): v for v in values})
            forms.update({v: v for v in values})
            self._forms[column] = forms
        self._reported: set[tuple[str, str]] = set()

    def __call__(self, line: int, column: str, value: str | None) -> str | None:
        if value is None:
            return None
        forms = self._forms[column]
        found = forms.get(value) or forms.get(_folded(value))
        if found is not None:
            return found
        if (column, value) not in self._reported:
            self._reported.add((column, value))
            self._ctx.warn(f"row {line}: {HEADERS[column]} '{value}' is not one of {', '.join(CODED_VALUES[column])}: "
                           f"kept as written; the KPIs filtering on it count it in no category / "
                           f"{HEADERS[column]}の値が公表の区分にありません（そのまま保存）")
        return value


def _fiscal_year(ctx: ParseContext) -> int:
    fy = ctx.fiscal_year
    if fy is None:
        raise RowError("the file does not say its fiscal year: give --fiscal-year YYYY (or fiscal_year in the "
                       "source) / 年度がファイルにありません：--fiscal-year YYYY を指定してください")
    if not FIRST_FISCAL_YEAR <= fy <= LAST_FISCAL_YEAR:
        raise RowError(f"fiscal year {fy} is outside {FIRST_FISCAL_YEAR}-{LAST_FISCAL_YEAR} / 年度が範囲外です")
    return fy


def _count(line: int, rec: dict[str, Any], column: str) -> int | None:
    value = rec.get(column)
    if value.__class__ is str and value.isascii() and value.isdigit():  # the published form, fast
        return int(value)
    try:
        return cell(line, rec, column, parse_count, required=False)
    except RowError as exc:
        exc.column = HEADERS[column]
        exc.args = (exc.line(),)
        raise


def _check_counts(ctx: ParseContext, line: int, total: int | None, online: int | None, offline: int | None) -> None:
    """Published counts are never altered; a row whose counts disagree is a warning naming row and values."""
    if total is not None and online is not None and online > total:
        ctx.warn(f"row {line}: オンライン手続件数 {online} exceeds 総手続件数 {total} (kept as published) / "
                 f"オンライン件数が総件数を超えています")
    elif None not in (total, online, offline) and online + offline != total:
        ctx.warn(f"row {line}: オンライン手続件数 {online} + 非オンライン手続件数 {offline} != 総手続件数 {total} "
                 f"(kept as published) / 件数の内訳が合計と一致しません")


def _procedure_id(line: int, rec: dict[str, Any]) -> str:
    value = rec.get("procedure_id")
    if value.__class__ is str and value.isascii() and value.strip() == value and value:
        return value
    try:
        return cell(line, rec, "procedure_id", text_id)
    except RowError as exc:
        exc.column = HEADERS["procedure_id"]
        exc.args = (exc.line(),)
        raise


def _published(header: list[str], values: list[Any]) -> dict[str, str]:
    """Every published column under its exact header ('' for a blank cell, as in the CSV); stored as JSON (the
    loader checks each value for Individual Numbers, then encodes it)."""
    if len(values) < len(header):
        values = [*values, *([None] * (len(header) - len(values)))]
    return {h: (v if v.__class__ is str and "\r" not in v else published_text(v))
            for h, v in zip(header, values, strict=False)}


def parse(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated procedure_inventory rows of one published file."""
    fiscal_year = _fiscal_year(ctx)
    period = fiscal_year_start(fiscal_year)
    names = ministry_names()
    codes: dict[str, str | None] = {}  # name as published -> code (25 names, 75,071 rows)
    coded = _Coded(ctx)
    header = table.header
    for index, (line, rec) in enumerate(table.rows):
        if is_note(rec.values()):  # ※ 出典 ... under the table
            ctx.count("notes_skipped")
            continue
        name = _text(rec.get("ministry_name"))
        if name is None:
            raise RowError("value missing / 値がありません", row=line, column=HEADERS["ministry_name"])
        if name not in codes:
            codes[name] = names.get(normalise_name(name))
        code = codes[name]
        if code is None:
            raise RowError("unknown ministry name: add it to observatory/reference/data/ministry_aliases.csv / "
                           "府省庁名が参照データにありません", row=line, column=HEADERS["ministry_name"], value=name)
        total, online, offline = (_count(line, rec, c) for c in ("cases_total", "cases_online", "cases_offline"))
        _check_counts(ctx, line, total, online, offline)
        online_period = _text(rec.get("processing_period_online"))
        offline_period = _text(rec.get("processing_period_offline"))
        yield line, {
            "procedure_id": _procedure_id(line, rec),
            "fiscal_year": fiscal_year,
            "period": period,
            "ministry_code": code,
            "ministry_name": name,
            "procedure_name": _text(rec.get("procedure_name")),
            "procedure_type": coded(line, "procedure_type", _text(rec.get("procedure_type"))),
            "online_status": coded(line, "online_status", _text(rec.get("online_status"))),
            "cases_total": total,
            "cases_online": online,
            "cases_offline": offline,
            "processing_period_online": online_period,
            "processing_period_offline": offline_period,
            "days_online": parse_days(online_period),
            "days_offline": parse_days(offline_period),
            "published": _published(header, table.cells[index]),
        }


COLLECTOR = Collector(
    kind="procedure-inventory",
    table="procedure_inventory",
    key=("procedure_id", "fiscal_year"),
    mode="upsert",
    columns=COLUMNS,
    parse=parse,
    table_columns=("procedure_id", "fiscal_year", "period", "ministry_code", "ministry_name", "procedure_name",
                   "procedure_type", "online_status", "cases_total", "cases_online", "cases_offline",
                   "processing_period_online", "processing_period_offline", "days_online", "days_offline",
                   "published"),
    period_column="period",
    description="Digital Agency inventory of national administrative procedures (行政手続等の棚卸調査), per fiscal year",
)
