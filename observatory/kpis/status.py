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

from observatory import calendar, reference
from observatory.kpis.model import TARGET_YEARS, KpiDefinition


@dataclass(frozen=True)
class Profile:
    """The targets (date, value) that apply to a set of entities, ascending by date."""

    anchors: tuple[tuple[date, float], ...]


def profiles(definition: KpiDefinition) -> tuple[Profile | None, list[tuple[Profile, list[tuple[str, str]]]]]:
    """(default profile, [(override profile, [(level, entity_code), ...])]); overrides replace whole years."""
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


# ---------------------------------------------------------------- the one judgement of a KPI against a target
#
# Every reader (the CIO overview, the KPI page, the public site, its JSON API and CSV files, the CLI) asks
# `judge` for the status of a KPI for one level, entity and target year, and `headline_year` for which target
# a single badge refers to. The stored per-period statuses of kpi_values stay what they are (the state of
# each period against its governing target); a badge never reads them.

JUDGED = ("achieved", "on_track", "at_risk", "off_track", "insufficient_data", "insufficient_recent_data",
          "no_data", "no_target")
SEVERITY = {"off_track": 0, "at_risk": 1, "insufficient_data": 2, "insufficient_recent_data": 2, "no_data": 3,
            "on_track": 4, "achieved": 5, "no_target": 6}
RECENT_MONTHS = 24  # data ending longer than this before the end of a target's period is too old to judge it on


def too_old(last_period: date, target_date: date, frequency: str) -> bool:
    """The stale-data rule: the last observed period ends more than RECENT_MONTHS (two years) before the end of
    the period holding the target date, so that period is not observed either. A projection or a verdict of
    missed from such data is not presented (insufficient_recent_data); a target observed met stays achieved."""
    after_last = calendar.add_periods(calendar.bucket_of(last_period, frequency), frequency)
    after_due = calendar.add_periods(calendar.bucket_of(target_date, frequency), frequency)
    return calendar.add_months(after_last, RECENT_MONTHS) < after_due


@dataclass(frozen=True)
class TargetStatus:
    """A KPI judged against one target: the status code, the facts it rests on and a reason in words.

    judged_value is the value the judgement rests on: for a target date already past, the value observed
    by that date; otherwise the latest value. progress_pct is judged_value as a share of the target in the
    improving direction (100 once met). attainment_date is a projected date, never one already past;
    met_on is the first period of the stretch in which the target has been met (late when after the date).
    """

    target_year: int | None
    target_date: date | None
    target_value: float | None
    status: str
    judged_value: float | None = None
    judged_period: date | None = None
    progress_pct: float | None = None
    met_on: date | None = None
    late: bool = False
    attainment_date: date | None = None
    projected: float | None = None
    reason_ja: str = ""
    reason_en: str = ""

    def reason(self, lang: str) -> str:
        return self.reason_en if lang == "en" else self.reason_ja


def _fmt(value: float | None, unit: str, lang: str) -> str:
    if value is None:
        return "-"
    v = float(value)
    digits = 0 if unit in ("count", "people", "yen", "rank") else 1
    text = f"{v:,.{digits}f}"
    if unit == "percent":
        return text + "%"
    if unit == "count":
        return text + ("件" if lang == "ja" else "")
    if unit == "days":
        return text + ("日" if lang == "ja" else " days")
    return text


def _when(d: date | None, frequency: str, lang: str) -> str:
    """A period as a reader says it (2023年度 / FY2023 for fiscal years, 2025年4月 / Apr 2025 for months)."""
    return "-" if d is None else calendar.period_label(d, frequency, lang)


def _day_text(d: date | None, lang: str) -> str:
    if d is None:
        return "-"
    return f"{d.year}年{d.month}月{d.day}日" if lang == "ja" else f"{d.day} {d.strftime('%b %Y')}"


def headline_year(years: list[int] | tuple[int, ...] | set[int], group: int | None, today: date,
                  dates: dict[int, date] | None = None) -> int | None:
    """The target a single badge refers to: the KPI's target-year group when it has that target, else the
    next target not yet passed, else the last one."""
    ys = sorted(years)
    if not ys:
        return None
    if group in ys:
        return group
    for y in ys:
        due = (dates or {}).get(y) or date(y + 1, 3, 31)
        if due >= today:
            return y
    return ys[-1]


