"""The one calendar: fiscal years from April, fiscal quarters, labels, and the copies that must agree with it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import get_args

import duckdb
import pytest

from observatory import calendar
from observatory.config import Config
from observatory.kpis import periods
from observatory.kpis.model import Frequency

ROOT = Path(__file__).resolve().parents[1]
MONTHS = [calendar.add_months(date(2018, 1, 1), n) for n in range(12 * 10)]


@pytest.mark.parametrize(("day", "fy", "q"), [
    (date(2025, 4, 1), 2025, 1), (date(2025, 6, 30), 2025, 1), (date(2025, 7, 1), 2025, 2),
    (date(2025, 12, 31), 2025, 3), (date(2026, 1, 1), 2025, 4), (date(2026, 3, 31), 2025, 4),
])
def test_fiscal_year_and_quarter(day: date, fy: int, q: int) -> None:
    assert calendar.fiscal_year_of(day) == fy
    assert calendar.fiscal_quarter_of(day) == (fy, q)


def test_labels_of_one_period_in_both_languages() -> None:
    april = date(2025, 4, 1)
    assert calendar.period_label(april, "quarterly", "ja") == "2025年度第1四半期"
    assert calendar.period_label(april, "quarterly", "en") == "FY2025 Q1"
    assert calendar.period_label(date(2026, 1, 1), "quarterly", "en") == "FY2025 Q4"
    assert calendar.period_label(date(2023, 4, 1), "fiscal_year", "ja") == "2023年度"
    assert calendar.period_label(date(2023, 4, 1), "fiscal_year", "en") == "FY2023"
    assert calendar.period_label(date(2023, 4, 1), "fiscal_year", "ja", "long") == "2023年度（令和5年度）"
    assert calendar.period_label(date(2023, 4, 1), "fiscal_year", "en", "long") == "FY2023 (April 2023 – March 2024)"
    assert calendar.period_label(april, "monthly", "ja") == "2025年4月"
    assert calendar.period_label(april, "monthly", "en") == "Apr 2025"
    assert calendar.era_year(2019) == "令和元年度" and calendar.era_year(2018) == "平成30年度"
    assert [calendar.period_code(april, f) for f in calendar.FREQUENCIES] == ["2025-04", "FY2025 Q1", "FY2025"]


def test_the_era_of_a_fiscal_year_before_reiwa() -> None:
    """FY1989 is 平成元年度 and FY1988 昭和63年度 (they were 平成1年度 and 平成0年度)."""
    assert calendar.era_year(1989) == "平成元年度" and calendar.era_year(1990) == "平成2年度"
    assert calendar.era_year(1988) == "昭和63年度"
    assert calendar.period_label(date(1989, 4, 1), "fiscal_year", "ja", "long") == "1989年度（平成元年度）"


@pytest.mark.parametrize(("fiscal_year", "written"), [
    (1926, "大正15年度"), (1927, "昭和2年度"), (1988, "昭和63年度"), (1989, "平成元年度"), (2019, "令和元年度"),
    (2020, "令和2年度"), (1911, "明治44年度"), (1912, "大正元年度"), (1913, "大正2年度"), (1868, "明治元年度"),
    (1867, "1867年度"),
])
def test_a_fiscal_year_is_named_by_the_era_of_most_of_it(fiscal_year: int, written: str) -> None:
    """A fiscal year is named in the era in force for most of it: FY1926 (April 1926 - March 1927) was 大正15年度,
    not 昭和元年度 (昭和 began on 25 December 1926), FY1988 昭和63年度 (平成 began in January), and FY2019 令和元年度
    (令和 began on 1 May; the settlement and the statistics of FY2019 say 令和元年度). Before 明治's first day (23
    October 1868, dated back to that year's start) the era year of the year is kept."""
    assert calendar.era_year(fiscal_year) == written


