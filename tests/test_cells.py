"""The one meaning of a cell (observatory/cells.py), pinned: what a national system accepts, and that the
collectors' and the submissions' parsers are that meaning, not copies of it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors import values as collector_values
from observatory import cells
from observatory.cells import Bad
from observatory.submissions import values as submission_values

FULL = str.maketrans("0123456789,.", "０１２３４５６７８９，．")


@pytest.mark.parametrize(("cell", "expected"), [
    ("1234", 1234), ("1,234", 1234), ("１，２３４", 1234), (" 1 234 ", 1234), ("12件", 12), ("３人", 3), ("7枚", 7),
    (1234, 1234), (1234.0, 1234), ("0", 0),
])
def test_counts(cell, expected) -> None:
    assert cells.count(cell) == expected


@pytest.mark.parametrize("cell", ["1.5", "-3", "12a", "", "十", "1.2E+11", "1e3", "-", "－", "=A1", True, 1.5, "nan"])
def test_not_counts(cell) -> None:
    assert isinstance(cells.count(cell), Bad)


def test_exponents_only_in_decimal_numbers() -> None:
    # Excel saves a long number it has rounded as 1.23457E+11: as a whole number that would lose digits
    assert cells.number("1.5E-3") == pytest.approx(0.0015) and cells.number("2e3") == 2000
    assert isinstance(cells.integer("1.23457E+11"), Bad) and "exponent" in cells.integer("2e3").en


@pytest.mark.parametrize(("cell", "expected"), [
    ("▲5", -5), ("△5", -5), ("(5)", -5), ("-5", -5), ("＋５", 5), ("1,234.5", 1234.5), ("４５．６", 45.6),
])
def test_numbers_in_japanese_notations(cell, expected) -> None:
    assert cells.number(cell) == pytest.approx(expected)


def test_percentages() -> None:
    assert cells.percent("64.0%") == 64.0 and cells.percent("６４．５％") == 64.5
    assert cells.percent(0.645, excel_percent_format=True) == pytest.approx(64.5)
    assert cells.percent_text(0.888) == "88.8%" and cells.percent_text(0.72) == "72%"


@pytest.mark.parametrize("word", ["true", "TRUE", "t", "yes", "Y", "on", "1", "○", "〇", "◯", "はい", "有", "あり", "可",
                                  "ｙｅｓ", True, 1])
def test_yes(word) -> None:
    assert cells.boolean(word) is True


@pytest.mark.parametrize("word", ["false", "f", "no", "N", "off", "0", "×", "✕", "x", "いいえ", "無", "なし", "不可",
                                  False, 0])
def test_no(word) -> None:
    assert cells.boolean(word) is False


@pytest.mark.parametrize("dash", ["-", "－", "‐", "―", "—", "–", "−", "ー", " - "])
def test_a_dash_means_none_never_zero_nor_no(dash: str) -> None:
    assert cells.is_none_mark(dash)
    assert isinstance(cells.number(dash), Bad) and isinstance(cells.count(dash), Bad)
    assert isinstance(cells.boolean(dash), Bad) and "not applicable" in cells.boolean(dash).en
    assert not cells.is_none_mark("0") and not cells.is_none_mark("-1") and not cells.is_none_mark("")


def test_a_dash_is_no_value_in_an_optional_collector_column_and_refused_in_a_required_one() -> None:
    from collectors.base import RowError

    rec = {"n": "－", "flag": "-"}
    assert collector_values.cell(3, rec, "n", collector_values.parse_count, required=False) is None
    with pytest.raises(RowError, match=r"row 3, column flag.*not applicable"):
        collector_values.cell(3, rec, "flag", collector_values.parse_bool)
    assert collector_values.cell(3, rec, "n") == "－"  # a text column keeps what was written


@pytest.mark.parametrize(("cell", "freq", "expected"), [
    ("2025-04", "monthly", date(2025, 4, 1)), ("2025/4", "monthly", date(2025, 4, 1)),
    ("202504", "monthly", date(2025, 4, 1)), ("２０２５年４月", "monthly", date(2025, 4, 1)),
    ("令和7年4月", "monthly", date(2025, 4, 1)), ("R7.4", "monthly", date(2025, 4, 1)),
    ("令和元年5月", "monthly", date(2019, 5, 1)), ("平成31年4月", "monthly", date(2019, 4, 1)),
    ("H30年4月", "monthly", date(2018, 4, 1)), ("昭和64年1月", "monthly", date(1989, 1, 1)),
    ("2025年4月分", "monthly", date(2025, 4, 1)), ("令和7年4月末時点", "monthly", date(2025, 4, 1)),
    ("2025-04-01", "monthly", date(2025, 4, 1)), (date(2025, 4, 1), "monthly", date(2025, 4, 1)),
    (datetime(2025, 4, 1), "monthly", date(2025, 4, 1)),
    ("FY2025", "fiscal_year", date(2025, 4, 1)), ("2025年度", "fiscal_year", date(2025, 4, 1)),
    ("令和7年度", "fiscal_year", date(2025, 4, 1)), (2025, "fiscal_year", date(2025, 4, 1)),
    ("FY2025-Q4", "quarterly", date(2026, 1, 1)), ("2025年度第1四半期", "quarterly", date(2025, 4, 1)),
])
def test_periods(cell, freq, expected) -> None:
    assert cells.period(cell, freq) == expected


@pytest.mark.parametrize(("cell", "freq"), [
    ("2025-04-15", "monthly"), (date(2025, 4, 15), "monthly"), ("2025-13", "monthly"), ("FY2025", "monthly"),
    ("2025-05", "quarterly"), ("2025-05", "fiscal_year"), ("soon", "monthly"), ("", "monthly"), ("-", "monthly"),
])
def test_not_periods(cell, freq) -> None:
    assert isinstance(cells.period(cell, freq), Bad)


@pytest.mark.parametrize(("cell", "freq"), [(2025.10, "monthly"), (2025.1, "monthly"), (2025.10, "quarterly"),
                                            (2025.4, "fiscal_year")])
def test_a_period_in_a_decimal_number_cell_is_refused_not_read_as_another_month(cell, freq) -> None:
    """Excel stores '2025.10' typed in a number cell as 2025.1: it was read as January 2025."""
    got = cells.period(cell, freq)
    assert isinstance(got, Bad) and "decimal" in got.en
    assert cells.period(202510.0, "monthly") == date(2025, 10, 1)  # a whole number (YYYYMM) is still read
    assert cells.period(2025.0, "fiscal_year") == date(2025, 4, 1)


@pytest.mark.parametrize(("cell", "expected"), [
    ("2025-04-01", date(2025, 4, 1)), ("2025/4/1", date(2025, 4, 1)), ("2025.4.1", date(2025, 4, 1)),
    ("2025年4月1日", date(2025, 4, 1)), ("令和7年4月1日", date(2025, 4, 1)), ("R7.4.1", date(2025, 4, 1)),
    ("20250401", date(2025, 4, 1)), ("2025-04-01T09:00:00+09:00", date(2025, 4, 1)),
    ("2025-04-01 09:00", date(2025, 4, 1)), (datetime(2025, 4, 1, 9), date(2025, 4, 1)),
])
def test_dates(cell, expected) -> None:
    assert cells.a_date(cell) == expected


@pytest.mark.parametrize(("cell", "timezone", "expected"), [
    ("2025-03-31T15:30:00Z", None, date(2025, 4, 1)),  # 00:30 on 1 April in Tokyo: FY2025, not FY2024
    ("2025-03-31T15:30:00+00:00", "Asia/Tokyo", date(2025, 4, 1)),
    ("2025-04-01T02:00:00+09:00", "UTC", date(2025, 3, 31)),
    ("2025-04-01T02:00:00Z", "America/New_York", date(2025, 3, 31)),
    (datetime(2025, 3, 31, 15, 30, tzinfo=UTC), None, date(2025, 4, 1)),
    ("2025-03-31T23:30:00", "UTC", date(2025, 3, 31)),  # naive: already local, kept as written
    (datetime(2025, 3, 31, 23, 30), "America/New_York", date(2025, 3, 31)),
    ("2025-03-31", "America/New_York", date(2025, 3, 31)),
])
def test_a_timestamp_with_an_offset_is_read_as_its_local_date(cell, timezone, expected) -> None:
    """'2025-03-31T15:30:00Z' was read as its UTC date, 31 March (FY2024); in Tokyo it is 1 April (FY2025)."""
    got = cells.a_date(cell) if timezone is None else cells.a_date(cell, timezone)
    assert got == expected


def test_impossible_dates_and_timestamps() -> None:
    assert isinstance(cells.a_date("2025-02-30"), Bad) and isinstance(cells.a_date("someday"), Bad)
    assert cells.timestamp("2025-04-01T09:00:00", "Asia/Tokyo") == datetime(2025, 4, 1, 0, 0, tzinfo=UTC)
    assert isinstance(cells.timestamp("2025-04-01T09:00:00", "Asia/Tokyo", require_offset=True), Bad)


@pytest.mark.parametrize(("parse", "cell", "expected"), [
    (cells.a_date, "平成31年4月30日", date(2019, 4, 30)), (cells.a_date, "令和元年5月1日", date(2019, 5, 1)),
    (cells.a_date, "H31.4.1", date(2019, 4, 1)), (cells.a_date, "S64.1.7", date(1989, 1, 7)),
    (cells.a_date, "R1.5.1", date(2019, 5, 1)), (cells.a_date, "平成元年1月8日", date(1989, 1, 8)),
    (lambda c: cells.period(c, "fiscal_year"), "令和7年度", date(2025, 4, 1)),
    (lambda c: cells.period(c, "fiscal_year"), "令和元年度", date(2019, 4, 1)),
    (lambda c: cells.period(c, "fiscal_year"), "平成31年度", date(2019, 4, 1)),
    (lambda c: cells.period(c, "monthly"), "R7.4", date(2025, 4, 1)),
])
def test_the_first_and_last_years_of_an_era_are_read(parse, cell, expected) -> None:
    assert parse(cell) == expected


@pytest.mark.parametrize(("parse", "cell", "en", "ja"), [
    (cells.a_date, "令和0年4月1日", "did you mean 2018 (平成30年)", "2018年（平成30年）のことですか"),
    (cells.a_date, "平成32年4月1日", "1989-2019", "平成は元年〜31年（1989〜2019年）"),
    (cells.a_date, "H32.4.1", "did you mean 2020 (令和2年)", "2020年（令和2年）"),
    (cells.a_date, "昭和65年1月1日", "1926-1989", "昭和は元年〜64年"),
    (cells.a_date, "S65.1.1", "did you mean 1990 (平成2年)", "1990年（平成2年）"),
    (cells.a_date, "R0.4.1", "Reiwa", "令和は元年（2019年）から"),
    (lambda c: cells.period(c, "fiscal_year"), "令和0年度", "did you mean 2018", "2018年"),
    (lambda c: cells.period(c, "fiscal_year"), "平成0年度", "did you mean 1988 (昭和63年)", "平成0年はありません"),
    (lambda c: cells.period(c, "monthly"), "平成32年4月", "no year 32 in 平成 (Heisei)", "平成32年はありません"),
    (lambda c: cells.period(c, "monthly"), "H32.4", "1989-2019", "2020年"),
    (cells.find_year_month, "マイナンバーカード交付状況（平成32年1月末時点）", "1989-2019", "2020年"),
])
def test_a_year_an_era_never_had_is_refused_with_the_year_meant(parse, cell, en, ja) -> None:
    """令和0年, 平成32年 (Heisei ended in its year 31) and 昭和65年 (Showa ended in 64) were read by plain arithmetic
    as 2018, 2020 and 1990; they are refused, naming the era's span and the Western year the writer may mean."""
    got = parse(cell)
    assert isinstance(got, Bad), got
    assert en in got.en and ja in got.ja, got


