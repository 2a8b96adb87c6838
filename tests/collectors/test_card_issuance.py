"""card-issuance: the ministry's published layout (CP932 CSV, XLSX with title and blank rows), names to codes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import collectors
from collectors.card_issuance import is_total_row
from tests.collectors.conftest import FIXTURES, csv_bytes, query, write, xlsx_bytes

SAMPLE = FIXTURES / "card_issuance_sample_cp932.csv"
HEADER = ["都道府県名", "市区町村名", "人口", "申請数", "交付枚数", "保有枚数", "保有枚数率"]


def _cards(ws) -> dict[str, tuple]:
    rows = query(ws, "SELECT municipality_code, period, population, applications, issued, held FROM card_issuance")
    return {r[0]: r[1:] for r in rows}


def test_published_cp932_sample_loads_with_period_argument(workspace) -> None:
    [result] = collectors.ingest_files(workspace, "card-issuance", [SAMPLE], period="2026-10")
    assert result.status == "ok", result.error
    cards = _cards(workspace)
    # 64 municipalities; 計 (x3) and 合計 skipped
    assert result.rows_loaded == len(cards) == 64 and result.detail["rows_skipped"] == 4
    assert result.detail["files"][0]["encoding"] == "cp932"
    # repeated names resolve through their prefecture, never by name alone
    assert cards["132063"] == (date(2026, 10, 1), 51812, 30376, None, 29382)   # 東京都府中市
    assert cards["342084"] == (date(2026, 10, 1), 159026, 129340, None, 125019)  # 広島県府中市
    assert cards["012335"][1] == 576637  # 北海道伊達市, not 福島県伊達市 (072133)
    assert "072133" not in cards
    assert sum(c[1] for c in cards.values()) == 26_530_427  # the file's own 合計 row


def test_published_sample_without_period_or_title_is_rejected(workspace) -> None:
    [result] = collectors.ingest_files(workspace, "card-issuance", [SAMPLE])
    assert result.status == "failed" and "--period" in result.error and _cards(workspace) == {}


def _published_rows() -> list[list]:
    return [
        ["マイナンバーカード交付状況（令和８年１０月末時点）"],
        [],
        ["", "", "", "", "", "", ""],
        HEADER,
        ["東京都", "府中市", "262,790", "200,000", "190,000", "185,000", "70.4%"],
        ["広島県", "府中市", 36000, 25000, 24000, 23500, 0.65],
        ["福島県", "伊達市", "５８，０００", "40,000", "39,000", "38,500", "66.4%"],
        ["福島県", None, 58000, 40000, 39000, 38500, None],
        ["北海道", "伊達市", "32,000", "22,000", "21,000", "20,900", "65.3%"],
        [None, "札幌市", "1,960,000", "1,500,000", "1,400,000", "1,380,000", "70.4%"],  # merged prefecture cell
        ["北海道計", "", "32,000", "22,000", "21,000", "20,900", ""],
        ["合計", "", "388,790", "287,000", "273,000", "267,900", ""],
    ]


def test_published_xlsx_with_title_and_blank_rows_uses_the_era_date(workspace, tmp_path: Path) -> None:
    data = xlsx_bytes(_published_rows(), sheet="公表用", extra_sheets=("説明", "公表用"))
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "card.xlsx", data)])
    assert result.status == "ok", result.error
    assert result.periods_touched == [date(2026, 10, 1)]
    cards = _cards(workspace)
    assert set(cards) == {"132063", "342084", "072133", "012335", "011002"}
    assert cards["072133"] == (date(2026, 10, 1), 58000, 40000, 39000, 38500)
    assert result.detail["rows_skipped"] == 3


@pytest.mark.parametrize("title,expected", [
    ("マイナンバーカード交付状況（令和元年5月末時点）", date(2019, 5, 1)),
    ("交付状況 平成31年4月末", date(2019, 4, 1)),
    ("交付状況（2026年10月末現在）", date(2026, 10, 1)),
    ("交付状況（令和８年３月末）", date(2026, 3, 1)),
])
def test_period_from_title_line(workspace, tmp_path: Path, title: str, expected: date) -> None:
    rows = [[title], HEADER, ["東京都", "府中市", "1,000", "", "", "700", "70%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance",
                                       [write(tmp_path, "t.csv", csv_bytes(rows, "cp932"))])
    assert result.status == "ok", result.error
    assert _cards(workspace)["132063"][0] == expected


@pytest.mark.parametrize("titles", [
    ["※ 人口は令和8年1月1日時点の住民基本台帳人口", "マイナンバーカード交付状況（令和８年３月末時点）"],
    ["マイナンバーカード交付状況（令和８年３月末時点）", "（注）人口は令和8年1月1日時点"],
    ["マイナンバーカード交付状況（2026年3月末時点）", "令和8年3月末時点"],  # the same month twice
])
def test_a_note_above_the_table_does_not_decide_the_period(workspace, tmp_path: Path, titles: list[str]) -> None:
    """A note above the header naming the population's date took the period: the table of March 2026 was stored
    as of 31 January 2026, without a word."""
    rows = [*[[t] for t in titles], HEADER, ["東京都", "府中市", "1,000", "", "", "700", "70%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "t.csv", csv_bytes(rows))])
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT as_of, period FROM card_issuance") == [(date(2026, 3, 31), date(2026, 3, 1))]


def test_a_two_row_header_with_merged_cells_is_one_header(workspace, tmp_path: Path) -> None:
    """A workbook whose header is two rows, as tables printed for reading are laid out: 都道府県名, 市区町村名 and 人口
    merged down over both, マイナンバーカード merged across 申請数 / 交付枚数 / 保有枚数 below it. Neither row was a
    header alone, so the file was refused as 'header is missing 保有枚数' on the upper row, which it has. Now the
    two rows are one header (a column's name is the lower cell, else the upper one), and a bad cell names its own
    row as Excel shows it."""
    import io

    import openpyxl

    def book(population: str) -> bytes:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "公表用"
        ws.append(["マイナンバーカード交付状況（令和8年3月末時点）"])
        ws.append(["都道府県名", "市区町村名", "人口（令和8年1月1日時点）", "マイナンバーカード", None, None])
        ws.append([None, None, None, "申請数", "交付枚数", "保有枚数"])
        ws.append(["東京都", "府中市", population, 760, 720, 700])
        for merged in ("A2:A3", "B2:B3", "C2:C3", "D2:F2"):
            ws.merge_cells(merged)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "m.xlsx", book("1,000"))])
    assert result.status == "ok", result.error
    assert _cards(workspace)["132063"] == (date(2026, 3, 1), 1000, 760, 720, 700)
    assert query(workspace, "SELECT as_of FROM card_issuance") == [(date(2026, 3, 31),)]
    [bad] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "b.xlsx", book("千"))])
    assert bad.status == "failed" and "row 4, column population" in bad.error, bad.error


@pytest.mark.parametrize("title,as_of", [
    ("マイナンバーカード交付状況（令和８年３月２２日時点）", date(2026, 3, 22)),
    ("マイナンバーカード交付状況（2026年3月22日現在）", date(2026, 3, 22)),
    ("マイナンバーカード交付状況（令和８年３月末時点）", date(2026, 3, 31)),
    ("交付状況（人口：令和8年3月1日時点、保有枚数：令和8年3月末時点）", date(2026, 3, 31)),
])
def test_a_title_naming_the_day_is_of_that_day(workspace, tmp_path: Path, title: str, as_of: date) -> None:
    """A table whose title names the day of its figures (…令和8年3月22日時点) was stored as of the month's end,
    as if nine days later; a title naming the month's end, or both a day and the end, stays the month's end."""
    rows = [[title], HEADER, ["東京都", "府中市", "1,000", "", "", "700", "70%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "t.csv", csv_bytes(rows))])
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT as_of, period FROM card_issuance") == [(as_of, date(2026, 3, 1))]


@pytest.mark.parametrize("titles", [
    ["マイナンバーカード交付状況（人口：令和8年1月1日時点、保有枚数：令和8年3月末時点）"],
    ["人口は令和8年1月1日現在", "マイナンバーカード交付状況（令和８年３月末時点）"],
])
def test_a_title_naming_two_months_is_refused_asking_for_the_period(workspace, tmp_path: Path,
                                                                    titles: list[str]) -> None:
    """Titles naming the population's month and the cards' did not say which the figures are of: the first was
    taken (January for a table of March)."""
    rows = [*[[t] for t in titles], HEADER, ["東京都", "府中市", "1,000", "", "", "700", "70%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "t.csv", csv_bytes(rows))])
    assert result.status == "failed" and query(workspace, "SELECT count(*) FROM card_issuance") == [(0,)]
    assert "t.csv" in result.error and "column period" in result.error
    assert "more than one month (2026-01, 2026-03)" in result.error and "--period" in result.error
    assert "見出しに複数の年月" in result.error
    [again] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "t.csv", csv_bytes(rows))],
                                      period="2026-03")
    assert again.status == "ok" and query(workspace, "SELECT as_of FROM card_issuance") == [(date(2026, 3, 31),)]


@pytest.mark.parametrize("title", ["交付状況（令和８年１０月末時点）", "交付状況（令和８年１０月末時点）\t\t\t"])
def test_a_tab_separated_file_with_a_title_line_above_the_header(workspace, tmp_path: Path, title: str) -> None:
    """Excel's 'Unicode text' (UTF-16 with a byte-order mark, tab-separated) of a sheet with a title row above the
    header, as a comma CSV with a title line is read (test_period_from_title_line). The separator was judged on the
    first line alone: a title without tabs made the file comma-separated, and it was refused as having no header.
    A row's counts may hold more commas (1,234,567) than the row holds tabs."""
    lines = [title, "", "\t".join(HEADER),
             "\t".join(["東京都", "府中市", "1,260,790", "1,200,000", "1,190,000", "1,185,000", "94.0%"]),
             "\t".join(["北海道", "伊達市", "32,000", "", "", "20,900", "65.3%"])]
    data = "\r\n".join(lines).encode("utf-16")
    assert data.startswith((b"\xff\xfe", b"\xfe\xff"))
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "card.txt", data)])
    assert result.status == "ok", result.error
    assert result.detail["files"][0]["encoding"] == "utf-16"
    cards = _cards(workspace)
    assert cards["132063"] == (date(2026, 10, 1), 1_260_790, 1_200_000, 1_190_000, 1_185_000)
    assert cards["012335"] == (date(2026, 10, 1), 32_000, None, None, 20_900)


