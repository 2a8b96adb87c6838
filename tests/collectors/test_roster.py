"""staff, subjects and cases rosters; turnaround cases: validation, time zones, Individual Number replacement."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import collectors
from observatory.reference.codes import my_number_check_digit
from observatory.security.pseudonym import pseudonymise
from tests.collectors.conftest import csv_bytes, json_bytes, query, write, xlsx_bytes

RAW = "98765432101" + str(my_number_check_digit("98765432101"))


def _key(ws) -> str:
    return ws.secret(ws.config.security.pseudonym_key_env)


def test_subjects_replace_individual_numbers_and_count_them(workspace, tmp_path: Path) -> None:
    rows = [["subject_id", "municipality_code", "surname_key", "household_key", "neighbourhood_key", "sensitive"],
            [RAW, "132063", "sk1", "hh1", "nb1", "true"],
            ["S0002", "132063", "sk1", "hh1", "nb1", "0"],
            ["S0003", "", "", "", "", ""]]
    [result] = collectors.ingest_files(workspace, "subjects", [write(tmp_path, "s.csv", csv_bytes(rows, "cp932"))])
    assert result.status == "ok", result.error
    assert result.detail["individual_numbers_replaced"] == 1
    got = dict(query(workspace, "SELECT subject_id, sensitive FROM subjects"))
    assert got == {pseudonymise(RAW, _key(workspace)): True, "S0002": False, "S0003": False}


def test_staff_json_with_terminated_member(workspace, tmp_path: Path) -> None:
    rows = [["staff_id", "org_code", "unit", "role", "subject_id", "status", "terminated_on"],
            ["ST001", "132063", "市民課", "clerk", RAW, "active", ""],
            ["ST002", "MHLW", "年金局", "officer", "", "退職", "2026/03/31"]]
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "staff.json", json_bytes(rows))])
    assert result.status == "ok", result.error
    got = query(workspace, "SELECT staff_id, org_code, subject_id, status, terminated_on FROM staff ORDER BY 1")
    assert got == [("ST001", "132063", pseudonymise(RAW, _key(workspace)), "active", None),
                   ("ST002", "MHLW", None, "terminated", date(2026, 3, 31))]
    assert result.detail["individual_numbers_replaced"] == 1


def test_staff_termination_timestamp_is_read_in_the_workspace_time_zone(workspace, tmp_path: Path) -> None:
    """02:00 UTC on 1 April is still 31 March in New York: the date follows config.timezone, not UTC or Japan."""
    workspace.config.timezone = "America/New_York"
    rows = [["staff_id", "org_code", "status", "terminated_on"],
            ["ST001", "132063", "terminated", "2026-04-01T02:00:00Z"]]
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "staff.csv", csv_bytes(rows))])
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT terminated_on FROM staff") == [(date(2026, 3, 31),)]


def test_staff_bad_org_code_and_missing_termination_date(workspace, tmp_path: Path) -> None:
    header = ["職員ID", "組織コード", "所属", "役職", "本人ID", "在職状況", "退職日"]
    bad_code = [header, ["ST1", "132063", "", "", "", "在職", ""], ["ST2", "132062", "", "", "", "在職", ""]]
    [r1] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "a.csv", csv_bytes(bad_code))])
    assert r1.status == "failed" and "row 3, column org_code, value '132062': check digit" in r1.error
    no_date = [header, ["ST1", "132063", "", "", "", "terminated", ""]]
    [r2] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "b.csv", csv_bytes(no_date))])
    assert r2.status == "failed" and "row 2, column terminated_on" in r2.error
    assert query(workspace, "SELECT count(*) FROM staff") == [(0,)]


def test_five_digit_codes_are_read_as_the_six_digit_codes_they_stand_for(workspace, tmp_path: Path) -> None:
    """Staff and cases of 千代田区 under 13101 (no check digit), residents of 札幌市 under 11002 (a spreadsheet's
    dropped zero): stored as 131016 and 011002, as the access log stores them; 12203 (士別市 or 市川市) is refused."""
    staff = [["staff_id", "org_code", "status"], ["ST1", "13101", "active"], ["ST2", "11002", "active"]]
    [r1] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "staff.csv", csv_bytes(staff))])
    assert r1.status == "ok", r1.error
    assert query(workspace, "SELECT staff_id, org_code FROM staff ORDER BY 1") == [("ST1", "131016"), ("ST2", "011002")]
    subjects = [["subject_id", "municipality_code"], ["S1", "11002"], ["S2", "13101"]]
    [r2] = collectors.ingest_files(workspace, "subjects", [write(tmp_path, "s.csv", csv_bytes(subjects))])
    assert r2.status == "ok", r2.error
    assert query(workspace, "SELECT subject_id, municipality_code FROM subjects ORDER BY 1") == [
        ("S1", "011002"), ("S2", "131016")]
    cases = [["case_id", "subject_id", "org_code", "opened_at"], ["C1", "S2", "13101", "2026-05-10"],
             ["C2", "S1", "12203", "2026-05-10"]]
    [r3] = collectors.ingest_files(workspace, "cases", [write(tmp_path, "c.csv", csv_bytes(cases))])
    assert r3.status == "failed" and "row 3, column org_code, value '12203'" in r3.error, r3.error
    assert "012203" in r3.error and "122033" in r3.error


def test_cases_xlsx_reads_naive_times_in_japan_time(workspace, tmp_path: Path) -> None:
    rows = [["case_id", "subject_id", "org_code", "unit", "procedure_code", "opened_at", "closed_at"],
            ["C1", RAW, "132063", "福祉課", "P01", datetime(2026, 4, 1, 9, 0), "2026-04-03T10:00:00+09:00"],
            ["C2", "S2", "132063", "福祉課", 101, "2026-05-10", None]]
    [result] = collectors.ingest_files(workspace, "cases", [write(tmp_path, "cases.xlsx", xlsx_bytes(rows))])
    assert result.status == "ok", result.error
    got = query(workspace, "SELECT case_id, subject_id, procedure_code, opened_at, closed_at FROM cases ORDER BY 1")
    assert got[0][1] == pseudonymise(RAW, _key(workspace))
    assert got[0][3] == datetime(2026, 4, 1, 0, 0, tzinfo=UTC) and got[0][4] == datetime(2026, 4, 3, 1, tzinfo=UTC)
    assert got[1][2] == "101" and got[1][3] == datetime(2026, 5, 9, 15, tzinfo=UTC)
    assert result.periods_touched == [date(2026, 4, 1), date(2026, 5, 1)]


def test_turnaround_cases_upsert_and_validate(workspace, tmp_path: Path) -> None:
    header = ["case_ref", "procedure_id", "ministry_code", "municipality_code", "channel", "submitted_at",
              "decided_at", "standard_days"]
    rows = [header,
            ["R1", "MOJ-001", "MOJ", "132063", "オンライン", "2026-04-01 10:00", "2026-04-08 10:00", "14"],
            ["R2", "MOJ-001", "moj", "", "窓口", "2026-04-02", "", ""]]
    [first] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t.csv", csv_bytes(rows))])
    assert first.status == "ok", first.error
    assert first.periods_touched == [date(2026, 4, 1)]
    rows[2][6] = "2026-04-20"
    [second] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t2.csv", csv_bytes(rows, "utf-8-sig"))])
    got = query(workspace, "SELECT case_ref, ministry_code, municipality_code, channel, decided_at, standard_days, "
                           "run_id FROM procedure_cases ORDER BY 1")
    # R1 is unchanged, so it keeps the first run's lineage; R2 got a decision in the second file
    assert got == [("R1", "MOJ", "132063", "online", datetime(2026, 4, 8, 1, tzinfo=UTC), 14, first.run_id),
                   ("R2", "MOJ", None, "counter", datetime(2026, 4, 19, 15, tzinfo=UTC), None, second.run_id)]
    rows[1][6] = "2026-03-01"
    [bad] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t3.csv", csv_bytes(rows))])
    assert bad.status == "failed" and "row 2, column decided_at" in bad.error



def test_turnaround_and_cases_read_the_dates_excel_writes(workspace, tmp_path: Path) -> None:
    """Japanese Excel saves a date cell into a CSV as 2026/4/1 and a date-and-time as 2026/4/1 9:05; a clerk types
    令和8年4月2日. A turnaround file (申請日, 処分日) or a cases roster (開始日時) written so was refused whole at its
    first row: 'not an ISO 8601 timestamp'. They are the workspace's wall-clock times, as an ISO time without offset."""
    header = ["案件番号", "手続ID", "府省コード", "市区町村コード", "申請方法", "申請日", "処分日", "標準処理期間"]
    rows = [header, ["R1", "MOJ-001", "MOJ", "131016", "オンライン", "2026/4/1", "2026/4/15 17:30", "14"],
            ["R2", "MOJ-001", "MOJ", "", "窓口", "令和8年4月2日", "R8.4.20", ""]]
    [result] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t.csv", csv_bytes(rows, "cp932"))])
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT case_ref, submitted_at, decided_at FROM procedure_cases ORDER BY 1") == [
        ("R1", datetime(2026, 3, 31, 15, tzinfo=UTC), datetime(2026, 4, 15, 8, 30, tzinfo=UTC)),
        ("R2", datetime(2026, 4, 1, 15, tzinfo=UTC), datetime(2026, 4, 19, 15, tzinfo=UTC))]
    cases = [["案件ID", "本人ID", "組織コード", "開始日時", "終了日時"], ["C1", "S1", "131016", "2026/5/10 9:05", ""]]
    [loaded] = collectors.ingest_files(workspace, "cases", [write(tmp_path, "c.csv", csv_bytes(cases, "cp932"))])
    assert loaded.status == "ok", loaded.error
    assert query(workspace, "SELECT opened_at FROM cases") == [(datetime(2026, 5, 10, 0, 5, tzinfo=UTC),)]
    rows[2][6] = "2026/4/20 25:00"
    [bad] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t2.csv", csv_bytes(rows, "cp932"))])
    assert bad.status == "failed" and "row 3, column decided_at" in bad.error and "時刻" in bad.error, bad.error


