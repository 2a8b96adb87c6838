"""Cell normalisation: full-width digits, separators, %, ○/×, era dates, header detection and encodings."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.base import Column, RowError
from collectors.sources import decode, detect_encoding, grid_table
from collectors.values import find_year_month, parse_bool, parse_count, parse_float, parse_period


@given(st.integers(min_value=0, max_value=10**12))
def test_counts_round_trip_with_separators_and_full_width(n: int) -> None:
    text = f"{n:,}"
    assert parse_count(text) == n
    assert parse_count(text.translate(str.maketrans("0123456789,", "０１２３４５６７８９，"))) == n


@pytest.mark.parametrize("bad", ["12a", "1.5", "", "-", "1,2,3x"])
def test_non_counts_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_count(bad)


def test_percent_and_booleans() -> None:
    assert parse_float("64.0%") == 64.0 and parse_float("６４．５％") == 64.5
    assert [parse_bool(v) for v in ("○", "×", "true", "0", 1, "可", "不可")] == [True, False, True, False, True,
                                                                                 True, False]
    with pytest.raises(ValueError):
        parse_bool("maybe")


@pytest.mark.parametrize("text,expected", [
    ("令和８年１０月末時点", (2026, 10)), ("令和元年5月", (2019, 5)), ("平成31年4月", (2019, 4)),
    ("2026年10月", (2026, 10)), ("交付状況", None), ("令和8年13月", None),
])
def test_year_month_in_titles(text: str, expected) -> None:
    assert find_year_month(text) == expected


def test_periods() -> None:
    assert parse_period("2026-04") == parse_period("2026/4") == parse_period("令和8年4月") == date(2026, 4, 1)
    with pytest.raises(ValueError):
        parse_period("2026-13")


def test_encoding_detection() -> None:
    text = "都道府県名,市区町村名\n東京都,府中市\n"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(text.encode("utf-8-sig")) == "utf-8-sig"
    assert detect_encoding(text.encode("cp932")) == "cp932"
    assert decode(text.encode("cp932"))[0] == text
    with pytest.raises(RowError, match="row 2"):
        decode(b"a,b\n\xff\xfe\xfa\n", "utf-8")


def test_header_is_found_below_titles_only_when_allowed() -> None:
    layout = (Column("a", ("エー",)), Column("b"))
    grid = [(1, ["タイトル"]), (2, []), (3, ["エー", "B", "extra"]), (4, [1, 2, 3]), (5, []), (6, [4, 5])]
    table = grid_table(grid, [layout], find_header=True)
    assert table.header_line == 3 and table.title_lines == ["タイトル"]
    assert table.rows == [(4, {"a": 1, "b": 2}), (6, {"a": 4, "b": 5})]
    with pytest.raises(RowError, match="row 1"):
        grid_table(grid, [layout], find_header=False)


def test_broken_json_and_xlsx_are_error_values_naming_the_file() -> None:
    from collectors.sources import read_table

    layout = (Column("a"),)
    with pytest.raises(RowError, match=r"^x\.json: malformed JSON at line 2: .*（2行目）"):
        read_table("x.json", b'[{"a": 1},\n {"a": }]', [layout])
    with pytest.raises(RowError, match=r"^x\.json: .*list of objects"):
        read_table("x.json", b'{"a": 1}', [layout])
    with pytest.raises(RowError, match=r"^x\.xlsx: not a readable XLSX"):
        read_table("x.xlsx", b"PK\x03\x04 truncated", [layout])
    table, meta = read_table("x.json", b'{"rows": [{"A": 1}, {"A": 2}]}', [layout])
    assert [r for _, r in table.rows] == [{"a": 1}, {"a": 2}] and meta == {"format": "json"}
