"""staff, subjects and cases rosters; turnaround cases: validation, time zones, Individual Number replacement."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

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


def test_staff_bad_org_code_and_missing_termination_date(workspace, tmp_path: Path) -> None:
    header = ["職員ID", "組織コード", "所属", "役職", "本人ID", "在職状況", "退職日"]
    bad_code = [header, ["ST1", "132063", "", "", "", "在職", ""], ["ST2", "132062", "", "", "", "在職", ""]]
    [r1] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "a.csv", csv_bytes(bad_code))])
    assert r1.status == "failed" and "row 3, column org_code, value '132062': check digit" in r1.error
    no_date = [header, ["ST1", "132063", "", "", "", "terminated", ""]]
    [r2] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "b.csv", csv_bytes(no_date))])
    assert r2.status == "failed" and "row 2, column terminated_on" in r2.error
    assert query(workspace, "SELECT count(*) FROM staff") == [(0,)]


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
