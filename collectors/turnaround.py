"""Processing time of individual procedure cases (処理期間): when a case was submitted and decided.

Layout: case_ref, procedure_id, ministry_code, municipality_code (empty for national cases), channel
(online | counter | post, also オンライン/窓口/郵送), submitted_at, decided_at (empty while pending),
standard_days (標準処理期間). Rows upsert on case_ref into procedure_cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.base import Collector, Column, ParseContext, RowError, Table
from collectors.values import cell, choice, parse_count, parse_timestamp, text_id, until_a_year_ahead
from observatory.calendar import local_date
from observatory.cells import is_note
from observatory.reference import ministries
from observatory.reference.codes import check_municipality_code

COLUMNS = (
    Column("case_ref", ("案件番号", "受付番号", "整理番号", "case")),
    Column("procedure_id", ("手続ID", "手続コード", "手続番号", "procedure")),
    Column("ministry_code", ("府省コード", "府省庁コード", "ministry")),
    Column("municipality_code", ("市区町村コード", "団体コード", "municipality"), required=False),
    Column("channel", ("申請方法", "受付チャネル", "チャネル")),
    Column("submitted_at", ("申請日時", "申請日", "受付日時", "受付日", "submitted")),
    Column("decided_at", ("処分日時", "処分日", "決定日", "decided"), required=False),
    Column("standard_days", ("標準処理期間", "標準処理日数", "standard"), required=False),
)
CHANNELS = {
    "online": "online", "オンライン": "online", "電子申請": "online", "web": "online", "e-gov": "online",
    "counter": "counter", "窓口": "counter", "来庁": "counter",
    "post": "post", "郵送": "post", "mail": "post",
}


_channel = choice(CHANNELS, "channel must be online, counter or post (オンライン/窓口/郵送) / 申請方法が不正です")


def parse(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated procedure_cases rows; naive times are read in the workspace time zone, and a time more than a year
    after the ingest (a year typed decades ahead) is refused, as the rosters and the access log refuse it; a note
    under (or above) the table is passed over (cells.is_note)."""
    known = {m.code for m in ministries()}
    read_time = until_a_year_ahead(parse_timestamp, ctx.timezone, ctx.now)
    for line, rec in table.rows:
        if is_note(rec.values()):  # ※ 処分日が空欄の案件は処理中 under the table
            ctx.count("notes_skipped")
            continue
        ministry = cell(line, rec, "ministry_code", text_id).upper()
        if ministry not in known:
            raise RowError("unknown ministry code / 府省コードが不明です", row=line, column="ministry_code", value=ministry)
        code = cell(line, rec, "municipality_code", text_id, required=False)
        if code is not None:
            code, problem = check_municipality_code(code)
            if problem:
                raise RowError(problem, row=line, column="municipality_code", value=code)
        submitted = cell(line, rec, "submitted_at", read_time)
        decided = cell(line, rec, "decided_at", read_time, required=False)
        if decided is not None and decided < submitted:
            raise RowError("decided before it was submitted / 処分日時が申請日時より前です",
                           row=line, column="decided_at", value=rec.get("decided_at"))
        yield line, {
            "case_ref": cell(line, rec, "case_ref", text_id),
            "procedure_id": cell(line, rec, "procedure_id", text_id),
            "ministry_code": ministry,
            "municipality_code": code,
            "channel": cell(line, rec, "channel", _channel),
            "submitted_at": submitted,
            "decided_at": decided,
            "standard_days": cell(line, rec, "standard_days", parse_count, required=False),
        }


def period_of(row: dict[str, Any]):
    """The month a case belongs to for KPIs: the month it was decided, else submitted (JST)."""
    return local_date(row.get("decided_at") or row["submitted_at"]).replace(day=1)


COLLECTOR = Collector(
    kind="turnaround",
    table="procedure_cases",
    key=("case_ref",),
    mode="upsert",
    columns=COLUMNS,
    parse=parse,
    table_columns=("case_ref", "procedure_id", "ministry_code", "municipality_code", "channel", "submitted_at",
                   "decided_at", "standard_days"),
    period_of=period_of,
    description="submission and decision times of procedure cases",
)
