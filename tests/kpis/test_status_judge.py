"""The one status model (observatory.kpis.status.judge / judge_kpi) on small series whose answer is known."""

from __future__ import annotations

from datetime import date

from observatory.kpis.status import headline_year, judge, judge_kpi

TODAY = date(2026, 12, 1)


def monthly(start: date, values: list[float | None]) -> list[tuple[date, float | None]]:
    out, y, m = [], start.year, start.month
    for v in values:
        out.append((date(y, m, 1), v))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def test_a_past_target_exceeded_later_is_achieved_late_never_behind() -> None:
    # 2020 target 30 % due 2021-03-31; the rate was 20 % then and passed 30 % in 2022-01
    pts = monthly(date(2020, 4, 1), [10 + i * 0.8 for i in range(60)])
    ts = judge(direction="higher_is_better", unit="percent", target_year=2020, target_date=date(2021, 3, 31),
               target_value=30.0, points=pts, forecast_status="off_track", today=TODAY)
    assert ts.status == "achieved" and ts.late
    assert ts.met_on == next(p for p, v in pts if v >= 30.0)
    assert ts.judged_period == date(2021, 3, 1)  # judged on the value observed by the target date
    latest = pts[-1][1]
    assert ts.progress_pct == round(100 * ts.judged_value / 30.0, 1) != round(100 * latest / 30.0, 1)
    assert "期日後" in ts.reason_ja and "later" in ts.reason_en


def test_a_past_target_missed_is_off_track_on_the_value_at_its_date_and_no_past_attainment_date() -> None:
    pts = monthly(date(2020, 4, 1), [10 + i * 0.1 for i in range(60)])
    ts = judge(direction="higher_is_better", unit="percent", target_year=2023, target_date=date(2024, 3, 31),
               target_value=40.0, points=pts, forecast_status="off_track", attainment_date=date(2025, 1, 1),
               today=TODAY)
    assert ts.status == "off_track" and ts.judged_period == date(2024, 3, 1)
    assert ts.attainment_date is None  # a projected date already past is never shown
    assert ts.progress_pct == round(100 * ts.judged_value / 40.0, 1)


def test_future_target_met_now_is_achieved_and_otherwise_the_forecast_decides() -> None:
    pts = monthly(date(2024, 1, 1), [50 + i for i in range(30)])
    met = judge(direction="higher_is_better", target_year=2026, target_date=date(2027, 3, 31), target_value=60.0,
                points=pts, forecast_status="on_track", today=TODAY)
    assert met.status == "achieved" and not met.late and met.progress_pct == 100.0
    for fs in ("on_track", "at_risk", "off_track"):
        ts = judge(direction="higher_is_better", target_year=2026, target_date=date(2027, 3, 31), target_value=99.0,
                   points=pts, forecast_status=fs, attainment_date=date(2026, 1, 1), today=TODAY)
        assert ts.status == fs and ts.attainment_date is None
    few = judge(direction="higher_is_better", target_year=2026, target_date=date(2027, 3, 31), target_value=99.0,
                points=pts[:3], forecast_status="insufficient_data", today=TODAY)
    assert few.status == "insufficient_data"


def test_lower_is_better_and_no_target_and_no_data() -> None:
    pts = monthly(date(2024, 1, 1), [30 - i * 0.5 for i in range(30)])
    ts = judge(direction="lower_is_better", unit="days", target_year=2026, target_date=date(2027, 3, 31),
               target_value=20.0, points=pts, forecast_status="on_track", today=TODAY)
    assert ts.status == "achieved"
    assert judge(direction="higher_is_better", target_year=2026, target_date=None, target_value=None, points=pts,
                 today=TODAY).status == "no_target"
    assert judge(direction="higher_is_better", target_year=2026, target_date=None, target_value=5.0,
                 points=[(date(2025, 1, 1), None)], today=TODAY).status == "no_data"


def test_headline_is_the_group_year_else_the_next_target_and_levels_without_targets() -> None:
    assert headline_year([2020, 2023, 2026], 2023, TODAY) == 2023
    assert headline_year([2020, 2026], 2023, TODAY) == 2026
    assert headline_year([2020, 2023], None, TODAY) == 2023
    pts = monthly(date(2024, 1, 1), [50.0] * 30)
    j = judge_kpi(direction="higher_is_better", group=2026, targets={2026: 60.0}, target_levels=("national",),
                  level="prefecture", points=pts, today=TODAY)
    assert j.status == "no_target" and j.by_year == {}
    j = judge_kpi(direction="higher_is_better", group=2026, targets={2026: 60.0},
                  forecasts={2026: {"target_value": 40.0, "target_date": date(2027, 3, 31), "status": "on_track"}},
                  points=pts, today=TODAY)
    assert j.headline.target_value == 40.0 and j.status == "achieved"  # an override's target wins


def test_a_target_judged_on_data_over_two_years_older_than_its_period_is_insufficient_recent_data() -> None:
    """Card issuance (MIC's 2016-2022 tables) ends in December 2022; the 2026 target (FY2026, to 2027-03-31)
    was projected four years past it and shown on track. Data ending more than two years before the end of the
    target's period gives insufficient_recent_data, naming the last figure; observed facts stay as they were."""
    cards = monthly(date(2017, 1, 1), [10 + i * 0.9 for i in range(72)])  # 2017-01 .. 2022-12: 10 % -> 73.9 %
    day = date(2025, 6, 1)

    def status(points, year: int, due: date, target: float, forecast: str = "on_track"):
        return judge(direction="higher_is_better", unit="percent", frequency="monthly", target_year=year,
                     target_date=due, target_value=target, points=points, forecast_status=forecast,
                     projected=99.0, attainment_date=date(2026, 1, 1), today=day)

    ts = status(cards, 2026, date(2027, 3, 31), 95.0)
    assert ts.status == "insufficient_recent_data" and ts.projected is None and ts.attainment_date is None
    assert ts.judged_period == date(2022, 12, 1) and ts.judged_value == cards[-1][1]
    assert "2022年12月" in ts.reason_ja and "最新データ不足" in ts.reason_ja
    assert "Dec 2022" in ts.reason_en and "more than two years" in ts.reason_en
    for forecast in ("at_risk", "off_track"):
        assert status(cards, 2026, date(2027, 3, 31), 95.0, forecast).status == "insufficient_recent_data"
    # two years exactly (data to March 2025, FY2026 ends March 2027) is recent enough: the forecast decides
    recent = monthly(date(2020, 4, 1), [10 + i * 0.9 for i in range(60)])
    assert status(recent, 2026, date(2027, 3, 31), 95.0).status == "on_track"
    assert status(cards, 2026, date(2027, 3, 31), 50.0).status == "achieved"  # met now: observed
    # a past target within two years of the data is judged on what was observed by its date, as before
    assert status(cards, 2023, date(2024, 3, 31), 95.0, "off_track").status == "off_track"
    old = monthly(date(2014, 1, 1), [10 + i * 0.5 for i in range(60)])  # to 2018-12, 2020 target due 2021-03-31
    assert status(old, 2020, date(2021, 3, 31), 95.0, "off_track").status == "insufficient_recent_data"
