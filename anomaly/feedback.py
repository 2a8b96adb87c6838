"""What analysts' verdicts teach the detector about this log.

A closed alert is a verdict on a pattern: its reason codes, the staff member and the organisation. A new
candidate is compared with the verdicts on alerts whose reason codes include all of its own (the analyst has
already judged everything the new alert would say; any new kind of evidence escapes the lesson), at three
levels: the same staff member, the same organisation, every organisation. The confirmation rate is estimated at each level and
shrunk towards the level above (empirical Bayes, `PRIOR_STRENGTH` pseudo-verdicts), starting from an even
prior, so that one verdict moves a candidate a little and many consistent verdicts move it a lot.

The rate shifts the candidate's score by `WEIGHT` decades per unit of log-odds away from even, bounded by
`MAX_SHIFT`:
- a pattern analysts keep rejecting (`false_positive`) sinks in the queue and may fall below the significance
  floor (by at most `OTHERS_MAX_SINK` when the verdicts are about other staff members): the detector then
  holds it back and counts it;
- a pattern analysts keep confirming rises in the queue, but never above the floor by feedback alone: new
  alerts are raised by evidence, not by reputation.

`benign` closures are not verdicts here (the access was real and justified): they suppress the same staff
member's same scenario for a while (`observatory.security.alerts`), nothing else. A verdict on one scenario
covers only alerts whose reason codes it already judged, so closing a pattern cannot hide a later incident of
another kind by the same person.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

PRIOR_STRENGTH = 2.0  # pseudo-verdicts of the level above
WEIGHT = 1.0  # decades of score per unit of log-odds
MAX_SHIFT = 3.0  # decades, either way
OTHERS_MAX_SINK = 1.0  # decades a candidate may sink below the floor on verdicts about other staff members
EVEN = 0.5


@dataclass(frozen=True)
class Verdict:
    """An analyst's closure of one alert (true_positive = confirmed, false_positive = rejected)."""

    staff_id: str
    org_code: str | None
    codes: frozenset[str]
    confirmed: bool


@dataclass(frozen=True)
class Lesson:
    """What the verdicts say about one candidate."""

    probability: float  # expected confirmation by analysts
    shift: float  # decades added to the candidate's score
    similar: int  # verdicts on alerts whose codes include the candidate's, all organisations
    similar_in_org: int
    similar_for_staff: int
    rejected_for_staff: int

    def as_dict(self) -> dict[str, float | int]:
        return {"analyst_confirmation_probability": round(self.probability, 3),
                "feedback_shift": round(self.shift, 3), "similar_verdicts": self.similar,
                "similar_verdicts_in_org": self.similar_in_org, "similar_verdicts_for_staff": self.similar_for_staff,
                "rejected_for_staff": self.rejected_for_staff}


def verdicts(con: duckdb.DuckDBPyConnection) -> list[Verdict]:
    """Every alert closed as true_positive or false_positive, with its reason codes."""
    rows = con.execute("SELECT staff_id, org_code, reasons, status FROM alerts "
                       "WHERE status IN ('true_positive', 'false_positive')").fetchall()
    out = []
    for staff_id, org_code, reasons, status in rows:
        parsed = json.loads(reasons) if isinstance(reasons, str) else (reasons or [])
        codes = frozenset(str(r["code"]) for r in parsed if isinstance(r, dict) and r.get("code"))
        if codes:
            out.append(Verdict(str(staff_id), org_code, codes, status == "true_positive"))
    return out


def _shrunk(hits: Iterable[Verdict], prior: float) -> tuple[float, int]:
    items = list(hits)
    confirmed = sum(v.confirmed for v in items)
    return (confirmed + PRIOR_STRENGTH * prior) / (len(items) + PRIOR_STRENGTH), len(items)


def lesson(known: list[Verdict], staff_id: str, org_code: str | None, codes: Iterable[str]) -> Lesson | None:
    """The verdicts' lesson for a candidate with these reason codes (None when no verdict covers them all)."""
    mine = frozenset(codes)
    similar = [v for v in known if mine and mine <= v.codes]
    if not similar:
        return None
    p_all, n_all = _shrunk(similar, EVEN)
    in_org = [v for v in similar if v.org_code == org_code]
    p_org, n_org = _shrunk(in_org, p_all)
    for_staff = [v for v in in_org if v.staff_id == staff_id]
    p, n_staff = _shrunk(for_staff, p_org)
    log_odds = math.log(p / (1 - p)) - math.log(EVEN / (1 - EVEN))
    shift = max(-MAX_SHIFT, min(MAX_SHIFT, WEIGHT * log_odds))
    return Lesson(p, shift, n_all, n_org, n_staff, sum(not v.confirmed for v in for_staff))


def adjusted(score: float, floor: float, taught: Lesson | None) -> tuple[float, bool]:
    """(score to rank by, still above the floor). Every lesson re-ranks. Verdicts on the same staff member's
    same pattern may sink a candidate below the floor by up to MAX_SHIFT; verdicts on other people by at most
    OTHERS_MAX_SINK (they hold back alerts just over the floor, never strong evidence: what was rejected for
    one person must not hide another person's clear incident). Nothing lifts a candidate above the floor."""
    if taught is None:
        return score, score >= floor
    sink = min(taught.shift, 0.0)
    if not taught.similar_for_staff:
        sink = max(sink, -OTHERS_MAX_SINK)
    return score + taught.shift, score >= floor and score + sink >= floor
