"""A header row where two headers name one column only once their bracketed notes are ignored is refused (a
publisher's next edition renames 交付枚数 to 交付枚数（累計） and adds 交付枚数（当月分） before it): reading the
first of them stored the wrong figures without an error."""

from __future__ import annotations

import csv
import gzip
import io

import pytest

import collectors
from collectors.base import Column, RowError
from collectors.sources import grid_table, json_table
from observatory.config import shipped_realdata_dir
from tests.collectors.conftest import csv_bytes, query, write

LAST = shipped_realdata_dir() / "mic_card_issuance" / "all_localgovs_20221231.csv.gz"


def _published() -> list[list[str]]:
    return list(csv.reader(io.StringIO(gzip.decompress(LAST.read_bytes()).decode("utf-8-sig"))))


def _renamed_with_new_column_before(rows: list[list[str]], header: str, renamed: str, new: str) -> None:
    at = rows[0].index(header)
    rows[0][at] = renamed
    for i, row in enumerate(rows):
        row.insert(at, new if i == 0 else "1")


@pytest.mark.parametrize("header,renamed,new", [
    ("交付枚数", "交付枚数（累計）", "交付枚数（当月分）"),
    ("総数（人口）", "人口（令和4年1月1日現在）", "人口（日本人）"),
])
def test_two_headers_for_one_column_refuse_the_file_naming_both(workspace, tmp_path, header, renamed, new) -> None:
    rows = _published()
    _renamed_with_new_column_before(rows, header, renamed, new)
    [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "next.csv", csv_bytes(rows, "utf-8-sig"))])
    assert r.status == "failed" and r.rows_loaded == 0, r.error
    assert "row 1" in r.error and renamed in r.error and new in r.error
    assert query(workspace, "SELECT count(*) FROM card_issuance") == [(0,)]


def test_one_renamed_header_or_an_exact_one_beside_a_noted_one_still_loads(workspace, tmp_path) -> None:
    rows = _published()
    rows[0][rows[0].index("交付枚数")] = "交付枚数（累計）"  # renamed alone: still the one column
    at = rows[0].index("総数（人口）")
    for i, row in enumerate(rows):
        row.insert(at, "総数（人口）（前年）" if i == 0 else "1")  # beside the exact header: the exact one wins
    [r] = collectors.ingest_files(workspace, "card-issuance", [write(tmp_path, "ok.csv", csv_bytes(rows, "utf-8-sig"))])
    assert r.status == "ok", r.error
    assert query(workspace, "SELECT population, issued FROM card_issuance WHERE municipality_code = '011002'") == \
        [(1_960_668, 1_113_718)]


@pytest.mark.parametrize("header,twice", [
    (["名称", "件数（当月）", "件数（累計）"], ["件数（当月）", "件数（累計）"]),  # two notes, no plain name
    (["名称", "件数", "件数"], ["件数", "件数"]),  # the same name twice
    (["名称", "件数", "count"], ["件数", "count"]),  # two aliases of one column
])
def test_grid_table_names_the_ambiguous_headers(header: list[str], twice: list[str]) -> None:
    layout = (Column("a", ("件数", "count")), Column("b", ("名称",)))
    with pytest.raises(RowError) as err:
        grid_table([(1, header), (2, ["x", "1", "2"])], [layout])
    assert err.value.row == 1 and err.value.column == "a"
    assert all(repr(h) in str(err.value) for h in twice), str(err.value)


def test_json_records_with_two_aliases_of_one_column_are_refused() -> None:
    layout = (Column("a", ("件数", "count")), Column("b", ("名称",)))
    with pytest.raises(RowError) as err:
        json_table([{"名称": "x", "件数": 1, "count": 2}], [layout])
    assert err.value.column == "a" and "'count'" in str(err.value)


def test_a_usage_rates_file_with_a_column_twice_is_refused_not_read_from_the_first(workspace, tmp_path) -> None:
    """A careless export repeated cases_total (1234, then 5): the first was stored without a word."""
    from tests.collectors.test_usage_rates import HEADER, ROWS  # the collector's own sample

    at = HEADER.index("cases_total")
    rows = [HEADER[:at + 1] + ["cases_total"] + HEADER[at + 1:]] + [r[:at + 1] + ["5"] + r[at + 1:] for r in ROWS]
    [r] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "twice.csv", csv_bytes(rows, "utf-8"))])
    assert r.status == "failed" and r.rows_loaded == 0, r.error
    assert "row 1" in r.error and "column cases_total" in r.error, r.error


def test_a_missing_column_is_named_with_the_layout_the_header_came_closest_to() -> None:
    """An older edition's header lacking one column was told the newest layout's columns, not its own."""
    new = (Column("prefecture", ("都道府県",)), Column("held", ("保有枚数",)))
    old = (Column("prefecture", ("都道府県",)), Column("name", ("市区町村名",)), Column("issued", ("交付枚数",)))
    with pytest.raises(RowError) as err:
        grid_table([(1, ["都道府県", "市区町村名"]), (2, ["北海道", "札幌市"])], [new, old])
    assert err.value.column == "issued" and "expected prefecture, name, issued" in str(err.value)
