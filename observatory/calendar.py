"""The one calendar: months, fiscal years from April, fiscal quarters, eras, period labels, the time zone.

A period is always the DATE of its first day: 2025-04-01 is April 2025, the first fiscal quarter of
FY2025 (April-June) or FY2025 (令和7年度) depending on the frequency. Quarters are fiscal quarters: the
quarter starting in April is Q1 (the buckets coincide with calendar quarters; only the names differ).
Every label of a period comes from `period_label`, in Japanese or English, so a page, an export and the
CLI name the same period the same way.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Tokyo"  # config.timezone's default; the calendar every target date is written in
FISCAL_YEAR_START_MONTH = 4
FREQUENCIES = ("monthly", "quarterly", "fiscal_year")
STEP_MONTHS = {"monthly": 1, "quarterly": 3, "fiscal_year": 12}

# The eras a date may be written in, newest first: (name, romanised name, abbreviation (R7.4.1), first day, last
# day or None while it lasts). Era year n is the year of the era's first day + n - 1 (元年 is year 1); its last year
# is the year of its last day (平成31年, 昭和64年). 平成 and 令和 began the day after the era before them ended; 大正
# and 昭和 began on the day the era before them ended (30 July 1912 is written 明治45年 and 大正元年, 25 December
# 1926 大正15年 and 昭和元年). 明治 was proclaimed on 23 October 1868 (dated back to the lunisolar new year); its
# dates are read from GREGORIAN_FROM. Every era limit, by year or by day, is derived from these days.
ERAS = (
    ("令和", "Reiwa", "R", date(2019, 5, 1), None),
    ("平成", "Heisei", "H", date(1989, 1, 8), date(2019, 4, 30)),
    ("昭和", "Showa", "S", date(1926, 12, 25), date(1989, 1, 7)),
    ("大正", "Taisho", "T", date(1912, 7, 30), date(1926, 12, 25)),
    ("明治", "Meiji", "M", date(1868, 10, 23), date(1912, 7, 30)),
)
# Eras whose fiscal years go on past their last year: plans written before 令和 was named (1 April 2019) named the
# fiscal years to come by going on counting 平成 (平成32年度までに: by FY2020), so 平成N年度 is FY 1988 + N for any N;
# those written before 平成 (8 January 1989) counted 昭和 on the same way (昭和65年度: FY1990). A fiscal year only:
# a date or a month past the era's last day is refused (平成32年4月1日, 昭和65年1月1日).
FISCAL_YEARS_PAST_END = ("平成", "昭和")
# Japan adopted the Gregorian calendar on 明治6年1月1日 (明治5年12月3日 of the lunisolar calendar): an era date
# before it is a lunisolar date, which this calendar does not read.
GREGORIAN_FROM = date(1873, 1, 1)

Lang = Literal["ja", "en"]
Form = Literal["short", "long"]


def zone(name: str | None = None) -> tzinfo:
    """The workspace time zone (`config.timezone`); without a name, the default one."""
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def today(timezone: str | None = None) -> date:
    """Today's date in the workspace time zone."""
    return datetime.now(zone(timezone)).date()


def local_date(instant: datetime, timezone: str | None = None) -> date:
    """The calendar date an aware instant falls on in the workspace time zone."""
    return instant.astimezone(zone(timezone)).date()