def test_a_title_naming_a_year_its_era_never_had_is_refused(workspace, tmp_path: Path) -> None:
    """平成32年 does not exist (Heisei ended in 31): it was loaded as January 2020 without a word."""
    rows = [["交付状況（平成32年1月末時点）"], HEADER, ["東京都", "府中市", "1,000", "", "", "700", "70%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "t.csv", csv_bytes(rows))])
    assert result.status == "failed" and "did you mean 2020 (令和2年)" in result.error, result.error


def test_period_argument_wins_over_title(workspace, tmp_path: Path) -> None:
    rows = [["交付状況（令和８年３月末）"], HEADER, ["東京都", "府中市", "1,000", "", "", "700", "70%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "t.csv", csv_bytes(rows))],
                                       period="2026-04")
    assert result.periods_touched == [date(2026, 4, 1)]


def test_unmatched_name_is_an_error_naming_the_row(workspace, tmp_path: Path) -> None:
    rows = [["交付状況（令和8年10月末）"], HEADER, ["東京都", "府中市", "1", "", "", "1", ""],
            ["東京都", "伊達市", "1", "", "", "1", ""], ["東京都", "八王子市", "1", "", "", "1", ""]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "u.csv", csv_bytes(rows))])
    assert result.status == "failed"
    assert "u.csv: row 4, column municipality_name" in result.error and "伊達市" in result.error
    assert "012335" in result.error and "072133" in result.error  # where the name does exist
    assert _cards(workspace) == {}


def test_coded_layout_checks_the_check_digit(workspace, tmp_path: Path) -> None:
    header = ["municipality_code", "period", "population", "applications", "issued", "held"]
    good = [header, ["132063", "2026-10", "262790", "200000", "190000", "185000"]]
    [ok] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "c.csv", csv_bytes(good))])
    assert ok.status == "ok", ok.error
    assert _cards(workspace)["132063"][1] == 262790
    bad = [header, ["132063", "2026-10", "1", "", "", ""], ["132064", "2026-10", "1", "", "", ""]]
    [failed] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "b.csv", csv_bytes(bad))])
    assert failed.status == "failed"
    assert "row 3, column municipality_code, value '132064': check digit should be 3" in failed.error


