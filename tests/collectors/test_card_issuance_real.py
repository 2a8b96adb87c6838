"""card-issuance on MIC's real tables of 2017-2022 (realdata/mic_card_issuance), as published and re-saved."""

from __future__ import annotations

import csv
import gzip
import io
import random
from datetime import date
from pathlib import Path

import pytest

import collectors
from observatory.config import shipped_realdata_dir
from observatory.workspace import load_workspace
from tests.collectors.conftest import csv_bytes, query, write, xlsx_bytes

MIC = shipped_realdata_dir() / "mic_card_issuance"
LAST = MIC / "all_localgovs_20221231.csv.gz"


def _published(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(gzip.decompress(path.read_bytes()).decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def backfilled(_template_home, tmp_path_factory):
    """One workspace with all 92 published files loaded (each file a run), shared by the read-only tests."""
    import shutil

    home = tmp_path_factory.mktemp("mic") / "ws"
    shutil.copytree(_template_home, home, ignore=shutil.ignore_patterns("*.lock", "*.wal"))
    ws = load_workspace(home)
    results = collectors.ingest_files(ws, "card-issuance", [MIC])
    return ws, results


def test_every_published_file_loads_with_nothing_rejected(backfilled) -> None:
    ws, results = backfilled
    assert len(results) == 92
    assert [r.error for r in results if r.status != "ok"] == []
    assert sum(r.rows_rejected for r in results) == 0
    assert query(ws, "SELECT count(DISTINCT as_of), count(*) FROM card_issuance") == [(46, 46 * 1741)]
    assert query(ws, "SELECT count(DISTINCT as_of), count(*) FROM card_issuance_prefecture") == [(46, 46 * 47)]
    # issued is never stored as held, and the population keeps its own date
    assert query(ws, "SELECT count(*) FROM card_issuance WHERE held IS NOT NULL OR issued IS NULL") == [(0,)]
    assert query(ws, "SELECT population_as_of FROM card_issuance WHERE as_of = DATE '2022-12-31' LIMIT 1") == \
        [(date(2022, 1, 1),)]


@pytest.mark.parametrize("as_of,issued,population", [
    (date(2017, 3, 8), 10_717_919, None),
    (date(2020, 4, 1), 20_332_415, None),
    (date(2022, 12, 31), 71_905_789, 125_927_902),
])
def test_the_national_checks_of_sources_md_reproduce_from_the_warehouse(backfilled, as_of, issued,
                                                                         population) -> None:
    ws, _ = backfilled
    [(got_issued, got_population)] = query(
        ws, "SELECT sum(issued), sum(population) FROM card_issuance WHERE as_of = ?", [as_of])
    assert got_issued == issued
    if population is not None:
        assert got_population == population and round(100 * got_issued / got_population, 1) == 57.1


def test_na_codes_island_names_and_variant_kanji_resolve_on_every_date(backfilled) -> None:
    ws, _ = backfilled
    for code in ("133817", "134015", "394050", "013030"):  # 三宅村, 八丈町 (<NA> / island), 梼原町 (檮), 当別町
        assert query(ws, "SELECT count(*) FROM card_issuance WHERE municipality_code = ?", [code]) == [(46,)], code


def test_prefecture_tables_agree_with_their_municipalities_and_are_reported(backfilled) -> None:
    ws, results = backfilled
    reports = [r.detail["reconciliation"] for r in results if "reconciliation" in r.detail]
    assert len(reports) == 46 and all(r == {"prefectures_compared": 47, "agreeing": 47} for r in reports)


def test_backfill_twice_changes_nothing(backfilled) -> None:
    ws, _ = backfilled
    before = query(ws, "SELECT * FROM card_issuance ORDER BY municipality_code, as_of")
    again = collectors.ingest_files(ws, "card-issuance", [MIC / "all_localgovs_20200401.csv.gz",
                                                          MIC / "all_prefectures_20200401.csv.gz"])
    assert all(r.status == "ok" for r in again)
    assert query(ws, "SELECT * FROM card_issuance ORDER BY municipality_code, as_of") == before


def _rows(ws) -> list[tuple]:
    return query(ws, "SELECT municipality_code, as_of, period, population, population_as_of, issued, held "
                     "FROM card_issuance ORDER BY municipality_code")


def _resaved_variants(rows: list[list[str]]) -> dict[str, bytes]:
    header, *data = rows
    shuffled = data[:]
    random.Random(7).shuffle(shuffled)
    code = header.index("団体コード")
    padded = [r[:code] + [r[code].zfill(6) if r[code].isdigit() else r[code]] + r[code + 1:] for r in data]
    typed = [[int(c) if c.isdigit() else c for c in r] for r in data]  # what Excel makes of the cells
    return {
        "xlsx.xlsx": xlsx_bytes([header, *typed]),
        "cp932.csv": csv_bytes([header, *data], "cp932"),
        "shuffled.csv": csv_bytes([header, *shuffled], "utf-8"),
        "padded.csv": csv_bytes([header, *padded], "utf-8-sig"),
        # notes under the table, as an edition may carry them: read as notes, not as rows of data
        "notes.csv": csv_bytes([header, *data, ["※ 交付枚数は速報値です。"], ["（注）人口は住民基本台帳による。"]], "cp932"),
    }


def test_resaved_as_xlsx_cp932_shuffled_zero_padded_or_with_notes_loads_identical_rows(workspace, tmp_path) -> None:
    [original] = collectors.ingest_files(workspace, "card-issuance", [LAST])
    assert original.status == "ok", original.error
    expected = _rows(workspace)
    assert len(expected) == 1741
    with_codes_back = _published(LAST)
    for name, data in _resaved_variants(with_codes_back).items():
        from observatory.warehouse import for_workspace

        with for_workspace(workspace).connect() as con:
            con.execute("DELETE FROM card_issuance")
        [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, name, data)])
        assert r.status == "ok", (name, r.error)
        assert _rows(workspace) == expected, name
        assert r.detail.get("notes_skipped") == (2 if name == "notes.csv" else None), (name, r.detail)


