"""usage-rates: every format and encoding, all-or-nothing loads, idempotence, a crash before commit."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

import collectors
from collectors import runs
from observatory.errors import UserError
from observatory.security import sealed
from tests.collectors.conftest import csv_bytes, json_bytes, query, run_row, write, xlsx_bytes

HEADER = ["ministry_code", "procedure_id", "procedure_name", "field", "period", "cases_total", "cases_online",
          "online_available"]
JA_HEADER = ["府省コード", "手続ID", "手続名", "分野", "期間", "総手続件数", "オンライン手続件数", "オンライン化状況"]
ROWS = [
    ["MOJ", "MOJ-001", "不動産登記申請", "registration", "2026-04", "1,234", "１，０００", "○"],
    ["MHLW", "MHLW-010", "雇用保険被保険者資格取得届", "employment_insurance", "2026/04", "5000", "4000", "true"],
    ["NTA", "NTA-100", "所得税確定申告", "national_tax", "2026年4月", "900", "0", "×"],
]


def _usage(ws) -> list[tuple]:
    return query(ws, "SELECT procedure_id, period, cases_total, cases_online, online_available, run_id "
                     "FROM procedure_usage ORDER BY procedure_id")


@pytest.mark.parametrize("name,data", [
    ("u.csv", csv_bytes([HEADER, *ROWS], "utf-8")),
    ("u_bom.csv", csv_bytes([HEADER, *ROWS], "utf-8-sig")),
    ("u_sjis.csv", csv_bytes([JA_HEADER, *ROWS], "cp932")),
    ("u.xlsx", xlsx_bytes([JA_HEADER, *ROWS])),
    ("u.json", json_bytes([HEADER, *ROWS])),
    ("u_rows.json", json_bytes([HEADER, *ROWS], wrapped=True)),
])
def test_good_file_loads_in_every_format(workspace, tmp_path: Path, name: str, data: bytes) -> None:
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, name, data)])
    assert result.status == "ok", result.error
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0)
    assert result.tables_touched == ["procedure_usage"]
    assert result.periods_touched == [date(2026, 4, 1)]
    got = _usage(workspace)
    assert [(r[0], r[2], r[3], r[4]) for r in got] == [
        ("MHLW-010", 5000, 4000, True), ("MOJ-001", 1234, 1000, True), ("NTA-100", 900, 0, False)]
    assert {r[5] for r in got} == {result.run_id}
    assert run_row(workspace, result.run_id)["status"] == "ok"


def test_malformed_row_in_the_middle_rejects_the_whole_file(workspace, tmp_path: Path) -> None:
    bad = [*ROWS[:1], ["MOJ", "MOJ-002", "x", "registration", "2026-04", "12a", "1", "1"], *ROWS[1:]]
    path = write(tmp_path, "bad.csv", csv_bytes([HEADER, *bad]))
    [result] = collectors.ingest_files(workspace, "usage-rates", [path])
    assert result.status == "failed"
    assert result.rows_loaded == 0 and result.rows_rejected == 4
    assert "bad.csv" in result.error and "row 3" in result.error and "cases_total" in result.error
    assert "'12a'" in result.error
    assert _usage(workspace) == []
    row = run_row(workspace, result.run_id)
    assert row["status"] == "failed" and row["error"] == result.error and row["finished_at"] is not None
    archived = query(workspace, "SELECT path FROM archived_files WHERE sha256 = ?", [result.file_hashes[0]])
    stored = workspace.home / archived[0][0]  # kept encrypted at rest (issue 11), readable with the key
    assert stored.read_bytes() != path.read_bytes()
    assert sealed.read_plain(stored, sealed.workspace_key(workspace)) == path.read_bytes()


def test_changed_columns_are_reported_with_the_header_line(workspace, tmp_path: Path) -> None:
    header = [h if h != "cases_online" else "online_count_v2" for h in HEADER]
    [result] = collectors.ingest_files(workspace, "usage-rates",
                                       [write(tmp_path, "v2.csv", csv_bytes([header, *ROWS]))])
    assert result.status == "failed"
    assert result.error.startswith("v2.csv: row 1, column cases_online")
    assert "missing" in result.error


def test_same_file_twice_changes_nothing_and_a_revision_moves_lineage(workspace, tmp_path: Path) -> None:
    path = write(tmp_path, "u.csv", csv_bytes([HEADER, *ROWS]))
    first, second = collectors.ingest_files(workspace, "usage-rates", [path, path])
    assert first.status == second.status == "ok"
    got = _usage(workspace)
    assert len(got) == 3 and {r[5] for r in got} == {first.run_id}  # identical rows keep their lineage
    revised = [list(r) for r in ROWS]
    revised[1][5] = "5001"
    [third] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "u2.csv", csv_bytes([HEADER, *revised]))])
    assert sorted(r[5] for r in _usage(workspace)) == sorted([first.run_id, first.run_id, third.run_id])
    assert query(workspace, "SELECT count(*) FROM archived_files")[0][0] == 2  # u.csv once, u2.csv


def test_duplicate_key_inside_a_file_is_an_error(workspace, tmp_path: Path) -> None:
    rows = [*ROWS, ["MOJ", "MOJ-001", "again", "registration", "2026-04", "1", "1", "1"]]
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "d.csv", csv_bytes([HEADER, *rows]))])
    assert result.status == "failed" and "row 5" in result.error and "first on row 2" in result.error


def test_crash_between_parse_and_commit_loads_nothing(workspace, tmp_path: Path, monkeypatch) -> None:
    original = runs.write_rows

    def crash_after_insert(con, collector, rows, run_id):
        original(con, collector, rows, run_id)
        raise RuntimeError("power cut")

    monkeypatch.setattr(runs, "write_rows", crash_after_insert)
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "u.csv", csv_bytes([HEADER, *ROWS]))])
    assert result.status == "failed" and "power cut" in result.error
    assert _usage(workspace) == []
    assert run_row(workspace, result.run_id)["status"] == "failed"


def test_online_cases_cannot_exceed_total(workspace, tmp_path: Path) -> None:
    rows = [["MOJ", "MOJ-001", "x", "registration", "2026-04", "10", "11", "1"]]
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "o.csv", csv_bytes([HEADER, *rows]))])
    assert result.status == "failed" and "row 2, column cases_online" in result.error


def test_period_argument_stands_in_for_a_missing_period_column(workspace, tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "period"]
    rows = [[c for i, c in enumerate(r) if i != 4] for r in ROWS]
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "p.csv", csv_bytes([header, *rows]))],
                                       period="2026-05")
    assert result.status == "ok", result.error
    assert {r[1] for r in _usage(workspace)} == {date(2026, 5, 1)}


def test_unknown_kind_and_missing_file_are_user_errors(workspace, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown kind 'nope'"):
        collectors.ingest_files(workspace, "nope", [tmp_path / "x.csv"])
    [result] = collectors.ingest_files(workspace, "usage-rates", [tmp_path / "missing.csv"])
    assert result.status == "failed" and "no such file" in result.error
    os.mkfifo(tmp_path / "pipe.csv")  # a pipe (or a link to a device) is there, but is not a file to read
    [result] = collectors.ingest_files(workspace, "usage-rates", [tmp_path / "pipe.csv"])
    assert result.status == "failed" and "not a regular file" in result.error, result.error


def test_notes_under_the_table_are_read_as_notes(workspace, tmp_path: Path) -> None:
    """A usage table with '※ 件数は速報値です。' under it was refused whole ('row 5, column ministry_code: unknown ministry
    code'), though the card, DX and inventory tables pass such a note over: the same cells.is_note."""
    notes = [[""] * len(JA_HEADER), ["※ 件数は速報値です。"], ["", "", "（注）オンライン化状況は年度末時点"]]
    [result] = collectors.ingest_files(workspace, "usage-rates", [
        write(tmp_path, "n.csv", csv_bytes([JA_HEADER, *ROWS, *notes], "cp932"))])
    assert result.status == "ok", result.error
    assert (result.rows_loaded, result.detail["notes_skipped"]) == (3, 2)
    assert len(_usage(workspace)) == 3
    [turnaround] = collectors.ingest_files(workspace, "turnaround", [write(tmp_path, "t.csv", csv_bytes([
        ["case_ref", "procedure_id", "ministry_code", "channel", "submitted_at"],
        ["R1", "MOJ-001", "MOJ", "online", "2026-04-01 10:00"], ["※ 処分日が空欄の案件は処理中です。"]]))])
    assert turnaround.status == "ok" and turnaround.detail["notes_skipped"] == 1, turnaround.error


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_value_past_the_headers_last_column_refuses_the_file_and_trailing_empty_cells_do_not(workspace, tmp_path,
                                                                                            fmt) -> None:
    """An unquoted comma inside a value shifts every later cell one column right: the row is refused, naming the
    cell past the header, instead of loading shifted values; empty cells there (trailing separators) are nothing."""
    make = csv_bytes if fmt == "csv" else xlsx_bytes
    shifted = [[*ROWS[0], "EXTRA"], *ROWS[1:]]
    [bad] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, f"bad.{fmt}", make([HEADER, *shifted]))])
    assert bad.status == "failed"
    assert f"row 2, column #{len(HEADER) + 1}, value 'EXTRA'" in bad.error and "見出しより列が多い" in bad.error
    assert query(workspace, "SELECT count(*) FROM procedure_usage")[0][0] == 0
    padded = [[*row, "", None] for row in ROWS]
    [ok] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, f"ok.{fmt}", make([HEADER, *padded]))])
    assert ok.status == "ok", ok.error