@pytest.mark.parametrize(("cell", "fiscal_year"), [
    ("平成32年度", 2020), ("平成33年度", 2021), ("H32年度", 2020), ("平成42年度", 2030), ("H35FY", 2023),
    ("昭和65年度", 1990), ("S66年度", 1991),
])
def test_fiscal_years_named_past_an_eras_end_are_read(cell: str, fiscal_year: int) -> None:
    """Plans written before 令和 was named named the fiscal years to come by going on counting 平成 ("平成32年度までに":
    by FY2020), and those written before 平成 counted 昭和 on (昭和65年度 was refused while 平成32年度 was read): a
    fiscal year is read by its era year past the era's last (31, 64). A date or a month is not."""
    assert cells.period(cell, "fiscal_year") == date(fiscal_year, 4, 1)
    for bad in (cells.a_date("平成32年4月1日"), cells.period("平成32年4月", "monthly"), cells.a_date("H33.4.1")):
        assert isinstance(bad, Bad) and "did you mean 202" in bad.en and "平成は元年〜31年" in bad.ja, bad
    for bad in (cells.a_date("昭和65年1月1日"), cells.period("昭和65年4月", "monthly")):
        assert isinstance(bad, Bad) and "did you mean 1990" in bad.en and "昭和は元年〜64年" in bad.ja, bad


