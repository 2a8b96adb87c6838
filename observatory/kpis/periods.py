"""Reporting periods: months, quarters and Japanese fiscal years (April-March), as their first day.

A period is always the DATE of its first day: 2025-04-01 is April 2025, Q2 2025 (April-June, the first
quarter of FY2025) or FY2025 (令和7年度) depending on the KPI's frequency.
"""

from __future__ import annotations

from datetime import date

TIMEZONE = "Asia/Tokyo"
STEP_MONTHS = {"monthly": 1, "quarterly": 3, "fiscal_year": 12}


def bucket_of(day: date, frequency: str) -> date:
    """First day of the period containing `day`."""
    if frequency == "monthly":
        return date(day.year, day.month, 1)
    if frequency == "quarterly":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if frequency == "fiscal_year":
        return date(day.year - (1 if day.month < 4 else 0), 4, 1)
    raise ValueError(f"unknown frequency {frequency!r}")


def add_periods(start: date, frequency: str, n: int = 1) -> date:
    """The period `n` steps after `start` (a period start)."""
    months = start.year * 12 + start.month - 1 + STEP_MONTHS[frequency] * n
    return date(months // 12, months % 12 + 1, 1)


def periods_between(first: date, last: date, frequency: str) -> list[date]:
    """Every period start from `first` to `last` inclusive."""
    out, p = [], bucket_of(first, frequency)
    while p <= last:
        out.append(p)
        p = add_periods(p, frequency)
    return out


def bucket_sql(day_expr: str, frequency: str) -> str:
    """SQL for the first day of the period containing the DATE expression (expression is code, not input)."""
    if frequency == "monthly":
        return f"CAST(date_trunc('month', {day_expr}) AS DATE)"
    if frequency == "quarterly":
        return f"CAST(date_trunc('quarter', {day_expr}) AS DATE)"
    if frequency == "fiscal_year":
        return f"make_date(year({day_expr}) - CASE WHEN month({day_expr}) < 4 THEN 1 ELSE 0 END, 4, 1)"
    raise ValueError(f"unknown frequency {frequency!r}")


def day_sql(column_sql: str, dtype: str) -> str:
    """SQL turning a DATE/TIMESTAMP(TZ) column into the Japanese calendar date it falls on."""
    if dtype == "DATE":
        return column_sql
    if dtype == "TIMESTAMP WITH TIME ZONE":
        return f"CAST(timezone('{TIMEZONE}', {column_sql}) AS DATE)"
    return f"CAST({column_sql} AS DATE)"


def label(period: date, frequency: str) -> str:
    """A short human label: 2025-04, 2025-Q2 (calendar quarter), FY2025."""
    if frequency == "fiscal_year":
        return f"FY{period.year}"
    if frequency == "quarterly":
        return f"{period.year}-Q{(period.month - 1) // 3 + 1}"
    return f"{period.year}-{period.month:02d}"
