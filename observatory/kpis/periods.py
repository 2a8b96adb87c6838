"""Reporting periods in the KPI engine's SQL; the calendar itself is observatory/calendar.py (re-exported here).

A period is always the DATE of its first day: 2025-04-01 is April 2025, FY2025 Q1 (April-June) or FY2025
(令和7年度) depending on the KPI's frequency.
"""

from __future__ import annotations

import re
from datetime import date

# The calendar lives in observatory/calendar.py; these names stay importable from here.
from observatory.calendar import DEFAULT_TIMEZONE as TIMEZONE
from observatory.calendar import (
    FISCAL_YEAR_START_MONTH,
    STEP_MONTHS,
    add_periods,
    bucket_of,
    period_code,
    periods_between,
)

_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")

__all__ = ["STEP_MONTHS", "TIMEZONE", "add_periods", "bucket_of", "bucket_sql", "day_sql", "label", "periods_between"]


def bucket_sql(day_expr: str, frequency: str) -> str:
    """SQL for the first day of the period containing the DATE expression (expression is code, not input).

    The SQL copy of calendar.bucket_of; tests/test_calendar.py checks they agree day by day.
    """
    if frequency == "monthly":
        return f"CAST(date_trunc('month', {day_expr}) AS DATE)"
    if frequency == "quarterly":
        return f"CAST(date_trunc('quarter', {day_expr}) AS DATE)"
    if frequency == "fiscal_year":
        start = FISCAL_YEAR_START_MONTH
        return f"make_date(year({day_expr}) - CASE WHEN month({day_expr}) < {start} THEN 1 ELSE 0 END, {start}, 1)"
    raise ValueError(f"unknown frequency {frequency!r}")


def day_sql(column_sql: str, dtype: str, timezone: str = TIMEZONE) -> str:
    """SQL turning a DATE/TIMESTAMP(TZ) column into the date it falls on in the workspace time zone."""
    if dtype == "DATE":
        return column_sql
    if dtype == "TIMESTAMP WITH TIME ZONE":
        if not _ZONE_NAME.fullmatch(timezone):  # written into the SQL: an IANA name, nothing else
            raise ValueError(f"not a time zone name: {timezone!r}")
        return f"CAST(timezone('{timezone}', {column_sql}) AS DATE)"
    return f"CAST({column_sql} AS DATE)"


def label(period: date, frequency: str) -> str:
    """A compact label (the calendar's period_code): 2025-04, FY2025 Q1 (April-June 2025), FY2025."""
    return period_code(period, frequency)
