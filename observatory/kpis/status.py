"""Targets, gaps and statuses for many KPI values at once (vectorised numpy).

For a value at period p the governing target is the first target dated on or after p (the last target
once all have passed). The expected value at p is the straight line from the previous anchor (the
previous target, else the baseline) to the governing target. Status:
- achieved: the value meets the governing target;
- on_track / at_risk / off_track: progress = (value - anchor) / (expected - anchor) compared with the
  KPI's thresholds (on_track, at_risk); when no progress is expected yet (p at or before the anchor),
  value / expected in the improving direction is used instead;
- no_data: no value; no_target: the KPI has no targets.
gap = target - value for higher_is_better, value - target for lower_is_better (positive: still short).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from observatory.kpis.model import TARGET_YEARS, KpiDefinition

EPOCH = np.datetime64("1970-01-01", "D")


def days(d: date) -> float:
    return float((np.datetime64(d, "D") - EPOCH).astype(np.int64))


@dataclass(frozen=True)
class Profile:
    """The targets that apply to a set of entities: default, or one override."""

    dates: np.ndarray  # target dates as days since epoch, ascending
    values: np.ndarray


def profiles(definition: KpiDefinition) -> tuple[Profile | None, dict[tuple[str, str], Profile]]:
    """(default profile, {(level, entity_code): override profile}); overrides replace targets year by year."""
    from observatory import reference

    def build(targets: dict) -> Profile | None:
        items = sorted(targets.values(), key=lambda t: t.date)
        if not items:
            return None
        return Profile(np.array([days(t.date) for t in items]), np.array([t.value for t in items], dtype=float))

    default = build(definition.targets)
    out: dict[tuple[str, str], Profile] = {}
    for o in definition.overrides:
        merged = {y: o.targets.get(y) or definition.targets.get(y) for y in TARGET_YEARS}
        prof = build({y: t for y, t in merged.items() if t is not None})
        codes = list(o.entities)
        if o.prefectures:
            wanted = set(o.prefectures)
            codes += [m.code for m in reference.municipalities() if m.prefecture_code in wanted]
        for code in codes:
            out[(o.level, code)] = prof
    return default, out


def evaluate(definition: KpiDefinition, period_days: np.ndarray, values: np.ndarray,
             profile: Profile | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target, gap, status) arrays for values at periods (days since epoch) under one target profile."""
    n = len(values)
    status = np.full(n, "no_data", dtype=object)
    if profile is None:
        status[~np.isnan(values)] = "no_target"
        nan = np.full(n, np.nan)
        return nan, nan.copy(), status
    sign = 1.0 if definition.direction == "higher_is_better" else -1.0
    k = len(profile.dates)
    g = np.minimum(np.searchsorted(profile.dates, period_days, side="left"), k - 1)
    target = profile.values[g]
    prev_d = np.where(g > 0, profile.dates[np.maximum(g - 1, 0)], np.nan)
    prev_v = np.where(g > 0, profile.values[np.maximum(g - 1, 0)], np.nan)
    b = definition.baseline
    if b is not None:
        use_base = (g == 0) & (days(b.date) < profile.dates[0])
        prev_d = np.where(use_base, days(b.date), prev_d)
        prev_v = np.where(use_base, b.value, prev_v)
    span = profile.dates[g] - prev_d
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((period_days - prev_d) / span, 0.0, 1.0)
        expected = np.where(np.isnan(prev_d), target, prev_v + (target - prev_v) * frac)
        gap = sign * (target - values)
        moved = sign * (expected - prev_v)
        progress = np.where(moved > 0, (values - prev_v) / (expected - prev_v), np.nan)
        simple = np.where(sign > 0, values / expected, expected / values)
        score = np.where(np.isnan(progress), simple, progress)
    th = definition.thresholds
    has = ~np.isnan(values)
    status[has] = "off_track"
    status[has & (score >= th.at_risk)] = "at_risk"
    status[has & (score >= th.on_track)] = "on_track"
    status[has & (sign * (values - target) >= 0)] = "achieved"
    return target, np.where(has, gap, np.nan), status