STAFF_HEADER = ["職員ID", "組織コード", "所属", "役職", "本人ID", "在職状況", "退職日"]


def test_staff_names_from_an_optional_column(workspace, tmp_path: Path) -> None:
    """氏名 and 氏名（ローマ字） are read where a roster has them (spaces folded, a dash is no name); loading the same
    file again changes nothing; a roster without the columns loads and leaves no name behind."""
    named = [[*STAFF_HEADER, "氏名", "氏名（ローマ字）"],
             ["ST1", "132063", "市民課", "clerk", "", "在職", "", "  山田　 太郎 ", "Taro Yamada"],
             ["ST2", "132063", "市民課", "clerk", "", "在職", "", "-", ""]]
    [first] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "a.csv", csv_bytes(named, "cp932"))])
    assert first.status == "ok", first.error
    sql = "SELECT staff_id, display_name, display_name_en, run_id FROM staff ORDER BY 1"
    assert query(workspace, sql) == [("ST1", "山田 太郎", "Taro Yamada", first.run_id),
                                     ("ST2", None, None, first.run_id)]
    [again] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "b.csv", csv_bytes(named, "utf-8-sig"))])
    assert again.status == "ok", again.error
    assert query(workspace, sql) == [("ST1", "山田 太郎", "Taro Yamada", first.run_id),  # unchanged rows keep
                                     ("ST2", None, None, first.run_id)]                 # their lineage
    old = [STAFF_HEADER, ["ST1", "132063", "市民課", "clerk", "", "在職", ""],
           ["ST3", "MHLW", "年金局", "officer", "", "在職", ""]]
    [plain] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "c.csv", csv_bytes(old))])
    assert plain.status == "ok", plain.error
    assert query(workspace, sql) == [("ST1", None, None, plain.run_id), ("ST2", None, None, first.run_id),
                                     ("ST3", None, None, plain.run_id)]


