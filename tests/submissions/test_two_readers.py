"""Submissions keep their own row reader (observatory/submissions/reader.py) beside the collectors' streaming one
(collectors/sources.py): observatory may not import collectors, and the two still differ on purpose (below).
This pins that they read the same cells from the same file, and the differences that remain, so that neither
drifts unnoticed and whoever merges them knows what must change."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font

from collectors import sources
from collectors.base import RowError
from observatory.submissions import reader
from observatory.submissions.problems import Report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CSV_FIXTURES = sorted(p for p in FIXTURES.rglob("*.csv") if p.name != "undecodable.csv")
TEXT = "市区町村コード,期間,件数,備考\n131016,令和7年4月,\"1,234\",はい\n011002,2025-05,７,\n\n272078,R7.6,-,○\n"


def _collectors(name: str, data: bytes) -> tuple[str | None, list[tuple[int, list]]]:
    cells = sources.read_cells(name, data)
    return cells.meta.get("encoding"), [(n, list(c)) for n, c in cells.grid]


def _submissions(data: bytes, fmt: str = "csv") -> tuple[str | None, list[tuple[int, list]], Report]:
    op = reader.opener(data)
    if fmt == "xlsx":
        report = Report(file_name="f.xlsx", file_format="xlsx", encoding=None)
        return None, [(n, list(c)) for n, c, _ in reader.xlsx_rows(op, None, report)], report
    encoding, _ = reader.detect_encoding(op)
    report = Report(file_name="f.csv", file_format="csv", encoding=encoding)
    return encoding, [(n, list(c)) for n, c, _ in reader.csv_rows(op, encoding, report)], report


@pytest.mark.parametrize("path", CSV_FIXTURES, ids=lambda p: p.name)
def test_every_csv_fixture_reads_the_same(path: Path) -> None:
    data = path.read_bytes()
    enc_a, rows_a = _collectors(path.name, data)
    enc_b, rows_b, report = _submissions(data)
    assert enc_a == enc_b and [c for _, c in rows_a] == [c for _, c in rows_b] and not report.problems


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932", "utf-16"])
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_the_same_text_in_every_encoding_and_delimiter(encoding: str, delimiter: str) -> None:
    text = TEXT.replace(",", delimiter) if delimiter == "\t" else TEXT
    text = text.replace('"1\t234"', '"1,234"')
    data = text.encode(encoding)
    enc_a, rows_a = _collectors("f.csv", data)
    enc_b, rows_b, _ = _submissions(data)
    assert enc_a == enc_b
    assert [c for _, c in rows_a] == [c for _, c in rows_b]
    assert ["131016", "令和7年4月", "1,234", "はい"] in [c for _, c in rows_b] and [] in [c for _, c in rows_b]


def test_a_quoted_line_break_is_one_cell_on_both_but_numbered_apart() -> None:
    """Kept difference: collectors number a record by its first line in the file, submissions by its place
    among the records; the cells are the same."""
    data = b"a,b\n1,\"two\nlines\"\n3,x\n"
    _, rows_a = _collectors("f.csv", data)
    _, rows_b, _ = _submissions(data)
    assert [c for _, c in rows_a] == [c for _, c in rows_b] == [["a", "b"], ["1", "two\nlines"], ["3", "x"]]
    assert [n for n, _ in rows_a] == [1, 2, 4]
    assert [n for n, _ in rows_b] == [1, 2, 3]


def test_an_undecodable_file_is_refused_by_both() -> None:
    data = (FIXTURES / "submissions" / "bad" / "undecodable.csv").read_bytes()
    with pytest.raises(RowError):
        _collectors("undecodable.csv", data)
    assert reader.detect_encoding(reader.opener(data))[0] is None


def test_an_xlsx_sheet_reads_the_same_values() -> None:
    """Kept difference: collectors drop a row's trailing empty cells, submissions keep the row as stored."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["市区町村コード", "期間", "件数", "備考"], [131016, date(2025, 4, 1), 1234, "はい"],
                [11002, "2025-05", 7.5, None], [272078, "R7.6", None, "○"]):
        sheet.append(row)
    sheet.cell(row=3, column=4).font = Font(bold=True)  # stored, with no value
    buf = io.BytesIO()
    book.save(buf)
    data = buf.getvalue()
    _, rows_a = _collectors("f.xlsx", data)
    _, rows_b, report = _submissions(data, "xlsx")
    assert not report.problems and [n for n, _ in rows_a] == [n for n, _ in rows_b] == [1, 2, 3, 4]
    trimmed = [c[: max((i + 1 for i, v in enumerate(c) if v not in (None, "")), default=0)] for _, c in rows_b]
    assert [c for _, c in rows_a] == trimmed
    assert rows_b[2][1][3] is None and len(rows_a[2][1]) == 3