@dataclass(frozen=True)
class _Series:
    """One series against one target value, with what every branch of `judge` reads."""

    higher: bool
    target: float
    unit: str
    frequency: str
    due: date
    values: list[tuple[date, float]]  # oldest first, never empty
    clean: date | None  # the projected attainment date, when not already past

    def meets(self, v: float) -> bool:
        return v >= self.target if self.higher else v <= self.target

    def share(self, v: float | None) -> float | None:
        """v as a percentage of the target in the improving direction (100 once met)."""
        if v is None:
            return None
        if self.meets(v):
            return 100.0
        if self.higher:
            return round(100.0 * v / self.target, 1) if self.target else None
        return round(100.0 * self.target / v, 1) if v else None

    def fmt(self, v: float | None, lang: str) -> str:
        return _fmt(v, self.unit, lang)

    def when(self, d: date | None, lang: str) -> str:
        return _when(d, self.frequency, lang)

    def met_on(self) -> date | None:
        """The start of the stretch of periods that meet the target up to the latest (None: the latest misses)."""
        latest_p, latest_v = self.values[-1]
        if not self.meets(latest_v):
            return None
        met_on = latest_p
        for p, v in reversed(self.values):
            if not self.meets(v):
                break
            met_on = p
        return met_on


def judge(*, direction: str, unit: str = "", frequency: str = "monthly", target_year: int | None,
          target_date: date | None, target_value: float | None,
          points: list[tuple[date, float | None]] | tuple = (), forecast_status: str | None = None,
          projected: float | None = None, attainment_date: date | None = None, n_points: int | None = None,
          today: date) -> TargetStatus:
    """The status of one KPI series (points oldest first) against one target, with its reason.

    achieved: the target is met now, or a target date already past was met (late when after the date);
    insufficient_recent_data: otherwise, when the data end more than two years before the end of the target's
    period (`too_old`; too few points stays insufficient_data); for a target date already past and never met:
    off_track, judged on the value observed by the date; otherwise the forecast decides (on_track / at_risk /
    off_track, insufficient_data with too few points).
    """
    values = [(p, float(v)) for p, v in points if v is not None]
    base = {"target_year": target_year, "target_date": target_date, "target_value": target_value}
    if not values:
        return TargetStatus(**base, status="no_data", reason_ja="データがありません。", reason_en="No data.")
    if target_value is None:
        return TargetStatus(**base, status="no_target", judged_value=values[-1][1], judged_period=values[-1][0],
                            reason_ja="この指標にはこの年の目標がありません。",
                            reason_en="This indicator has no target for this year.")
    series = _Series(higher=direction not in ("lower_is_better", "down"), target=float(target_value), unit=unit,
                     frequency=frequency, due=target_date or date((target_year or today.year) + 1, 3, 31),
                     values=values,
                     clean=attainment_date if attainment_date is not None and attainment_date >= today else None)
    if series.due < today:
        return _judge_past(series, base)
    latest_p, latest_v = values[-1]
    common = {"judged_value": latest_v, "judged_period": latest_p, "progress_pct": series.share(latest_v)}
    met_on = series.met_on()
    if met_on is not None:
        ja_t, en_t = series.fmt(series.target, "ja"), series.fmt(series.target, "en")
        return TargetStatus(**base, status="achieved", met_on=met_on, **common,
                            reason_ja=f"{series.when(met_on, 'ja')}から目標{ja_t}を満たしています"
                                      f"（最新値{series.fmt(latest_v, 'ja')}）。",
                            reason_en=f"Target {en_t} met since {series.when(met_on, 'en')} "
                                      f"(latest {series.fmt(latest_v, 'en')}).")
    if forecast_status != "insufficient_data" and too_old(latest_p, series.due, frequency):
        return _too_old(series, base)  # too few points stays the reason when it is one
    if forecast_status in ("on_track", "achieved", "at_risk", "off_track"):
        return _judge_by_forecast(series, base, common, forecast_status, projected)
    n = n_points if n_points is not None else len(values)
    return TargetStatus(**base, status="insufficient_data", **common,
                        reason_ja=f"データ点が少ないため予測できません（{n}点）。最新値{series.fmt(latest_v, 'ja')}。",
                        reason_en=f"Too few data points to project ({n}). Latest {series.fmt(latest_v, 'en')}.")


