"""The same data as CP932 CSV, UTF-8-BOM CSV and XLSX loads to identical rows; XLSX specifics; templates."""

from __future__ import annotations

import io
from datetime import datetime

import openpyxl

from observatory.submissions import report_csv, submit, template_bytes
from tests.submissions.conftest import FIXTURES, TAX, TODAY, query, xlsx_bytes

HEADER = ["都道府県名", "市区町村名", "市区町村コード", "期間", "特別徴収義務者数", "電子的送付件数", "電子化率",
          "電子的送付の実施", "備考"]
XLSX_ROWS = [
    HEADER,
    ["北海道", "札幌市", "011002", "2025-04", 12345, 6000, 0.486, "実施", '=HYPERLINK("http://example.invalid")'],
    ["東京都", "府中市", None, datetime(2025, 4, 1), 1000, 0, 0, "未実施", None],
    ["広島県", "府中市", None, "R7.4", "=100*2", 100, 50, "実施", None],
    [None, "千代田区", "131016", "2025-04", 500, 500, 100, "実施", "@note"],
]


def _send(ws, kpis, data: bytes, name: str, user: str = "mic1"):
    return submit(ws, data, filename=name, kpi_id=TAX, ministry_code="MIC", user=user, kpis=kpis, today=TODAY)


def _values(ws, submission_id: int) -> list[tuple]:
    return query(ws, "SELECT period, entity_code, column_name, value, text_value FROM submission_values "
                     "WHERE submission_id = ? ORDER BY ALL", [submission_id])


def test_cp932_utf8_bom_and_xlsx_load_identical_rows(ws, kpis) -> None:
    xlsx = xlsx_bytes(XLSX_ROWS, percent_cells=("G2",), cached={"E4": "200"}, text_cells=("I2",))
    outcomes = [
        _send(ws, kpis, (FIXTURES / "good" / "tax_cp932.csv").read_bytes(), "tax_cp932.csv"),
        _send(ws, kpis, (FIXTURES / "good" / "tax_utf8bom.csv").read_bytes(), "tax_utf8bom.csv"),
        _send(ws, kpis, xlsx, "tax.xlsx"),
    ]
    assert [o.status for o in outcomes] == ["accepted"] * 3, [o.report.lines() for o in outcomes]
    assert [o.report.encoding for o in outcomes] == ["Shift_JIS (CP932)", "UTF-8 (BOM)", None]
    first = _values(ws, outcomes[0].submission_id)
    assert len(first) == 4 * 5
    assert {r[1] for r in first} == {"011002", "132063", "342084", "131016"}  # 府中市 resolved per prefecture
    assert (first[0][0].isoformat(), "011002", "electronic_rate", 48.6) in {(r[0].isoformat(),) + r[1:4] for r in first}
    assert _values(ws, outcomes[1].submission_id) == first
    assert _values(ws, outcomes[2].submission_id) == first
    # each later file supersedes the earlier as a correction that changes nothing
    assert [o.receipt["periods"][0]["unchanged"] for o in outcomes] == [0, 4, 4]


def test_xlsx_typed_cells_percent_format_and_cached_formulas(ws, kpis) -> None:
    csv_outcome = _send(ws, kpis, (FIXTURES / "good" / "tax_utf8bom.csv").read_bytes(), "tax_utf8bom.csv")
    rows = [r[:8] + [None] for r in XLSX_ROWS]
    rows[0][8] = "備考"
    rows[1][8] = "=HYPERLINK"  # plain text starting with '=' in a text column: stored as text, never executed
    xlsx = xlsx_bytes(rows, percent_cells=("G2",), cached={"E4": "200"}, text_cells=("I2",))
    outcome = _send(ws, kpis, xlsx, "tax.xlsx")
    assert outcome.status == "accepted", outcome.report.lines()
    assert outcome.report.file_format == "xlsx" and outcome.report.sheet == "提出データ"
    assert ('tax.xlsx: row 4, column 特別徴収義務者数, value "200": warning: the cell holds a formula (=100*2); its '
            "computed value was used — please send values / 数式（=100*2）の計算結果を使いました。値で提出してください"
            ) in outcome.report.lines()
    got = {r[1:3]: r[3:] for r in _values(ws, outcome.submission_id)}
    want = {r[1:3]: r[3:] for r in _values(ws, csv_outcome.submission_id)}
    assert got.keys() == want.keys()
    for key in got:
        if key[1] != "note":
            assert got[key] == want[key], key
    assert got[("011002", "electronic_rate")] == (48.6, None)
    assert got[("011002", "note")] == (None, "=HYPERLINK")


def test_formula_without_cached_value_is_an_error(ws, kpis) -> None:
    rows = [HEADER[:8], ["北海道", "札幌市", "011002", "2025-04", "=10*2", 5, None, "実施"]]
    outcome = _send(ws, kpis, xlsx_bytes(rows), "formula.xlsx")
    assert outcome.status == "rejected"
    assert ('formula.xlsx: row 2, column 特別徴収義務者数, value "=10*2": error: the cell holds a formula with no '
            "computed value; paste values / 数式のみで計算結果がありません。値として貼り付けてください") in outcome.report.lines()