def _constructed(rows_edit) -> bytes:
    rows = _published(LAST)
    rows_edit(rows)
    return csv_bytes(rows, "utf-8-sig")


def test_a_rate_that_disagrees_with_issued_over_population_is_a_warning_naming_row_and_values(workspace,
                                                                                            tmp_path) -> None:
    def edit(rows):
        rows[1][rows[0].index("人口に対する交付枚数率")] = "60.0"  # 札幌市 1,113,718 / 1,960,668 = 56.8 %
    [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "rate.csv", _constructed(edit))])
    assert r.status == "ok" and r.rows_loaded == 1741  # published figures load unaltered
    [warning] = r.detail["warnings"]
    assert "row 2" in warning and "60" in warning and "1,113,718" in warning and "56.80" in warning


def test_a_rate_printed_as_a_share_is_no_warning(workspace, tmp_path) -> None:
    """A table re-saved with the rate as a share (0.568, or a percentage-formatted cell) gave 1,741 false warnings."""
    def edit(rows):
        at = rows[0].index("人口に対する交付枚数率")
        for row in rows[1:]:
            row[at] = f"{float(row[at]) / 100:.5f}"
    [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "share.csv", _constructed(edit))])
    assert r.status == "ok" and r.rows_loaded == 1741
    assert r.detail.get("warnings", []) == []