def test_a_gzipped_workbook_loads_through_a_temporary_file_that_is_removed(workspace, tmp_path, monkeypatch) -> None:
    """A .xlsx.gz is decompressed to a temporary file on disk (openpyxl seeks; held in memory, a 254 KB file's
    256 MB content peaked at 733 MB), read like the workbook itself, and the file removed afterwards."""
    import gzip
    import tempfile

    from collectors import sources

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    read_from = []
    original = sources.xlsx_records
    monkeypatch.setattr(sources, "xlsx_records", lambda source, *a, **k: read_from.append(source) or original(
        source, *a, **k))
    data = gzip.compress(xlsx_bytes([HEADER, *ROWS]))
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "usage.xlsx.gz", data)])
    assert result.status == "ok", result.error
    assert [r[:4] for r in _usage(workspace)] == [
        ("MHLW-010", date(2026, 4, 1), 5000, 4000), ("MOJ-001", date(2026, 4, 1), 1234, 1000),
        ("NTA-100", date(2026, 4, 1), 900, 0)]
    assert [type(p) for p in read_from] == [type(tmp_path)] and read_from[0].parent == tmp_path / "spool"
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_json_record_naming_a_key_twice_refuses_the_file(workspace, tmp_path) -> None:
    """Python's json keeps the last of two values under one key without a word: which one the sender meant is
    unknown, so the file is refused naming the key."""
    record = ", ".join(f'"{h}": "{v}"' for h, v in zip(HEADER, ROWS[0], strict=True))
    data = f'[{{{record}, "cases_total": "99"}}]'.encode()
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "dup.json", data)])
    assert result.status == "failed" and "names 'cases_total' twice" in result.error, result.error
    assert "column cases_total" in result.error
    assert query(workspace, "SELECT count(*) FROM procedure_usage")[0][0] == 0