def _judge_past(series: _Series, base: dict) -> TargetStatus:
    """A target date already past: achieved when met by the date (or late, when met since), else off_track
    judged on the value observed by the date."""
    due, values = series.due, series.values
    ja_t, en_t = series.fmt(series.target, "ja"), series.fmt(series.target, "en")
    due_ja, due_en = _day_text(due, "ja"), _day_text(due, "en")
    by_date = [(p, v) for p, v in values if p <= due]
    judged_p, judged_v = by_date[-1] if by_date else (None, None)
    first_met = next((p for p, v in values if series.meets(v)), None)
    if first_met is not None and first_met <= due:
        return TargetStatus(**base, status="achieved", judged_value=judged_v, judged_period=judged_p,
                            progress_pct=100.0, met_on=first_met, late=False,
                            reason_ja=f"期日（{due_ja}）までに目標{ja_t}を達成（{series.when(first_met, 'ja')}）。",
                            reason_en=f"Target {en_t} met by its date ({due_en}), "
                                      f"in {series.when(first_met, 'en')}.")
    seen_ja = (f"期日時点の値は{series.fmt(judged_v, 'ja')}（{series.when(judged_p, 'ja')}）"
               if judged_v is not None else "期日時点の値はありません")
    seen_en = (f"the value at the date was {series.fmt(judged_v, 'en')} ({series.when(judged_p, 'en')})"
               if judged_v is not None else "no value was observed by the date")
    met_on = series.met_on()
    if met_on is None and too_old(values[-1][0], due, series.frequency):
        return _too_old(series, base)
    if met_on is not None:
        return TargetStatus(**base, status="achieved", judged_value=judged_v, judged_period=judged_p,
                            progress_pct=series.share(judged_v), met_on=met_on, late=True,
                            reason_ja=f"期日（{due_ja}）には未達（{seen_ja}）。"
                                      f"{series.when(met_on, 'ja')}に目標{ja_t}を達成（期日後）。",
                            reason_en=f"Not met by its date ({due_en}; {seen_en}); target "
                                      f"{en_t} met later, in {series.when(met_on, 'en')}.")
    clean, latest_v = series.clean, values[-1][1]
    then_ja = f"{series.when(clean, 'ja')}に達成の見込み。" if clean else "達成の見込みは立っていません。"
    then_en = f"Projected to reach it in {series.when(clean, 'en')}." if clean else "Not projected to reach it."
    return TargetStatus(**base, status="off_track", judged_value=judged_v, judged_period=judged_p,
                        progress_pct=series.share(judged_v), attainment_date=clean,
                        reason_ja=f"期日（{due_ja}）に目標{ja_t}に届きませんでした（{seen_ja}）。"
                                  f"最新値は{series.fmt(latest_v, 'ja')}。{then_ja}",
                        reason_en=f"Target {en_t} missed at its date ({due_en}; {seen_en}). "
                                  f"Latest {series.fmt(latest_v, 'en')}. {then_en}")


def _too_old(series: _Series, base: dict) -> TargetStatus:
    """Data ending more than two years before the end of the target's period: no projection, no verdict."""
    latest_p, latest_v = series.values[-1]
    due_ja, due_en = _day_text(series.due, "ja"), _day_text(series.due, "en")
    return TargetStatus(**base, status="insufficient_recent_data", judged_value=latest_v, judged_period=latest_p,
                        progress_pct=series.share(latest_v),
                        reason_ja=f"最新データ不足：最新のデータは{series.when(latest_p, 'ja')}"
                                  f"（{series.fmt(latest_v, 'ja')}）で、目標の期日（{due_ja}）を含む期間の終わりより"
                                  "2年以上前のため、見通しを判定しません。",
                        reason_en=f"Insufficient recent data: the latest figure is from {series.when(latest_p, 'en')} "
                                  f"({series.fmt(latest_v, 'en')}), more than two years before the end of the "
                                  f"period holding the target date ({due_en}); no outlook is judged.")


