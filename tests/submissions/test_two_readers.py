"""Collectors and submissions read rows through the one reader (observatory/rows.py): the same file gives the same
encoding, cells and row numbers through `observatory ingest` (collectors/sources.py) and `observatory submit`
(observatory/submissions/reader.py). Where the two readers used to differ, the one reader's behaviour is pinned:
a CSV record is numbered by its first line (a quoted line break does not renumber the records after it), a row's
trailing empty XLSX cells are dropped (unless the cell holds a formula), decoding is strict (an error naming the
line, never U+FFFD), and formulas and percent formats are noted per cell."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font

from collectors import sources
from collectors.base import RowError
from observatory import bounded, rows
from observatory.submissions import reader
from observatory.submissions.problems import Report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CSV_FIXTURES = sorted(p for p in FIXTURES.rglob("*.csv") if p.name != "undecodable.csv")
TEXT = "市区町村コード,期間,件数,備考\n131016,令和7年4月,\"1,234\",はい\n011002,2025-05,７,\n\n272078,R7.6,-,○\n"


def _collectors(name: str, data: bytes) -> tuple[str | None, list[tuple[int, list]]]:
    cells = sources.read_cells(name, data)
    return cells.meta.get("encoding"), [(n, list(c)) for n, c in cells.grid]


def _submissions(data: bytes, fmt: str = "csv") -> tuple[str | None, list[tuple[int, list]], Report]:
    if fmt == "xlsx":
        report = Report(file_name="f.xlsx", file_format="xlsx", encoding=None)
        return None, [(n, list(c)) for n, c, _ in reader.xlsx_rows(data, None, report)], report
    op = reader.opener(data)
    encoding, _ = reader.detect_encoding(op)
    report = Report(file_name="f.csv", file_format="csv", encoding=encoding)
    return encoding, [(n, list(c)) for n, c, _ in reader.csv_rows(op, encoding, report)], report


@pytest.mark.parametrize("path", CSV_FIXTURES, ids=lambda p: p.name)
def test_every_csv_fixture_reads_the_same(path: Path) -> None:
    data = path.read_bytes()
    enc_a, rows_a = _collectors(path.name, data)
    enc_b, rows_b, report = _submissions(data)
    assert enc_a == enc_b and rows_a == rows_b and not report.problems


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "utf-16"])
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_the_same_text_in_every_encoding_and_delimiter(encoding: str, delimiter: str) -> None:
    text = TEXT.replace(",", delimiter) if delimiter == "\t" else TEXT
    text = text.replace('"1\t234"', '"1,234"')
    data = text.encode(encoding)
    enc_a, rows_a = _collectors("f.csv", data)
    enc_b, rows_b, _ = _submissions(data)
    assert enc_a == enc_b and rows_a == rows_b
    assert (2, ["131016", "令和7年4月", "1,234", "はい"]) in rows_b and (4, []) in rows_b


def test_a_title_line_above_a_tab_separated_header_is_read_alike() -> None:
    """The separator is judged by the first line holding a tab or a comma (rows.separator), not by the first line:
    a title line above a tab-separated header made the whole file comma-separated (one cell per line)."""
    text = "令和7年度 利用状況\r\n\r\n市区町村コード\t期間\t件数\r\n131016\t令和7年4月\t1,234,567\r\n"
    data = text.encode("utf-16")
    enc_a, rows_a = _collectors("f.csv", data)
    enc_b, rows_b, _ = _submissions(data)
    assert enc_a == enc_b == "utf-16" and rows_a == rows_b
    assert rows_b == [(1, ["令和7年度 利用状況"]), (2, []), (3, ["市区町村コード", "期間", "件数"]),
                      (4, ["131016", "令和7年4月", "1,234,567"])]
    assert rows.separator(["title", "", "a,b\tc"]) == "," and rows.separator(["title"]) == ","


def test_a_record_after_a_quoted_line_break_keeps_its_line_number() -> None:
    """Decision (the readers differed): a record is numbered by its first line, what a text editor shows; the
    submission reader used to number it by its place among the records (3 here)."""
    data = b"a,b\n1,\"two\nlines\"\n3,x\n"
    _, rows_a = _collectors("f.csv", data)
    _, rows_b, _ = _submissions(data)
    assert rows_a == rows_b == [(1, ["a", "b"]), (2, ["1", "two\nlines"]), (4, ["3", "x"])]


def test_a_malformed_record_is_the_same_error_on_both() -> None:
    data = b"a,b\n1,2\n" + b"3," + b"x" * 200_000 + b"\n"  # a field over csv's own limit: malformed
    with pytest.raises(RowError) as err:
        _collectors("f.csv", data)
    _, got, report = _submissions(data)
    assert got == [(1, ["a", "b"]), (2, ["1", "2"])]
    [problem] = report.problems
    assert (problem.row, problem.code) == (err.value.row, err.value.code) == (3, "malformed_csv")
    assert problem.message_en.startswith("malformed CSV") and problem.message_ja == "CSVの形式が不正です"


def test_an_undecodable_file_is_refused_by_both() -> None:
    data = (FIXTURES / "submissions" / "bad" / "undecodable.csv").read_bytes()
    with pytest.raises(RowError):
        _collectors("undecodable.csv", data)
    assert reader.detect_encoding(reader.opener(data))[0] is None


def test_decoding_is_strict_and_names_the_line() -> None:
    """Decision (the readers differed): a byte that does not decode is an error naming the line, not U+FFFD
    (submissions decoded with errors="replace")."""
    data = "a,b\n1,2\n東京,3\n".encode("cp932")
    with pytest.raises(RowError) as err:
        list(rows.csv_records(lambda: io.BytesIO(data), "utf-8"))
    assert (err.value.row, err.value.code) == (3, "bad_encoding")
    report = Report(file_name="f.csv")
    got = list(reader.csv_rows(lambda: io.BytesIO(data), "utf-8", report))
    assert all(n < 3 for n, _, _ in got) and [(p.row, p.code) for p in report.problems] == [(3, "bad_encoding")]
    assert not any("\ufffd" in c for _, cells, _ in got for c in cells)


def _workbook(rows_: list[list]) -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    for row in rows_:
        book.active.append(row)
    return book


def _saved(book: openpyxl.Workbook) -> bytes:
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_an_xlsx_sheet_reads_the_same_values_without_trailing_empty_cells() -> None:
    """Decision (the readers differed): a row's trailing empty cells are dropped, as Excel shows nothing there
    (the submission reader kept a formatted empty cell as None)."""
    book = _workbook([["市区町村コード", "期間", "件数", "備考"], [131016, date(2025, 4, 1), 1234, "はい"],
                      [11002, "2025-05", 7.5, None], [272078, "R7.6", None, "○"]])
    book.active.cell(row=3, column=4).font = Font(bold=True)  # stored, with no value
    data = _saved(book)
    _, rows_a = _collectors("f.xlsx", data)
    _, rows_b, report = _submissions(data, "xlsx")
    assert not report.problems and report.sheet == "Sheet" and rows_a == rows_b
    assert [n for n, _ in rows_b] == [1, 2, 3, 4] and rows_b[2][1] == [11002, "2025-05", 7.5]
    assert rows_b[3][1] == [272078, "R7.6", None, "○"]


def test_formulas_and_percent_formats_are_noted_and_read_alike() -> None:
    """Notes kept from the submission reader: a formula (even one without a cached value, at a row's end) and a
    percent format; collectors read the same percent note as the text the cell shows, and refuse the formula with
    no value as submissions do (formula_without_value), never reading it as blank."""
    book = _workbook([["コード", "率", "計"], [131016, 0.888, "=1+1"]])
    book.active["B2"].number_format = "0.0%"
    data = _saved(book)  # openpyxl stores no cached value: C2 is empty but holds a formula
    got = list(rows.xlsx_rows(data, percents=True, formulas=True))
    assert got[1] == (2, [131016, 0.888, None], {1: rows.CellNote(None, True), 2: rows.CellNote("=1+1", False)})
    assert got[0] == (1, ["コード", "率", "計"], None)
    assert list(rows.xlsx_rows(data))[1] == (2, [131016, 0.888], None)  # without notes: an empty cell at the end
    with pytest.raises(RowError) as err:
        sources.read_cells("f.xlsx", data, percents_as_text=True)
    assert err.value.code == "formula_without_value" and (err.value.row, err.value.column) == (2, "C")
    values = _workbook([["コード", "率"], [131016, 0.888]])
    values.active["B2"].number_format = "0.0%"
    assert sources.read_cells("f.xlsx", _saved(values), percents_as_text=True).grid[1] == (2, [131016, "88.8%"])


def test_a_missing_sheet_is_the_same_error_on_both() -> None:
    data = _saved(_workbook([["a"]]))
    with pytest.raises(RowError) as err:
        _collectors_sheet(data, "データ")
    report = Report(file_name="f.xlsx")
    assert list(reader.xlsx_rows(data, "データ", report)) == []
    [problem] = report.problems
    assert problem.code == err.value.code == "sheet_not_found" and problem.value == "データ"
    assert problem.message_en == "no sheet 'データ' (the file has: Sheet)" and "データ" in str(err.value)


def _collectors_sheet(data: bytes, sheet: str) -> list:
    return sources.read_cells("f.xlsx", data, sheet=sheet).grid


def test_xlsx_rows_keep_their_sheet_row_numbers_across_empty_rows() -> None:
    book = _workbook([["h"], [1]])
    book.active["B5"] = 5
    data = _saved(book)
    _, rows_a = _collectors("f.xlsx", data)
    _, rows_b, _ = _submissions(data, "xlsx")
    assert rows_a == rows_b and [(n, c) for n, c in rows_b if c] == [(1, ["h"]), (2, [1]), (5, [None, 5])]


def test_the_row_limit_bounds_fetched_files_not_size_capped_submissions(monkeypatch) -> None:
    # a collector's file has no byte cap, so its rows are limited; a submission's bytes are capped before it is
    # read (submissions.max_file_mb), so a long honest submission is not refused for its row count
    monkeypatch.setattr(bounded, "MAX_ROWS", 3)
    data = "code,n\n" + "".join(f"13101{i},{i}\n" for i in range(5))
    with pytest.raises(RowError) as err:
        _collectors("f.csv", data.encode())
    assert err.value.code == "too_many_rows"
    _, got, report = _submissions(data.encode())
    assert len(got) == 6 and not report.problems


def test_the_field_limit_holds_whatever_the_process_set() -> None:
    # a library may raise the csv module's global limit (frictionless does on import): the reader's own holds
    old = csv.field_size_limit(10 * bounded.MAX_FIELD_CHARS)
    try:
        test_a_malformed_record_is_the_same_error_on_both()
    finally:
        csv.field_size_limit(old)


def test_a_title_with_a_comma_above_a_tab_separated_header_is_read_alike() -> None:
    """A title holding a comma and no tab ('第1表 人口, 世帯数') above a tab-separated table: the lines after it
    hold tabs and no comma, so the text is tab-separated (it was read one cell per line, the title deciding). A
    comma-separated table below such a title stays comma-separated, thousands separators and all."""
    text = "第1表 人口, 世帯数\r\n\r\n市区町村コード\t期間\t件数\r\n131016\t令和7年4月\t1,234,567\r\n"
    data = text.encode("utf-16")
    enc_a, rows_a = _collectors("f.csv", data)
    enc_b, rows_b, _ = _submissions(data)
    assert enc_a == enc_b == "utf-16" and rows_a == rows_b
    assert rows_b == [(1, ["第1表 人口, 世帯数"]), (2, []), (3, ["市区町村コード", "期間", "件数"]),
                      (4, ["131016", "令和7年4月", "1,234,567"])]
    assert rows.separator(["第1表 人口, 世帯数", "", "a\tb", "1,234\t5"]) == "\t"
    assert rows.separator(["第1表 人口, 世帯数", "a,b", "1\t2,3"]) == ","
    assert rows.separator(["a,b,c", "1,2,3", "x"]) == ","