def add_months(day: date, n: int) -> date:
    """The first day of the month `n` months after the month of `day`."""
    months = day.year * 12 + day.month - 1 + n
    return date(months // 12, months % 12 + 1, 1)


def fiscal_year_of(day: date) -> int:
    """The Japanese fiscal year (April to March) a date falls in: 2026-02-01 -> 2025."""
    return day.year if day.month >= FISCAL_YEAR_START_MONTH else day.year - 1


def fiscal_year_start(fiscal_year: int) -> date:
    """1 April of a fiscal year."""
    return date(fiscal_year, FISCAL_YEAR_START_MONTH, 1)


def fiscal_quarter_of(day: date) -> tuple[int, int]:
    """(fiscal year, fiscal quarter 1-4) of a date: April-June is Q1, January-March is Q4."""
    return fiscal_year_of(day), (day.month - FISCAL_YEAR_START_MONTH) % 12 // 3 + 1


def bucket_of(day: date, frequency: str) -> date:
    """First day of the period containing `day`."""
    if frequency == "monthly":
        return date(day.year, day.month, 1)
    if frequency == "quarterly":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if frequency == "fiscal_year":
        return fiscal_year_start(fiscal_year_of(day))
    raise ValueError(f"unknown frequency {frequency!r}")


def add_periods(start: date, frequency: str, n: int = 1) -> date:
    """The period `n` steps after `start` (a period start)."""
    return add_months(start, STEP_MONTHS[frequency] * n)


def periods_between(first: date, last: date, frequency: str) -> list[date]:
    """Every period start from `first` to `last` inclusive."""
    out, p = [], bucket_of(first, frequency)
    while p <= last:
        out.append(p)
        p = add_periods(p, frequency)
    return out


def era_year_text(era: str, n: int) -> str:
    """Year n of an era as written: 令和元年 (year 1), 平成31年."""
    return f"{era}{'元' if n == 1 else n}年"


def era_of(year: int) -> str | None:
    """A Western year in the newest era it reaches: 2020 -> 令和2年, 2019 -> 令和元年, 1989 -> 平成元年, 1912 -> 大正元年;
    None before 明治."""
    for era, _, _, first, _ in ERAS:
        n = year - first.year + 1
        if n >= 1:
            return era_year_text(era, n)
    return None


def era_date(day: date, *, month: bool = False) -> str | None:
    """A date in the newest era whose days hold it: 2019-05-01 -> 令和元年5月1日, 2019-04-30 -> 平成31年4月30日,
    1989-01-07 -> 昭和64年1月7日; with `month`, its month (令和元年5月); None before the Gregorian calendar."""
    for era, _, _, first, last in ERAS:
        if GREGORIAN_FROM <= day and first <= day and (last is None or day <= last):
            written = f"{era_year_text(era, day.year - first.year + 1)}{day.month}月"
            return written if month else f"{written}{day.day}日"
    return None


def era_year(fiscal_year: int) -> str:
    """The era name of a fiscal year, in the era in force for most of it (on 1 October, its middle day): 令和5年度,
    令和元年度 (FY2019: 令和 began on 1 May, and the settlement and the statistics of FY2019 name it so, though its
    budget was passed as 平成31年度), 平成元年度 (FY1989), 昭和63年度 (FY1988: 平成 began in January), 大正15年度
    (FY1926: 昭和 began on 25 December), 大正元年度 (FY1912: 大正 began on 30 July). Before 明治's first day, the era
    year of the year (明治元年度). Reading is wider (cells: 平成31年度 is FY2019 as well)."""
    middle = date(fiscal_year, 10, 1)
    for era, _, _, first, _ in ERAS:
        if first <= middle:
            return f"{era_year_text(era, fiscal_year - first.year + 1)}度"
    return f"{era_of(fiscal_year) or f'{fiscal_year}年'}度"


def fiscal_year_label(fiscal_year: int, lang: str, form: Form = "short") -> str:
    """2023年度 / FY2023; long: 2023年度（令和5年度） / FY2023 (April 2023 – March 2024)."""
    if lang == "en":
        return f"FY{fiscal_year}" + (f" (April {fiscal_year} – March {fiscal_year + 1})" if form == "long" else "")
    return f"{fiscal_year}年度" + (f"（{era_year(fiscal_year)}）" if form == "long" else "")


def month_label(day: date, lang: str) -> str:
    """2025年4月 / Apr 2025."""
    return day.strftime("%b %Y") if lang == "en" else f"{day.year}年{day.month}月"


def period_label(period: date, frequency: str | None, lang: str, form: Form = "short") -> str:
    """The one label of a period: 2025年4月 / Apr 2025, 2025年度第1四半期 / FY2025 Q1, 2025年度 / FY2025.

    A fiscal year is never written as a date; `form="long"` adds the era (ja) or the months (en).
    An unknown or missing frequency is labelled as a month.
    """
    if frequency == "fiscal_year":
        return fiscal_year_label(fiscal_year_of(period), lang, form)
    if frequency == "quarterly":
        fy, q = fiscal_quarter_of(period)
        return f"FY{fy} Q{q}" if lang == "en" else f"{fy}年度第{q}四半期"
    return month_label(period, lang)


def period_code(period: date, frequency: str) -> str:
    """A compact label for tables and exports: 2025-04 for a month, else the English label (FY2025 Q1, FY2025)."""
    if frequency == "monthly":
        return f"{period.year}-{period.month:02d}"
    return period_label(period, frequency, "en")