@pytest.mark.parametrize(("parse", "cell", "en", "ja"), [
    (cells.a_date, "平成31年5月1日", "did you mean 2019-05-01 (令和元年5月1日)?",
     "平成31年5月1日はありません。平成は1989年1月8日〜2019年4月30日です。2019年5月1日（令和元年5月1日）のことですか"),
    (cells.a_date, "H31.12.31", "no 平成31年12月31日 in 平成 (Heisei): it ran from 1989-01-08 to 2019-04-30",
     "2019年12月31日（令和元年12月31日）のことですか"),
    (cells.a_date, "令和元年4月30日", "did you mean 2019-04-30 (平成31年4月30日)?",
     "令和元年4月30日はありません。令和は2019年5月1日からです。2019年4月30日（平成31年4月30日）のことですか"),
    (cells.a_date, "R1.1.1", "it began on 2019-05-01", "2019年1月1日（平成31年1月1日）"),
    (cells.a_date, "昭和64年1月8日", "did you mean 1989-01-08 (平成元年1月8日)?",
     "昭和は1926年12月25日〜1989年1月7日です。1989年1月8日（平成元年1月8日）のことですか"),
    (cells.a_date, "平成元年1月7日", "did you mean 1989-01-07 (昭和64年1月7日)?", "平成元年1月7日はありません"),
    (cells.a_date, "昭和元年12月24日", "it ran from 1926-12-25 to 1989-01-07", "昭和元年12月24日はありません"),
    (lambda c: cells.period(c, "monthly"), "平成31年5月", "did you mean 2019-05 (令和元年5月)?",
     "平成31年5月はありません。平成は1989年1月8日〜2019年4月30日です。2019年5月（令和元年5月）のことですか"),
    (lambda c: cells.period(c, "monthly"), "R1.4", "no 令和元年4月 in 令和 (Reiwa)", "2019年4月（平成31年4月）"),
    (lambda c: cells.period(c, "quarterly"), "令和元年4月", "did you mean 2019-04", "令和元年4月はありません"),
    (lambda c: cells.period(c, "monthly"), "昭和64年2月", "did you mean 1989-02 (平成元年2月)?", "昭和64年2月はありません"),
    (lambda c: cells.period(c, "monthly"), "平成31年5月1日", "did you mean 2019-05", "平成31年5月はありません"),
    (cells.find_year_month, "マイナンバーカード交付状況（平成31年5月末時点）", "令和元年5月", "平成31年5月はありません"),
])
def test_an_era_date_outside_its_era_by_day_is_refused_with_the_date_meant(parse, cell, en, ja) -> None:
    """平成31年5月1日 (Heisei ended on 30 April 2019), 令和元年4月30日 (Reiwa began on 1 May) and 昭和64年1月8日 (Showa
    ended on 7 January 1989) were read by their era year alone; a date or month outside its era's days is refused,
    naming the era's first and last day and the date the writer may mean."""
    got = parse(cell)
    assert isinstance(got, Bad), got
    assert en in got.en and ja in got.ja, got


