"""A submitted file carrying an Individual Number anywhere is refused, the report masks it, the archive is sealed."""

from __future__ import annotations

import pytest

from observatory.security import sealed
from observatory.security.scan import ScanResult, scan_database
from observatory.submissions import submit
from observatory.warehouse import for_workspace
from tests.security.test_pseudonym_finder import PROBE, written
from tests.submissions.conftest import TAX, TODAY, query, xlsx_bytes

HEADER = ["市区町村コード", "期間", "特別徴収義務者数", "電子的送付件数", "電子的送付の実施", "備考"]
N = PROBE[0]


def _csv(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(r) for r in [HEADER, *rows]).encode("utf-8")


def _ok_row(code: str = "011002") -> list[str]:
    return [code, "2025-04", "10", "5", "実施", ""]


@pytest.mark.parametrize("column,form", [(5, "plain"), (5, "hyphens"), (5, "fullwidth"), (2, "plain"),
                                         (3, "spaces"), (5, "blanks")])
def test_an_individual_number_anywhere_refuses_the_submission(ws, kpis, column: int, form: str) -> None:
    rows = [_ok_row() for _ in range(3)]
    rows[1][0] = "012025"
    rows[2][0] = "012033"
    rows[1][column] = f'"{written(N, form)}"' if column == 5 else written(N, form)
    outcome = submit(ws, _csv(rows), filename="t.csv", kpi_id=TAX, ministry_code="MIC", user="mic1",
                     role="ministry", kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    lines = [line for line in outcome.report.lines() if "individual" in line.lower() or "個人番号" in line]
    assert lines and f"row 3, column {HEADER[column]}" in lines[0] and "********9090" in lines[0]
    assert all(N not in line.replace("-", "").replace(" ", "") for line in outcome.report.lines())
    assert query(ws, "SELECT count(*) FROM submission_values") == [(0,)]
    result = ScanResult()
    with for_workspace(ws).connect() as con:
        scan_database(con, result, "wh")
    assert result.clean, [f.line() for f in result.findings]


def test_xlsx_number_cell_and_the_fast_path(ws, kpis) -> None:
    rows = [[*_ok_row()[:2], int(N), 5, "実施", None]]
    outcome = submit(ws, xlsx_bytes([HEADER, *rows]), filename="t.xlsx", kpi_id=TAX, ministry_code="MIC",
                     user="mic1", role="ministry", kpis=kpis, today=TODAY)
    assert outcome.status == "rejected" and any("個人番号" in line for line in outcome.report.lines())
    # a big clean-looking CSV (the vectorised fast path) with one number in a numeric column deep inside
    from observatory.reference import municipalities

    codes = sorted(m.code for m in municipalities())
    big = [[c, "2025-04", "10", "5", "実施", ""] for c in codes]
    big[1500][2] = N
    outcome = submit(ws, _csv(big), filename="big.csv", kpi_id=TAX, ministry_code="MIC", user="mic1",
                     role="ministry", kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    assert any("row 1502" in line and "個人番号" in line for line in outcome.report.lines())


def test_the_submitted_file_is_archived_encrypted(ws, kpis) -> None:
    data = _csv([_ok_row()])
    outcome = submit(ws, data, filename="t.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", role="ministry",
                     kpis=kpis, today=TODAY)
    assert outcome.status == "accepted", outcome.report.lines()
    [(path,)] = query(ws, "SELECT path FROM archived_files")
    stored = ws.home / path
    assert b"011002" not in stored.read_bytes()
    assert sealed.read_plain(stored, sealed.workspace_key(ws)) == data


def test_an_individual_number_in_the_name_column_never_reaches_the_reasons_or_the_warehouse(ws, kpis) -> None:
    """The code/name mismatch reason quotes the name column: it must be masked like the value is."""
    header = ["市区町村コード", "市区町村名", *HEADER[1:]]
    data = "\n".join(",".join(r) for r in [header, ["011002", N, "2025-04", "10", "5", "実施", ""]]).encode("utf-8")
    outcome = submit(ws, data, filename="t.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", role="ministry",
                     kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    assert [line for line in outcome.report.lines() if N in line] == []
    result = ScanResult()
    with for_workspace(ws).connect() as con:
        scan_database(con, result, "wh")
    assert result.clean, [f.line() for f in result.findings]


def test_a_number_in_the_file_name_is_masked(ws, kpis) -> None:
    """The uploaded file's name is kept with the submission (and shown in its receipt): masked like a value."""
    rows = [HEADER, ["011002", "2025-04", "10", "5", "実施", ""]]
    data = "\n".join(",".join(r) for r in rows).encode("utf-8")
    outcome = submit(ws, data, filename=f"{N}.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", role="ministry",
                     kpis=kpis, today=TODAY)
    assert outcome.submission_id is not None
    result = ScanResult()
    with for_workspace(ws).connect() as con:
        scan_database(con, result, "wh")
    assert result.clean, [f.line() for f in result.findings]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"], ids=["workbook, row by row", "csv, the fast path first"])
def test_a_number_in_fewer_than_twelve_characters_is_still_refused(ws, kpis, fmt: str) -> None:
    """Circled numbers hold two digits in one character (⑲⑨㉟...: an Individual Number in six or seven characters),
    which the finder reads. The row checker skipped every text shorter than twelve characters and the CSV fast path
    took any such text, so a remark so written was stored in clear."""
    from tests.collectors.test_access_log_identifiers import _compatibility_digits

    number = next(p for p in PROBE if 10 <= int(p[:2]) <= 20)
    short = _compatibility_digits(number)["circled, two digits in one"]
    assert len(short) < 12
    body = [_ok_row(c) for c in ("011002", "012025", "012033")]
    body[1][5] = short
    body[2][2] = short  # in a count too: the reason that it is no number quotes the cell, masked like any other
    data = xlsx_bytes([HEADER, *body]) if fmt == "xlsx" else _csv(body)
    outcome = submit(ws, data, filename=f"t.{fmt}", kpi_id=TAX, ministry_code="MIC", user="mic1",
                     role="ministry", kpis=kpis, today=TODAY)
    assert outcome.status == "rejected", outcome.report.lines()[:5]
    assert any("row 3, column 備考" in line and "個人番号" in line for line in outcome.report.lines())
    assert any("row 4, column 特別徴収義務者数" in line for line in outcome.report.lines())
    assert not [line for line in outcome.report.lines() if short in line or number in line]
    assert query(ws, "SELECT count(*) FROM submission_values") == [(0,)]


@pytest.mark.parametrize("name", [f"{N[:4]}\t{N[4:8]}\t{N[8:]}.csv", f"{N[:4]}\u200b{N[4:8]}\u200b{N[8:]}.csv"])
def test_a_number_parted_by_invisible_characters_in_the_file_name_is_masked(ws, kpis, name: str) -> None:
    """The name is stored with its invisible characters written as escapes (1993\\t5181\\t9090): masked before
    the escapes part its digits with letters, which no finder reads as a number."""
    outcome = submit(ws, _csv([_ok_row()]), filename=name, kpi_id=TAX, ministry_code="MIC", user="mic1",
                     role="ministry", kpis=kpis, today=TODAY)
    assert outcome.submission_id is not None
    stored = query(ws, "SELECT file_name FROM submissions UNION ALL SELECT original_name FROM archived_files")
    assert stored and all(v.startswith("********9090") for (v,) in stored), stored


def test_a_number_in_a_sheet_name_is_masked(ws, kpis) -> None:
    """The sheet read is named in the report and kept with the submission."""
    data = xlsx_bytes([HEADER, _ok_row()], sheet=written(N, "hyphens"))
    outcome = submit(ws, data, filename="s.xlsx", kpi_id=TAX, ministry_code="MIC", user="mic1", role="ministry",
                     kpis=kpis, today=TODAY)
    assert outcome.submission_id is not None
    assert outcome.report.sheet == "********9090"
    assert all("5181" not in line for line in outcome.report.lines())
    result = ScanResult()
    with for_workspace(ws).connect() as con:
        scan_database(con, result, "wh")
    assert result.clean, [f.line() for f in result.findings]