def _judge_by_forecast(series: _Series, base: dict, common: dict, forecast_status: str,
                       projected: float | None) -> TargetStatus:
    """A target still ahead and not met now: the forecast at the date decides."""
    clean = series.clean
    ja_t, en_t = series.fmt(series.target, "ja"), series.fmt(series.target, "en")
    due_ja, due_en = _day_text(series.due, "ja"), _day_text(series.due, "en")
    proj_ja, proj_en = series.fmt(projected, "ja"), series.fmt(projected, "en")
    ahead = {"attainment_date": clean, "projected": projected, **common}
    if forecast_status in ("on_track", "achieved"):
        return TargetStatus(**base, status="on_track", **ahead,
                            reason_ja=f"期日（{due_ja}）の予測値{proj_ja}は目標{ja_t}に届く見込み。",
                            reason_en=f"Projected {proj_en} at the date ({due_en}) meets the target {en_t}.")
    if forecast_status == "at_risk":
        return TargetStatus(**base, status="at_risk", **ahead,
                            reason_ja=f"期日の予測値{proj_ja}は目標{ja_t}に届かず、予測の幅の上端でのみ届きます。",
                            reason_en=f"Projected {proj_en} at the date falls short of {en_t}; only the "
                                      "optimistic end of the range meets it.")
    then_ja = (f"達成は{series.when(clean, 'ja')}の見込み（期日後）。" if clean
               else "現在の傾向では達成の見込みが立ちません。")
    then_en = (f"Projected to reach it in {series.when(clean, 'en')}, after the date." if clean
               else "Not projected to reach it on the current trend.")
    return TargetStatus(**base, status="off_track", **ahead,
                        reason_ja=f"期日（{due_ja}）の予測値{proj_ja}は目標{ja_t}に届きません。" + then_ja,
                        reason_en=f"Projected {proj_en} at the date ({due_en}) misses the target {en_t}. " + then_en)


def judge_all(*, direction: str, unit: str = "", frequency: str = "monthly",
              targets: dict[int, tuple[date | None, float | None]], forecasts: dict[int, dict] | None = None,
              points: list[tuple[date, float | None]] | tuple = (), today: date) -> dict[int, TargetStatus]:
    """judge() for every target year of one KPI series; `forecasts` rows keyed by year (kpi_forecasts columns:
    status, projected_value, attainment_date, n_points)."""
    out = {}
    for year, (due, value) in sorted(targets.items()):
        f = (forecasts or {}).get(year) or {}
        out[year] = judge(direction=direction, unit=unit, frequency=frequency, target_year=year, target_date=due,
                          target_value=value, points=points, forecast_status=f.get("status"),
                          projected=f.get("projected_value", f.get("projected")),
                          attainment_date=f.get("attainment_date"), n_points=f.get("n_points"), today=today)
    return out


def today_jst() -> date:
    """Today's date in the default time zone (calendar.DEFAULT_TIMEZONE, Japan's): only the fallback of a reader
    given no date. A reader that has the workspace judges on its day, calendar.today(config.timezone)."""
    return calendar.today()


@dataclass(frozen=True)
class Judgement:
    """Every target of one KPI for one level and entity, and the one a single badge shows."""

    by_year: dict[int, TargetStatus]
    headline: TargetStatus

    @property
    def status(self) -> str:
        return self.headline.status


def judge_kpi(*, direction: str, unit: str = "", frequency: str = "monthly", group: int | None = None,
              targets: dict[int, float | None], dates: dict[int, date] | None = None,
              target_levels: tuple[str, ...] | list[str] | None = None, level: str = "national",
              forecasts: dict[int, dict] | None = None, points: list[tuple[date, float | None]] | tuple = (),
              today: date) -> Judgement:
    """The one status model: the KPI's targets at this level (a forecast row's target, which carries the
    entity's override, before the definition's), each judged by `judge`, and the headline target chosen by
    `headline_year`. Every page, the public site, its API and CSV call this for a badge."""
    forecasts = forecasts or {}
    table: dict[int, tuple[date | None, float | None]] = {}
    if target_levels is None or level in target_levels:
        for y in sorted(set(targets) | set(forecasts)):
            f = forecasts.get(y) or {}
            value = f.get("target_value") if f.get("target_value") is not None else targets.get(y)
            if value is not None:
                table[y] = (f.get("target_date") or (dates or {}).get(y), float(value))
    by_year = judge_all(direction=direction, unit=unit, frequency=frequency, targets=table, forecasts=forecasts,
                        points=points, today=today)
    year = headline_year(list(by_year), group, today, {y: d for y, (d, _v) in table.items() if d})
    if year is None:
        head = judge(direction=direction, unit=unit, frequency=frequency, target_year=None, target_date=None,
                     target_value=None, points=points, today=today)
    else:
        head = by_year[year]
    return Judgement(by_year, head)