@pytest.mark.parametrize(("parse", "cell", "expected"), [
    (cells.a_date, "昭和64年1月7日", date(1989, 1, 7)), (cells.a_date, "S64.1.1", date(1989, 1, 1)),
    (cells.a_date, "平成31年4月30日", date(2019, 4, 30)), (cells.a_date, "令和元年5月1日", date(2019, 5, 1)),
    (cells.a_date, "昭和元年12月25日", date(1926, 12, 25)), (cells.a_date, "昭和元年12月31日", date(1926, 12, 31)),
    (lambda c: cells.period(c, "monthly"), "平成31年4月", date(2019, 4, 1)),
    (lambda c: cells.period(c, "monthly"), "令和元年5月", date(2019, 5, 1)),
    (lambda c: cells.period(c, "monthly"), "昭和64年1月", date(1989, 1, 1)),
    (lambda c: cells.period(c, "monthly"), "平成元年1月", date(1989, 1, 1)),  # the month Heisei began in
    (lambda c: cells.period(c, "monthly"), "昭和元年12月", date(1926, 12, 1)),
    (lambda c: cells.period(c, "fiscal_year"), "平成31年度", date(2019, 4, 1)),
    (lambda c: cells.period(c, "fiscal_year"), "昭和64年度", date(1989, 4, 1)),
    (cells.find_year_month, "交付状況（平成31年4月末時点）", (2019, 4)),
])
def test_the_days_on_either_side_of_an_era_change_are_read(parse, cell, expected) -> None:
    """A month is read when any of its days is in the era (1989年1月 is both 昭和64年1月 and 平成元年1月). A fiscal year
    is named before it starts, often before a new era's name is known: FY2019's budget was 平成31年度 and FY1989's
    budget request 昭和64年度, so a fiscal year is read by its era year alone (an era year the era had)."""
    assert parse(cell) == expected