def test_a_prefecture_table_that_disagrees_with_its_municipalities_is_reported_not_altered(workspace,
                                                                                         tmp_path) -> None:
    [r] = collectors.ingest_files(workspace, "card-issuance", [LAST])
    pref = _published(MIC / "all_prefectures_20221231.csv.gz")
    issued = pref[0].index("交付枚数")
    pref[1][issued] = str(int(pref[1][issued]) + 5)
    [p] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "pref.csv", csv_bytes(pref))])
    assert p.status == "ok" and p.detail["reconciliation"] == {"prefectures_compared": 47, "agreeing": 46}
    assert any("prefecture 01" in w and "2,888,653" in w for w in p.detail["warnings"])
    assert query(ws := workspace, "SELECT issued FROM card_issuance_prefecture WHERE prefecture_code = '01'") == \
        [(2_888_653,)], ws


@pytest.mark.parametrize("column,value,needle", [
    ("市区町村名", "存在しない町", "row 2, column municipality_name"),
    ("団体コード", "11003", "row 2, column municipality_code"),  # check digit wrong
    ("団体コード", "12025", "is 函館市"),  # a real code that names another municipality
])
def test_a_row_that_cannot_be_matched_is_an_error_naming_row_and_value(workspace, tmp_path, column, value,
                                                                       needle) -> None:
    def edit(rows):
        rows[1][rows[0].index(column)] = value
        if column == "市区町村名":
            rows[1][rows[0].index("団体コード")] = "<NA>"
    [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "bad.csv", _constructed(edit))])
    assert r.status == "failed" and needle in r.error and r.rows_loaded == 0
    assert query(workspace, "SELECT count(*) FROM card_issuance") == [(0,)]


def test_prefecture_rows_with_their_own_code_among_the_municipalities_are_totals(workspace, tmp_path) -> None:
    """The published municipal table with each prefecture's row (its own code, 北海道 10006, and no municipality
    name) above its municipalities, as a table combining both publications has it: refused, 'no municipality has
    this code'. Now such a row is the prefecture's total, skipped and counted; a municipality's name with a
    prefecture's code is still refused."""
    pref = {r[1]: r for r in _published(MIC / "all_prefectures_20221231.csv.gz")[1:]}

    def edit(rows):
        header, body = rows[0], rows[1:]
        rows[1:] = []
        for r in body:
            if r[1] != (rows[-1][1] if len(rows) > 1 else None):  # the prefecture's row before its first municipality
                p = pref[r[1]]
                rows.append([p[0], p[1], "", p[2], p[3], p[4], p[5], p[6], str(int(_prefecture_code(r[1])))])
            rows.append(r)
        assert header[-1] == "団体コード"

    [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "both.csv", _constructed(edit))])
    assert r.status == "ok", r.error
    assert r.rows_loaded == 1741 and r.detail["rows_skipped"] == 47
    assert query(workspace, "SELECT sum(issued) FROM card_issuance") == [(71_905_789,)]

    def misnamed(rows):
        rows[1][2], rows[1][-1] = "札幌市", "10006"
    [bad] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "bad.csv", _constructed(misnamed))])
    assert bad.status == "failed" and "row 2, column municipality_code" in bad.error


def _prefecture_code(name: str) -> str:
    from observatory.reference import prefectures
    from observatory.reference.codes import jis_check_digit

    code = next(p.code for p in prefectures() if p.name_ja == name)
    return f"{code}000{jis_check_digit(code + '000')}"


def test_the_2023_layout_with_only_a_period_is_the_end_of_that_month(workspace, tmp_path) -> None:
    rows = [["都道府県名", "市区町村名", "人口", "保有枚数"], ["北海道", "札幌市", "1950000", "1400000"],
            ["東京都", "三宅村", "2300", "1500"]]
    [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "h.csv", csv_bytes(rows))],
                                  period="2024-02")
    assert r.status == "ok", r.error
    assert query(workspace, "SELECT municipality_code, as_of, period, issued, held FROM card_issuance ORDER BY 1") == [
        ("011002", date(2024, 2, 29), date(2024, 2, 1), None, 1_400_000),
        ("133817", date(2024, 2, 29), date(2024, 2, 1), None, 1500)]