def test_staff_name_in_english_headers_and_json(workspace, tmp_path: Path) -> None:
    rows = [["staff_id", "org_code", "status", "display_name", "name_en"],
            ["ST1", "132063", "active", "佐藤 花子", "Hanako Sato"]]
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "s.json", json_bytes(rows))])
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT display_name, display_name_en FROM staff") == [("佐藤 花子", "Hanako Sato")]


def test_staff_name_holding_an_individual_number_refuses_the_file(workspace, tmp_path: Path) -> None:
    """A name is never a person key: an Individual Number in it refuses the file (row and column named, the
    number masked) and nothing of the file is stored."""
    rows = [["staff_id", "org_code", "status", "氏名"], ["ST1", "132063", "active", "山田 太郎"],
            ["ST2", "132063", "active", f"鈴木 {RAW[:4]}-{RAW[4:8]}-{RAW[8:]}"]]
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "s.csv", csv_bytes(rows))])
    assert result.status == "failed"
    assert "row 3, column display_name" in result.error and RAW not in result.error and RAW[-4:] in result.error
    assert query(workspace, "SELECT count(*) FROM staff") == [(0,)]
    too_long = [["staff_id", "org_code", "status", "name"], ["ST1", "132063", "active", "名" * 101]]
    [long] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "l.csv", csv_bytes(too_long))])
    assert long.status == "failed" and "row 2, column display_name" in long.error and "100" in long.error