@pytest.mark.parametrize(("parse", "cell", "expected"), [
    (cells.a_date, "大正12年9月1日", date(1923, 9, 1)), (cells.a_date, "T12.9.1", date(1923, 9, 1)),
    (cells.a_date, "大正元年7月30日", date(1912, 7, 30)), (cells.a_date, "大正15年12月25日", date(1926, 12, 25)),
    (cells.a_date, "明治45年7月30日", date(1912, 7, 30)), (cells.a_date, "明治44年5月28日", date(1911, 5, 28)),
    (cells.a_date, "M22.4.1", date(1889, 4, 1)), (cells.a_date, "明治6年1月1日", date(1873, 1, 1)),
    (lambda c: cells.period(c, "monthly"), "大正14年4月", date(1925, 4, 1)),
    (lambda c: cells.period(c, "monthly"), "大正15年12月", date(1926, 12, 1)),
    (lambda c: cells.period(c, "fiscal_year"), "大正14年度", date(1925, 4, 1)),
    (cells.find_year_month, "調査（大正14年10月末時点）", (1925, 10)),
])
def test_taisho_and_meiji_dates_are_read(parse, cell, expected) -> None:
    """Dates of birth and historical records (a municipality's founding, 明治22年4月1日) are written in 大正 and
    明治; they were not read at all. 30 July 1912 is both 明治45年 and 大正元年, 25 December 1926 both 大正15年 and
    昭和元年 (each era began on the day the one before it ended)."""
    assert parse(cell) == expected


