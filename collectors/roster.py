"""Reference rosters for access monitoring: staff, data subjects and cases (職員・本人・案件).

`staff`: staff_id, org_code, unit, role, subject_id (may be empty), status (active|terminated), terminated_on,
and optionally display_name (氏名) and display_name_en (ローマ字氏名): a file without them loads as before (NULL).
`subjects`: subject_id, municipality_code, surname_key, household_key, neighbourhood_key, sensitive (true|false);
instead of household_key, a municipality's household_number (世帯番号), stored qualified with the municipality code.
`cases`: case_id, subject_id, org_code, unit, procedure_code, opened_at, closed_at.
A subject_id that is a raw Individual Number (12 digits, valid check digit) is replaced by its keyed hash here,
before anything is stored; the run reports how many (detail individual_numbers_replaced).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import duckdb

from collectors.base import Collector, Column, ParseContext, RowError, Table
from collectors.values import (
    cell,
    choice,
    parse_bool,
    parse_date,
    parse_timestamp,
    text_id,
    until_a_year_ahead,
)
from observatory.calendar import local_date
from observatory.reference import organisation_codes
from observatory.reference.codes import UNKNOWN_MUNICIPALITY, check_municipality_code
from observatory.security.pseudonym import protect_subject_id

STAFF = (
    Column("staff_id", ("職員ID", "職員番号", "職員コード", "staff")),
    Column("org_code", ("組織コード", "団体コード", "所属団体コード", "organisation", "organization")),
    Column("unit", ("所属", "課", "部署", "所属課"), required=False),
    Column("role", ("役職", "職種", "権限"), required=False),
    Column("subject_id", ("本人ID", "住民ID", "subject"), required=False),
    Column("status", ("在職状況", "状態", "ステータス")),
    Column("terminated_on", ("退職日", "離職日", "termination_date"), required=False),
    # the romanised name first: its bracketed aliases match exactly, and 氏名 / name declared after it keep the
    # loose (brackets ignored) match, so 氏名（カナ） is the display name and 氏名（ローマ字） the English one
    Column("display_name_en", ("氏名(ローマ字)", "氏名(英字)", "ローマ字氏名", "英字氏名", "name_en", "name(english)",
                               "display_name(en)"), required=False),
    Column("display_name", ("氏名", "職員氏名", "名前", "name", "staff_name", "full_name"), required=False),
)
SUBJECTS = (
    Column("subject_id", ("本人ID", "住民ID", "subject")),
    Column("municipality_code", ("市区町村コード", "団体コード"), required=False),
    Column("surname_key", ("姓キー", "氏キー"), required=False),
    Column("household_key", ("世帯キー",), required=False),
    # a municipality's household number (世帯番号) is unique within that municipality only: stored qualified with
    # the municipality code, so that households of two cities never share a key (household_key is taken as given)
    Column("household_number", ("世帯番号", "household_no"), required=False),
    Column("neighbourhood_key", ("地区キー", "近隣キー", "neighborhood_key"), required=False),
    Column("sensitive", ("要配慮", "要保護", "機微"), required=False),
)
CASES = (
    Column("case_id", ("案件ID", "案件番号", "case")),
    Column("subject_id", ("本人ID", "住民ID", "subject"), required=False),
    Column("org_code", ("組織コード", "団体コード", "organisation", "organization")),
    Column("unit", ("所属", "課", "部署", "担当課"), required=False),
    Column("procedure_code", ("手続コード", "手続ID"), required=False),
    Column("opened_at", ("開始日時", "受付日時", "開始日", "opened")),
    Column("closed_at", ("終了日時", "完了日時", "終了日", "closed"), required=False),
)
NAME_MAX_CHARS = 100
STATUSES = {"active": "active", "在職": "active", "現職": "active",
            "terminated": "terminated", "退職": "terminated", "離職": "terminated"}


def _org_codes() -> frozenset[str]:
    return organisation_codes()


def org_code(line: int, rec: dict[str, Any], known: set[str], column: str = "org_code") -> str:
    """A local government code (check digit validated; five digits read as the reference reads them:
    observatory.reference.codes.check_municipality_code) or a ministry/agency code."""
    code = cell(line, rec, column, text_id)
    if code.isdigit():
        read, problem = check_municipality_code(code, known)
        if problem and problem != UNKNOWN_MUNICIPALITY:
            raise RowError(problem, row=line, column=column, value=code)
        code = read
    else:
        code = code.upper()
    if code not in known:
        raise RowError("unknown organisation code (municipality or ministry) / 組織コードが不明です",
                       row=line, column=column, value=code)
    return code


def subject(line: int, rec: dict[str, Any], ctx: ParseContext, *, required: bool) -> str | None:
    """The stored subject id: a raw Individual Number becomes its keyed hash (and is counted)."""
    value = cell(line, rec, "subject_id", text_id, required=required)
    if value is None:
        return None
    stored, replaced = protect_subject_id(value, ctx.pseudonym_key)
    if replaced:
        ctx.count("individual_numbers_replaced")
    return stored


_status = choice(STATUSES, "status must be active or terminated (在職/退職) / 在職状況が不正です")


def display_name(value: Any) -> str:
    """A person's name as written, each run of spaces (full-width too) as one space; a dash means none.
    Like every cell it is checked for Individual Numbers when the row is protected (collectors.runs)."""
    text = " ".join(str(value).split())
    if len(text) > NAME_MAX_CHARS:
        raise ValueError(f"name longer than {NAME_MAX_CHARS} characters / 氏名が{NAME_MAX_CHARS}文字を超えています")
    return text


def parse_staff(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated staff rows; a terminated member needs terminated_on."""
    known = _org_codes()
    read_date = until_a_year_ahead(parse_date, ctx.timezone, ctx.now)
    for line, rec in table.rows:
        status = cell(line, rec, "status", _status)
        terminated_on = cell(line, rec, "terminated_on", read_date, required=status == "terminated")
        yield line, {
            "staff_id": cell(line, rec, "staff_id", text_id),
            "org_code": org_code(line, rec, known),
            "unit": cell(line, rec, "unit", required=False),
            "role": cell(line, rec, "role", required=False),
            "subject_id": subject(line, rec, ctx, required=False),
            "status": status,
            "terminated_on": terminated_on,
            "display_name": cell(line, rec, "display_name", display_name, required=False),
            "display_name_en": cell(line, rec, "display_name_en", display_name, required=False),
        }


