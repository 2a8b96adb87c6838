"""Findings -> episodes -> alerts: one alert per staff member and episode, within the alert budget.

A staff-day's score combines its scenarios' strongest evidence (Fisher) plus the learned model's term; an
episode groups a person's findings on days at most GAP_DAYS apart, and scores as the stronger of its worst
day and its days' evidence combined (`combined_days`: a weak incident spread over several days adds up,
while the multiplicity of codes, of calendar days and of window lengths is paid for). One reason code's findings
on separate occasions weeks apart (a person's neighbours looked up one week and again the next) are a second
kind of episode (`recurrences`): the same suspicion again, with the choice of the earlier days paid for. Only
episodes whose score clears the significance floor are candidates, and at most the budget of them, most
suspicious first, become alerts (stored through observatory.security.alerts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from anomaly.explain import reason, scenario_of
from anomaly.scenarios import MAX_EVIDENCE, POLICY_EVIDENCE, SPAN_CODES, TESTS_PER_STAFF_DAY
from observatory.security.alerts import DetectedAlert

GAP_DAYS = 2
MIN_FINDING = 1.0  # weaker findings are kept as detection state but do not add to a day's score
MODEL_WEIGHT = 1.0
CRITICAL = {"terminated", "two_sites"}
HIGH = {"household", "sensitive", "update_without_case", "bulk_export", "coworker"}


def significance_floor(per_1000_staff_days: float, share_of_budget: float = 0.1,
                       n_tests: int = TESTS_PER_STAFF_DAY) -> float:
    """The evidence a staff-day needs: chance alone may fill at most `share_of_budget` of the budgeted rate
    (alerts.chance_share, a tenth by default), counting that every staff-day undergoes several tests
    (Bonferroni over scenarios.TESTS_PER_STAFF_DAY).

    With a budget of 1 alert per 1,000 staff-days, a tenth for chance and 21 tests (16 reason codes in use,
    three of them the stronger of two tests, one of three), a finding must be rarer than 1 in 210,000 (5.32
    decades)."""
    rate = max(per_1000_staff_days, 1e-6) / 1000.0 * share_of_budget / max(n_tests, 1)
    return -math.log10(rate)


def budget_for(n_days: int, staff_days: int, daily_budget: float, per_1000_staff_days: float) -> int:
    """How many alerts a detection window may raise: the daily budget and the per-1,000 ceiling, and at least one
    when there are staff-days at all. The ceiling caps the analysts' queue; what keeps false alarms rare is the
    floor (significance_floor), which does not depend on the office's size: rounded down, an office of fewer than
    some 34 staff had a budget of 0 a month at the default ceiling and could never be alerted on, however strong
    the evidence (at the floor, chance fills a tenth of the per-1,000 rate whatever the size: for 34 staff about
    one false alert in ten months, fewer for fewer staff)."""
    ceiling = int(math.floor(min(daily_budget * max(n_days, 1), per_1000_staff_days * staff_days / 1000.0) + 1e-9))
    return max(ceiling, 1 if staff_days > 0 and daily_budget > 0 and per_1000_staff_days > 0 else 0)


def fisher(evidence: list[float] | np.ndarray) -> float:
    """Combine independent surprises (-log10 p) into one with Fisher's method, so that several weak
    findings count for more than one of them but less than their plain sum."""
    ev = np.asarray(evidence, float)
    if len(ev) == 0:
        return 0.0
    if len(ev) == 1:
        return float(ev[0])
    stat = 2.0 * np.log(10) * ev.sum()  # -2 sum ln p ~ chi2 with 2k degrees of freedom
    return float(min(-chi2.logsf(stat, 2 * len(ev)) / np.log(10), 3 * MAX_EVIDENCE))


def day_scores(findings: pd.DataFrame) -> pd.DataFrame:
    """(staff_id, day) -> rule score: per scenario its strongest finding, combined over scenarios."""
    f = findings[findings["evidence"] >= MIN_FINDING].copy()
    if f.empty:
        return pd.DataFrame(columns=["staff_id", "day", "rule_score"])
    f["scenario"] = f["code"].map(scenario_of)
    per = f.groupby(["staff_id", "day", "scenario"], as_index=False)["evidence"].max()
    out = per.groupby(["staff_id", "day"], as_index=False)["evidence"].agg(["sum", "count"])
    # Fisher's method, vectorised: -2 sum ln p ~ chi2 with 2k degrees of freedom
    stat = 2.0 * np.log(10) * out["sum"].to_numpy()
    combined = np.minimum(-chi2.logsf(stat, 2 * out["count"].to_numpy()) / np.log(10), 3 * MAX_EVIDENCE)
    out["rule_score"] = np.where(out["count"] == 1, out["sum"], combined)
    return out[["staff_id", "day", "rule_score"]]


@dataclass
class Episode:
    staff_id: str
    first: date
    last: date
    score: float
    rows: pd.DataFrame
    # the recurrences the score rests on, where it does (`recurrences`): code, days, evidence
    recurrence: list[dict[str, Any]] = field(default_factory=list)


EPISODE_SPAN_DAYS = 14  # the longest run of calendar days whose evidence is combined into one score


def combined_days(days: list[date], scores: list[float], n_tests: int = TESTS_PER_STAFF_DAY,
                  model: list[float] | None = None) -> float:
    """Evidence of several days of one person combined, on the same scale as a single day's score.

    Each day's rule score is first made a valid p-value for the whole day by paying for the reason codes
    tested (Bonferroni, as the floor does); the days of every run of at most EPISODE_SPAN_DAYS calendar
    days are combined with Fisher's method, counting every calendar day of the run as a test (a day
    without findings contributes p = 1, so quiet days in between dilute rather than vanish); the choice of
    the run's length is paid for (Bonferroni over lengths); the code multiplicity is added back so the
    result compares with the same floor. The learned model's term (`model`, per day; not a p-value) is
    added once per run, its largest, never summed over days. A single day scores as rule + model."""
    if not days:
        return 0.0
    ords = np.array([d.toordinal() for d in days])
    order = np.argsort(ords)
    ords = ords[order]
    rule = np.asarray(scores, float)[order]
    extra = np.zeros(len(rule)) if model is None else np.asarray(model, float)[order]
    log_tests = math.log10(max(n_tests, 1))
    corr = np.maximum(rule - log_tests, 0.0)
    best = float((rule + extra).max())
    if len(ords) < 2 or corr.sum() + log_tests + extra.max() <= best:  # Fisher never beats the plain sum
        return best
    i, j = np.triu_indices(len(ords), k=1)
    span = ords[j] - ords[i] + 1
    inside = span <= EPISODE_SPAN_DAYS
    if not inside.any():
        return best
    i, j, span = i[inside], j[inside], span[inside]
    cum = np.concatenate([[0.0], np.cumsum(corr)])
    run_max = np.array([extra[a:b + 1].max() for a, b in zip(i, j, strict=True)])
    stat = 2.0 * np.log(10) * (cum[j + 1] - cum[i])
    combined = -chi2.logsf(stat, 2 * span) / np.log(10) - np.log10(span) + log_tests + run_max
    return float(min(max(best, float(combined.max())), 3 * MAX_EVIDENCE))


def episodes(findings: pd.DataFrame, scores: pd.DataFrame, floor: float = 0.0) -> list[Episode]:
    """Group each person's scored days into episodes of days at most GAP_DAYS apart; an episode scores as
    `combined_days` of its days; with them the recurrences of one code on separate days (`recurrences`), merged
    where they meet (only episodes at or above the floor are returned)."""
    return merged(_runs(findings, scores, floor) + recurrences(findings, floor))


def _runs(findings: pd.DataFrame, scores: pd.DataFrame, floor: float) -> list[Episode]:
    """Episodes of days at most GAP_DAYS apart, scored by combined_days, at or above the floor."""
    out: list[Episode] = []
    if scores.empty:
        return out
    # cheap bound first: a person whose days cannot reach the floor even summed is never grouped
    rule = scores["rule_score"] if "rule_score" in scores else scores["score"]
    excess = (rule - math.log10(TESTS_PER_STAFF_DAY)).clip(lower=0)
    bound = pd.concat([scores.groupby("staff_id")["score"].max(),
                       excess.groupby(scores["staff_id"]).sum() + math.log10(TESTS_PER_STAFF_DAY)
                       + (scores["score"] - rule).groupby(scores["staff_id"]).max()], axis=1).max(axis=1)
    keep = set(bound[bound >= floor].index)
    scores = scores[scores["staff_id"].isin(keep)]
    f = findings[(findings["evidence"] >= MIN_FINDING) & findings["staff_id"].isin(keep)]
    by_staff = {k: v for k, v in f.groupby("staff_id")}
    for staff_id, days in scores.sort_values(["staff_id", "day"]).groupby("staff_id"):
        day_list = list(days["day"])
        rule = days["rule_score"] if "rule_score" in days else days["score"]
        score_list, model_list = [float(x) for x in rule], [float(x) for x in days["score"] - rule]
        start = 0
        for k in range(1, len(day_list) + 1):
            if k == len(day_list) or (day_list[k] - day_list[k - 1]).days > GAP_DAYS:
                score = combined_days(day_list[start:k], score_list[start:k], model=model_list[start:k])
                if score >= floor:
                    out.append(_episode(staff_id, day_list[start], day_list[k - 1], score, by_staff[staff_id]))
                start = k
    return out


def _episode(staff_id: str, first: date, last: date, score: float, findings: pd.DataFrame) -> Episode:
    mine = findings[(findings["day"] >= first) & (findings["day"] <= last)]
    return Episode(staff_id, first, last, float(score), mine)


RECURRENCE_DAYS = 28  # a code's findings on separate days within four weeks are tested together
RECURRENCE_SIZES = (2, 3)  # a recurrence is the day and one or two earlier days of the same code
# The recurrence tests are a second family beside the day tests, held to half the chance share the floor gives the
# day tests: at the union bound chance may fill 1.5 times alerts.chance_share in all, and in practice far less (the
# bound is loose: test_a_recurrence_keeps_the_floors_chance_rate; one recurrence of 2.5 decades in 28 days of the
# 5 M benchmark's 2,500 staff)
RECURRENCE_FAMILY = 2
# Codes never tested for recurrence: those whose evidence already spans days (scenarios.SPAN_CODES) and policy facts
NOT_RECURRING = tuple(SPAN_CODES) + tuple(POLICY_EVIDENCE)


def _recurrence(total: Any, k: int, n_earlier: int) -> Any:
    """recurrence_evidence for k days whose evidence sums to `total` (a number or an array)."""
    x = np.asarray(total, float) * math.log(10)
    tail = sum(x ** i / math.factorial(i) for i in range(k))
    paid = math.log10(math.comb(n_earlier, k - 1) * len(RECURRENCE_SIZES) * RECURRENCE_FAMILY)
    return np.minimum(np.asarray(total, float) - np.log10(tail) - paid, 3 * MAX_EVIDENCE)


def recurrence_evidence(evidence: float, earlier: Sequence[float],
                        n_earlier: int = RECURRENCE_DAYS - 1 - GAP_DAYS) -> tuple[float, int]:
    """Evidence (decades) that one reason code's finding on a day (`evidence`) and its findings on the strongest
    k - 1 of the days before it (`earlier`, from `n_earlier` days that could hold one) are more than chance, and
    that k. Under chance a code's p-value on a day is uniform and independent of other days (the floor assumes
    the first; the second is why days within GAP_DAYS of each other, one episode, are left to combined_days). The
    product w of k such p-values is below w with probability w * sum_{i<k} (-ln w)^i / i!; the best choice of the
    k - 1 earlier days is paid for (Bonferroni over C(n_earlier, k - 1) choices), and so are the choice of k and
    the family's half share of chance (RECURRENCE_FAMILY). The result compares with the same floor as a single
    code's evidence on a day, and is 0 without an earlier day. It grows with the days' evidence, so that the
    strongest days of a code bound every recurrence of it."""
    best, size = 0.0, 0
    top = sorted((float(x) for x in earlier), reverse=True)
    for k in RECURRENCE_SIZES:
        if len(top) < k - 1 or n_earlier < k - 1:
            break
        ev = float(_recurrence(float(evidence) + sum(top[:k - 1]), k, n_earlier))
        if ev > best:
            best, size = ev, k
    return best, size


def recurrences(findings: pd.DataFrame, floor: float) -> list[Episode]:
    """Episodes of one reason code recurring: for each day of a person's findings of a code, that day with the
    strongest findings of the same code on earlier days more than GAP_DAYS and less than RECURRENCE_DAYS before it
    (`recurrence_evidence`), with the learned model's largest term on those days added once (as combined_days
    does), where that clears the floor. An episode covers the days it combines and holds their findings (every code
    of those days); it ends on its last day, so an incremental run raises it on the day that completes it. Codes
    whose evidence spans days already, and policy facts, are not tested (NOT_RECURRING)."""
    if findings.empty:
        return []
    f = findings[(findings["evidence"] >= MIN_FINDING) & ~findings["code"].isin(NOT_RECURRING)]
    per = f.groupby(["staff_id", "code", "day"], as_index=False)["evidence"].max()
    # cheap bound first: no recurrence of a code is stronger than one of its strongest days (and the model's term)
    top = per.sort_values("evidence", ascending=False, kind="stable")
    top["rank"] = top.groupby(["staff_id", "code"]).cumcount()
    top = top[top["rank"] < max(RECURRENCE_SIZES)]
    total = top.assign(two=top["evidence"].where(top["rank"] < 2, 0.0)).groupby(["staff_id", "code"]).agg(
        n=("evidence", "size"), two=("two", "sum"), three=("evidence", "sum"))
    n = RECURRENCE_DAYS - 1 - GAP_DAYS
    bound = np.maximum(_recurrence(total["two"], 2, n), np.where(total["n"] >= 3, _recurrence(total["three"], 3, n), 0))
    keep = total.index[(total["n"] >= 2).to_numpy() & (bound + MODEL_WEIGHT >= floor)]
    if keep.empty:
        return []
    per = per.set_index(["staff_id", "code"]).loc[keep].reset_index().sort_values(["staff_id", "code", "day"])
    staff = findings[(findings["evidence"] >= MIN_FINDING) & findings["staff_id"].isin(set(per["staff_id"]))]
    rows_of = {k: v for k, v in staff.groupby("staff_id")}
    out: list[Episode] = []
    for (staff_id, code), g in per.groupby(["staff_id", "code"]):
        days, ev = list(g["day"]), [float(x) for x in g["evidence"]]
        for i, day in enumerate(days):
            earlier = sorted(((ev[j], days[j]) for j in range(i)
                              if GAP_DAYS < (day - days[j]).days < RECURRENCE_DAYS), reverse=True)
            score, k = recurrence_evidence(ev[i], [e for e, _ in earlier])
            if not k or score + MODEL_WEIGHT < floor:
                continue
            chosen = sorted([day] + [d for _, d in earlier[:k - 1]])
            mine = rows_of[staff_id]
            mine = mine[mine["day"].isin(chosen)]
            extra = MODEL_WEIGHT * float(mine["model"].clip(0, 1).max()) if "model" in mine else 0.0
            if score + extra >= floor:
                out.append(Episode(staff_id, chosen[0], day, score + extra, mine,
                                   [{"code": code, "days": [d.isoformat() for d in chosen],
                                     "evidence": round(score, 3)}]))
    return out


def merged(eps: list[Episode]) -> list[Episode]:
    """One episode per alert: episodes of the same person that the stored alert would merge (their alert spans,
    `alert_first` to the last day, overlapping or at most GAP_DAYS apart, as
    observatory.security.alerts.upsert_detected merges them) become one before the budget is spent, scoring as
    the stronger and holding both's findings: a recurrence over a day's own episode, or two runs of days that a
    span finding joins, are one alert and take one place in the budget, not two."""
    out: list[Episode] = []
    for ep in sorted(eps, key=lambda e: (e.staff_id, alert_first(e), e.last)):
        cur = out[-1] if out else None
        if cur is None or cur.staff_id != ep.staff_id or (alert_first(ep) - cur.last).days > GAP_DAYS:
            out.append(ep)
            continue
        rows = pd.concat([cur.rows, ep.rows], ignore_index=True)
        rows = rows.loc[~rows[["day", "code", "evidence"]].astype(str).duplicated()]
        out[-1] = Episode(cur.staff_id, min(cur.first, ep.first), max(cur.last, ep.last), max(cur.score, ep.score),
                          rows, cur.recurrence + ep.recurrence)
    return out


def alert_first(ep: Episode) -> date:
    """The first day the episode's alert covers: its first day, or earlier where a finding's evidence reaches back
    over a span (detail first_day: low and slow, co-workers over weeks)."""
    return min([ep.first] + [date.fromisoformat(str(d["first_day"])[:10]) for d in ep.rows["detail"]
                             if isinstance(d, dict) and d.get("first_day")])


def severity(scenarios: set[str], score: float) -> str:
    """critical for policy facts and very strong evidence, high for sensitive kinds of access."""
    if scenarios & CRITICAL or score >= 10:
        return "critical"
    if scenarios & HIGH or score >= 7:
        return "high"
    if score >= 5:
        return "medium"
    return "low"


def to_alert(ep: Episode, org_code: str | None, baseline: dict[str, Any]) -> DetectedAlert:
    """Reasons in Japanese and English with their evidence, the evidence events and the baseline used."""
    reasons = []
    best = ep.rows.sort_values("evidence", ascending=False).drop_duplicates("code")
    for r in best.itertuples(index=False):
        same = ep.rows[ep.rows["code"] == r.code]
        ev = {"score": round(float(r.evidence), 2), "observed": _num(r.observed), "expected": _num(r.expected),
              "n": int(r.n_subjects) if pd.notna(r.n_subjects) else None, "day": r.day.isoformat(),
              "subjects": list(r.subjects)[:50], "n_events": len(r.event_ids),
              "days_in_episode": int(same["day"].nunique()),
              "events_in_episode": len({e for ids in same["event_ids"] for e in ids})}
        ev.update(r.detail or {})
        reasons.append(reason(r.code, ev))
    event_ids = sorted({e for ids in ep.rows["event_ids"] for e in ids})
    scenarios = sorted({scenario_of(c) for c in ep.rows["code"]})
    first = alert_first(ep)
    if ep.recurrence:  # what the score rests on, for the analyst: the code and its days
        baseline = {**baseline, "recurrence": ep.recurrence}
    return DetectedAlert(staff_id=ep.staff_id, org_code=org_code, first_seen=first, last_seen=ep.last,
                         score=round(ep.score, 3), severity=severity(set(scenarios), ep.score),
                         scenarios=scenarios, reasons=reasons, event_ids=event_ids, baseline=baseline)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, 4)


def drop_suppressed(findings: pd.DataFrame, suppressions: list[tuple[str, str, date]],
                    closed: list[tuple[str, date, date]]) -> tuple[pd.DataFrame, int]:
    """Remove findings a benign closure suppresses, and findings on days a closed alert already covers."""
    if findings.empty:
        return findings, 0
    keep = pd.Series(True, index=findings.index)
    scen = findings["code"].map(scenario_of)
    for staff_id, scenario, until in suppressions:
        keep &= ~((findings["staff_id"] == staff_id) & (scen == scenario) & (findings["day"] <= until))
    for staff_id, first, last in closed:
        keep &= ~((findings["staff_id"] == staff_id) & (findings["day"] >= first)
                  & (findings["day"] <= last))
    return findings[keep], int((~keep).sum())