@pytest.mark.parametrize(("parse", "cell", "en", "ja"), [
    (cells.a_date, "大正元年7月29日", "did you mean 1912-07-29 (明治45年7月29日)?", "大正は1912年7月30日〜1926年12月25日です"),
    (cells.a_date, "大正15年12月26日", "did you mean 1926-12-26 (昭和元年12月26日)?", "大正15年12月26日はありません"),
    (cells.a_date, "昭和元年12月24日", "did you mean 1926-12-24 (大正15年12月24日)?", "1926年12月24日（大正15年12月24日）"),
    (cells.a_date, "明治45年8月1日", "(大正元年8月1日)", "明治は1868年10月23日〜1912年7月30日です"),
    (cells.a_date, "大正16年1月1日", "did you mean 1927 (昭和2年)?", "大正は元年〜15年（1912〜1926年）です"),
    (cells.a_date, "昭和0年1月1日", "did you mean 1925 (大正14年)?", "1925年（大正14年）のことですか"),
    (cells.a_date, "明治5年12月2日", "before Japan adopted the Gregorian calendar on 明治6年1月1日 (1873-01-01)",
     "明治5年（1872年）は太陽暦の採用（明治6年1月1日）より前です"),
    (cells.a_date, "M1.10.23", "Gregorian", "旧暦"),
    (lambda c: cells.period(c, "monthly"), "昭和元年11月", "did you mean 1926-11 (大正15年11月)?", "昭和元年11月はありません"),
    (lambda c: cells.period(c, "monthly"), "大正元年6月", "(明治45年6月)", "大正元年6月はありません"),
])
def test_taisho_and_meiji_dates_outside_their_eras_are_refused(parse, cell, en, ja) -> None:
    """Outside 大正's days, or before the Gregorian calendar (明治5年 and earlier are lunisolar dates)."""
    got = parse(cell)
    assert isinstance(got, Bad), got
    assert en in got.en and ja in got.ja, got


def test_a_bad_cell_is_written_as_every_refusal_is_english_first() -> None:
    """The project writes a refusal "English / 日本語": collectors' RowError texts, submission problems
    (Problem.__str__) and RowError.reasons(), which splits a reason back into its halves for the sheet hint and the
    submission reader. A Bad is written so too: a collector's refusal of a cell splits into the Bad's halves, not
    into swapped ones (the dashboard's page titles and a few CLI and engine errors are Japanese first)."""
    from collectors.base import RowError

    bad = cells.a_date("平成31年5月1日")
    assert isinstance(bad, Bad) and str(bad) == f"{bad.en} / {bad.ja}"
    with pytest.raises(RowError) as refused:
        collector_values.cell(3, {"d": "平成31年5月1日"}, "d", collector_values.parse_date)
    assert refused.value.reasons() == (bad.en, bad.ja)


def test_titles_name_their_month() -> None:
    assert cells.find_year_month("マイナンバーカード交付状況（令和８年１０月末時点）") == (2026, 10)
    assert cells.find_year_month("交付状況") is None and cells.find_year_month("令和8年13月") is None
    # an era's letter ends a word here, it is not an era: ITEM25年 is not 明治25年, REPORT3年 not 大正3年
    assert cells.find_year_month("ITEM25年4月") is None and cells.find_year_month("REPORT3年4月（2025年4月）") == (2025, 4)
    assert cells.find_year_month("（Ｒ７年４月末時点）") == (2025, 4)
    # every month a title names, in the order written (the population's and the cards')
    assert cells.months_named("人口（2026年1月1日時点）、保有枚数（令和８年３月末時点）") == [(2026, 1), (2026, 3)]
    assert cells.months_named("ITEM25年4月（2025年4月）") == [(2025, 4)] and cells.months_named("交付状況") == []
    assert isinstance(cells.months_named("交付状況（平成32年1月末時点）")[0], cells.Bad)


@given(st.integers(min_value=0, max_value=10**15), st.booleans(), st.sampled_from(["", "件", "人"]))
def test_counts_round_trip_through_both_paths(n: int, full_width: bool, unit: str) -> None:
    written = f"{n:,}{unit}"
    if full_width:
        written = written.translate(FULL)
    assert cells.count(written) == n
    assert collector_values.parse_count(written) == n == submission_values.integer(written)