def test_every_era_change_names_its_fiscal_year_by_the_era_of_its_middle() -> None:
    """Around each era's first day (calendar.ERAS): the fiscal year it falls in, the one before and the one after
    are named as their middle day, 1 October, is written (era_date), 元年 included."""
    for *_, first, _ in calendar.ERAS:
        for fy in range(calendar.fiscal_year_of(first) - 1, calendar.fiscal_year_of(first) + 2):
            day = calendar.era_date(date(fy, 10, 1))
            if day is not None:
                assert calendar.era_year(fy) == day[:day.index("年") + 1] + "度", fy


def test_the_eras_follow_each_other_by_day() -> None:
    """Each era began on the day the one before it ended (大正 -> 昭和) or the day after (昭和 -> 平成 -> 令和):
    no day without an era and no era inside another; only the newest is open."""
    assert calendar.ERAS[0][-1] is None and all(last is not None for *_, last in calendar.ERAS[1:])
    for (*_, first, _), (*_, before_first, before_last) in zip(calendar.ERAS, calendar.ERAS[1:], strict=False):
        assert before_first < first and first - before_last in (timedelta(0), timedelta(days=1))


@pytest.mark.parametrize(("day", "written"), [
    (date(2019, 5, 1), "令和元年5月1日"), (date(2019, 4, 30), "平成31年4月30日"), (date(1989, 1, 8), "平成元年1月8日"),
    (date(1989, 1, 7), "昭和64年1月7日"), (date(1926, 12, 25), "昭和元年12月25日"), (date(1926, 12, 24), "大正15年12月24日"),
    (date(1912, 7, 30), "大正元年7月30日"), (date(1912, 7, 29), "明治45年7月29日"), (date(1873, 1, 1), "明治6年1月1日"),
])
def test_a_day_in_its_era(day: date, written: str) -> None:
    assert calendar.era_date(day) == written
    assert calendar.era_date(day, month=True) == written[:written.index("月") + 1]


def test_no_era_date_before_the_gregorian_calendar() -> None:
    """Japan adopted the Gregorian calendar on 明治6年1月1日: a day before it has no Gregorian era date."""
    assert calendar.GREGORIAN_FROM == date(1873, 1, 1)
    assert calendar.era_date(date(1872, 12, 31)) is None and calendar.era_of(1867) is None
    assert calendar.era_of(1925) == "大正14年" and calendar.era_of(1912) == "大正元年" and calendar.era_of(1911) == "明治44年"


def test_a_fiscal_year_is_never_written_as_a_date() -> None:
    for d in MONTHS:
        for lang in ("ja", "en"):
            for form in ("short", "long"):
                text = calendar.period_label(d, "fiscal_year", lang, form)
                assert not re.search(r"\d{4}-\d{2}|\d{4}年\d{1,2}月", text), text


def test_month_arithmetic() -> None:
    assert calendar.add_months(date(2025, 11, 15), 3) == date(2026, 2, 1)
    assert calendar.add_months(date(2025, 1, 1), -1) == date(2024, 12, 1)
    assert calendar.periods_between(date(2025, 2, 10), date(2025, 10, 1), "quarterly") == [
        date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1)]
    assert calendar.bucket_of(date(2026, 3, 31), "fiscal_year") == date(2025, 4, 1)


def test_declared_frequencies_are_the_models() -> None:
    assert tuple(get_args(Frequency)) == calendar.FREQUENCIES


def test_workspace_time_zone_default_is_the_calendars() -> None:
    assert Config().timezone == calendar.DEFAULT_TIMEZONE
    late = datetime(2025, 3, 31, 16, 0, tzinfo=UTC)  # 01:00 on 1 April in Japan
    assert calendar.local_date(late) == date(2025, 4, 1)
    assert calendar.local_date(late, "UTC") == date(2025, 3, 31)