def test_total_rows_are_recognised() -> None:
    assert is_total_row("北海道", "計") and is_total_row("合計", "") and is_total_row("東京都", "")
    assert is_total_row("東京都", "小計") and is_total_row("北海道計", "") and is_total_row("東京都", "東京都")
    assert not is_total_row("東京都", "府中市") and not is_total_row("京都府", "京都市")


def test_sheet_argument_and_first_sheet_fallback(workspace, tmp_path: Path) -> None:
    rows = [HEADER, ["東京都", "府中市", "1,000", "", "", "700", "70%"]]
    other = xlsx_bytes(rows, sheet="2026年10月", extra_sheets=("説明", "2026年10月"))
    [named] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "n.xlsx", other)],
                                      period="2026-10", sheet="2026年10月")
    assert named.status == "ok", named.error
    [missing] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "n.xlsx", other)],
                                        period="2026-10", sheet="公表")
    assert missing.status == "failed" and "no sheet '公表'" in missing.error and "2026年10月" in missing.error
    [first] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "f.xlsx", xlsx_bytes(rows))],
                                      period="2026-11")
    assert first.status == "ok" and first.periods_touched == [date(2026, 11, 1)]


def test_progress_hook_is_called(workspace) -> None:
    calls: list[tuple] = []
    collectors.ingest_files(workspace, "card-issuance", [SAMPLE], period="2026-10",
                            progress=lambda label, done, total=None: calls.append((label, done, total)))
    assert ("files", 1, 1) in calls and any(c[0].endswith(": load") and c[1] == 64 for c in calls)