def test_the_2023_prefecture_table_of_cards_held_loads_and_is_reconciled(workspace, tmp_path) -> None:
    """MIC's tables from 2023 have a prefecture table beside the municipal one (都道府県名, 人口, 保有枚数, with the
    month in the title): it was refused, 'header is missing 市区町村名', since only the 2016-2022 prefecture layout
    (算出基準日, 交付枚数) was known. Now it loads as the municipal table of its era does (end of the titled month,
    cards held) and is reconciled with the municipalities of the same date on cards held."""
    title = ["マイナンバーカードの都道府県別保有状況（令和6年2月末時点）"]
    munis = [title, ["都道府県名", "市区町村名", "人口", "保有枚数"], ["東京都", "府中市", "1,000", "700"],
             ["東京都", "調布市", "2,000", "1,300"], ["北海道", "伊達市", "3,000", "2,000"]]
    prefs = [title, [], ["都道府県名", "人口（令和6年1月1日時点）", "保有枚数", "人口に対する保有枚数率"],
             ["北海道", "3,000", "2,005", "66.8%"], ["東京都", "3,000", "2,000", "66.7%"],
             ["合計", "6,000", "4,005", "66.8%"]]
    [m] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "m.csv", csv_bytes(munis, "cp932"))])
    [p] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "p.csv", csv_bytes(prefs, "cp932"))])
    assert m.status == "ok" and p.status == "ok", (m.error, p.error)
    assert p.rows_loaded == 2 and p.detail["rows_skipped"] == 1
    assert query(workspace, "SELECT prefecture_code, as_of, period, population, issued, held "
                            "FROM card_issuance_prefecture ORDER BY 1") == [
        ("01", date(2024, 2, 29), date(2024, 2, 1), 3000, None, 2005),
        ("13", date(2024, 2, 29), date(2024, 2, 1), 3000, None, 2000)]
    assert p.detail["reconciliation"] == {"prefectures_compared": 2, "agreeing": 1}
    assert [w for w in p.detail["warnings"] if "prefecture" in w] == [
        "p.csv: prefecture 01 on 2024-02-29: published population 3,000 / held 2,005, sum of its 1 municipalities "
        "3,000 / 2,000 / 都道府県の数値が市区町村の合計と一致しません"]
    [again] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "p2.csv", csv_bytes(prefs[2:]))])
    assert again.status == "failed" and "--period" in again.error  # no title: the month must be given


def test_a_table_of_the_2016_2022_layout_with_held_cards_is_of_its_reference_date(workspace, tmp_path) -> None:
    """The published layout carried on with 保有枚数 (cards held) for 交付枚数: its rows' 算出基準日 was ignored, so
    the file was refused as having no period ('the title names no month') and, given --period, stored as of the
    month's end (2022-12-20 as 2022-12-31)."""
    def edit(rows):
        rows[0] = [{"交付枚数": "保有枚数", "人口に対する交付枚数率": "人口に対する保有枚数率",
                    "交付件数基準日": "保有枚数基準日"}.get(h, h) for h in rows[0]]
        for row in rows[1:]:
            row[0] = "2022/12/20"
    published = _published(LAST)
    held = {(r[1], r[2]): int(r[4]) for r in published[1:]}
    for period in (None, "2022-12"):
        [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "held.csv", _constructed(edit))],
                                      period=period)
        assert r.status == "ok" and r.rows_loaded == 1741, r.error
        assert query(workspace, "SELECT as_of, period, min(population_as_of), sum(held), count(issued), count(*) "
                                "FROM card_issuance GROUP BY ALL") == \
            [(date(2022, 12, 20), date(2022, 12, 1), date(2022, 1, 1), sum(held.values()), 0, 1741)]
    assert query(workspace, "SELECT held FROM card_issuance WHERE municipality_code = '011002'") == \
        [(held[("北海道", "札幌市")],)]
    [other] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "held.csv", _constructed(edit))],
                                      period="2023-01")
    assert other.status == "failed" and "--period 2023-01 disagrees" in other.error