def test_day_sql_takes_only_a_zone_name() -> None:
    con = duckdb.connect()
    ts = "TIMESTAMPTZ '2025-03-31 16:00:00+00'"
    assert con.execute(f"SELECT {periods.day_sql(ts, 'TIMESTAMP WITH TIME ZONE')}").fetchone()[0] == date(2025, 4, 1)
    assert con.execute(f"SELECT {periods.day_sql(ts, 'TIMESTAMP WITH TIME ZONE', 'UTC')}").fetchone()[0] == date(
        2025, 3, 31)
    with pytest.raises(ValueError, match="not a time zone name"):
        periods.day_sql("x", "TIMESTAMP WITH TIME ZONE", "UTC', x) --")


def test_config_refuses_an_unknown_time_zone() -> None:
    from pydantic import ValidationError

    assert Config(timezone="Europe/Paris").timezone == "Europe/Paris"
    for bad in ("Mars/Olympus", "../etc/passwd", "UTC', x) --"):
        with pytest.raises(ValidationError, match="timezone"):
            Config(timezone=bad)


def test_sql_buckets_agree_with_the_calendar_day_by_day() -> None:
    """bucket_sql is the one copy that must remain (the engine buckets in DuckDB)."""
    days = [date(2018, 1, 1) + timedelta(days=n) for n in range(0, 365 * 9, 3)]
    con = duckdb.connect()
    con.execute("CREATE TABLE d (day DATE)")
    con.executemany("INSERT INTO d (day) VALUES (?)", [(d,) for d in days])
    for freq in calendar.FREQUENCIES:
        got = con.execute(f"SELECT day, {periods.bucket_sql('day', freq)} FROM d ORDER BY day").fetchall()  # noqa: S608
        assert [(d, calendar.bucket_of(d, freq)) for d in days] == got, freq


def test_kpis_periods_keeps_its_api() -> None:
    assert periods.bucket_of is calendar.bucket_of and periods.add_periods is calendar.add_periods
    assert periods.TIMEZONE == calendar.DEFAULT_TIMEZONE
    assert periods.label(date(2025, 4, 1), "quarterly") == "FY2025 Q1"


def test_every_labeller_says_what_the_calendar_says() -> None:
    """The dashboards (long form), the public site, KPI status sentences and the CLI name a period alike."""
    from dashboards import i18n as dash
    from dashboards.publish import i18n as site
    from observatory.kpis.status import _when

    for d in MONTHS:
        for freq in calendar.FREQUENCIES:
            for lang in ("ja", "en"):
                short = calendar.period_label(d, freq, lang)
                assert site.period_label(d, lang, freq) == short
                assert _when(d, freq, lang) == short
                assert dash.format_period(d, freq, lang) == calendar.period_label(d, freq, lang, "long")
                assert dash.format_period(d.isoformat(), freq, lang) == dash.format_period(d, freq, lang)
            assert periods.label(d, freq) == calendar.period_code(d, freq)


def test_labels_read_back_through_the_submission_parser() -> None:
    """A label the site shows is a period a ministry may type into a submission."""
    from observatory.submissions.values import period

    for d in MONTHS:
        for freq in ("quarterly", "fiscal_year"):
            start = calendar.bucket_of(d, freq)
            for lang in ("ja", "en"):
                assert period(calendar.period_label(start, freq, lang), freq) == start
            assert period(calendar.period_code(start, freq), freq) == start


# The zone is named once, observatory.calendar.DEFAULT_TIMEZONE (config.timezone's default); everything else
# takes the workspace's config.timezone or that constant, and new observatory.yaml files are written from it. The
# only other mentions allowed are prose (the example in config's error message). Japan's offset written as a
# fixed +9 hours is a copy too.
ZONE_MENTIONS = {"observatory/config.py": "example in the unknown-zone error message"}
COPY_PATTERNS = [r"Asia/Tokyo", r"hours\s*=\s*9\b", r"\bmonth\s*(<|>=)\s*4\b", r"month\s*<\s*4\)"]