@given(st.one_of(st.text(max_size=12), st.integers(-5, 5), st.floats(allow_nan=True), st.booleans(), st.none()))
def test_the_paths_share_one_meaning(cell) -> None:
    """Whatever the cell, the collectors' parsers accept exactly what cells accepts, with the same value, and the
    submissions' are cells' own functions."""
    for shared, collector in ((cells.count, collector_values.parse_count), (cells.boolean, collector_values.parse_bool),
                              (cells.percent, collector_values.parse_float)):
        expected = shared(cell)
        try:
            got = collector(cell)
        except ValueError:
            assert isinstance(expected, Bad), (cell, expected)
        else:
            assert got == expected
    assert submission_values.integer is cells.integer and submission_values.period is cells.period
    yes = cells.boolean(cell)
    assert submission_values.boolean(cell) == (yes if isinstance(yes, Bad) else float(yes))


@pytest.mark.parametrize("cell", ["1,2,3", "1,2", "1,5", "12,34", ",123", "1,234,", "１，２", "▲1,2"])
def test_commas_out_of_their_groups_of_three_are_refused_not_read_as_digits(cell: str) -> None:
    """'1,2,3' was stored as 123 and a decimal comma '1,5' as 15: every comma used to be dropped unread."""
    assert isinstance(cells.number(cell), cells.Bad) and isinstance(cells.integer(cell), cells.Bad)
    assert "three digits" in str(cells.number(cell))


@pytest.mark.parametrize("cell,value", [("1,234", 1234), ("1,234,567.5", 1234567.5), ("１，２３４", 1234),
                                        ("▲1,234", -1234), ("(1,234)", -1234), ("-1,000", -1000), (" 1,234 ", 1234)])
def test_commas_between_groups_of_three_are_thousands(cell: str, value: float) -> None:
    assert cells.number(cell) == value


@pytest.mark.parametrize(("cell", "written"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"), ("＝１＋１", "'＝１＋１"), ("－inf", "'－inf"), ("-inf", "'-inf"), ("-nan", "'-nan"),
    ("-3", "-3"), ("+1.5", "+1.5"), ("-1,234.5", "-1,234.5"), ("-1e3", "-1e3"), ("札幌市", "札幌市"), (None, ""), (-2, "-2"),
])
def test_csv_safe_leaves_no_formula_and_keeps_numbers(cell, written) -> None:
    """The one escape of every download: a spreadsheet never runs a cell we wrote; a signed number stays one."""
    assert cells.csv_safe(cell) == written


def test_a_note_row_is_one_cell_starting_with_a_note_mark():
    from observatory.cells import is_note

    assert is_note(["※ 交付枚数は速報値です。", None, ""]) and is_note([None, "（注）人口は住民基本台帳による。"])
    assert is_note(["＊速報値"]) and is_note(["出典：総務省"])
    assert not is_note(["※", "北海道"]) and not is_note(["札幌市"]) and not is_note([None, " "])


@pytest.mark.parametrize(("cell", "expected"), [
    ("2026/4/1", datetime(2026, 3, 31, 15, tzinfo=UTC)),  # how Japanese Excel writes a date cell into a CSV
    ("2026/4/1 9:05", datetime(2026, 4, 1, 0, 5, tzinfo=UTC)),  # ... and a date-and-time cell
    ("2026/4/1 9:05:30", datetime(2026, 4, 1, 0, 5, 30, tzinfo=UTC)),
    ("2026-4-1 17:30", datetime(2026, 4, 1, 8, 30, tzinfo=UTC)),
    ("令和8年4月1日", datetime(2026, 3, 31, 15, tzinfo=UTC)),
    ("令和8年4月1日 9:05", datetime(2026, 4, 1, 0, 5, tzinfo=UTC)),
    ("R8.4.1", datetime(2026, 3, 31, 15, tzinfo=UTC)),
    ("２０２６／４／１　９：０５", datetime(2026, 4, 1, 0, 5, tzinfo=UTC)),
])
def test_a_timestamp_as_a_spreadsheet_writes_it_is_read_in_the_time_zone(cell, expected) -> None:
    """A submission or opening time exported from Excel ('2026/4/1 9:05', '2026/4/1') or typed as an era date was
    refused as 'not an ISO 8601 timestamp', though the same cell is a date wherever a date is read."""
    assert cells.timestamp(cell, "Asia/Tokyo") == expected