def test_named_sheet_and_missing_sheet(ws, kpis) -> None:
    rows = [HEADER[:8], ["北海道", "札幌市", "011002", "2025-04", 10, 5, None, "実施"]]
    data = xlsx_bytes(rows, sheet="データ", extra_sheet_first=True)
    assert submit(ws, data, filename="s.xlsx", kpi_id=TAX, ministry_code="MIC", user="mic1", kpis=kpis,
                  today=TODAY, sheet="データ").status == "accepted"
    other = xlsx_bytes(rows[:1] + [rows[1][:4] + [11, 5, None, "実施"]], sheet="データ", extra_sheet_first=True)
    missing = submit(ws, other, filename="s2.xlsx", kpi_id=TAX, ministry_code="MIC", user="mic1", kpis=kpis,
                     today=TODAY, sheet="Sheet9")
    assert missing.status == "rejected"
    assert ("s2.xlsx: value \"Sheet9\": error: no sheet 'Sheet9' (the file has: 表紙, データ) / "
            "シート「Sheet9」がありません（ファイル内のシート: 表紙、データ）") in missing.report.lines()


def test_a_hidden_sheet_is_not_the_first_sheet(ws, kpis) -> None:
    """With no sheet named, the file's first sheet is the first one the ministry sees in Excel: a hidden sheet
    before it (an old draft, a lookup table) is not what they checked and sent."""
    wb = openpyxl.Workbook()
    draft = wb.active
    draft.title, draft.sheet_state = "下書き", "hidden"
    draft.append(HEADER[:8])
    draft.append(["北海道", "札幌市", "011002", "2025-04", 999, 999, None, "実施"])
    shown = wb.create_sheet("提出")
    shown.append(HEADER[:8])
    shown.append(["北海道", "札幌市", "011002", "2025-04", 10, 5, None, "実施"])
    buf = io.BytesIO()
    wb.save(buf)
    outcome = _send(ws, kpis, buf.getvalue(), "hidden.xlsx")
    assert outcome.status == "accepted" and outcome.report.sheet == "提出"
    assert query(ws, "SELECT value FROM submission_values WHERE column_name = 'employers_total'") == [(10.0,)]


def test_formula_like_text_is_escaped_in_the_report_csv(ws, kpis) -> None:
    outcome = _send(ws, kpis, (FIXTURES / "good" / "tax_utf8bom.csv").read_bytes(), "tax_utf8bom.csv")
    assert outcome.status == "accepted"
    codes = [(p.row, p.code) for p in outcome.report.problems]
    assert codes == [(2, "formula_text"), (5, "formula_text")]
    text = report_csv(outcome.report).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'@note" in text
    assert ",=HYPERLINK" not in text and ",@note" not in text


def test_templates_carry_bilingual_headers_sample_and_allowed_values(ws, kpis) -> None:
    kpi = kpis[TAX]
    csv_text = template_bytes(kpi, "csv")
    assert csv_text.startswith(b"\xef\xbb\xbf")
    text = csv_text.decode("utf-8-sig")
    assert "市区町村コード (municipality_code),都道府県名 (prefecture),市区町村名 (municipality_name),期間 (period)," \
           "特別徴収義務者数 (employers_total)" in text
    assert "入力できる値: 実施｜未実施" in text and "allowed: 実施 | 未実施" in text
    assert "#131016,東京都,千代田区,2025-04,1234,1234,45.6,実施," in text
    book = openpyxl.load_workbook(io.BytesIO(template_bytes(kpi, "xlsx")))
    sheet = book.worksheets[0]
    assert sheet.title == "提出データ"
    assert [c.value for c in sheet[1]][:4] == ["市区町村コード (municipality_code)", "都道府県名 (prefecture)",
                                               "市区町村名 (municipality_name)", "期間 (period)"]
    assert sheet["A2"].value == "#131016"
    assert any('"実施,未実施"' in dv.formula1 for dv in sheet.data_validations.dataValidation)


def test_a_filled_in_template_is_accepted_and_its_sample_row_ignored(ws, kpis) -> None:
    kpi = kpis[TAX]
    filled = template_bytes(kpi, "csv") + "011002,北海道,札幌市,2025-04,10,5,50,実施,\r\n".encode()
    outcome = _send(ws, kpis, filled, "filled.csv")
    assert outcome.status == "accepted", outcome.report.lines()
    assert outcome.report.rows_total == 1
    book = openpyxl.load_workbook(io.BytesIO(template_bytes(kpi, "xlsx")))
    book.worksheets[0].append(["011002", "北海道", "札幌市", "2025-05", 10, 5, 50, "実施"])
    buf = io.BytesIO()
    book.save(buf)
    outcome = _send(ws, kpis, buf.getvalue(), "filled.xlsx")
    assert outcome.status == "accepted", outcome.report.lines()
    assert outcome.receipt["rows_accepted"] == 1