def _calendar_copies(files: dict[str, str]) -> set[str]:
    found = set()
    for rel, text in files.items():
        if rel in ("observatory/calendar.py", "observatory/kpis/periods.py"):
            continue
        lines = [line for line in text.splitlines() if not (rel in ZONE_MENTIONS and "such as Asia/Tokyo" in line)]
        if any(re.search(p, line) for p in COPY_PATTERNS for line in lines):
            found.add(rel)
    return found


def test_no_new_copy_of_the_calendar() -> None:
    files = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
             for package in ("observatory", "collectors", "anomaly", "dashboards")
             for path in (ROOT / package).rglob("*.py")}
    found = _calendar_copies(files)
    assert found == set(), f"copies of the calendar outside observatory/calendar.py: {found}"


@pytest.mark.parametrize("line", ['tz = ZoneInfo("Asia/Tokyo")', "timezone: Asia/Tokyo",
                                  "SELECT timezone('Asia/Tokyo', at)", "JST = timezone(timedelta(hours=9))",
                                  "fy = d.year - 1 if d.month < 4 else d.year"])
def test_the_calendar_copy_check_can_fail(line: str) -> None:
    assert _calendar_copies({"dashboards/x.py": f"x = 1\n{line}\n"}) == {"dashboards/x.py"}
    assert _calendar_copies({"observatory/calendar.py": f"{line}\n"}) == set()


@pytest.mark.parametrize(("timezone", "month"), [("Asia/Tokyo", "2026-04-01"), ("UTC", "2026-03-01")])
def test_public_site_counts_events_in_the_workspace_time_zone(timezone: str, month: str) -> None:
    """01:00 on 1 April in Tokyo is still 31 March in UTC: the month an event counts in follows config.timezone."""
    from dashboards.publish.data import _security

    con = duckdb.connect()
    con.execute("CREATE TABLE alerts (first_seen TIMESTAMPTZ, status VARCHAR)")
    con.execute("CREATE TABLE access_events (occurred_at TIMESTAMPTZ)")
    con.executemany("INSERT INTO access_events (occurred_at) VALUES (?)",
                    [(datetime(2026, 3, 31, 16, 0, tzinfo=UTC),)] * 50)
    _alerts, monitored = _security(con, datetime(2026, 4, 15, tzinfo=UTC), timezone)
    counts = {label: row[0] for label, row in zip(monitored.rows, monitored.cells, strict=True)}
    assert counts[month] == 50 and sum(v or 0 for v in counts.values()) == 50


def test_public_site_months_begin_and_end_in_the_workspace_time_zone() -> None:
    """The twelve months ended at the UTC date of the build (at 01:00 on 1 May in Tokyo, May was left out) and
    began at midnight UTC, so the first month's events of 00:00-09:00 on its first day in Tokyo were not counted."""
    from dashboards.publish.data import _security

    con = duckdb.connect()
    con.execute("CREATE TABLE alerts (first_seen DATE, status VARCHAR)")
    con.execute("CREATE TABLE access_events (occurred_at TIMESTAMPTZ)")
    first_morning = datetime(2025, 5, 31, 18, 0, tzinfo=UTC)  # 1 June 2025, 03:00 in Tokyo
    last_night = datetime(2026, 4, 30, 15, 30, tzinfo=UTC)  # 1 May 2026, 00:30 in Tokyo
    con.executemany("INSERT INTO access_events (occurred_at) VALUES (?)",
                    [(first_morning,)] * 20 + [(last_night,)] * 30)
    con.executemany("INSERT INTO alerts (first_seen, status) VALUES (?, 'benign')", [(date(2026, 5, 1),)] * 12)
    alerts, monitored = _security(con, datetime(2026, 4, 30, 16, 0, tzinfo=UTC), "Asia/Tokyo")
    counts = {label: row[0] for label, row in zip(monitored.rows, monitored.cells, strict=True)}
    assert list(counts)[0] == "2025-06-01" and list(counts)[-1] == "2026-05-01"
    assert counts["2025-06-01"] == 20 and counts["2026-05-01"] == 30
    assert alerts.grand_total == 12