def parse_subjects(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated subjects rows (pseudonymous keys only)."""
    for line, rec in table.rows:
        code = cell(line, rec, "municipality_code", text_id, required=False)
        if code is not None:
            code, problem = check_municipality_code(code)
            if problem:
                raise RowError(problem, row=line, column="municipality_code", value=code)
        yield line, {
            "subject_id": subject(line, rec, ctx, required=True),
            "municipality_code": code,
            "surname_key": cell(line, rec, "surname_key", required=False),
            "household_key": _household(line, rec, code),
            # read as an identifier (NFKC): a legacy export's 水前寺３丁目 is block 3 of 水前寺 (features reads the digits)
            "neighbourhood_key": cell(line, rec, "neighbourhood_key", text_id, required=False),
            "sensitive": bool(cell(line, rec, "sensitive", parse_bool, required=False)),
        }


def _household(line: int, rec: dict[str, Any], municipality_code: str | None) -> str | None:
    """The household key as given, else the municipality's household number qualified with its code."""
    key = cell(line, rec, "household_key", required=False)
    if key is not None:
        return key
    number = cell(line, rec, "household_number", text_id, required=False)  # a spreadsheet's 1.0, full-width digits
    if number is None or municipality_code is None:
        return number
    return f"{municipality_code}:{number}"


def parse_cases(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """Validated cases rows; closed_at may not precede opened_at."""
    known = _org_codes()
    read_time = until_a_year_ahead(parse_timestamp, ctx.timezone, ctx.now)
    for line, rec in table.rows:
        opened = cell(line, rec, "opened_at", read_time)
        closed = cell(line, rec, "closed_at", read_time, required=False)
        if closed is not None and closed < opened:
            raise RowError("closed before it was opened / 終了日時が開始日時より前です",
                           row=line, column="closed_at", value=rec.get("closed_at"))
        yield line, {
            "case_id": cell(line, rec, "case_id", text_id),
            "subject_id": subject(line, rec, ctx, required=False),
            "org_code": org_code(line, rec, known),
            "unit": cell(line, rec, "unit", required=False),
            "procedure_code": cell(line, rec, "procedure_code", text_id, required=False),
            "opened_at": opened,
            "closed_at": closed,
        }


def _opened_month(row: dict[str, Any]) -> date:

    return local_date(row["opened_at"]).replace(day=1)


def _termination_month(row: dict[str, Any]) -> date | None:
    """The month a staff member left (detection looks at it again: accesses after it are use after termination)."""
    return row["terminated_on"].replace(day=1) if row.get("terminated_on") else None


def _one_organisation_per_staff_id(con: duckdb.DuckDBPyConnection, rows: Any, ctx: ParseContext) -> None:
    """A staff id the roster already holds for another organisation is refused, naming the row: the staff table
    and the access events know a person by the staff id alone, so loading it would replace that organisation's
    person (role, unit, termination) with this one, and their accesses would be read as one person's. Staff ids
    must be unique across the workspace (prefix them with the organisation code where two offices' systems number
    their staff alike)."""
    for part in rows.staged_parts():
        for line, staff_id, stored, given in con.execute(
                "SELECT n._line, n.staff_id, s.org_code, n.org_code FROM read_parquet(?) n JOIN staff s "
                "ON s.staff_id = n.staff_id WHERE s.org_code IS DISTINCT FROM n.org_code ORDER BY n._line LIMIT 1",
                [str(part)]).fetchall():
            raise RowError(f"staff id {staff_id} is already in the roster for organisation {stored}; a staff id "
                           "names one person across the workspace, so another organisation's member needs an id of "
                           f"their own (e.g. {given}-{staff_id}) / 職員ID {staff_id} は組織 {stored} の職員として登録済みです"
                           "（組織をまたいで一意のIDにしてください）", row=line, column="org_code", value=given)


STAFF_COLLECTOR = Collector(
    kind="staff", table="staff", key=("staff_id",), mode="upsert", columns=STAFF, parse=parse_staff, uses_pseudonyms=True,
    table_columns=("staff_id", "org_code", "unit", "role", "subject_id", "status", "terminated_on", "display_name",
                   "display_name_en"),
    period_of=_termination_month,
    before_load=_one_organisation_per_staff_id,
    description="staff roster of organisations whose access is monitored",
)
SUBJECTS_COLLECTOR = Collector(
    kind="subjects", table="subjects", key=("subject_id",), mode="upsert", columns=SUBJECTS, parse=parse_subjects, uses_pseudonyms=True,
    table_columns=("subject_id", "municipality_code", "surname_key", "household_key", "neighbourhood_key",
                   "sensitive"),
    description="pseudonymous data subjects with relation keys",
)
CASES_COLLECTOR = Collector(
    kind="cases", table="cases", key=("case_id",), mode="upsert", columns=CASES, parse=parse_cases, uses_pseudonyms=True,
    table_columns=("case_id", "subject_id", "org_code", "unit", "procedure_code", "opened_at", "closed_at"),
    period_of=_opened_month,
    description="cases under which staff legitimately view a subject's records",
)
