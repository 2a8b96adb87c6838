"""Forecasts: where each KPI series is heading, when it reaches its targets, with an uncertainty band.

Method (also in FORMAT.md): a Theil-Sen robust linear trend (median of pairwise slopes, median intercept)
fitted to the most recent WINDOW points of the current definition version, for every entity of a KPI
at once (numpy over a series x period matrix: no per-series model objects). The band is a prediction
interval from the robust residual scale (1.4826 x MAD): +-z * s * sqrt(1 + 1/n + (t - t_mean)^2 / Sxx) with
z = 1.2816 (80 %). Fewer than MIN_POINTS observed points in the window: `insufficient_data`, no numbers.
Status per target year: achieved (the value meets it; for a target date already past, it was met by that
date), off_track (a past target date missed, even if met later: the attainment date says when), on_track
(projection at the target date meets it), at_risk (only the optimistic band edge meets it), else off_track;
insufficient_recent_data instead of any of them but achieved when the last observation ends more than two
years before the end of the target's period (status.too_old: the projection is kept, the verdict is not).
For a past target date the "projected" value is the one observed at that date.
The attainment date is where the trend line crosses the target, if it improves and does so by HORIZON.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from observatory import reference
from observatory.calendar import add_periods, bucket_of
from observatory.kpis.catalogue import Catalogue
from observatory.kpis.model import TARGET_YEARS, KpiDefinition
from observatory.kpis.status import too_old
from observatory.warehouse import transaction

EPOCH = np.datetime64("1970-01-01", "D")


def days(d: date) -> float:
    """Days since 1970-01-01."""
    return float((np.datetime64(d, "D") - EPOCH).astype(np.int64))


METHOD = "theil_sen_robust_linear_80pct"
MIN_POINTS = {"monthly": 12, "quarterly": 6, "fiscal_year": 4}
WINDOW = {"monthly": 36, "quarterly": 16, "fiscal_year": 8}
Z = 1.2816
HORIZON = date(2040, 3, 31)
YEAR_DAYS = 365.25


def theil_sen(t: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Fit y ~ a + b t for every row of y (S x W, NaN = missing) over shared times t (W,), vectorised.

    Returns arrays of length S: slope, intercept, scale (robust residual sd), n, t_mean, sxx.
    """
    s, w = y.shape
    i, j = np.triu_indices(w, k=1)
    dt = t[j] - t[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = (y[:, j] - y[:, i]) / dt
    ok = ~np.isnan(y)
    n = ok.sum(axis=1)
    out = {"n": n}
    if s == 0 or w < 2:
        nan = np.full(s, np.nan)
        return {"n": n, "slope": nan, "intercept": nan.copy(), "scale": nan.copy(), "t_mean": nan.copy(),
                "sxx": nan.copy()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        slope = np.nanmedian(slopes, axis=1)
        intercept = np.nanmedian(y - slope[:, None] * t[None, :], axis=1)
        resid = y - (intercept[:, None] + slope[:, None] * t[None, :])
        mad = np.nanmedian(np.abs(resid - np.nanmedian(resid, axis=1)[:, None]), axis=1)
        tt = np.where(ok, t[None, :], np.nan)
        t_mean = np.nanmean(tt, axis=1)
        sxx = np.nansum((tt - t_mean[:, None]) ** 2, axis=1)
    out.update(slope=slope, intercept=intercept, scale=1.4826 * mad, t_mean=t_mean, sxx=sxx)
    return out


def _target_values(d: KpiDefinition, level: str, entities: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{year: (target dates as day numbers, target values)} per entity, overrides applied (NaN: none)."""
    out = {}
    override_targets = {}
    for o in d.overrides:
        codes = set(o.entities)
        if o.prefectures:
            codes |= {m.code for m in reference.municipalities() if m.prefecture_code in set(o.prefectures)}
        for c in codes:
            override_targets[(o.level, c)] = o.targets
    for year in TARGET_YEARS:
        base = d.targets.get(year)
        dates = np.full(len(entities), days(base.date) if base else np.nan)
        vals = np.full(len(entities), base.value if base else np.nan)
        if override_targets:
            for k, code in enumerate(entities):
                t = override_targets.get((level, code), {}).get(year)
                if t is not None:
                    dates[k], vals[k] = days(t.date), t.value
        out[year] = (dates, vals)
    return out


@dataclass
class _Series:
    """One level's values as an entity x period matrix, with the trend fitted over the recent window."""

    entities: np.ndarray
    periods: np.ndarray  # days since EPOCH
    full: np.ndarray  # entity x period values, NaN where none
    has: np.ndarray
    fit: dict[str, np.ndarray]
    latest: np.ndarray
    last_day: np.ndarray
    enough: np.ndarray  # enough points to project


def _series(d: KpiDefinition, part: pd.DataFrame) -> _Series:
    entities, e_idx = np.unique(part["entity_code"].to_numpy(dtype=str), return_inverse=True)
    pdays = (part["period"].to_numpy().astype("datetime64[D]") - EPOCH).astype(np.int64)
    periods, p_idx = np.unique(pdays, return_inverse=True)
    full = np.full((len(entities), len(periods)), np.nan)
    full[e_idx, p_idx] = part["value"].to_numpy(dtype=float)
    win = slice(max(0, len(periods) - WINDOW[d.frequency]), len(periods))
    fit = theil_sen(periods[win].astype(float) / YEAR_DAYS, full[:, win])
    has = ~np.isnan(full)
    last_idx = np.where(has.any(axis=1), len(periods) - 1 - np.argmax(has[:, ::-1], axis=1), -1)
    latest = np.where(last_idx >= 0, full[np.arange(len(entities)), np.maximum(last_idx, 0)], np.nan)
    last_day = np.where(last_idx >= 0, periods[np.maximum(last_idx, 0)], np.nan)
    return _Series(entities, periods, full, has, fit, latest, last_day, fit["n"] >= MIN_POINTS[d.frequency])


def _on_day(x: float) -> date:
    return date(1970, 1, 1) + timedelta(days=int(x))


def _period_start(d: KpiDefinition, day_numbers: np.ndarray) -> np.ndarray:
    """The start of the period containing each day (NaN stays NaN): a value is placed at its period's first day,
    so the value due by a target date is the one of the period holding that date (FY2026 for 2027-03-31)."""
    return np.array([days(bucket_of(_on_day(x), d.frequency)) if np.isfinite(x) else np.nan for x in day_numbers])


def _first_period_from(d: KpiDefinition, day_numbers: np.ndarray) -> np.ndarray:
    """The first period starting on or after each day: the first period whose trend value meets the target. A day
    within a day of a period's start counts as that start (the time axis counts 365.25 days a year)."""
    out = []
    for x in day_numbers:
        if not np.isfinite(x):
            out.append(np.nan)
            continue
        day = _on_day(round(x))
        start = bucket_of(day, d.frequency)
        out.append(days(start if (day - start).days <= 1 else add_periods(start, d.frequency)))
    return np.array(out, dtype=float)


def _project(d: KpiDefinition, s: _Series, tdates: np.ndarray, tvals: np.ndarray) -> tuple[np.ndarray, ...]:
    """Projection at each entity's target date with its range, attainment date and status; a target date
    already behind the data is judged on what was observed by then. The trend is read at the start of the
    period holding the target date, where that period's value sits on the time axis."""
    sign = 1.0 if d.direction == "higher_is_better" else -1.0
    fit, full, has, periods = s.fit, s.full, s.has, s.periods
    tperiod = _period_start(d, tdates)
    with np.errstate(invalid="ignore", divide="ignore"):
        th = tperiod / YEAR_DAYS
        proj = fit["intercept"] + fit["slope"] * th
        half = Z * fit["scale"] * np.sqrt(1 + 1 / fit["n"] + (th - fit["t_mean"]) ** 2 / fit["sxx"])
        lower, upper = proj - half, proj + half
        if d.unit == "percent":  # a share cannot leave 0-100 %
            proj, lower, upper = (np.clip(x, 0.0, 100.0) for x in (proj, lower, upper))
        met_now = sign * (s.latest - tvals) >= 0
        cross = (tvals - fit["intercept"]) / fit["slope"] * YEAR_DAYS
        improving = sign * fit["slope"] > 0
        meets_first = has & (sign * (full - tvals[:, None]) >= 0)
        first_met = np.where(meets_first.any(axis=1), periods[np.argmax(meets_first, axis=1)], np.nan)
    reached = np.where(improving & (cross <= days(HORIZON)), np.maximum(cross, s.last_day), np.nan)
    attain = np.where(met_now, first_met, _first_period_from(d, reached))
    optimistic = np.where(sign > 0, upper, lower)
    status = np.where(sign * (proj - tvals) >= 0, "on_track",
                      np.where(sign * (optimistic - tvals) >= 0, "at_risk", "off_track")).astype(object)
    status[met_now] = "achieved"
    past = tperiod <= s.last_day  # the period due has been observed: judged on its value
    upto = has & (periods[None, :] <= tdates[:, None])
    seen = upto.any(axis=1)
    at_date = full[np.arange(len(s.entities)), len(periods) - 1 - np.argmax(upto[:, ::-1], axis=1)]
    observed = past & seen
    proj, lower, upper = (np.where(observed, at_date, x) for x in (proj, lower, upper))
    with np.errstate(invalid="ignore"):
        met_by_date = first_met <= tdates
    status[past] = np.where(met_by_date[past], "achieved", "off_track")
    old = np.array([bool(np.isfinite(last) and np.isfinite(due) and too_old(_on_day(last), _on_day(due), d.frequency))
                    for last, due in zip(s.last_day, tdates, strict=True)], dtype=bool)
    status[old & (status != "achieved")] = "insufficient_recent_data"
    status[~s.enough] = "insufficient_data"
    return proj, lower, upper, attain, status


def forecast_frame(d: KpiDefinition, values: pd.DataFrame) -> pd.DataFrame:
    """Forecast rows (level, entity_code, target_year, ...) for one KPI from its current-version values."""
    rows = []
    for level, part in values.groupby("level", sort=True):
        if d.target_levels is not None and level not in d.target_levels:
            continue
        s = _series(d, part)
        for year, (tdates, tvals) in _target_values(d, level, s.entities).items():
            proj, lower, upper, attain, status = _project(d, s, tdates, tvals)
            no_target = np.isnan(tvals)
            for k, code in enumerate(s.entities):
                if no_target[k]:
                    continue
                ok = bool(s.enough[k])
                rows.append((level, code, int(year), _as_date(tdates[k]), float(tvals[k]),
                             _num(proj[k], ok), _num(lower[k], ok), _num(upper[k], ok),
                             _as_date(attain[k]) if ok else None, status[k], int(s.fit["n"][k])))
    return pd.DataFrame(rows, columns=["level", "entity_code", "target_year", "target_date", "target_value",
                                       "projected_value", "lower", "upper", "attainment_date", "status",
                                       "n_points"])


def _num(x: float, ok: bool) -> float | None:
    return float(x) if ok and np.isfinite(x) else None


def _as_date(x: float) -> date | None:
    if x is None or not np.isfinite(x):
        return None
    return date(1970, 1, 1) + timedelta(days=int(round(x)))


def refresh_forecasts(con: duckdb.DuckDBPyConnection, catalogue: Catalogue,
                      kpi_ids: list[str] | None = None) -> int:
    """Re-fit forecasts for these KPIs (all by default) from kpi_values; returns rows written."""
    now = datetime.now(UTC)
    total = 0
    for d in catalogue.ordered():
        if kpi_ids is not None and d.id not in kpi_ids:
            continue
        version = d.current().version
        values = con.execute(
            "SELECT level, entity_code, period, value FROM kpi_values WHERE kpi_id = ? AND version = ? "
            "ORDER BY level, entity_code, period", [d.id, version]).df()
        frame = forecast_frame(d, values) if len(values) else pd.DataFrame()
        with transaction(con):
            con.execute("DELETE FROM kpi_forecasts WHERE kpi_id = ?", [d.id])
            if len(frame):
                con.register("_kfc_df", frame)
                con.execute(
                    "INSERT INTO kpi_forecasts (kpi_id, version, level, entity_code, target_year, target_date, "
                    "target_value, projected_value, lower, upper, attainment_date, status, method, n_points, "
                    "computed_at) SELECT ?, ?, level, entity_code, target_year, "
                    "CAST(target_date AS DATE), target_value, projected_value, lower, upper, "
                    "CAST(attainment_date AS DATE), status, ?, n_points, ? FROM _kfc_df",
                    [d.id, version, METHOD, now])
                con.unregister("_kfc_df")
        total += len(frame)
    return total
