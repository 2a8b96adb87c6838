"""Forecasts: robust trend fitted to many series at once; attainment dates on known trends."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from observatory.kpis.forecast import MIN_POINTS, forecast_frame, refresh_forecasts, theil_sen
from observatory.kpis.periods import add_periods

TOLERANCE = timedelta(days=45)  # stated tolerance for the attainment date on a noisy linear trend


def _monthly(simple):
    d = simple["simple_registration_rate"]
    return d.model_copy(update={"frequency": "monthly"})


def _frame(series: dict[str, list[float]], start: date = date(2016, 4, 1), level: str = "ministry") -> pd.DataFrame:
    rows = []
    for entity, ys in series.items():
        for k, y in enumerate(ys):
            rows.append((level, entity, pd.Timestamp(add_periods(start, "monthly", k)), y))
    return pd.DataFrame(rows, columns=["level", "entity_code", "period", "value"])


def test_theil_sen_recovers_slopes_of_many_series_despite_outliers():
    rng = np.random.default_rng(7)
    t = np.arange(36) / 12.0
    slopes = rng.uniform(-5, 5, size=200)
    y = 40 + slopes[:, None] * t[None, :] + rng.normal(0, 0.3, size=(200, 36))
    y[:, 5] += 50  # one gross outlier per series
    y[::3, 10:14] = np.nan  # gaps
    fit = theil_sen(t, y)
    assert np.max(np.abs(fit["slope"] - slopes)) < 0.5
    assert np.all(fit["n"][::3] == 32) and np.all(fit["n"][1::3] == 36)


def test_attainment_date_of_a_known_trend_is_within_tolerance(simple):
    d = _monthly(simple)
    rng = np.random.default_rng(3)
    k = np.arange(36)
    # 50 + 10 points a year: crosses 80 three years after 2016-04-01, 90 four years after
    rising = list(50 + 10 * k / 12 + rng.normal(0, 0.4, size=36))
    frame = forecast_frame(d, _frame({"MOJ": rising}))
    by_year = {r.target_year: r for r in frame.itertuples()}
    got_2023 = by_year[2023].attainment_date
    assert abs(got_2023 - date(2019, 4, 1)) <= TOLERANCE
    # data to March 2019 end five years before the 2023 target's period (March 2024): projected, not judged
    assert by_year[2023].status == "insufficient_recent_data"
    assert by_year[2023].lower <= by_year[2023].projected_value <= by_year[2023].upper
    assert by_year[2023].projected_value == 100.0  # a percentage is projected within 0-100
    counted = forecast_frame(d.model_copy(update={"unit": "count"}), _frame({"MOJ": rising}))
    expected_2024 = 50 + 10 * ((date(2024, 3, 31) - date(2016, 4, 1)).days / 365.25)
    assert counted[counted.target_year == 2023].projected_value.iloc[0] == pytest.approx(expected_2024, abs=2.0)
    assert abs(by_year[2026].attainment_date - date(2020, 4, 1)) <= TOLERANCE


def test_falling_series_never_reaches_a_higher_target(simple):
    d = _monthly(simple)
    falling = [60 - 0.5 * i for i in range(24)]  # to March 2025: recent enough for both targets
    frame = forecast_frame(d, _frame({"MIC": falling}, start=date(2023, 4, 1)))
    assert set(frame.status) == {"off_track"}
    assert frame.attainment_date.isna().all()


def test_too_short_series_give_insufficient_data(simple):
    d = _monthly(simple)
    n = MIN_POINTS["monthly"] - 1
    frame = forecast_frame(d, _frame({"MOJ": [50 + i for i in range(n)], "MIC": [50 + i for i in range(24)]}))
    short = frame[frame.entity_code == "MOJ"]
    assert set(short.status) == {"insufficient_data"}
    assert short.projected_value.isna().all() and short.attainment_date.isna().all()
    assert set(frame[frame.entity_code == "MIC"].status) != {"insufficient_data"}


def test_refresh_forecasts_stores_rows_per_entity_and_target_year(warehouse, simple):
    with warehouse.connect() as con:
        rows = [("simple_registration_rate", 1, "ministry", "MOJ", date(2016 + i, 4, 1), 50.0 + 5 * i, "on_track")
                for i in range(6)]
        con.executemany("INSERT INTO kpi_values (kpi_id, version, level, entity_code, period, value, status, "
                        "computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, now())", rows)
        n = refresh_forecasts(con, simple)
        stored = con.execute("SELECT target_year, status, attainment_date, n_points, method FROM kpi_forecasts "
                             "ORDER BY target_year").fetchall()
    assert n == 2
    # 50 + 5 a year from FY2016: 80 reached at FY2022 (2022-04-01), 90 at FY2024; FY2021, the last figure,
    # ends five years before FY2026: too old to judge the 2026 target on
    assert [(y, s, n_) for y, s, _a, n_, _m in stored] == [(2023, "on_track", 6),
                                                           (2026, "insufficient_recent_data", 6)]
    assert abs(stored[0][2] - date(2022, 4, 1)) <= TOLERANCE
    assert stored[0][4].startswith("theil_sen")


def test_a_target_date_already_past_is_judged_on_what_was_observed_then(simple):
    d = _monthly(simple)
    k = np.arange(127)  # 2016-04 .. 2026-10, +3.5 points a year from 50: 80 is reached in late 2024
    frame = forecast_frame(d, _frame({"MOJ": list(50 + 3.5 * k / 12)}))
    row = frame[frame.target_year == 2023].iloc[0]  # target 80 by 2024-03-31
    assert row.status == "off_track"  # missed by its date, although met since
    assert row.projected_value == pytest.approx(50 + 3.5 * 95 / 12)  # observed in March 2024, not a projection
    assert row.lower == row.upper == row.projected_value
    assert date(2024, 10, 1) <= row.attainment_date <= date(2024, 12, 1)
    early = forecast_frame(d, _frame({"MOJ": list(50 + 8 * k / 12)}))  # reaches 80 in 2020: met in time
    assert early[early.target_year == 2023].iloc[0].status == "achieved"


def test_a_fiscal_year_target_is_projected_at_the_fiscal_year_it_falls_due(simple):
    """A fiscal year's value sits at its first day (FY2023 at 2023-04-01): the value due by 2024-03-31 is FY2023's,
    so the trend is read there, not at 2024-03-31 (which is FY2024's place on the axis, a whole year later)."""
    d = simple["simple_registration_rate"]  # fiscal_year; 2023: 80 by 2024-03-31, 2026: 90 by 2027-03-31
    rows = [("ministry", "MOJ", pd.Timestamp(date(fy, 4, 1)), 46.0 + 5 * (fy - 2017)) for fy in range(2017, 2023)]
    frame = forecast_frame(d, pd.DataFrame(rows, columns=["level", "entity_code", "period", "value"]))
    by_year = {r.target_year: r for r in frame.itertuples()}
    # on the trend FY2023 is 76 (misses 80), FY2024 is 81, FY2026 is 91
    assert by_year[2023].projected_value == pytest.approx(76.0, abs=0.1)
    assert by_year[2023].status == "off_track"
    assert by_year[2023].attainment_date == date(2024, 4, 1)  # FY2024, the first fiscal year on the trend >= 80
    assert by_year[2026].projected_value == pytest.approx(91.0, abs=0.1)
    assert by_year[2026].status == "insufficient_recent_data"  # FY2022 ends four years before FY2026 does
    assert by_year[2026].target_date == date(2027, 3, 31)


def test_data_ending_over_two_years_before_a_target_period_gives_insufficient_recent_data(simple):
    """Monthly data to December 2022 projected to the 2026 target (FY2026, to 2027-03-31) was 'on_track'; the
    2023 target (to 2024-03-31) is 15 months past the data and is still projected."""
    d = _monthly(simple)  # 2023: 80 by 2024-03-31, 2026: 90 by 2027-03-31
    frame = forecast_frame(d, _frame({"MOJ": [10 + 0.9 * i for i in range(72)]}, start=date(2017, 1, 1)))
    by_year = {r.target_year: r for r in frame.itertuples()}
    assert by_year[2026].status == "insufficient_recent_data"
    assert by_year[2023].status == "on_track"


def test_a_target_whose_period_has_been_observed_is_judged_on_the_observation(simple):
    """FY2023 observed at 78 misses 80 by 2024-03-31, whatever a steeper trend through the earlier years says."""
    d = simple["simple_registration_rate"]
    values = {2017: 40.0, 2018: 48.0, 2019: 56.0, 2020: 64.0, 2021: 72.0, 2022: 80.0 - 0.5, 2023: 78.0}
    rows = [("ministry", "MOJ", pd.Timestamp(date(fy, 4, 1)), v) for fy, v in values.items()]
    row = forecast_frame(d, pd.DataFrame(rows, columns=["level", "entity_code", "period", "value"]))
    row = row[row.target_year == 2023].iloc[0]
    assert row.status == "off_track" and row.projected_value == pytest.approx(78.0)
