"""Targets, gaps and statuses for KPI values, as one set-based SQL expression per KPI.

For a value at period p the governing target is the first target dated on or after p (the last target
once all have passed). The expected value at p is the straight line from the previous anchor (the
previous target, else the baseline) to the governing target. Status:
- achieved: the value meets the governing target;
- on_track / at_risk / off_track: progress = (value - anchor) / (expected - anchor) compared with the
  KPI's thresholds (on_track, at_risk); when no progress is expected yet (p at or before the anchor, or
  no anchor), value / expected in the improving direction is used instead;
- no_data: no value; no_target: the KPI has no target (at this level).
gap = target - value for higher_is_better, value - target for lower_is_better (positive: still short).
Overrides give some entities their own target profile (joined through a small temp table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from observatory.kpis.model import TARGET_YEARS, KpiDefinition


@dataclass(frozen=True)
class Profile:
    """The targets (date, value) that apply to a set of entities, ascending by date."""

    anchors: tuple[tuple[date, float], ...]


def profiles(definition: KpiDefinition) -> tuple[Profile | None, list[tuple[Profile, list[tuple[str, str]]]]]:
    """(default profile, [(override profile, [(level, entity_code), ...])]); overrides replace whole years."""
    from observatory import reference

    def build(targets: dict) -> Profile | None:
        items = sorted(targets.values(), key=lambda t: t.date)
        return Profile(tuple((t.date, float(t.value)) for t in items)) if items else None

    out = []
    for o in definition.overrides:
        merged = {y: o.targets.get(y) or definition.targets.get(y) for y in TARGET_YEARS}
        prof = build({y: t for y, t in merged.items() if t is not None})
        codes = list(o.entities)
        if o.prefectures:
            wanted = set(o.prefectures)
            codes += [m.code for m in reference.municipalities() if m.prefecture_code in wanted]
        out.append((prof, [(o.level, c) for c in codes]))
    return build(definition.targets), out


class _Expr:
    """SQL text and its parameters, composed in order."""

    def __init__(self, text: str = "", params: list | None = None) -> None:
        self.text, self.params = text, list(params or [])

    def __add__(self, other: _Expr | str) -> _Expr:
        if isinstance(other, str):
            return _Expr(self.text + other, self.params)
        return _Expr(self.text + other.text, self.params + other.params)


def _num(x: float) -> _Expr:
    return _Expr("CAST(? AS DOUBLE)", [float(x)])


def _day(d: date) -> _Expr:
    return _Expr("CAST(? AS DATE)", [d])


def _profile_case(definition: KpiDefinition, prof: Profile, what: str) -> _Expr:
    """SQL choosing, by the governing target k of `period`, the target, expected value or anchor value."""
    b = definition.baseline

    def branch(k: int) -> _Expr:
        d_k, v_k = prof.anchors[k]
        if k > 0:
            prev = prof.anchors[k - 1]
        elif b is not None and b.date < d_k:
            prev = (b.date, float(b.value))
        else:
            prev = None
        if what == "target" or (prev is None and what == "expected"):
            return _num(v_k)
        if prev is None:
            return _Expr("CAST(NULL AS DOUBLE)")
        if what == "anchor":
            return _num(prev[1])
        span = (d_k - prev[0]).days
        return (_Expr("(") + _num(prev[1]) + " + (" + _num(v_k) + " - " + _num(prev[1]) + ") * greatest(0.0, "
                "least(1.0, CAST(date_diff('day', " + _day(prev[0]) + ", period) AS DOUBLE) / "
                + _num(span) + ")))")

    last = len(prof.anchors) - 1
    if last == 0:
        return branch(0)
    out = _Expr("CASE")
    for k in range(last):
        out = out + " WHEN period <= " + _day(prof.anchors[k][0]) + " THEN " + branch(k)
    return out + " ELSE " + branch(last) + " END"


def _by_profile(definition: KpiDefinition, profs: list[Profile], what: str) -> _Expr:
    if len(profs) == 1:
        return _profile_case(definition, profs[0], what)
    out = _Expr("CASE prof")
    for i, p in enumerate(profs):
        out = out + f" WHEN {i} THEN " + _profile_case(definition, p, what)
    return out + " END"


def status_select(definition: KpiDefinition, source: str) -> tuple[str, list, list[tuple[str, str, int]]]:
    """SQL selecting every column of kpi_values (bar kpi_id/version/computed_at) from `source`.

    `source` (a table or parenthesised SELECT; its parameters go after the returned ones) has level,
    entity_code, period, value, numerator, denominator, lineage and, when the KPI has overrides, is joined
    to `_kprof(level, entity_code, prof)`; returns (sql, params, profile rows).
    """
    default, overrides = profiles(definition)
    profs = [default] + [p for p, _codes in overrides]
    prof_rows = [(lv, code, i + 1) for i, (_p, codes) in enumerate(overrides) for lv, code in codes]
    base = ("SELECT s.level, s.entity_code, s.period, s.value, s.numerator, s.denominator, "
            "{target} AS target, {gap} AS gap, {status} AS status, s.lineage FROM (SELECT *, "
            "{expected} AS expected, {anchor} AS anchor, {tgt} AS tgt FROM (SELECT src.*, {prof} AS prof FROM "
            "@SOURCE@ src {join})) s")
    if default is None:
        sql = ("SELECT level, entity_code, period, value, numerator, denominator, CAST(NULL AS DOUBLE) AS target, "
               f"CAST(NULL AS DOUBLE) AS gap, CASE WHEN value IS NULL THEN 'no_data' ELSE 'no_target' END AS status, "
               f"lineage FROM {source}")
        return sql, [], []
    expected = _by_profile(definition, profs, "expected")
    anchor = _by_profile(definition, profs, "anchor")
    tgt = _by_profile(definition, profs, "target")
    sign = 1.0 if definition.direction == "higher_is_better" else -1.0
    th = definition.thresholds
    in_scope = "TRUE"
    scope_params: list = []
    if definition.target_levels is not None:
        in_scope = "s.level IN (SELECT unnest(CAST(? AS VARCHAR[])))"
        scope_params = [list(definition.target_levels)]
    # score: progress share when progress is expected, else value/expected in the improving direction
    score = (f"coalesce(CASE WHEN {sign} * (s.expected - s.anchor) > 0 THEN (s.value - s.anchor) / "
             f"(s.expected - s.anchor) END, CASE WHEN {sign} > 0 THEN s.value / NULLIF(s.expected, 0) "
             f"ELSE s.expected / NULLIF(s.value, 0) END)")
    status = (f"CASE WHEN s.value IS NULL THEN 'no_data' WHEN NOT ({in_scope}) THEN 'no_target' "
              f"WHEN {sign} * (s.value - s.tgt) >= 0 THEN 'achieved' "
              f"WHEN {score} >= ? THEN 'on_track' WHEN {score} >= ? THEN 'at_risk' ELSE 'off_track' END")
    target = f"CASE WHEN {in_scope} THEN s.tgt END"
    gap = f"CASE WHEN {in_scope} AND s.value IS NOT NULL THEN {sign} * (s.tgt - s.value) END"
    join = "LEFT JOIN _kprof p USING (level, entity_code)" if prof_rows else ""
    prof = "coalesce(p.prof, 0)" if prof_rows else "0"
    sql = base.format(target=target, gap=gap, status=status, expected=expected.text, anchor=anchor.text,
                      tgt=tgt.text, prof=prof, join=join).replace("@SOURCE@", source)
    # parameter order follows the text: target, gap, status (outer select), then expected, anchor, tgt
    params = (scope_params + scope_params + scope_params + [th.on_track, th.at_risk]
              + expected.params + anchor.params + tgt.params)
    return sql, params, prof_rows