def test_migration_011_keeps_staff_rows_of_an_older_workspace(tmp_path: Path) -> None:
    """A warehouse at schema 10 with staff rows gains the name columns (NULL) and keeps its rows."""
    import duckdb

    from observatory.warehouse import migrate, migrations

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    for version, name, sql in migrations():
        if version <= 10:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    con.execute("INSERT INTO staff (staff_id, org_code, unit, role, subject_id, status, terminated_on, run_id) "
                "VALUES ('ST1', '132063', '市民課', 'clerk', NULL, 'active', NULL, 7)")
    assert 11 in migrate(con)
    assert con.execute("SELECT staff_id, run_id, display_name, display_name_en FROM staff").fetchall() == \
        [("ST1", 7, None, None)]
    assert migrate(con) == []
    con.close()


def test_household_numbers_are_qualified_with_their_municipality(workspace, tmp_path: Path) -> None:
    """世帯番号 is a municipality's numbering: the same number in two cities is two households (stored with the
    municipality code); a 世帯キー is taken as given."""
    numbers = [["本人ID", "市区町村コード", "姓キー", "世帯番号", "地区キー", "要配慮"],
               ["S1", "132063", "sk1", "0001", "nb1", ""], ["S2", "131016", "sk2", "0001", "nb1", ""],
               ["S3", "", "sk3", "0002", "", ""]]
    keys = [["本人ID", "市区町村コード", "姓キー", "世帯キー", "地区キー", "要配慮"], ["S4", "132063", "sk1", "H-9", "nb1", ""]]
    for name, rows in (("n.csv", numbers), ("k.csv", keys)):
        [result] = collectors.ingest_files(workspace, "subjects", [write(tmp_path, name, csv_bytes(rows, "cp932"))])
        assert result.status == "ok", result.error
    got = dict(query(workspace, "SELECT subject_id, household_key FROM subjects"))
    assert got == {"S1": "132063:0001", "S2": "131016:0001", "S3": "0002", "S4": "H-9"}


def test_household_numbers_from_a_spreadsheet_are_identifiers(workspace, tmp_path: Path) -> None:
    """A 世帯番号 typed as a number in Excel (12.0) or in full-width digits (１２) is the identifier 12."""
    rows = [["本人ID", "市区町村コード", "世帯番号"], ["S1", "132063", 12.0], ["S2", "131016", "１２"]]
    [result] = collectors.ingest_files(workspace, "subjects", [write(tmp_path, "h.xlsx", xlsx_bytes(rows))])
    assert result.status == "ok", result.error
    assert dict(query(workspace, "SELECT subject_id, household_key FROM subjects")) == \
        {"S1": "132063:12", "S2": "131016:12"}


def test_a_neighbourhood_key_in_full_width_digits_is_the_block_it_names(workspace, tmp_path: Path) -> None:
    """Found by probe 6's independent generator: a legacy export writes the chome in full-width digits (水前寺３丁目),
    which was stored as written, so the detector found no block number in it (its adjacency reads ASCII digits) and
    the same block written both ways was two. A neighbourhood key is read as every identifier is (NFKC)."""
    rows = [["本人ID", "市区町村コード", "地区キー"], ["S1", "431001", "水前寺３丁目"], ["S2", "431001", "水前寺3丁目"],
            ["S3", "431001", "ＮＢ０００１２３"]]
    [result] = collectors.ingest_files(workspace, "subjects", [write(tmp_path, "nb.csv", csv_bytes(rows, "cp932"))])
    assert result.status == "ok", result.error
    assert dict(query(workspace, "SELECT subject_id, neighbourhood_key FROM subjects")) == \
        {"S1": "水前寺3丁目", "S2": "水前寺3丁目", "S3": "NB000123"}