def test_headers_with_bracketed_notes_match(workspace, tmp_path: Path) -> None:
    header = ["都道府県名", "市区町村名", "総数（人口）【R8.1.1時点】", "交付枚数（累計）", "保有枚数", "人口に対する保有枚数率"]
    rows = [["マイナンバーカード交付状況（令和8年10月末時点）"], header, ["広島県", "府中市", "36,000", "24,000", "23,500", "65.3%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "h.csv", csv_bytes(rows, "cp932"))])
    assert result.status == "ok", result.error
    assert _cards(workspace)["342084"] == (date(2026, 10, 1), 36000, None, 24000, 23500)


def test_every_municipality_of_japan_resolves_to_its_own_code(workspace, tmp_path: Path) -> None:
    from observatory.reference import municipalities, prefectures

    names = {p.code: p.name_ja for p in prefectures()}
    rows: list[list] = [["マイナンバーカード交付状況（令和8年10月末時点）"], [], HEADER]
    by_pref: dict[str, list] = {}
    for m in municipalities():
        by_pref.setdefault(m.prefecture_code, []).append(m)
    for code, items in by_pref.items():
        for m in items:
            rows.append([names[code], m.name_ja, f"{int(m.code[:5]):,}", "", "", "1", ""])
        rows.append([names[code], "計", "0", "", "", "0", ""])
    rows.append(["合計", "", "0", "", "", "0", ""])
    [result] = collectors.ingest_files(workspace, "card-issuance",
                                       [write(tmp_path, "all.csv", csv_bytes(rows, "cp932"))])
    assert result.status == "ok", result.error
    assert result.rows_loaded == 1741 and result.detail["rows_skipped"] == 48
    cards = _cards(workspace)
    assert all(cards[m.code][1] == int(m.code[:5]) for m in municipalities())


def test_prefecture_headings_in_the_name_column_carry_to_the_rows_below(workspace, tmp_path: Path) -> None:
    rows = [["令和8年10月末"], HEADER, ["", "広島県", "", "", "", "", ""], ["", "府中市", "36,000", "", "", "23,500", ""],
            ["", "東京都", "", "", "", "", ""], ["", "府中市", "262,790", "", "", "185,000", ""]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "p.csv", csv_bytes(rows))])
    assert result.status == "ok", result.error
    assert {k: v[1] for k, v in _cards(workspace).items()} == {"342084": 36000, "132063": 262790}


def test_a_formula_with_no_computed_value_is_refused_not_read_as_blank(workspace, tmp_path: Path) -> None:
    """A workbook written by a program that does not calculate (openpyxl, a report generator) keeps the formula and
    no value: its applications were loaded as unknown (NULL), over the figures a good file had loaded, with status ok.
    Submissions refuse such a cell; the collectors now do too, naming row and column."""
    good = [["交付状況（令和８年１０月末時点）"], HEADER, ["東京都", "府中市", 1000, 900, 800, 700, "70%"]]
    [first] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "c.xlsx", xlsx_bytes(good))])
    assert first.status == "ok", first.error
    computed = [*good[:2], ["東京都", "府中市", 1000, "=E3+100", 800, 700, "70%"]]
    [result] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "f.xlsx", xlsx_bytes(computed))])
    assert result.status == "failed" and result.error.startswith("f.xlsx: sheet 'Sheet1', row 3, column D"), \
        result.error
    assert "=E3+100" in result.error
    assert query(workspace, "SELECT applications FROM card_issuance") == [(900,)]