# ---------------------------------------------------------------------- rows as the user finds them in the file

def _rows_with_a_bad_one() -> list[list]:
    """Five data rows: the second's note holds a line break, the fourth's count is not a number."""
    rows = [[*r[:4], 10 + i, 5, None, "実施", "備考"] for i, r in enumerate(
        [["北海道", "札幌市", "011002", "2025-04"], ["東京都", "千代田区", "131016", "2025-04"],
         ["東京都", "中央区", "131024", "2025-04"], ["東京都", "港区", "131032", "2025-04"],
         ["東京都", "新宿区", "131041", "2025-04"]])]
    rows[1][8] = "一行目\n二行目"
    rows[3][4] = "多数"
    return rows


def test_a_workbook_row_is_the_row_excel_shows(ws, kpis) -> None:
    """A title row, a blank row, the header on row 3, a line break in row 5 and a blank row 6: the bad count is on
    the sheet's row 8, and the report names the sheet."""
    rows = _rows_with_a_bad_one()
    data = xlsx_bytes([["令和7年度 提出"], [], HEADER, *rows[:2], [], *rows[2:]])
    outcome = _send(ws, kpis, data, "rows.xlsx")
    assert outcome.status == "rejected"
    assert [(p.row, p.column) for p in outcome.report.problems if p.severity == "error"] == [(8, "特別徴収義務者数")]
    assert outcome.report.sheet == "提出データ"


def _text(rows: list[list], sep: str, end: str) -> str:
    """Rows as Excel saves them as text: each padded to the header's width, a cell with a line break quoted."""
    def cell(c) -> str:
        c = "" if c is None else str(c)
        return f'"{c}"' if "\n" in c else c
    return end.join(sep.join(map(cell, [*r, *[None] * (len(HEADER) - len(r))])) for r in rows) + end


def test_a_text_row_is_the_line_where_its_record_starts(ws, kpis) -> None:
    """A title line, a blank line, the header on line 3, a cell over lines 5-6, a blank line 7: the bad count
    starts on line 9, whatever the encoding, separator or line ends."""
    rows = _rows_with_a_bad_one()
    lines = [["令和7年度 提出"], [], HEADER, *rows[:2], [], *rows[2:]]
    for name, data in [("rows.txt", _text(lines, "\t", "\r\n").encode("utf-16")),
                       ("rows_mac.csv", _text(lines, ",", "\r").encode("cp932")),
                       ("rows.csv", _text(lines, ",", "\n").encode("utf-8"))]:
        outcome = _send(ws, kpis, data, name)
        assert outcome.status == "rejected", name
        errors = [(p.row, p.column) for p in outcome.report.problems if p.severity == "error"]
        assert errors == [(9, "特別徴収義務者数")], (name, outcome.report.lines())


def test_no_cell_of_an_xlsx_template_is_a_formula_whatever_the_definition_says(ws, kpis) -> None:
    """openpyxl writes any text starting with = as a formula: a definition's label or description must reach the
    ministry's Excel as the text it is, never run."""
    kpi = kpis[TAX]
    spec = kpi.submission.model_copy(deep=True)
    spec.columns[0].label_ja = '=HYPERLINK("http://example.invalid","x")'
    forged = type("Kpi", (), {"id": kpi.id, "name": kpi.name, "owner": kpi.owner, "frequency": kpi.frequency,
                              "submission": spec})()
    book = openpyxl.load_workbook(io.BytesIO(template_bytes(forged, "xlsx")))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(str(c.value).startswith("=HYPERLINK") for c in cells)  # shown as written


def test_percentages_all_written_as_fractions_are_accepted_with_a_warning(ws, kpis) -> None:
    """A percent of 0.45 is 0.45 % (as documented): a file whose every rate lies between 0 and 1 most likely wrote
    fractions, and its report says so by column (a warning: the file is accepted as sent)."""
    kpi = kpis[TAX]
    rows = ["011002,北海道,札幌市,2025-04,100,50,{},実施,", "012025,北海道,函館市,2025-04,100,40,{},実施,",
            "131016,東京都,千代田区,2025-04,100,60,{},実施,"]
    fractions = template_bytes(kpi, "csv") + "\r\n".join(r.format(x) for r, x in zip(
        rows, ("0.5", "0.4", "0.6"), strict=True)).encode() + b"\r\n"
    outcome = _send(ws, kpis, fractions, "fractions.csv")
    warned = [p for p in outcome.report.problems if p.code == "percent_as_fraction"]
    assert outcome.status == "accepted" and len(warned) == 1, outcome.report.lines()
    assert warned[0].column.startswith("電子化率")
    percents = template_bytes(kpi, "csv") + "\r\n".join(r.format(x) for r, x in zip(
        rows, ("50", "40", "60"), strict=True)).encode() + b"\r\n"
    outcome = _send(ws, kpis, percents, "percents.csv")
    assert not [p for p in outcome.report.problems if p.code == "percent_as_fraction"], outcome.report.lines()