@pytest.mark.parametrize("kind,rows,column,reason", [
    ("staff", [["staff_id", "org_code", "status"], ["ST1", "132063", "active"], ["ST\u200b2", "132063", "active"]],
     "staff_id", "U+200B"),
    ("staff", [["staff_id", "org_code", "subject_id", "status"], ["ST1", "132063", "", "active"],
               ["ST2", "132063", "\ufeffS2", "active"]], "subject_id", "U+FEFF"),
    ("subjects", [["subject_id"], ["S1"], ["S\x072"]], "subject_id", "U+0007"),
    ("cases", [["case_id", "org_code", "opened_at"], ["C1", "132063", "2026-04-01"], ["C\u20602", "132063", "2026-04-01"]],
     "case_id", "U+2060"),
])
def test_identifiers_with_characters_nobody_sees_are_refused(workspace, tmp_path: Path, kind: str, rows: list,
                                                             column: str, reason: str) -> None:
    """A staff, subject or case id holding a zero-width space, a BOM or a control was stored: it looks like another
    id and never matches the access events' (observatory.cells.identifier, the rule of the access log's ids)."""
    [result] = collectors.ingest_files(workspace, kind, [write(tmp_path, f"{kind}.csv", csv_bytes(rows))])
    assert result.status == "failed"
    assert result.error.startswith(f"{kind}.csv: row 3, column {column}"), result.error
    assert reason in result.error
    assert query(workspace, f"SELECT count(*) FROM {kind}") == [(0,)]


# ---------------------------------------------------------------------- rows as the user finds them in the file

FIVE_COLUMNS = ["staff_id", "org_code", "unit", "role", "status"]


def _staff_rows() -> list[list[str]]:
    """Eight members: the third's unit holds a line break, the sixth's status is refused."""
    rows = [[f"ST{i:03d}", "132063", "市民課", "clerk", "active"] for i in range(8)]
    rows[2][2] = "市民課\n窓口"
    rows[5][4] = "retired?"
    return rows


def _text(rows: list[list[str]], sep: str, end: str) -> str:
    return end.join(sep.join(f'"{c}"' if "\n" in c else c for c in r) for r in rows) + end


def test_a_roster_workbook_row_is_named_by_its_sheet_and_the_row_excel_shows(workspace, tmp_path: Path) -> None:
    """Blank rows 1-2, the header on row 3, a line break in row 6 and a blank row 8: the refused member is on the
    sheet's row 10, and the message says which sheet."""
    rows = _staff_rows()
    data = xlsx_bytes([[], [], FIVE_COLUMNS, *rows[:4], [], *rows[4:]], sheet="職員")
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "staff.xlsx", data)])
    assert result.status == "failed"
    assert result.error.startswith("staff.xlsx: sheet '職員', row 10, column status, value 'retired?'"), result.error


@pytest.mark.parametrize("name,data", [
    ("staff.txt", _text([FIVE_COLUMNS, *_staff_rows()[:4], [], *_staff_rows()[4:]], "\t", "\r\n").encode("utf-16")),
    ("staff_mac.csv", _text([FIVE_COLUMNS, *_staff_rows()[:4], [], *_staff_rows()[4:]], ",", "\r").encode()),
    ("staff.csv", _text([FIVE_COLUMNS, *_staff_rows()[:4], [], *_staff_rows()[4:]], ",", "\r\n").encode("cp932")),
])
def test_a_roster_text_row_is_named_by_the_line_where_its_record_starts(workspace, tmp_path: Path, name: str,
                                                                       data: bytes) -> None:
    """Header line 1, a cell over lines 4-5, a blank line 7: the refused member starts on line 9."""
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, name, data)])
    assert result.status == "failed"
    assert result.error.startswith(f"{name}: row 9, column status, value 'retired?'"), result.error


def test_a_roster_json_row_is_the_records_place_in_the_list(workspace, tmp_path: Path) -> None:
    import json

    records = [dict(zip(FIVE_COLUMNS, r, strict=True)) for r in _staff_rows()]
    data = json.dumps(records, ensure_ascii=False, indent=2).encode()
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "staff.json", data)])
    assert result.status == "failed"
    assert result.error.startswith("staff.json: row 6, column status, value 'retired?'"), result.error


STAFF_DATES = ["staff_id", "org_code", "status", "terminated_on"]
CASES_DATES = ["case_id", "org_code", "opened_at", "closed_at"]


