"""Cell parsing: periods per frequency, numbers in Japanese notations."""

from __future__ import annotations

from datetime import date

import pytest

from observatory.submissions import values
from observatory.submissions.values import Bad


@pytest.mark.parametrize(("cell", "freq", "expected"), [
    ("2025-04", "monthly", date(2025, 4, 1)),
    ("2025/4", "monthly", date(2025, 4, 1)),
    ("２０２５年４月", "monthly", date(2025, 4, 1)),
    ("R7.4", "monthly", date(2025, 4, 1)),
    ("202504", "monthly", date(2025, 4, 1)),
    ("FY2025", "fiscal_year", date(2025, 4, 1)),
    ("2025年度", "fiscal_year", date(2025, 4, 1)),
    ("令和7年度", "fiscal_year", date(2025, 4, 1)),
    ("令和元年度", "fiscal_year", date(2019, 4, 1)),
    ("H30年度", "fiscal_year", date(2018, 4, 1)),
    ("2025-04", "fiscal_year", date(2025, 4, 1)),
    ("2025-07", "quarterly", date(2025, 7, 1)),
    ("FY2025-Q4", "quarterly", date(2026, 1, 1)),
    ("2025年度第1四半期", "quarterly", date(2025, 4, 1)),
    ("2025-Q1", "quarterly", date(2025, 1, 1)),
])
def test_periods(cell: str, freq: str, expected: date) -> None:
    assert values.period(cell, freq) == expected


@pytest.mark.parametrize(("cell", "freq"), [
    ("FY2025", "monthly"), ("2025-05", "quarterly"), ("2025-05", "fiscal_year"), ("2025-13", "monthly"),
    ("2025-Q1", "monthly"), ("soon", "monthly"), ("", "monthly"),
])
def test_bad_periods(cell: str, freq: str) -> None:
    assert isinstance(values.period(cell, freq), Bad)


def test_numbers_in_japanese_notations() -> None:
    assert values.integer("１，２３４") == 1234
    assert values.integer("1,234") == 1234
    assert values.number("▲5") == -5
    assert values.percent("４５．６％") == pytest.approx(45.6)
    assert values.percent(0.456, excel_percent_format=True) == pytest.approx(45.6)
    assert isinstance(values.integer("1.5"), Bad)
    assert isinstance(values.number("=1+1"), Bad)
    assert isinstance(values.number("nan"), Bad)
    assert values.boolean("はい") == 1.0 and values.boolean("FALSE") == 0.0


def test_current_period_uses_the_april_fiscal_year() -> None:
    assert values.current_period(date(2026, 3, 31), "fiscal_year") == date(2025, 4, 1)
    assert values.current_period(date(2026, 4, 1), "fiscal_year") == date(2026, 4, 1)
    assert values.current_period(date(2026, 2, 10), "quarterly") == date(2026, 1, 1)
