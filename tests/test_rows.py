"""observatory.rows: the one row reader, on workbooks whose XML stores rows or cells out of order or twice."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from observatory import bounded, rows
from observatory.rows import RowError
from tests.bombs import _CONTENT_TYPES, _RELS, _WB_RELS, _WORKBOOK

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _cell(ref: str, value: object) -> str:
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def _workbook(path: Path, sheet_rows: str, before: str = "") -> Path:
    """An XLSX whose one sheet's sheetData is `sheet_rows` (after `before`), written as given (as a tool other than
    Excel may)."""
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}>{before}<sheetData>{sheet_rows}</sheetData>'
             "</worksheet>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                             ("xl/workbook.xml", _WORKBOOK), ("xl/_rels/workbook.xml.rels", _WB_RELS),
                             ("xl/worksheets/sheet1.xml", sheet)):
            z.writestr(member, text)
    return path


HEADER = '<row r="1">' + "".join(_cell(f"{c}1", h) for c, h in zip("ABC", ["id", "name", "count"], strict=True))
HEADER += "</row>"


def test_rows_and_cells_in_order_are_read_with_their_sheet_rows(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "ok.xlsx", HEADER + f'<row r="3">{_cell("A3", "x")}{_cell("C3", 5)}</row>')
    assert [(n, v) for n, v, _ in rows.xlsx_rows(path)] == [(1, ["id", "name", "count"]), (2, []), (3, ["x", None, 5])]


@pytest.mark.parametrize("body,row", [
    # two rows numbered 2: openpyxl's reader kept the first and dropped the second without a word
    (f'<row r="2">{_cell("A2", "a")}</row><row r="2">{_cell("A2", "b")}</row>', 2),
    # a row numbered before the one stored above it
    (f'<row r="3">{_cell("A3", "a")}</row><row r="2">{_cell("A2", "b")}</row>', 2),
    # cells stored right to left: every cell after the last-stored column was dropped (here C2 and B2)
    (f'<row r="2">{_cell("C2", 5)}{_cell("B2", "n")}{_cell("A2", "a")}</row>', 2),
    # one cell twice: the second silently replaced the first
    (f'<row r="2">{_cell("A2", "a")}{_cell("C2", 5)}{_cell("C2", 7)}</row>', 2),
])
def test_rows_or_cells_stored_out_of_order_or_twice_are_refused_naming_the_row(tmp_path: Path, body: str,
                                                                                row: int) -> None:
    path = _workbook(tmp_path / "bad.xlsx", HEADER + body)
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path))
    assert caught.value.row == row and caught.value.code == "bad_xlsx", caught.value.line()
    assert "順序" in caught.value.reason or "重複" in caught.value.reason


def test_a_row_numbered_past_excels_limit_is_refused_without_reading_up_to_it(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "far.xlsx", HEADER + f'<row r="900000000">{_cell("A900000000", "a")}</row>')
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path))
    assert caught.value.code == "too_many_rows" and caught.value.row == 900000000


def test_an_opendocument_spreadsheet_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "s.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path))
    assert caught.value.code == "bad_xlsx" and "OpenDocument" in caught.value.reason


@pytest.mark.parametrize("dimension", ["", '<dimension ref="A1:C7"/>'])
def test_a_cell_longer_than_the_field_limit_is_refused_before_it_is_built(tmp_path: Path, dimension: str) -> None:
    """A 4.5 MB workbook with one 300 MB cell (68x compression, within the zip bounds) took 800 MB: openpyxl builds
    a cell whole, and opening the workbook already parses a sheet without <dimension>. The sheets' XML is scanned
    for a text run over the limit before openpyxl opens the file (as CSV fields are capped)."""
    text = "x" * (4 * bounded.MAX_FIELD_CHARS + 1)
    path = _workbook(tmp_path / "long.xlsx", HEADER + f'<row r="2">{_cell("A2", 1)}</row>'
                     f'<row r="7">{_cell("A7", "a")}{_cell("B7", text)}</row>', dimension)
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path))
    assert caught.value.code == "xlsx_too_large", caught.value.line()
    assert "xl/worksheets/sheet1.xml, row 7: a cell longer than 131,072 characters" in caught.value.reason


def test_a_long_cell_in_a_sheet_stored_under_another_name_is_refused(tmp_path: Path) -> None:
    """openpyxl reads the sheets the workbook's relationships name, wherever they are stored: the long-cell
    check looked only under xl/worksheets/."""
    text = "x" * (4 * bounded.MAX_FIELD_CHARS + 1)
    moved = tmp_path / "moved.xlsx"
    with zipfile.ZipFile(_workbook(tmp_path / "long.xlsx", HEADER + f'<row r="4">{_cell("A4", text)}</row>')) as src, \
            zipfile.ZipFile(moved, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item).replace(b"worksheets/sheet1.xml", b"data/s.xml")
            z.writestr(item.filename.replace("xl/worksheets/sheet1.xml", "xl/data/s.xml"), data)
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(moved))
    assert "xl/data/s.xml, row 4: a cell longer than 131,072 characters" in caught.value.reason, caught.value.line()


def test_cells_within_the_field_limit_are_read(tmp_path: Path) -> None:
    text = "y" * bounded.MAX_FIELD_CHARS
    path = _workbook(tmp_path / "ok.xlsx", HEADER + f'<row r="2">{_cell("A2", text)}</row>')
    assert [v for _, v, _ in rows.xlsx_rows(path, formulas=True)][1] == [text]


def test_a_cell_of_many_short_rich_text_runs_is_refused_before_it_is_built(tmp_path: Path) -> None:
    """A 2.6 MB workbook with one cell of 200 MB in 50-character <r><t> runs took 2.2 GB: no run is long, the cell
    is."""
    runs = "".join(f"<r><t>{i:050d}</t></r>" for i in range(20_000))  # 1.2 MB of cell
    path = _workbook(tmp_path / "rich.xlsx", HEADER + f'<row r="3"><c r="A3" t="inlineStr"><is>{runs}</is></c></row>')
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path))
    assert "sheet1.xml, row 3: a cell longer than" in caught.value.reason, caught.value.line()


def test_many_empty_rows_between_cells_are_no_long_cell(tmp_path: Path) -> None:
    empty = "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(2, 60_000))
    path = _workbook(tmp_path / "gaps.xlsx", HEADER + empty + f'<row r="60000">{_cell("A60000", "x")}</row>')
    assert [v for n, v, _ in rows.xlsx_rows(path) if v][-1] == ["x"]


def test_a_shared_string_of_many_short_rich_text_runs_is_refused_before_it_is_built(tmp_path: Path) -> None:
    """A 1.1 MB workbook whose one shared string is 60 MB of 20-character runs took 1.2 GB (openpyxl builds each
    <si> whole when it reads the table, before any row)."""
    runs = "".join(f"<r><t>{i:020d}</t></r>" for i in range(40_000))  # 1.2 MB of one string
    sheet = f'<worksheet {NS}><sheetData><row r="1"><c r="A1" t="s"><v>1</v></c></row></sheetData></worksheet>'
    path = tmp_path / "ss.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES.replace("</Types>", '<Override PartName="/xl/sharedStrings.'
                   'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                   "</Types>"))
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS.replace("</Relationships>", '<Relationship Id="rId2" Type='
                   '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target='
                   '"sharedStrings.xml"/></Relationships>'))
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        z.writestr("xl/sharedStrings.xml", f"<sst {NS}><si><t>a</t></si><si>{runs}</si></sst>")
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path))
    assert "sharedStrings.xml: a cell longer than" in caught.value.reason, caught.value.line()


@pytest.mark.parametrize("formats,refused", [(60_000, False), (210_000, True)])
def test_a_styles_part_past_excels_limits_is_refused_unread(tmp_path: Path, formats: int, refused: bool) -> None:
    """600,000 cell formats in a 1.7 MB file took 575 MB as openpyxl opened it; Excel writes at most 65,490."""
    xfs = "".join(f'<xf numFmtId="{i % 50}" fontId="0" fillId="0" borderId="0"/>' for i in range(formats))
    styles = f'<styleSheet {NS}><cellXfs count="{formats}">{xfs}</cellXfs></styleSheet>'
    path = _workbook(tmp_path / "styles.xlsx", HEADER)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("xl/styles.xml", styles)
    problem = bounded.xlsx_problem(path)
    assert (problem is not None and "styles.xml holds over 200,000 elements" in problem) == refused, problem


def _with_chart_sheet(path: Path, *, data_hidden: bool = False) -> Path:
    """A workbook whose first sheet is a chart sheet (グラフ: no cells) before the data sheet."""
    import openpyxl
    from openpyxl.chart import BarChart, Reference

    book = openpyxl.Workbook()
    data = book.active
    data.title = "data"
    data.append(["id", "count"])
    data.append(["a", 5])
    chart = BarChart()
    chart.add_data(Reference(data, min_col=2, min_row=1, max_row=2))
    book.create_chartsheet("グラフ", 0).add_chart(chart)
    if data_hidden:
        data.sheet_state = "hidden"
    book.save(path)
    return path


def test_a_chart_sheet_is_never_read_as_cells(tmp_path: Path) -> None:
    """A chart sheet named with --sheet (or a source's sheet:) ended as 'internal error AttributeError: 'Chartsheet'
    object has no attribute 'reset_dimensions'' with a traceback; it is refused, naming the sheets with cells. With
    no sheet named, the first sheet with cells is read, also when every one of them is hidden."""
    path = _with_chart_sheet(tmp_path / "chart.xlsx")
    assert [v for _, v, _ in rows.xlsx_rows(path)] == [["id", "count"], ["a", 5]]
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path, sheet="グラフ"))
    assert caught.value.code == "sheet_not_found" and "cells: data" in caught.value.reason, caught.value.reason
    assert "グラフシート" in caught.value.reason
    hidden = _with_chart_sheet(tmp_path / "hidden.xlsx", data_hidden=True)
    assert [v for _, v, _ in rows.xlsx_rows(hidden)] == [["id", "count"], ["a", 5]]
    assert [v for _, v, _ in rows.xlsx_rows(hidden, default_sheet="グラフ")] == [["id", "count"], ["a", 5]]


def test_styled_empty_rows_are_read_in_bounded_memory(tmp_path: Path) -> None:
    """Rows that hold only a style (as Excel leaves after formatting whole columns) were each kept by openpyxl's
    parser as a row dimension (a million of them: 400 MB); read one at a time, the memory does not grow with them
    as they did (16 MiB at 10,000 such rows, 44 MiB at 100,000)."""
    import tracemalloc

    list(rows.xlsx_rows(_workbook(tmp_path / "warm.xlsx", HEADER)))  # openpyxl imported before measuring
    peaks = []
    for n in (10_000, 100_000):
        styled = "".join(f'<row r="{r}" s="1" customFormat="1" ht="15" customHeight="1"><c r="AN{r}" s="1"/></row>'
                         for r in range(2, n + 2))
        path = _workbook(tmp_path / f"styled{n}.xlsx", HEADER + styled)
        tracemalloc.start()
        try:
            assert sum(1 for _ in rows.xlsx_rows(path)) == n + 1
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # what grows is the parser's cleared XML elements, still children of the sheet's (about 90 bytes a row;
    # openpyxl's iterparse, not ours): 8 MiB more for the 90,000 more rows, against 28 MiB with the dimensions
    assert peaks[1] < peaks[0] + 14 * 2**20, [f"{p / 2**20:.1f} MiB" for p in peaks]


@pytest.mark.parametrize("content,words", [
    (b"PK\x03\x04 not really a zip", "not a complete ZIP archive"),
    (None, "a part it refers to is missing"),  # a zip with no workbook in it
])
def test_a_workbook_that_does_not_open_is_described_in_words_not_an_exception_name(tmp_path: Path, content,
                                                                                   words: str) -> None:
    """A fuzzing helper found reasons ending in '(KeyError)', '(BadZipFile)', '(ValueError)': what is wrong is said
    in both languages instead."""
    path = tmp_path / "w.xlsx"
    if content is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "nothing here")
    else:
        path.write_bytes(content)
    with pytest.raises(RowError) as caught:
        list(rows.xlsx_rows(path))
    reason = caught.value.reason
    assert words in reason and "Excelファイルとして読めません" in reason, reason
    assert not any(name in reason for name in ("Error", "BadZipFile", "(KeyError")), reason


@pytest.mark.parametrize("percents", [False, True])
def test_a_whole_number_in_a_zero_padded_format_is_read_as_the_text_it_shows(tmp_path: Path, percents: bool) -> None:
    """A column of codes or Individual Numbers is formatted with zeros so that a leading zero shows: 52601815907
    under 000000000000 is 052601815907 to whoever reads the sheet (and in a CSV export of it), and so to the reader:
    read as the integer, it lost its zero and an Individual Number passed the finder as eleven digits. Other numbers
    and formats are read as before."""
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["id", "code", "count", "ratio", "text"])
    ws.append([52601815907, 11002, 11002, 0.5, "0042"])
    for col, fmt in zip("ABCD", ["000000000000", "000000;@", "#,##0", "0.0%"], strict=True):
        ws[f"{col}2"].number_format = fmt
    path = tmp_path / "padded.xlsx"
    book.save(path)
    [_, (line, values, _notes)] = list(rows.xlsx_rows(path, percents=percents))
    assert line == 2 and values == ["052601815907", "011002", 11002, 0.5, "0042"]