@pytest.mark.parametrize("kind,row,column", [
    ("staff", ["ST002", "132063", "terminated", "2062-03-31"], "terminated_on"),
    ("cases", ["C2", "132063", "2062-04-01T09:00:00+09:00", ""], "opened_at"),
    ("cases", ["C2", "132063", "2026-04-01T09:00:00+09:00", "2062-04-01T09:00:00+09:00"], "closed_at"),
])
def test_a_roster_date_more_than_a_year_after_the_ingest_is_refused(workspace, tmp_path: Path, kind: str, row: list,
                                                                     column: str) -> None:
    """A termination or case date typed decades ahead (2062) was stored: a case open until 2062 excused every view
    of its subject, a staff member 'terminated' in 2062 was active for the detector. The access log's rule holds for
    the rosters (collectors.values.MAX_AHEAD after the ingest's clock), by row and column."""
    header, good = {"staff": (STAFF_DATES, ["ST001", "132063", "active", ""]),
                    "cases": (CASES_DATES, ["C1", "132063", "2026-04-01T09:00:00+09:00", ""])}[kind]
    [result] = collectors.ingest_files(workspace, kind, [write(tmp_path, "r.csv", csv_bytes([header, good, row]))])
    assert result.status == "failed"
    assert result.error.startswith(f"r.csv: row 3, column {column}"), result.error
    assert "more than a year after the time of ingest" in result.error and "取込時刻" in result.error
    assert query(workspace, f"SELECT count(*) FROM {kind}") == [(0,)]


def test_roster_dates_up_to_a_year_after_the_ingest_load(workspace, tmp_path: Path) -> None:
    """The boundary is the access log's: a date is allowed up to the local date a year (366 days) after `now`, a
    timestamp up to that instant."""
    now = datetime(2026, 4, 10, tzinfo=UTC)  # latest allowed: 2027-04-11 00:00 UTC, 09:00 in Tokyo
    staff = [STAFF_DATES, ["ST001", "132063", "terminated", "2027-04-11"]]
    cases = [CASES_DATES, ["C1", "132063", "2026-04-01T09:00:00+09:00", "2027-04-11T09:00:00+09:00"]]
    for kind, rows in (("staff", staff), ("cases", cases)):
        [ok] = collectors.ingest_files(workspace, kind, [write(tmp_path, f"{kind}.csv", csv_bytes(rows))], now=now)
        assert ok.status == "ok", ok.error
    staff[1][3] = "2027-04-12"
    cases[1][3] = "2027-04-11T09:00:01+09:00"
    for kind, rows, shown in (("staff", staff, "2027-04-11)"), ("cases", cases, "2027-04-11 00:00 UTC")):
        [late] = collectors.ingest_files(workspace, kind, [write(tmp_path, f"{kind}.csv", csv_bytes(rows))], now=now)
        assert late.status == "failed" and shown in late.error, late.error


@pytest.mark.parametrize("column,value", [("submitted_at", "2062-04-01 10:00"), ("decided_at", "2062-04-08")])
def test_a_case_time_more_than_a_year_after_the_ingest_is_refused(workspace, tmp_path: Path, column: str,
                                                                   value: str) -> None:
    """Turnaround cases (処理期間) by the rosters' and the access log's rule: a decision typed 2062 made a case of 36
    years' processing in the KPI, a submission typed 2062 a case decided before it was submitted."""
    header = ["case_ref", "procedure_id", "ministry_code", "channel", "submitted_at", "decided_at"]
    row = ["R1", "MOJ-001", "MOJ", "online", "2026-04-01 10:00", "2026-04-08 10:00"]
    row[header.index(column)] = value
    [result] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t.csv", csv_bytes([header, row]))],
                                       now=datetime(2026, 12, 1, tzinfo=UTC))
    assert result.status == "failed" and result.error.startswith(f"t.csv: row 2, column {column}"), result.error
    assert "more than a year after the time of ingest" in result.error
    row[header.index(column)] = "2027-11-30" if column == "decided_at" else "2026-03-31 10:00"  # within a year
    [ok] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t2.csv", csv_bytes([header, row]))],
                                   now=datetime(2026, 12, 1, tzinfo=UTC))
    assert ok.status == "ok", ok.error