@pytest.mark.parametrize("cell", ["2026/4/1 25:00", "2026/4/1 9:60", "2026/2/30 9:00", "2026/4/1 9", "平成31年5月1日",
                                  "2026/4/1 morning"])
def test_a_spreadsheet_timestamp_that_names_no_time_is_refused(cell) -> None:
    assert isinstance(cells.timestamp(cell, "Asia/Tokyo"), Bad)
    assert isinstance(cells.timestamp("2026/4/1 9:05", "Asia/Tokyo", require_offset=True), Bad)


def test_the_date_of_a_spreadsheet_timestamp_is_read() -> None:
    assert cells.a_date("2026/4/1 9:05") == date(2026, 4, 1)
    assert isinstance(cells.timestamp("平成31年5月1日", "Asia/Tokyo"), Bad)
    assert "平成" in str(cells.timestamp("平成31年5月1日 9:00", "Asia/Tokyo"))  # the era's own reason


@pytest.mark.parametrize(("cell", "reason"), [
    ("2023-04-01T25:00", "not a date and time"),  # ISO 8601's shape, no such hour: once an endless recursion
    ("2023-04-01Tfoo", "not a date and time"),
    ("2023-04-01T10:00+25:00", "not a date and time"),
    ("2023-04-01T10:00+09:99", "no such UTC offset"),  # Python itself reads it as +10:39
    ("2023-04-01T10:00+15:00", "no such UTC offset"),
    ("0001-01-01", "year outside 1900-2199"),  # once an OverflowError (its UTC is before year 1)
    ("1899-12-31T23:00:00+09:00", "year outside 1900-2199"),
])
def test_a_timestamp_that_is_none_is_a_reason_not_an_error(cell: str, reason: str) -> None:
    got = cells.timestamp(cell, "Asia/Tokyo")
    assert isinstance(got, cells.Bad) and reason in str(got)
    if "T" in cell:  # nor is it a date
        assert isinstance(cells.a_date(cell, "Asia/Tokyo"), cells.Bad)


def test_offsets_people_use_are_read() -> None:
    assert cells.timestamp("2023-04-01T10:00:00+05:45", "Asia/Tokyo") == datetime(2023, 4, 1, 4, 15, tzinfo=UTC)
    assert cells.timestamp("2023-04-01T10:00:00-0330", "Asia/Tokyo") == datetime(2023, 4, 1, 13, 30, tzinfo=UTC)
    assert cells.a_date("2023-04-01T10:00:00", "Asia/Tokyo") == date(2023, 4, 1)  # naive: the date as written


@pytest.mark.parametrize("cell", ["3 5000000", "1 2", "12 34", "１ ２"])
def test_digits_parted_by_a_space_are_no_one_number(cell: str) -> None:
    """A space between digits was dropped: "3 5000000" (two cells run together) loaded as 35,000,000."""
    assert "parted by a space" in str(cells.number(cell))


@pytest.mark.parametrize(("cell", "expected"), [("1 234 567", 1234567.0), ("１ ２３４", 1234.0), (" 12 ", 12.0),
                                                 ("▲ 5", -5.0)])
def test_a_space_grouping_three_digits_or_around_a_number_is_read(cell: str, expected: float) -> None:
    assert cells.number(cell) == expected


@pytest.mark.parametrize("cell", ["10²", "⑫", "㉑", "½"])
def test_characters_that_only_look_like_digits_are_no_number(cell: str) -> None:
    """NFKC makes 10² 102 and ⑫ 12: not what the cell says."""
    assert isinstance(cells.number(cell), cells.Bad)