@pytest.mark.parametrize("kind,record,column", [
    ("staff", {"staff_id": ["S2"], "org_code": "132063", "status": "active"}, "staff_id"),
    ("staff", {"staff_id": "S2", "org_code": "132063", "status": "active", "unit": {"ja": "市民課"}}, "unit"),
    ("access-log", {"event_id": "E2", "occurred_at": "2026-04-01T09:00:00+09:00", "staff_id": "S2",
                    "org_code": "132063", "subject_id": "P2", "action": "view", "case_id": {"a": 1}}, "case_id"),
])
def test_a_json_object_or_list_is_not_a_cell(workspace, tmp_path: Path, kind: str, record: dict, column: str) -> None:
    """A JSON record's member holding an object or a list was stored as Python's text of it ("['S2']"), in every
    collector; it is refused by its row (the record's place in the list) and column."""
    import json

    good = {"staff": {"staff_id": "S1", "org_code": "132063", "status": "active"},
            "access-log": {"event_id": "E1", "occurred_at": "2026-04-01T09:00:00+09:00", "staff_id": "S1",
                           "org_code": "132063", "subject_id": "P1", "action": "view"}}[kind]
    data = json.dumps([good, record], ensure_ascii=False).encode()
    [result] = collectors.ingest_files(workspace, kind, [write(tmp_path, "r.json", data)])
    assert result.status == "failed" and result.error.startswith(f"r.json: row 2, column {column}"), result.error
    assert "object or a list" in result.error


def test_an_individual_number_in_enclosed_numbers_is_not_stored_in_a_roster(workspace, tmp_path: Path) -> None:
    """254744183350 written ㉕㊼㊹⑱㉝㊿ (six characters) in a staff member's unit was stored in clear."""
    rows = [["staff_id", "org_code", "unit", "status"], ["S1", "132063", "㉕㊼㊹⑱㉝㊿", "active"]]
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "s.csv", csv_bytes(rows))])
    assert result.status == "failed" and "column unit" in result.error and "254744183350" not in result.error
    assert query(workspace, "SELECT count(*) FROM staff") == [(0,)]


def test_a_title_above_the_header_is_passed_over_in_every_collector(workspace, tmp_path: Path) -> None:
    """Rosters, like every collector's files, are often saved from a spreadsheet with a title and a blank line
    above the header (collectors.base.Collector.find_header, now the default): the header is found below them and
    a bad row is named by its line in the user's file. The staff roster was refused: 'header is missing'."""
    title = [["職員名簿（令和8年4月1日現在）"], []]
    rows = [*title, STAFF_HEADER, ["ST1", "132063", "市民課", "clerk", "", "在職", ""]]
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "a.csv", csv_bytes(rows, "cp932"))])
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT staff_id FROM staff") == [("ST1",)]
    bad = [*rows, ["ST2", "132062", "", "", "", "在職", ""]]
    [refused] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "b.csv", csv_bytes(bad, "cp932"))])
    assert refused.status == "failed" and "row 5, column org_code" in refused.error, refused.error
    assert all(c.find_header for c in collectors.KINDS.values()), [
        k for k, c in collectors.KINDS.items() if not c.find_header]


def test_a_staff_id_another_organisation_holds_is_refused_not_overwritten(workspace, tmp_path: Path) -> None:
    """Two offices' systems may number their staff alike: the staff table knows a person by the staff id alone, so
    the second office's A0005 would replace the first's (role, unit, a termination date that makes the first's
    accesses use after termination). Refused, naming row and column; what is stored stays."""
    header = ["staff_id", "org_code", "unit", "role", "status", "terminated_on"]
    first = [header, ["A0005", "131016", "市民課", "clerk", "active", ""], ["A0006", "131016", "市民課", "clerk", "active", ""]]
    [ok] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "a.csv", csv_bytes(first))])
    assert ok.status == "ok", ok.error
    other = [header, ["B0001", "011002", "福祉課", "caseworker", "active", ""],
             ["A0005", "011002", "福祉課", "caseworker", "terminated", "2026-10-01"]]
    [refused] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "b.csv", csv_bytes(other))])
    assert refused.status == "failed" and refused.error.startswith("b.csv: row 3, column org_code"), refused.error
    assert "already in the roster for organisation 131016" in refused.error and refused.rows_read == 2
    assert query(workspace, "SELECT staff_id, org_code, status FROM staff ORDER BY 1") == [
        ("A0005", "131016", "active"), ("A0006", "131016", "active")]
    first[1][4:] = ["terminated", "2026-10-01"]  # the same office's roster may change its own member
    [again] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "a2.csv", csv_bytes(first))])
    assert again.status == "ok", again.error
