"""Scenario detectors: each turns unexplained accesses into findings with a reason code and evidence.

The evidence of a finding is a surprise in decades, -log10 p (higher = more suspicious): how unlikely the
observation is under the staff member's own legitimate pattern and their role peers'. Relationship
scenarios (household, surname, neighbour, co-worker, sensitive) ask how many related people random
lookups of the same volume would hit, given the sizes of those groups in the population the lookups are
drawn from (distinct people drawn without replacement: hypergeometric; for surname and neighbour, distinct
households, as a family looked up together is one visit: features.household_unit). The volume is not discounted
away for busy front-desk staff: their many unrelated lookups are exactly what makes a chance hit on a
neighbour or colleague likely, so the same count is weaker evidence for them than for a caseworker
whose every unexplained lookup is rare; rate scenarios (out-of-jurisdiction, after hours, update without a case) compare with the
person's own rate shrunk towards the role's; a few are policy facts (account used after termination,
two sites at once) whose evidence is fixed. Nothing here is fitted to one data set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import gammaln, logsumexp
from scipy.stats import binom, poisson
from scipy.stats import t as student_t

from anomaly.engine import Engine, Relation, num
from anomaly.explain import REASONS
from anomaly.features import NIGHT_EARLY_BEFORE, REVISIT_DAYS, Window, household_unit, window_bounds

MAX_EVIDENCE = 12.0
# An account used after its termination date is a fact, not a statistic.
POLICY_EVIDENCE = {"terminated": 10.0}
# A person's own rate is shrunk towards the role peers' (and theirs towards everyone's) by a prior worth SHRINK
# look-ups at that rate, or PRIOR_EVENTS expected events if that is more: where a thing happens once in 40,000
# look-ups, a clerk's 1,000 without it say nothing about their own rate, and 50 look-ups of prior let those
# 1,000 pull it to a twentieth of the peers' (a tax clerk's one resident registered elsewhere scored 5.2).
SHRINK = 50.0
PRIOR_EVENTS = 1.0
WORK_PRIOR = 5.0  # events added to a day's other work and to its usual amount when comparing the two (curiosity)
SWITCH_MINUTES = 30
BULK_FACTOR = 4.0  # a record count this many times anything usual before it counts
# An organisation-wide surge (disaster response, a deadline) explains unusual volume and night work when the
# share of its active staff showing it on the same day (at least 3, or both of an office of two) exceeds the organisation's usual daily
# share by this much (where overtime is routine, the usual share is high and is not a surge).
SURGE_SHARE = 0.25
NIGHT_SURGE_SHARE = 0.1  # the same for the deep night alone (where evening overtime is routine every day)
LOW_SLOW_MIN_DAYS = 3
LOW_SLOW_MIN_SPAN = 14
# The tests every staff-day undergoes, for the Bonferroni count of the significance floor: one per reason
# code that a detector produces (explain.REASONS less `unusual_terminal`, which none does yet), plus one
# for each detector that keeps the stronger of two tests under one code, two for three (after hours: any band,
# deep night, and the deep night through midnight; curiosity: the whole day and the peak hour; neighbour: the
# own block and with the adjacent blocks; household: the members viewed at all and those viewed again the same
# day).
UNTESTED_CODES = ("unusual_terminal",)
# Codes whose evidence already counts the accesses of several days (a span, a revisit, repeated days): a
# later day's finding of these is not independent of an earlier one's (anomaly.alerts.recurrences skips them).
SPAN_CODES = ("coworker_span", "low_and_slow", "update_after_view")
EXTRA_TESTS = {"after_hours": 2, "curiosity": 1, "neighbour": 1, "household": 1}
COLUMNS = ["staff_id", "day", "code", "evidence", "observed", "expected", "n_subjects", "event_ids", "subjects",
           "detail"]


def poisson_surprise(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """-log10 P(X >= observed) for X ~ Poisson(expected), capped at MAX_EVIDENCE."""
    obs = np.asarray(observed, float)
    lam = np.maximum(np.asarray(expected, float), 1e-9)
    logp = poisson.logsf(obs - 1, lam) / np.log(10)
    return np.clip(-logp, 0.0, MAX_EVIDENCE)


def draw_surprise(observed: np.ndarray, draws: np.ndarray, related: np.ndarray,
                  population: np.ndarray) -> np.ndarray:
    """-log10 P(X >= observed) when `draws` distinct people are looked up at random from `population`, of
    whom `related` are related to the staff member (hypergeometric: the same person is not drawn twice).

    The tail is summed over its first TAIL_TERMS terms in logs (vectorised); where that would not cover the
    tail (a large expected count) or the counts are inconsistent (a hit outside the population the
    lookups were counted in), the heavier-tailed Poisson approximation is used. Capped at MAX_EVIDENCE."""
    obs = np.nan_to_num(np.asarray(observed, float))
    pop = np.maximum(np.nan_to_num(np.asarray(population, float)), 1.0)
    k = np.clip(np.nan_to_num(np.asarray(related, float)), 0.0, pop)
    n = np.minimum(np.maximum(np.nan_to_num(np.asarray(draws, float)), obs), pop)
    lam = n * k / pop
    approx = poisson_surprise(obs, lam)
    top = np.minimum(k, n)
    ok = (obs >= 1) & (obs <= top) & (lam + 10 * np.sqrt(lam) + 5 < obs + TAIL_TERMS)
    if not ok.any():
        return approx
    o, K, N, M = obs[ok][:, None], k[ok][:, None], n[ok][:, None], pop[ok][:, None]
    x = o + np.arange(TAIL_TERMS)[None, :]
    valid = x <= np.minimum(K, N)
    xs = np.where(valid, x, o)
    log_pmf = (_log_choose(K, xs) + _log_choose(M - K, N - xs) - _log_choose(M, N))
    tail = logsumexp(np.where(valid, log_pmf, -np.inf), axis=1) / np.log(10)
    out = approx.copy()
    out[ok] = np.clip(-tail, 0.0, MAX_EVIDENCE)
    return out


TAIL_TERMS = 40


def _log_choose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def _df(eng: Engine, sql: str, params: dict | None = None) -> pd.DataFrame:
    return eng.frame(sql, params)


def _finish(df: pd.DataFrame, code: str, evidence: np.ndarray, expected: np.ndarray,
            detail_cols: list[str] | None = None) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.DataFrame({
        "staff_id": df["staff_id"].to_numpy(), "day": df["day"].to_numpy(), "code": code,
        "evidence": np.asarray(evidence, float), "observed": df["obs"].astype(float).to_numpy(),
        "expected": np.asarray(expected, float), "n_subjects": df.get("n_subjects", df["obs"]).to_numpy(),
        "event_ids": df["event_ids"].to_numpy(),
        "subjects": df["subjects"].to_numpy() if "subjects" in df else [[] for _ in range(len(df))]})
    cols = detail_cols or []
    records = df[cols].to_dict("records") if cols else [{} for _ in range(len(df))]
    out["detail"] = [{k: _plain(v) for k, v in r.items()} for r in records]
    return out


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


class Relationship(NamedTuple):
    """One relationship test's terms: the related accesses (`cond` over related_accesses `e`), what one hit is
    (`unit`: a person, or a household, features.household_unit), the look-ups chance draws from (a column of
    window_staff_days `sd`, BATCH_DRAWS), and the sizes of the related set and of the population it is drawn
    from (staff_ctx `c`), all in that unit."""

    cond: str
    unit: str
    draws: str
    related: str
    population: str
    surge: str | None = None  # the blocks of place_surges (own, near) whose surge scales chance for a place-based set


_PEOPLE, _HOUSEHOLDS = "e.subject_id", "e.household"
# Relatives by surname and neighbours come in households: a family at the counter is three or four records of
# one visit, and a family with the clerk's surname or living in the clerk's block is one chance hit, not four.
# The own household and co-workers are people (the set is the people themselves).
RELATIONS = {
    "household": Relationship("e.rel_household", _PEOPLE, "sd.n_unexpl_home", "c.n_household", "c.pop"),
    "surname": Relationship("e.rel_surname", _HOUSEHOLDS, "sd.n_unexpl_home_households", "c.n_surname_households",
                            "c.pop_households"),
    # relatives living nearby: the own surname in the own or an adjacent block (a common surname is thousands in
    # a city, and a few look-ups of it are chance; the same few among the handful of its bearers next door are not)
    "surname_nearby": Relationship("e.rel_surname AND (e.rel_neighbour OR e.rel_adjacent)", _HOUSEHOLDS,
                                   "sd.n_unexpl_home_households", "c.n_kin_near_households", "c.pop_households",
                                   "near"),
    "neighbour": Relationship("e.rel_neighbour", _HOUSEHOLDS, "sd.n_unexpl_home_households",
                              "c.n_neighbour_households", "c.pop_households", "own"),
    "coworker": Relationship("e.rel_coworker", _PEOPLE, "sd.n_unexpl_subjects", "c.n_coworker", "c.org_pop"),
}


# The neighbour scenario is tested twice and keeps the stronger: the people under the staff member's own
# neighbourhood key, and those with the adjacent blocks' too (features: the next chome or block number), so
# that a snooper who looks around the corner rather than next door is found (EXTRA_TESTS pays for it).
WIDER = {"neighbour": RELATIONS["neighbour"]._replace(
    cond="(e.rel_neighbour OR e.rel_adjacent)", related="c.n_neighbour_households + c.n_adjacent_households",
    surge="near")}


# The household is tested twice as well: the members viewed at all, and the members viewed more than once on the
# day, against chance hitting a member *and* looking that person up again, as often as the staff member's
# organisation and role look up again anyone they look up without a case (`repeat_rates`: the organisation's own
# rate, so that where counter work routinely opens a record twice the second test adds nothing). One look at a
# relative is what a busy counter clerk's random look-ups do now and then; coming back to the relative is not.
REPEATED = ("household",)
REPEAT_VIEWS = 2  # views of one person on one day that make a repeat
REPEAT_PRIOR = 100.0  # pseudo-count of look-ups a role's repeat rate is shrunk by towards its organisation's


def unexplained_counts(eng: Engine) -> None:
    """Relation unexplained_counts: per staff member, their unexplained (staff, person, day) rows in `unexplained`
    (the stored history with the window): n, those with REPEAT_VIEWS views or more (k_repeat), and, over the
    rows that know it (n_known), the revisits (k_revisit), the updates (n_updates) and the updates that were
    revisits (k_update_revisit). One pass for the repeat and the revisit rates."""
    eng.create("unexplained_counts", f"""
        SELECT staff_id, count(*) AS n, count(CASE WHEN n_events >= {REPEAT_VIEWS} THEN 1 END) AS k_repeat,
               count(revisit) AS n_known, count(CASE WHEN revisit THEN 1 END) AS k_revisit,
               count(CASE WHEN updated AND revisit IS NOT NULL THEN 1 END) AS n_updates,
               count(CASE WHEN updated AND revisit THEN 1 END) AS k_update_revisit
        FROM unexplained GROUP BY staff_id""")


def repeat_rates(eng: Engine) -> None:
    """Relation repeat_rates (staff_id, repeat_rate): per staff member, the share of their organisation and
    role's unexplained look-ups (staff, person, day in `unexplained`, the stored history with the window; counted
    in unexplained_counts) in which the person was viewed REPEAT_VIEWS times or more, shrunk towards the
    organisation's share (and that towards one half, a cautious prior) by REPEAT_PRIOR look-ups."""
    m, half = num(REPEAT_PRIOR), num(0.5)
    eng.create("repeat_rates", f"""
        WITH g AS (
            SELECT so.org_code, coalesce(so.role, '?') AS role, sum(u.n) AS n, sum(u.k_repeat) AS k
            FROM unexplained_counts u JOIN staff_own so ON so.staff_id = u.staff_id
            GROUP BY so.org_code, coalesce(so.role, '?')),
        o AS (SELECT org_code, (sum(k) + {half} * {m}) / (sum(n) + {m}) AS q FROM g GROUP BY org_code)
        SELECT so.staff_id, (coalesce(g.k, 0) + {m} * coalesce(o.q, {half})) / (coalesce(g.n, 0) + {m}) AS repeat_rate
        FROM staff_own so LEFT JOIN g ON g.org_code = so.org_code AND g.role = coalesce(so.role, '?')
        LEFT JOIN o ON o.org_code = so.org_code""")


def relationship(eng: Engine, code: str) -> pd.DataFrame:
    """Unexplained accesses to people related to the staff member (relation related_accesses, made first by
    `related_accesses`), against what chance would give; for a scenario in WIDER or REPEATED, the stronger of
    its tests per staff-day, the detail naming which (`blocks`; `repeated`)."""
    tests = [({"blocks": "own"} if code in WIDER else {}, _relationship(eng, code, RELATIONS[code]))]
    if code in WIDER:
        tests.append(({"blocks": "own_and_adjacent"}, _relationship(eng, code, WIDER[code])))
    if code in REPEATED:
        tests.append(({"repeated": True}, _relationship(eng, code, RELATIONS[code], repeated=True)))
    parts = [f.assign(_k=k) for k, (_, f) in enumerate(tests) if not f.empty]
    if len(tests) == 1 or not parts:
        return tests[0][1]
    both = pd.concat(parts, ignore_index=True)  # (an empty frame's object columns would make evidence object)
    both["detail"] = [{**d, **tests[k][0]} for d, k in zip(both["detail"], both["_k"], strict=True)]
    both = both.sort_values(["staff_id", "day", "evidence", "_k"], ascending=[True, True, False, True], kind="stable")
    return both.drop_duplicates(["staff_id", "day"]).drop(columns="_k").reset_index(drop=True)


def _relationship(eng: Engine, code: str, relation: Relationship, repeated: bool = False
                  ) -> pd.DataFrame:
    """One relationship test: the staff-days' unexplained accesses meeting `cond` against chance. With
    `repeated`, only the people viewed REPEAT_VIEWS times or more that day count, and chance must also repeat
    (the related set scaled by the staff member's repeat rate, relation repeat_rates)."""
    cond, unit, n_col, set_col, pop_col, surge = relation
    again = f"""SEMI JOIN (SELECT e.staff_id, e.day, e.subject_id FROM related_accesses e WHERE {cond}
                         GROUP BY e.staff_id, e.day, e.subject_id HAVING count(*) >= {REPEAT_VIEWS}) r
                 ON r.staff_id = e.staff_id AND r.day = e.day AND r.subject_id = e.subject_id""" if repeated else ""
    df = _df(eng, f"""
        WITH hits AS (
            SELECT e.staff_id, e.day, {eng.count_distinct(unit)} AS obs,
                   {eng.count_distinct("e.subject_id")} AS n_subjects, {eng.sorted_set("e.subject_id")} AS subjects,
                   {eng.ordered_list("e.event_id", "e.occurred_at")} AS event_ids
            FROM related_accesses e {again} WHERE {cond} GROUP BY e.staff_id, e.day)
        SELECT h.*, {BATCH_DRAWS[n_col]} AS n_lookups,
               ({set_col}){" * q.repeat_rate" if repeated else ""} AS set_size,
               {pop_col} AS population{", q.repeat_rate" if repeated else ""}
               {f", coalesce(ps.k_{surge}, 0) AS surge_k, coalesce(ps.x_{surge}, 0) AS surge_x" if surge else ""}
        FROM hits h JOIN window_staff_days sd ON sd.staff_id = h.staff_id AND sd.day = h.day {_WITH_BATCH}
        LEFT JOIN staff_ctx c ON c.staff_id = h.staff_id
        {"LEFT JOIN repeat_rates q ON q.staff_id = h.staff_id" if repeated else ""}
        {"LEFT JOIN place_surges ps ON ps.staff_id = h.staff_id AND ps.day = h.day" if surge else ""}
        ORDER BY h.staff_id, h.day""")
    if df.empty:
        return _finish(df, code, np.array([]), np.array([]))
    if surge:
        df["place_surge"] = surge_factor(df["surge_k"].to_numpy(float), df["surge_x"].to_numpy(float))
        df["set_size"] = df["set_size"] * df["place_surge"]
    ev, lam = _related_by_chance(df)
    if code in POLICY_EVIDENCE:
        ev = np.maximum(ev, POLICY_EVIDENCE[code])
    return _finish(df, code, ev, lam, ["n_lookups", "set_size", "population"] + (["repeat_rate"] if repeated else [])
                   + (["place_surge"] if surge else []))


def _related_by_chance(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Evidence and expected count of `obs` related people among `n_lookups` distinct look-ups drawn at random
    from `population`, `set_size` of whom are related (the relationship tests' chance)."""
    lam = df["n_lookups"].astype(float) * df["set_size"].astype(float) / np.maximum(
        df["population"].astype(float), 1.0)
    ev = draw_surprise(df["obs"].to_numpy(), df["n_lookups"].to_numpy(), df["set_size"].to_numpy(),
                       df["population"].to_numpy())
    # a staff member missing from the staff roster has no context (staff_ctx): the size of the related set is
    # unknown, not 0 (read as 0, one look-up of a co-worker's record scored 7-10 decades), so there is no test
    known = (df["set_size"].notna() & df["population"].notna()).to_numpy()
    return np.where(known, ev, 0.0), lam.to_numpy()


# Co-workers' records viewed one at a time over weeks (a snooper who looks up a colleague now and then, never
# two on one day) are tested over the SPAN_DAYS ending on each day with such a view: the distinct co-workers
# viewed without a case on at least two of those days, against what the staff member's unexplained look-ups of
# the same days would hit by chance (reason code coworker_span, its own test in the Bonferroni count). The same
# days give the same evidence in a full run and in an incremental one (the stored history holds them).
SPAN_DAYS = 28
# The window's co-worker views with their event ids (coworker_span makes it; the run stores it as
# anomaly_coworker_views, and a later run reads the stored rows of its span back as hist_coworker_views)
COWORKER_VIEWS = Relation("coworker_views", ("staff_id", "subject_id", "day", "event_ids"))


def coworker_span(eng: Engine, window: Window) -> pd.DataFrame:
    """Relation coworker_hits (staff_id, subject_id, day: the unexplained single-person views of a co-worker's
    own resident record, outside the staff member's household, in the window (coworker_recent, from
    window_unexplained) and, for the staff members with such a view there, over the SPAN_DAYS before it (from
    hist_unexplained)), relation coworker_views (COWORKER_VIEWS: the window's views with their event ids, which
    the run stores) and the findings: per staff member and window day with such a view, the co-workers viewed
    over the SPAN_DAYS ending that day, when they were viewed on at least two days."""
    h0 = window.first - timedelta(days=SPAN_DAYS - 1)
    params = {"h0": h0, "first": window.first, "last": window.last}
    hits = """
        SELECT DISTINCT u.staff_id, u.subject_id, u.day
        FROM {source} u JOIN staff_own me ON me.staff_id = u.staff_id
        JOIN staff c ON c.subject_id = u.subject_id AND c.org_code = me.org_code AND c.staff_id <> u.staff_id
        JOIN staff_own co ON co.staff_id = c.staff_id
        WHERE u.day BETWEEN {first} AND $last AND NOT coalesce(co.own_hh = me.own_hh, false)"""
    # only the staff members with such a view in the window have findings: their earlier views alone are read
    eng.create("coworker_recent", hits.format(source="window_unexplained", first="$first"), params)
    # the window's views with their event ids, kept by the run (anomaly_coworker_views) for the runs after it
    eng.create("coworker_views", f"""
        SELECT c.staff_id, c.subject_id, c.day,
               {eng.ordered_list("r.event_id", "r.occurred_at", EVIDENCE_LIMIT)} AS event_ids
        FROM coworker_recent c JOIN related_accesses r
             ON r.staff_id = c.staff_id AND r.subject_id = c.subject_id AND r.day = c.day
        GROUP BY c.staff_id, c.subject_id, c.day""")
    eng.create("coworker_hits", f"""
        SELECT * FROM coworker_recent UNION ALL
        {hits.format(source="(SELECT * FROM hist_unexplained WHERE staff_id IN "
                            "(SELECT staff_id FROM coworker_recent))", first="$h0")}""", params)
    start = eng.add_days("e.day", -(SPAN_DAYS - 1))
    df = _df(eng, f"""
        WITH ends AS (SELECT DISTINCT staff_id, day FROM coworker_hits WHERE day >= $first),
        span AS (
            SELECT e.staff_id, e.day, count(DISTINCT h.subject_id) AS obs, count(DISTINCT h.day) AS days,
                   min(h.day) AS first_day, {eng.sorted_set("h.subject_id")} AS subjects
            FROM ends e JOIN coworker_hits h ON h.staff_id = e.staff_id AND h.day <= e.day AND h.day >= {start}
            GROUP BY e.staff_id, e.day),
        looked AS (
            SELECT e.staff_id, e.day, CAST(sum(sd.n_unexpl_subjects) AS BIGINT) AS n_lookups
            FROM ends e JOIN staff_days sd ON sd.staff_id = e.staff_id AND sd.day <= e.day AND sd.day >= {start}
            GROUP BY e.staff_id, e.day)
        SELECT s.*, l.n_lookups, c.n_coworker AS set_size, c.org_pop AS population
        FROM span s JOIN looked l ON l.staff_id = s.staff_id AND l.day = s.day
        LEFT JOIN staff_ctx c ON c.staff_id = s.staff_id
        WHERE s.days >= 2
        ORDER BY s.staff_id, s.day""", params)
    if df.empty:
        return _finish(df.assign(event_ids=[]), "coworker_span", np.array([]), np.array([]))
    ev, lam = _related_by_chance(df)
    df["subjects"] = df["subjects"].apply(list)
    df["first_day"] = pd.to_datetime(df["first_day"]).dt.date
    # the views themselves, per (staff, co-worker, day) of the finding's span (coworker_hits, a few rows per staff
    # member): the window's and the stored earlier runs' (coworker_views, hist_coworker_views), and from the
    # archive those no run has stored (days detected before the views were kept)
    hits = _df(eng, "SELECT staff_id, subject_id, day FROM coworker_hits")
    hits["day"] = pd.to_datetime(hits["day"]).dt.date
    by_staff: dict[str, list[tuple]] = {}  # (a plain loop: a pandas group per staff member cost 0.03 s of a day)
    for staff, subject, day in zip(hits["staff_id"], hits["subject_id"], hits["day"], strict=True):
        by_staff.setdefault(staff, []).append((subject, day))
    days = [[(s, d) for s, d in by_staff.get(staff, []) if end - timedelta(days=SPAN_DAYS - 1) <= d <= end]
            for staff, end in zip(df["staff_id"], pd.to_datetime(df["day"]).dt.date, strict=True)]
    stored = _by_day(_df(eng, f"""
        SELECT {COWORKER_VIEWS.select()} FROM coworker_views UNION ALL
        SELECT {COWORKER_VIEWS.select("h")} FROM hist_coworker_views h
        SEMI JOIN coworker_hits c ON c.staff_id = h.staff_id AND c.subject_id = h.subject_id AND c.day = h.day
        WHERE h.day < $first""", params))
    df["event_ids"] = _evidence(eng, df["staff_id"], days, window, known=stored)
    df["days"] = df["days"].astype(int)
    df["span"] = (pd.to_datetime(df["day"]) - pd.to_datetime(df["first_day"])).dt.days + 1
    return _finish(df, "coworker_span", ev, lam,
                   ["days", "span", "first_day", "n_lookups", "set_size", "population"])


RELATED = ("rel_household", "rel_surname", "rel_neighbour", "rel_adjacent", "rel_coworker", "sensitive")


def related_accesses(eng: Engine) -> None:
    """Relation related_accesses: the window's unexplained single-person accesses (ev) to someone related to the
    staff member or to a sensitive record, with those flags: a few in a hundred of the events, read by every
    relationship test and the sensitive one instead of the events themselves. A batch correction's updates
    (features.batch_days: not personal accesses) are among them: a relative's record updated among twenty
    strangers' is still a relative's record, and chance is judged with the batch's people among the draws
    (BATCH_DRAWS)."""
    eng.create("related_accesses", f"""
        SELECT e.staff_id, e.day, e.subject_id, {household_unit("p", "e.subject_id")} AS household, e.event_id,
               e.occurred_at, {", ".join(f"e.{c}" for c in RELATED)}
        FROM ev e LEFT JOIN subjects p ON p.subject_id = e.subject_id
        WHERE NOT e.explained AND (e.personal OR e.action = 'update') AND ({" OR ".join(f"e.{c}" for c in RELATED)})""")


# A place can draw the whole organisation's look-ups on a day (safety checks after a heavy rain or an earthquake in
# a few blocks, a fire, a local election's register work): then a staff member living there meets neighbours by
# chance far more often than the register's share of them says. Where the organisation's *other* staff looked up
# households of the staff member's blocks that day more often than chance would by SURGE_EVIDENCE decades (an
# ordinary day's ups and downs are not a surge), chance for the place-based sets (the own block, with the adjacent
# ones, the relatives living there) is scaled by how much more, SURGE_PRIOR pseudo-hits added to both.
SURGE_EVIDENCE = 3.0
SURGE_PRIOR = 10.0


def surge_factor(k: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """The factor chance is scaled by for `k` look-ups of the blocks by the organisation's other staff where
    `expected` were chance's: (k + SURGE_PRIOR) / (expected + SURGE_PRIOR) where that is a surge, else 1."""
    k, x = np.nan_to_num(np.asarray(k, float)), np.nan_to_num(np.asarray(expected, float))
    surging = (k > x) & (poisson_surprise(k, x) >= SURGE_EVIDENCE)
    return np.where(surging, (k + SURGE_PRIOR) / (x + SURGE_PRIOR), 1.0)


def place_surges(eng: Engine) -> None:
    """Relation place_surges (staff_id, day, k_own, x_own, k_near, x_near): for the staff-days with an unexplained
    look-up in the own or an adjacent block (related_accesses), the (staff, household) look-ups without a case by
    the organisation's other staff of households of the own block (k_own), and of the own and the adjacent blocks
    (k_near, staff_near_keys), that day, and what chance would give them (x_: all their look-ups in the staff
    member's municipality times the blocks' share of its households, staff_ctx); `surge_factor` judges them.
    Only the municipalities and days of those staff-days are counted (window_unexplained_people). The staff-days
    (surge_targets: staff_id, day, org_code, own_muni, own_nb) and the look-ups counted (surge_looks: org_code,
    staff_id, day, muni, neighbourhood_key, household) are relations of their own: each is read three or four
    times below, and Spark made them again for every reference (the look-ups a join of the window's unexplained
    people with the people and a distinct)."""
    eng.create("surge_targets", """
        SELECT DISTINCT e.staff_id, e.day, so.org_code, so.own_muni, so.own_nb FROM related_accesses e
        JOIN staff_own so ON so.staff_id = e.staff_id WHERE e.rel_neighbour OR e.rel_adjacent""")
    eng.hold("surge_looks", """
        WITH places AS (SELECT DISTINCT org_code, day, own_muni FROM surge_targets)
        SELECT DISTINCT pl.org_code, w.staff_id, w.day, pl.own_muni AS muni, p.neighbourhood_key, w.household
        FROM window_unexplained_people w JOIN staff_own so ON so.staff_id = w.staff_id
        JOIN subjects p ON p.subject_id = w.subject_id
        JOIN places pl ON pl.org_code = so.org_code AND pl.day = w.day AND pl.own_muni = p.municipality_code""")
    eng.create("place_surges", """
        WITH per_key AS (SELECT org_code, day, muni, neighbourhood_key, count(*) AS k FROM surge_looks
                         WHERE neighbourhood_key IS NOT NULL GROUP BY org_code, day, muni, neighbourhood_key),
        per_muni AS (SELECT org_code, day, muni, count(*) AS n FROM surge_looks GROUP BY org_code, day, muni),
        mine AS (SELECT l.staff_id, l.day, l.neighbourhood_key, count(*) AS k FROM surge_looks l
                 JOIN surge_targets t ON t.staff_id = l.staff_id AND t.day = l.day AND t.own_muni = l.muni
                 GROUP BY l.staff_id, l.day, l.neighbourhood_key),
        in_blocks AS (
            SELECT t.staff_id, t.day,
                   sum(CASE WHEN nk.neighbourhood_key = t.own_nb THEN coalesce(pk.k, 0) - coalesce(mi.k, 0)
                            ELSE 0 END) AS k_own,
                   sum(coalesce(pk.k, 0) - coalesce(mi.k, 0)) AS k_near
            FROM surge_targets t JOIN staff_near_keys nk ON nk.staff_id = t.staff_id
            LEFT JOIN per_key pk ON pk.org_code = t.org_code AND pk.day = t.day AND pk.muni = t.own_muni
             AND pk.neighbourhood_key = nk.neighbourhood_key
            LEFT JOIN mine mi ON mi.staff_id = t.staff_id AND mi.day = t.day
             AND mi.neighbourhood_key = nk.neighbourhood_key
            GROUP BY t.staff_id, t.day),
        others AS (
            SELECT t.staff_id, t.day, greatest(coalesce(pm.n, 0) - coalesce(sd.n_unexpl_home_households, 0), 0) AS n
            FROM surge_targets t LEFT JOIN per_muni pm ON pm.org_code = t.org_code AND pm.day = t.day AND pm.muni = t.own_muni
            LEFT JOIN window_staff_days sd ON sd.staff_id = t.staff_id AND sd.day = t.day)
        SELECT b.staff_id, b.day, b.k_own, o.n * c.n_neighbour_households / greatest(c.pop_households, 1) AS x_own,
               b.k_near, o.n * (c.n_neighbour_households + c.n_adjacent_households) / greatest(c.pop_households, 1)
                   AS x_near
        FROM in_blocks b JOIN others o ON o.staff_id = b.staff_id AND o.day = b.day
        JOIN staff_ctx c ON c.staff_id = b.staff_id""")


# the look-ups a relationship test draws from (a staff-day's unexplained people `sd`), with the people a batch
# correction of the day updated (features.batch_days `b`, joined by _WITH_BATCH)
BATCH_DRAWS = {"sd.n_unexpl_home": "sd.n_unexpl_home + coalesce(b.n_home, 0)",
               "sd.n_unexpl_home_households": "sd.n_unexpl_home_households + coalesce(b.n_home_households, 0)",
               "sd.n_unexpl_subjects": "sd.n_unexpl_subjects + coalesce(b.n_subjects, 0)"}
_WITH_BATCH = "LEFT JOIN batch_days b ON b.staff_id = h.staff_id AND b.day = h.day"


def sensitive(eng: Engine) -> pd.DataFrame:
    """Unexplained accesses to sensitive (public figure) records (relation related_accesses), against their
    share of the population."""
    df = _df(eng, f"""
        WITH hits AS (
            SELECT e.staff_id, e.day, count(DISTINCT e.subject_id) AS obs,
                   {eng.sorted_set("e.subject_id")} AS subjects,
                   {eng.ordered_list("e.event_id", "e.occurred_at")} AS event_ids
            FROM related_accesses e WHERE e.sensitive GROUP BY e.staff_id, e.day)
        SELECT h.*, {BATCH_DRAWS["sd.n_unexpl_subjects"]} AS n_lookups,
               (SELECT avg(CAST(sensitive AS INTEGER)) FROM subjects) AS share
        FROM hits h JOIN window_staff_days sd ON sd.staff_id = h.staff_id AND sd.day = h.day {_WITH_BATCH}
        ORDER BY h.staff_id, h.day""")
    if df.empty:
        return _finish(df, "sensitive", np.array([]), np.array([]))
    lam = df["n_lookups"].astype(float) * df["share"].astype(float)
    return _finish(df, "sensitive", poisson_surprise(df["obs"], lam), lam.to_numpy(), ["n_lookups"])


# the staff-day counts the rate tests read per unit (column of staff_days, its name in own_base and peer_base)
UNIT_SUMS = (("n_unexpl_subjects", "subj"), ("n_after_hours_unexpl", "ah_n"), ("n_night_unexpl", "night_n"),
             ("n_updates_unexpl", "upd_n"), ("n_unexpl_households", "hh"), ("n_unexpl_out_households", "out_hh"))


def _baselines(eng: Engine, window: Window, lookback_days: int) -> None:
    """Relations hist, own_base, peer_base, unit_base, own_unit_base, peer_day, org_surge, surge_days and
    surge_nights over the staff-day history (stored days before the window and the window's own)."""
    h0 = window.first - timedelta(days=lookback_days)
    eng.hold("hist", "SELECT * FROM staff_days WHERE day BETWEEN $h0 AND $last", {"h0": h0, "last": window.last})
    med, q = eng.median, eng.quantile
    eng.create("own_base", f"""
        WITH m AS (SELECT staff_id, {med("n_unexpl_subjects")} AS med, {med("peak_hour_unexpl")} AS peak_med
                   FROM hist GROUP BY staff_id)
        SELECT h.staff_id, count(*) AS n_days, m.med, {med("abs(h.n_unexpl_subjects - m.med)")} AS mad,
               sum(h.n_unexpl_subjects) AS subj, sum(h.n_unexpl_out) AS out_n, sum(h.n_after_hours_unexpl) AS ah_n,
               sum(h.n_night_unexpl) AS night_n, count(CASE WHEN h.n_after_hours_unexpl > 0 THEN 1 END) AS ah_days,
               count(CASE WHEN h.n_night_unexpl > 0 THEN 1 END) AS night_days, sum(h.n_events) AS events,
               sum(h.n_unexpl_events) AS unexpl_events,
               sum(h.n_updates_unexpl) AS upd_n, avg(h.n_unexpl_subjects) AS mean_subj,
               sum(h.n_unexpl_households) AS hh, sum(h.n_unexpl_out_households) AS out_hh,
               {q("h.n_unexpl_subjects", 0.9)} AS p90,
               m.peak_med, {med("abs(h.peak_hour_unexpl - m.peak_med)")} AS peak_mad,
               {q("h.peak_hour_unexpl", 0.9)} AS peak_p90, {q("h.max_records", 0.9)} AS rec_p90
        FROM hist h JOIN m ON m.staff_id = h.staff_id GROUP BY h.staff_id, m.med, m.peak_med""")
    eng.create("peer_base", f"""
        WITH h AS (SELECT coalesce(role, '?') AS role, n_unexpl_subjects, peak_hour_unexpl, n_unexpl_out,
                          n_after_hours_unexpl, n_night_unexpl, n_updates_unexpl, n_events, max_records,
                          n_unexpl_households, n_unexpl_out_households FROM hist),
        m AS (SELECT role, {med("n_unexpl_subjects")} AS med, {med("peak_hour_unexpl")} AS peak_med
              FROM h GROUP BY role)
        SELECT h.role, count(*) AS n_days, m.med, {med("abs(h.n_unexpl_subjects - m.med)")} AS mad,
               {q("h.n_unexpl_subjects", 0.9)} AS p90,
               m.peak_med, {med("abs(h.peak_hour_unexpl - m.peak_med)")} AS peak_mad,
               {q("h.peak_hour_unexpl", 0.9)} AS peak_p90,
               sum(h.n_unexpl_subjects) AS subj, sum(h.n_unexpl_out) AS out_n,
               sum(h.n_after_hours_unexpl) AS ah_n, sum(h.n_night_unexpl) AS night_n, sum(h.n_updates_unexpl) AS upd_n,
               sum(h.n_events) AS events, sum(h.n_unexpl_households) AS hh,
               sum(h.n_unexpl_out_households) AS out_hh, {q("h.max_records", 0.99)} AS p99_records
        FROM h JOIN m ON m.role = h.role GROUP BY h.role, m.med, m.peak_med""")
    # the colleagues of the staff member's own unit (課) in the same organisation: the work most like theirs (a
    # roster's role is often a rank, 主事 or 係長, shared by the counter and the archives alike), summed per unit
    # and per staff member within it, so that a staff member's unit peers are the unit less themselves
    sums = ", ".join(f"sum(h.{c}) AS {a}" for c, a in UNIT_SUMS)
    eng.create("unit_base", f"SELECT h.org_code, h.unit, {sums} FROM hist h WHERE h.unit IS NOT NULL "
                            f"GROUP BY h.org_code, h.unit")
    eng.create("own_unit_base", f"SELECT h.staff_id, h.org_code, h.unit, {sums} FROM hist h "
                                f"WHERE h.unit IS NOT NULL GROUP BY h.staff_id, h.org_code, h.unit")
    eng.create("peer_day", f"""
        SELECT coalesce(role, '?') AS role, day, count(*) AS n, {med("n_unexpl_subjects")} AS med,
               {med("peak_hour_unexpl")} AS peak_med
        FROM hist GROUP BY coalesce(role, '?'), day""")
    _surges(eng)


def _surges(eng: Engine) -> None:
    """Relations org_surge, surge_days and surge_nights (org_code, role, day): days on which many of an
    organisation's staff work unexplained or at night at once (a disaster response, an election), against the
    organisation's usual day, for the roles that took part: at least two of the role's staff showing it, a
    share of the role's staff beyond its usual by the same margin (_role_took_part: a role with one member at
    work that day took part when that member shows it and the organisation's other staff make a surge without
    them). Someone of a role that did not respond gets no cover from the others' night (a snooper does not hide
    in a disaster night of other units). Many means at least three, or two in an office of two (staff seen at work
    in the history) when they share a role: a village office's two front-desk clerks working a disaster night
    through together were alerted, as two can never make three. A lone worker never makes a surge by themselves."""
    med, k_day = eng.median, "h.n_after_hours_unexpl > 0 OR h.n_unexpl_subjects > o.p90 + 2"
    day_margin, night_margin = num(SURGE_SHARE), num(NIGHT_SURGE_SHARE)
    eng.create("org_surge", f"""
        WITH r AS (
            SELECT h.org_code, coalesce(h.role, '?') AS role, h.day, count(*) AS n,
                   count(CASE WHEN {k_day} THEN 1 END) AS k, count(CASE WHEN h.n_night_unexpl > 0 THEN 1 END) AS k_night
            FROM hist h JOIN own_base o ON o.staff_id = h.staff_id GROUP BY h.org_code, coalesce(h.role, '?'), h.day),
        d AS (SELECT org_code, day, sum(n) AS n, sum(k) AS k, sum(k_night) AS k_night FROM r GROUP BY org_code, day),
        staffed AS (SELECT org_code, least({eng.count_distinct("staff_id")}, 3) AS least_k FROM hist GROUP BY org_code),
        usual AS (SELECT org_code, {med("k / n")} AS share, {med("k_night / n")} AS night FROM d GROUP BY org_code),
        role_usual AS (SELECT org_code, role, {med("k / n")} AS share, {med("k_night / n")} AS night FROM r
                       GROUP BY org_code, role)
        SELECT r.org_code, r.role, r.day,
               (d.k >= z.least_k AND d.k / d.n >= u.share + {day_margin} AND r.k / r.n >= ru.share + {day_margin}
                AND {_role_took_part("k", "share", day_margin)})
               OR (d.k_night >= z.least_k AND d.k_night / d.n >= u.night + {night_margin}
                   AND r.k_night / r.n >= ru.night + {night_margin}
                   AND {_role_took_part("k_night", "night", night_margin)}) AS surge
        FROM r JOIN d ON d.org_code = r.org_code AND d.day = r.day JOIN usual u ON u.org_code = r.org_code
        JOIN role_usual ru ON ru.org_code = r.org_code AND ru.role = r.role JOIN staffed z ON z.org_code = r.org_code
    """)
    eng.create("surge_days", "SELECT DISTINCT org_code, role, day FROM org_surge WHERE surge")
    # a response going on past midnight counts for the night after a surge day too
    eng.create("surge_nights", f"SELECT org_code, role, day FROM surge_days UNION "
                               f"SELECT org_code, role, {eng.add_days('day', 1)} AS day FROM surge_days")


def _role_took_part(k: str, usual: str, margin: str) -> str:
    """Whether the role `r` took part in the organisation's surge of day `d` (count column `k` of r and d, the
    organisation's usual share u.`usual`): two of its staff or more showing it; or, for a role with one member
    at work that day (a village office's only manager), that member showing it while the organisation's other
    staff make a surge without them. Judged with the member counted, a lone worker of a weekend, with two
    night-shift staff beside them, made three at night and covered themselves."""
    others_k, others_n = f"(d.{k} - r.{k})", "greatest(d.n - r.n, 1)"
    return (f"CASE WHEN r.n = 1 THEN r.{k} = 1 AND {others_k} >= 3 "
            f"AND {others_k} / {others_n} >= u.{usual} + {margin} ELSE r.{k} >= 2 END")


def curiosity(eng: Engine, window: Window) -> pd.DataFrame:
    """Many unexplained people in a day or in one hour, against the person's own usual day and against
    their role peers'; both baselines move with the role's median on the same day (month-start rushes,
    quiet weekends), and only medians are taken from that one day, so the person cannot hide in it."""
    df = _curiosity_days(eng, window)
    if df.empty:
        return _finish(df.assign(event_ids=[]), "curiosity", np.array([]), np.array([]))

    def col(name: str, factor: str | None = None) -> np.ndarray:
        v = df[name].astype(float).fillna(0.0).to_numpy()
        return v * df[factor].astype(float).to_numpy() if factor else v

    has_own = (df["own_days"] >= 5).to_numpy()
    obs, peak = col("obs"), col("peak")
    day_ev = _own_or_peers(obs, col, has_own, "", "day_factor")
    peak_ev = _own_or_peers(peak, col, has_own, "peak_", "peak_factor")
    # workload: a busy day brings more unexplained look-ups in proportion to the day's other work (its events
    # that are not its unexplained people: case work, searches, prints, second looks) against the person's
    # other days (the role's for someone with little history), WORK_PRIOR events added to both so that a day of
    # a little work where there is usually none is no rush. Measured by all the day's events, the look-ups made
    # their own workload: 23 people browsed by a manager whose days are three look-ups were 'a busy day'
    work = np.maximum(col("n_events") - obs, 0.0)
    usual_subj = np.where(has_own, col("own_subj_other") / np.maximum(col("own_days") - 1, 1), col("peer_subj_day"))
    usual_work = np.where(has_own, col("own_work_other") / np.maximum(col("own_days") - 1, 1), col("peer_work_day"))
    busy = (work + WORK_PRIOR) / (usual_work + WORK_PRIOR)
    expected_by_work = usual_subj * busy
    rate_ev = count_surprise(obs, expected_by_work, np.zeros(len(df)), expected_by_work)
    # ... and so does its busiest hour: a clerk alone at the counter on a rush day (the others on leave, so the
    # role's day does not move) is busy in every hour, printing and searching for the residents seen
    peak_by_work = np.where(has_own, col("own_peak_med"), col("peer_peak_med")) * busy
    peak_rate_ev = count_surprise(peak, peak_by_work, np.zeros(len(df)), peak_by_work)
    ev = np.maximum(np.minimum(day_ev, rate_ev), np.minimum(peak_ev, peak_rate_ev))
    keep = ev >= 2.0
    df = df[keep].reset_index(drop=True)
    ev = ev[keep]
    expected = col("own_med", "day_factor")
    df = _attach_events(eng, df, "NOT e.explained AND e.personal")
    df["own"] = df["own_med"].astype(float)
    df["peer"] = df["peer_med"].astype(float)
    return _finish(df, "curiosity", ev, expected, ["own", "peer", "own_days", "peak", "own_peak_med"])


def _own_or_peers(obs: np.ndarray, col: Callable[..., np.ndarray], has_own: np.ndarray, kind: str,
                  factor: str) -> np.ndarray:
    """Surprise of `obs` against the role peers' baseline and, for someone with enough history of their own,
    the lower of that and their own (kind "" for the day's count, "peak_" for the busiest hour)."""
    def against(who: str) -> np.ndarray:
        return count_surprise(obs, col(f"{who}_{kind}med", factor), col(f"{who}_{kind}mad", factor),
                              col(f"{who}_{kind}p90", factor))

    peers = against("peer")
    return np.where(has_own, np.minimum(against("own"), peers), peers)


def _curiosity_days(eng: Engine, window: Window) -> pd.DataFrame:
    """The window's staff-days with 10 or more unexplained people outside surge days, with the person's own
    and their role peers' baselines, each scaled by how the role's median moved that day."""
    one = num(1.0)
    return _df(eng, f"""
        SELECT sd.staff_id, sd.day, sd.n_unexpl_subjects AS obs, sd.peak_hour_unexpl AS peak, sd.n_events,
               greatest(o.subj - sd.n_unexpl_subjects, 0) AS own_subj_other,
               greatest((o.events - o.subj) - (sd.n_events - sd.n_unexpl_subjects), 0) AS own_work_other,
               p.subj / p.n_days AS peer_subj_day, (p.events - p.subj) / p.n_days AS peer_work_day,
               o.n_days AS own_days, o.med AS own_med, o.mad AS own_mad, o.p90 AS own_p90,
               o.peak_med AS own_peak_med, o.peak_mad AS own_peak_mad, o.peak_p90 AS own_peak_p90,
               p.med AS peer_med, p.mad AS peer_mad, p.p90 AS peer_p90, p.peak_med AS peer_peak_med,
               p.peak_mad AS peer_peak_mad, p.peak_p90 AS peer_peak_p90,
               least(greatest(coalesce((pd.med + {one}) / (p.med + {one}), {one}), {num(0.25)}), {num(4.0)})
                   AS day_factor,
               least(greatest(coalesce((pd.peak_med + {one}) / (p.peak_med + {one}), {one}), {num(0.25)}),
                     {num(4.0)}) AS peak_factor
        FROM (SELECT w.* FROM window_staff_days w ANTI JOIN surge_days g ON g.org_code = w.org_code
              AND g.role = coalesce(w.role, '?') AND g.day = w.day) sd
        JOIN own_base o ON o.staff_id = sd.staff_id
        JOIN peer_base p ON p.role = coalesce(sd.role, '?')
        LEFT JOIN peer_day pd ON pd.role = coalesce(sd.role, '?') AND pd.day = sd.day AND pd.n >= 5
        WHERE sd.day BETWEEN $first AND $last AND sd.n_unexpl_subjects >= 10
        ORDER BY sd.staff_id, sd.day""",
               {"first": window.first, "last": window.last})


def count_surprise(obs: np.ndarray, med: np.ndarray, mad: np.ndarray, p90: np.ndarray) -> np.ndarray:
    """-log10 p of a count against a robust baseline, with heavy (Student t, 10 df) tails.

    The spread is the largest of the robust MAD, the upper tail (p90) and Poisson noise, so a baseline
    that is usually quiet does not turn a busy day into a certainty."""
    sd = np.maximum.reduce([1.4826 * mad, (p90 - med) / 1.2816, np.sqrt(med + 1.0)])
    z = (obs - med) / np.maximum(sd, 1e-6)
    return np.clip(-student_t.logsf(z, 10) / np.log(10), 0, MAX_EVIDENCE)


# Event lists per finding: at most this many event ids (and people) from each of its staff-days' parts
EVENT_LIST_LIMIT = 200


def _attach_events(eng: Engine, df: pd.DataFrame, cond: str, limit: int = EVENT_LIST_LIMIT,
                   now: bool = False) -> pd.DataFrame:
    """Add event_ids and subjects lists for (staff_id, day) rows from ev under a condition: read at once, or,
    inside `detect_all` (and unless `now`), left Pending and read with every other detector's in one pass."""
    return _event_lists(eng, df, [(cond, "day")], limit, now)


def _event_lists(eng: Engine, df: pd.DataFrame, parts: list[tuple[str, str]], limit: int = EVENT_LIST_LIMIT,
                 now: bool = False) -> pd.DataFrame:
    """df with event_ids and subjects from ev: per row, for each (condition, day column) of `parts`, the events of
    the staff member on that column's day meeting the condition; event ids in time order (part after part, at most
    `limit` a part), the people sorted (their union over the parts). A Pending in both columns within
    `detect_all` (EventReads), read at once outside it or with `now`."""
    if df.empty:
        return df.assign(event_ids=[], subjects=[])
    reads = _READS.get()
    batch = reads if reads is not None and not now and limit == EVENT_LIST_LIMIT else EventReads(limit)
    asks = [batch.ask(cond) for cond, _ in parts]
    staff = df["staff_id"].astype(str).tolist()
    days = [pd.to_datetime(df[col]).dt.date.tolist() for _, col in parts]
    pending = [Pending(tuple((a, s, d[i]) for a, d in zip(asks, days, strict=True)))
               for i, s in enumerate(staff)]
    df = df.copy()
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["event_ids"] = pending
    df["subjects"] = pending
    return df if batch is reads else batch.fill(eng, df)


@dataclass(frozen=True)
class Pending:
    """A finding's events not read yet: the (ask, staff_id, day) keys of EventReads whose lists make them."""

    keys: tuple[tuple[int, str, Any], ...]


class EventReads:
    """The event lists the detectors ask for (_event_lists), read from ev in one pass for them all, and the
    evidence they ask of the archive (_evidence), read in one pass as well: a pass over the window's events is a
    few seconds of Spark's run at 20 M events, and the detectors asked for nine of ev and up to three of the
    archive (two in a full run, where the co-worker span's views are the run's own)."""

    def __init__(self, limit: int = EVENT_LIST_LIMIT) -> None:
        self.limit = limit
        self.conds: list[str] = []
        self.window: Window | None = None  # the window of the archive's evidence asked for (PendingEvidence)

    def ask(self, cond: str) -> int:
        """The number of a condition (the same condition, the same number)."""
        if cond not in self.conds:
            self.conds.append(cond)
        return self.conds.index(cond)

    def fill(self, eng: Engine, df: pd.DataFrame) -> pd.DataFrame:
        """df with every Pending in event_ids and subjects replaced by its lists, and every PendingEvidence in
        event_ids by its event ids (the archive read once for them all)."""
        archive = [v for v in df["event_ids"] if isinstance(v, PendingEvidence)]
        if archive:
            read = iter(_read_evidence(eng, archive, self.window))
            df = df.assign(event_ids=[next(read) if isinstance(v, PendingEvidence) else v for v in df["event_ids"]])
        pending = [v for v in df["event_ids"] if isinstance(v, Pending)]
        if not pending:
            return df
        keys = pd.DataFrame(sorted({k for p in pending for k in p.keys}), columns=["ask", "staff_id", "day"])
        got = self._read(eng, keys)
        none: tuple[list, list] = ([], [])

        def lists(p: Pending) -> tuple[list, list]:
            found = [got.get(k, none) for k in p.keys]
            if len(found) == 1:
                return found[0]
            return [x for ids, _ in found for x in ids], sorted({s for _, subj in found for s in subj})

        df = df.copy()
        filled = [lists(v) if isinstance(v, Pending) else None for v in df["event_ids"]]
        df["event_ids"] = [f[0] if f is not None else v for f, v in zip(filled, df["event_ids"], strict=True)]
        df["subjects"] = [f[1] if f is not None else v for f, v in zip(filled, df["subjects"], strict=True)]
        return df

    def _read(self, eng: Engine, keys: pd.DataFrame) -> dict[tuple, tuple[list, list]]:
        """(ask, staff_id, day) -> (event ids, people) for the keys asked: one join of ev with them."""
        eng.put("_keys", keys.assign(ask=keys["ask"].astype("int32")))
        cond = " OR ".join(f"(k.ask = {i} AND ({c}))" for i, c in enumerate(self.conds))
        got = _df(eng, f"""
            SELECT k.ask, e.staff_id, e.day,
                   {eng.ordered_list("e.event_id", "e.occurred_at", self.limit)} AS event_ids,
                   {eng.sorted_set("e.subject_id", self.limit)} AS subjects
            FROM ev e JOIN _keys k ON k.staff_id = e.staff_id AND k.day = e.day WHERE {cond}
            GROUP BY k.ask, e.staff_id, e.day""")
        days = pd.to_datetime(got["day"]).dt.date
        return {(int(a), st, d): (list(ids) if ids is not None else [], list(subj) if subj is not None else [])
                for a, st, d, ids, subj in zip(got["ask"], got["staff_id"], days, got["event_ids"], got["subjects"],
                                               strict=True)}


_READS: ContextVar[EventReads | None] = ContextVar("event_reads", default=None)


@contextmanager
def reading_together() -> Iterator[EventReads]:
    """Within it, the event lists detectors ask for are left Pending in the asks of the EventReads it yields,
    whose `fill` reads them all at once."""
    reads = EventReads()
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def _rate(eng: Engine, window: Window, code: str, obs_col: str, base_col: str,
          cond: str | Callable[[pd.DataFrame], pd.DataFrame], exclude: str | None = None,
          source: str = "window_staff_days", lookups: tuple[str, str] = ("n_unexpl_subjects", "subj"),
          people: str | None = None, day_surge: bool = False) -> pd.DataFrame:
    """Rate scenarios: today's count against the person's own rate on other days, shrunk towards the rate of
    the colleagues of their unit in their organisation (unit_base less own_unit_base: the work most like
    theirs), that towards the role peers' rate, and that towards everyone's; the person is left out of the
    unit, peer and global rates. Without a unit in the roster the role peers' rate is the next step.
    `source`: the counts tested (staff_id, day, org_code, role, unit, the `lookups` column, obs_col), the window's
    staff-days unless another unit is tested; `cond`: the events of a finding in ev, or a function adding a
    finding's event_ids and subjects (and detail columns of its own) to the rows. `lookups`: the exposure, a
    column of `source` and its sum in own_base and peer_base (the rate is obs_col per lookup); `people`: the
    column of `source` counting the finding's people, where obs_col counts another unit (households).
    `day_surge`: chance is scaled by how much more the organisation's other staff did the same that day than
    their share over the history (surge_factor: the moving season brings the counter residents registered
    elsewhere every spring), detail `day_surge`."""
    n_col, n_sum = lookups
    days = source if exclude is None else (
        f"(SELECT w.* FROM {source} w ANTI JOIN {exclude} x ON x.org_code = w.org_code "
        f"AND x.role = coalesce(w.role, '?') AND x.day = w.day)")
    # the organisation's other staff that day (dt, less the staff member) against their share over the history (os)
    surge_with = surge_cols = surge_join = ""
    if day_surge:
        surge_with = f""", dt AS (SELECT org_code, day, sum({obs_col}) AS k, sum({n_col}) AS n FROM {source}
                                  WHERE day BETWEEN $first AND $last GROUP BY org_code, day),
        os AS (SELECT org_code, sum({obs_col}) AS k, sum({n_col}) AS n FROM hist GROUP BY org_code)"""
        surge_cols = f"""greatest(coalesce(dt.k, 0) - sd.{obs_col}, 0) AS day_k,
               greatest(coalesce(dt.n, 0) - sd.{n_col}, 0) * coalesce(os.k, 0) / greatest(coalesce(os.n, 0), 1)
                   AS day_x,"""
        surge_join = """LEFT JOIN dt ON dt.org_code = sd.org_code AND dt.day = sd.day
        LEFT JOIN os ON os.org_code = sd.org_code"""
    df = _df(eng, f"""
        WITH g AS (SELECT sum({base_col}) AS n, sum({n_sum}) AS subj FROM own_base)
        {surge_with}
        SELECT sd.staff_id, sd.day, sd.{obs_col} AS obs, sd.{n_col} AS n_lookups, {surge_cols}
               {f"sd.{people} AS n_subjects," if people else ""}
               (o.{base_col} - sd.{obs_col}) AS own_n, (o.{n_sum} - sd.{n_col}) AS own_subj,
               greatest(p.{base_col} - o.{base_col}, 0) AS peer_n, greatest(p.{n_sum} - o.{n_sum}, 0) AS peer_subj,
               greatest(coalesce(u.{base_col}, 0) - coalesce(ou.{base_col}, 0), 0) AS unit_n,
               greatest(coalesce(u.{n_sum}, 0) - coalesce(ou.{n_sum}, 0), 0) AS unit_subj,
               (greatest(g.n - o.{base_col}, 0) + {num(0.5)}) / (greatest(g.subj - o.{n_sum}, 0) + {num(1.0)})
                   AS global_rate
        FROM {days} sd JOIN own_base o ON o.staff_id = sd.staff_id
        JOIN peer_base p ON p.role = coalesce(sd.role, '?') CROSS JOIN g
        LEFT JOIN unit_base u ON u.org_code = sd.org_code AND u.unit = sd.unit
        LEFT JOIN own_unit_base ou ON ou.staff_id = sd.staff_id AND ou.org_code = sd.org_code AND ou.unit = sd.unit
        {surge_join}
        WHERE sd.day BETWEEN $first AND $last AND sd.{obs_col} > 0
        ORDER BY sd.staff_id, sd.day""",
             {"first": window.first, "last": window.last})
    if df.empty:
        return _finish(df.assign(event_ids=[]), code, np.array([]), np.array([]))
    peer_rate = _shrunk(df["peer_n"], df["peer_subj"], df["global_rate"])
    unit_rate = _shrunk(df["unit_n"], df["unit_subj"], peer_rate)
    rate = _shrunk(df["own_n"].clip(lower=0), df["own_subj"].clip(lower=0), unit_rate)
    extra = []
    if day_surge:
        df["day_surge"] = surge_factor(df["day_k"].to_numpy(float), df["day_x"].to_numpy(float))
        rate, extra = rate * df["day_surge"], ["day_surge"]
    lam = (df["n_lookups"].astype(float) * rate).to_numpy()
    ev = poisson_surprise(df["obs"], lam)
    keep = ev >= 1.0
    df = df[keep].reset_index(drop=True)
    before = set(df.columns)
    df = _attach_events(eng, df, cond) if isinstance(cond, str) else cond(df)
    own = [c for c in df.columns if c not in before and c not in ("event_ids", "subjects")]
    df["rate"] = rate[keep].to_numpy()
    return _finish(df, code, ev[keep], lam[keep], ["n_lookups", "rate", *extra, *own])


def _shrunk(n: pd.Series, lookups: pd.Series, prior_rate: pd.Series) -> pd.Series:
    """The rate n / lookups shrunk towards prior_rate by max(SHRINK, PRIOR_EVENTS / prior_rate) look-ups."""
    weight = np.maximum(SHRINK, PRIOR_EVENTS / np.maximum(prior_rate, 1e-12))
    return (n + weight * prior_rate) / (lookups + weight)


def out_of_jurisdiction(eng: Engine, window: Window) -> pd.DataFrame:
    """Unexplained accesses to residents outside a municipality's own area, counted in households (a family
    registered elsewhere at the counter is one visit: features.household_unit) per household looked up."""
    return _rate(eng, window, "out_of_jurisdiction", "n_unexpl_out_households", "out_hh",
                 "NOT e.explained AND e.personal AND e.out_area", lookups=("n_unexpl_households", "hh"),
                 people="n_unexpl_out", day_surge=True)


def update_without_case(eng: Engine, window: Window) -> pd.DataFrame:
    """Updates to records with no open case: possible tampering."""
    return _rate(eng, window, "update_without_case", "n_updates_unexpl", "upd_n",
                 "NOT e.explained AND e.action = 'update'")


# Tampering prepared by a look (a record viewed one day and changed without a case days later): of a staff-day's
# updates without a case, those of people the staff member had accessed without a case on an earlier day within
# features.REVISIT_DAYS (`unexplained.revisit`), against the share of such revisits among the updates without a
# case of the others in their organisation and role over the stored history and the window (`revisit_rates`:
# shrunk by REVISIT_PRIOR updates towards the share among all their unexplained accesses, itself shrunk towards
# one half). Where counter work routinely comes back to the same residents to correct their records, coming back
# to update one is ordinary, and the share says so. A binomial test of which people were updated given how
# many: under chance it does not depend on the count update_without_case tests, so it is its own scenario and
# the two combine (alerts.day_scores).
REVISIT_PRIOR = 50.0


def revisit_rates(eng: Engine) -> None:
    """Relation revisit_rates (staff_id, revisit_rate): per staff member, the share of revisits among the
    unexplained updates of their organisation and role's other staff (from unexplained_counts; rows stored
    before `revisit` was kept are not counted)."""
    m, m0, half = num(REVISIT_PRIOR), num(REPEAT_PRIOR), num(0.5)
    eng.create("revisit_rates", f"""
        WITH g AS (
            SELECT so.org_code, coalesce(so.role, '?') AS role, sum(o.n_known) AS n, sum(o.k_revisit) AS k,
                   sum(o.n_updates) AS nu, sum(o.k_update_revisit) AS ku
            FROM unexplained_counts o JOIN staff_own so ON so.staff_id = o.staff_id
            GROUP BY so.org_code, coalesce(so.role, '?'))
        SELECT so.staff_id,
               (greatest(coalesce(g.ku, 0) - coalesce(o.k_update_revisit, 0), 0)
                + {m} * (coalesce(g.k, 0) + {m0} * {half}) / (coalesce(g.n, 0) + {m0}))
               / (greatest(coalesce(g.nu, 0) - coalesce(o.n_updates, 0), 0) + {m}) AS revisit_rate
        FROM staff_own so LEFT JOIN g ON g.org_code = so.org_code AND g.role = coalesce(so.role, '?')
        LEFT JOIN unexplained_counts o ON o.staff_id = so.staff_id""")


def update_after_view(eng: Engine, window: Window) -> pd.DataFrame:
    """Updates without a case of people the staff member had looked up without a case shortly before, against
    their peers' share of such revisits among updates without a case (relation revisit_rates)."""
    revisit_rates(eng)
    df = _df(eng, f"""
        SELECT w.staff_id, w.day, count(*) AS obs, {eng.sorted_set("w.subject_id")} AS subjects,
               min(sd.n_updates_unexpl) AS n_updates, min(q.revisit_rate) AS revisit_rate
        FROM window_unexplained w JOIN window_staff_days sd ON sd.staff_id = w.staff_id AND sd.day = w.day
        JOIN revisit_rates q ON q.staff_id = w.staff_id
        WHERE w.updated AND w.revisit AND w.day BETWEEN $first AND $last
        GROUP BY w.staff_id, w.day
        ORDER BY w.staff_id, w.day""", {"first": window.first, "last": window.last})
    if df.empty:
        return _finish(df.assign(event_ids=[]), "update_after_view", np.array([]), np.array([]))
    n = df["n_updates"].astype(float).to_numpy()  # the day's updates without a case: the counted ones among them
    q = np.clip(df["revisit_rate"].astype(float).to_numpy(), 1e-9, 1.0)
    ev = np.clip(-binom.logsf(df["obs"].astype(float).to_numpy() - 1, n, q) / np.log(10), 0, MAX_EVIDENCE)
    keep = ev >= 1.0
    df, ev, lam = df[keep].reset_index(drop=True), ev[keep], (n * q)[keep]
    if df.empty:
        return _finish(df.assign(event_ids=[]), "update_after_view", np.array([]), np.array([]))
    df["subjects"] = df["subjects"].apply(list)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    # the person's accesses over the REVISIT_DAYS before the update and on its day: the look and the change
    days = [[(s, d - timedelta(days=k)) for s in subj for k in range(REVISIT_DAYS, -1, -1)]
            for subj, d in zip(df["subjects"], df["day"], strict=True)]
    df["event_ids"] = _evidence(eng, df["staff_id"], days, window)
    df["n_updates"] = df["n_updates"].astype(int)
    df["revisit_days"] = REVISIT_DAYS
    return _finish(df, "update_after_view", ev, lam, ["n_updates", "revisit_rate", "revisit_days"])


def after_hours(eng: Engine, window: Window) -> pd.DataFrame:
    """Unexplained after-hours accesses, unless the organisation as a whole worked that night (or the night
    before: a response going on past midnight is counted on both days). Evening and
    early-morning overtime is common; the deep night (more than two hours from the working day) has its own,
    much lower, rate, so the two bands are tested separately and the stronger finding is kept."""
    shifts = _df(eng, f"SELECT staff_id, n_days, ah_days, night_days FROM own_base "
                      f"WHERE ah_days >= {SHIFT_DAYS + 1} OR night_days >= {SHIFT_DAYS + 1}")
    any_band = _overtime(eng, _shift_work(shifts, _rate(eng, window, "after_hours", "n_after_hours_unexpl", "ah_n",
                                                       "NOT e.explained AND e.personal AND e.after_hours",
                                                       "surge_nights"), "ah_days"))
    night = _shift_work(shifts, _rate(eng, window, "after_hours", "n_night_unexpl", "night_n",
                                      "NOT e.explained AND e.personal AND e.night", "surge_nights"), "night_days")
    midnight = _shift_work(shifts, _through_midnight(eng, window), "night_days", own=2)
    both = pd.concat([x for x in (any_band, night, midnight) if not x.empty] or [any_band], ignore_index=True)
    if both.empty:
        return both
    return both.sort_values("evidence", ascending=False, kind="stable").drop_duplicates(["staff_id", "day"]) \
        .reset_index(drop=True)


# Shift work: the after-hours tests count look-ups (the person's after-hours share of their look-ups), which fits
# overtime, an evening now and then with a few look-ups. A night shift is whole nights: on its days every look-up
# is after hours, and a person whose roster role does not work nights (a night-counter clerk moved to another
# role on 1 April, the roster naming the new one) had each shift found at 10-20 decades (probe 6's world w2). Where
# the person worked after hours on at least SHIFT_DAYS other days of the history, a night is tested as a day too
# (how often the person's days have such work) and the weaker of the two is kept: a shift worker's night is not
# surprising, whatever its look-ups. An incident of one night, or of a night through midnight, is not a pattern.
SHIFT_DAYS = 4


def _shift_work(shifts: pd.DataFrame, df: pd.DataFrame, days_col: str, own: int = 1) -> pd.DataFrame:
    """After-hours findings capped by the person's own days with such work (`shifts`: own_base's n_days, ah_days
    and night_days of the people with any; `days_col` the one tested), where those other than the finding's `own`
    days (the day, or the two days of a night through midnight) are SHIFT_DAYS or more: at the evidence of a day
    with it, -log10((k + 0.5) / (n + 1)) for k such days of n other days (detail shift_days, other_days)."""
    pattern = shifts[shifts[days_col] >= SHIFT_DAYS + own]
    if df.empty or pattern.empty:
        return df
    pattern = pd.DataFrame({"staff_id": pattern["staff_id"], "n": pattern["n_days"] - own,
                            "k": pattern[days_col] - own})
    return _as_a_day(df, df[["staff_id"]].merge(pattern, on="staff_id", how="left"), "shift_days")


def _as_a_day(df: pd.DataFrame, m: pd.DataFrame, days_key: str, **flags: Any) -> pd.DataFrame:
    """The findings `df` whose row of `m` (aligned with df) has k and n, capped at the evidence of a day with such
    work, -log10((k + 0.5) / (n + 1)) for k such days of n other days, with k (detail `days_key`), n (other_days)
    and `flags` in their detail; findings below 1 decade are dropped, as _rate drops them."""
    tested = m["k"].notna().to_numpy()
    k, n = m["k"].fillna(0).clip(lower=0).to_numpy(float), m["n"].fillna(0).clip(lower=0).to_numpy(float)
    day_evidence = -np.log10((k + 0.5) / np.maximum(n + 1.0, k + 0.5))
    df = df.copy()
    df["evidence"] = np.where(tested, np.minimum(df["evidence"].to_numpy(float), day_evidence), df["evidence"])
    df["detail"] = [{**d, **flags, days_key: int(kk), "other_days": int(nn)} if t else d
                    for d, t, kk, nn in zip(df["detail"], tested, k, n, strict=True)]
    return df[df["evidence"] >= 1.0].reset_index(drop=True)


# Overtime: an evening whose after-hours look-ups carry on the day's work without a break (the first of them within
# OVERTIME_GAP_MINUTES of the day's last event in working hours, or within the day's own longest pause between its
# events in working hours where that is longer, up to BREAK_MINUTES: a counter's day of one visit every hour or so;
# and none in the early morning) is the working day running late, not a session of its own. Its look-ups come
# together, so counting them one by one against the person's after-hours rate makes one evening of overtime (a counter
# clerk in the moving season, kept to 21:40 by a queue) as surprising as a dozen separate late look-ups. Such an
# evening is tested as a day instead, as a shift worker's night is (_shift_work): how often the person's other days
# had after-hours work, -log10((k + 0.5) / (n + 1)), never more than the look-up test; a person who never worked late
# in 60 days reaches 2.1 decades, and a relative or a sensitive record looked up that evening is still tested as such.
# The deep night (more than two hours from the working day) keeps its own test, and a session after a break (back at
# 23:00, or on a day off) its own.
OVERTIME_GAP_MINUTES = 60
BREAK_MINUTES = 120  # a pause longer than this is leaving, whatever the day's own pauses


def _overtime(eng: Engine, df: pd.DataFrame) -> pd.DataFrame:
    """After-hours findings on evenings that carry on the day's work (OVERTIME_GAP_MINUTES), capped at the evidence
    of a day with after-hours work among the person's other days (detail overtime, evening_days, other_days)."""
    if df.empty:
        return df
    us = eng.micros("e.occurred_at")
    # the findings' staff-days only (a few in a thousand): their events' pauses are read, not every evening's
    eng.put("overtime_days", pa.table({"staff_id": pa.array(df["staff_id"].astype(str).tolist(), pa.string()),
                                       "day": pa.array(pd.to_datetime(df["day"]).dt.date.tolist(), pa.date32())}))
    days = _df(eng, f"""
        WITH t AS (
            SELECT e.staff_id, e.day, e.after_hours, e.hr, {us} AS us,
                   {us} - lag({us}) OVER (PARTITION BY e.staff_id, e.day, e.after_hours ORDER BY {us}) AS gap
            FROM ev e JOIN overtime_days w ON w.staff_id = e.staff_id AND w.day = e.day),
        d AS (
            SELECT staff_id, day, max(CASE WHEN NOT after_hours THEN us END) AS last_in,
                   max(CASE WHEN NOT after_hours THEN gap END) AS longest_in,
                   min(CASE WHEN after_hours AND hr >= {NIGHT_EARLY_BEFORE} THEN us END) AS first_late,
                   count(CASE WHEN after_hours AND hr < {NIGHT_EARLY_BEFORE} THEN 1 END) AS n_early
            FROM t GROUP BY staff_id, day)
        SELECT d.staff_id, d.day, o.n_days - 1 AS n, o.ah_days - 1 AS k FROM d JOIN own_base o ON o.staff_id = d.staff_id
        WHERE d.n_early = 0
          AND d.first_late - d.last_in <= greatest({OVERTIME_GAP_MINUTES * 60 * 1_000_000},
                                                   least(coalesce(d.longest_in, 0), {BREAK_MINUTES * 60 * 1_000_000}))""")
    if days.empty:
        return df

    def dated(x: pd.DataFrame) -> pd.DataFrame:  # the engines hand days back as dates or timestamps
        return x.assign(day=pd.to_datetime(x["day"]).dt.date)

    m = dated(df[["staff_id", "day"]]).merge(dated(days), on=["staff_id", "day"], how="left")
    return _as_a_day(df, m, "evening_days", overtime=True)


def _through_midnight(eng: Engine, window: Window) -> pd.DataFrame:
    """The deep night worked through midnight, as one night: the people looked up without a case in the night of
    the day before (after NIGHT_EARLY_BEFORE) and in the early morning of the day, tested like the deep
    night of one day (the same rate) against the look-ups of both days, found on the later day. A night on one
    side of midnight is the deep-night test's; this one only when both sides have look-ups (a snooper's four
    look-ups from 23:30 to 00:40 were two and two, each too few alone). A night after an organisation's surge
    day is covered as the surge day's own (surge_nights). Rows stored before n_night_unexpl_early was kept
    (NULL) join no night."""
    prev = eng.add_days("w.day", -1)
    eng.create("midnight_nights", f"""
        SELECT w.staff_id, w.day, w.org_code, w.role, w.unit,
               w.n_unexpl_subjects + p.n_unexpl_subjects AS n_unexpl_subjects,
               w.n_night_unexpl_early + p.n_night_unexpl - p.n_night_unexpl_early AS n_night_unexpl
        FROM window_staff_days w JOIN staff_days p ON p.staff_id = w.staff_id AND p.day = {prev}
        WHERE w.n_night_unexpl_early > 0 AND p.n_night_unexpl > p.n_night_unexpl_early""")
    return _rate(eng, window, "after_hours", "n_night_unexpl", "night_n", lambda df: _night_events(eng, df),
                 "surge_nights", "midnight_nights")


def _night_events(eng: Engine, df: pd.DataFrame) -> pd.DataFrame:
    """A night's events: the earlier day's deep night and the later day's early morning (the earlier day's are
    in ev when it is in the window; an incremental run names the earlier day, first_day, without its events)."""
    df = df.assign(day=pd.to_datetime(df["day"]).dt.date)
    df["first_day"] = [d - timedelta(days=1) for d in df["day"]]
    unexpl_night = "NOT e.explained AND e.personal AND e.night AND e.hr"
    return _event_lists(eng, df, [(f"{unexpl_night} >= {NIGHT_EARLY_BEFORE}", "first_day"),
                                  (f"{unexpl_night} < {NIGHT_EARLY_BEFORE}", "day")])


def terminated(eng: Engine) -> pd.DataFrame:
    """Any access by an account after its termination date."""
    df = _df(eng, f"""
        SELECT e.staff_id, e.day, count(*) AS obs, count(DISTINCT e.subject_id) AS n_subjects,
               {eng.sorted_set("e.subject_id", 200)} AS subjects,
               {eng.ordered_list("e.event_id", "e.occurred_at", 500)} AS event_ids,
               min(s.terminated_on) AS terminated_on
        FROM ev e JOIN staff s ON s.staff_id = e.staff_id WHERE e.after_termination GROUP BY e.staff_id, e.day
        ORDER BY e.staff_id, e.day""")
    # the roster's date (a frame holds it as a midnight timestamp, which the reason wrote as 2026-03-31T00:00:00)
    df["terminated_on"] = pd.to_datetime(df["terminated_on"]).dt.date
    return _finish(df, "terminated", np.full(len(df), POLICY_EVIDENCE["terminated"]), np.zeros(len(df)),
                   ["terminated_on"])


def _up_to_last(sep: str) -> str:
    return f"substr(ev.terminal_id, 1, length(ev.terminal_id) - instr(reverse(ev.terminal_id), '{sep}'))"


# A terminal's site: its id up to the last '-' (131016-HQ-00042 is at 131016-HQ), else up to the last '_' (TK_HQ_0042
# at TK_HQ), else without its trailing digits (MTHQ0042 at MTHQ; an id of digits alone is its own site). Each id was
# its own site where no '-' was written, and a clerk going between the desk PC and the office's counter terminal was
# at two sites at once. Same spelling on every engine.
_TERMINAL_SITE = (f"CASE WHEN instr(ev.terminal_id, '-') > 0 THEN {_up_to_last('-')} "
                  f"WHEN instr(ev.terminal_id, '_') > 0 THEN {_up_to_last('_')} "
                  "ELSE coalesce(nullif(regexp_replace(ev.terminal_id, '[0-9]+$', ''), ''), ev.terminal_id) END")


def _not_within(a: str, b: str) -> str:
    """SQL: site `a` is not a part of site `b` named under it (b, then '-' or '_', then more: UEDA-HQ-MADO is the
    counter of UEDA-HQ, its terminal UEDA-HQ-MADO-03 beside the desk PC UEDA-HQ-PC0551). Same spelling on every
    engine."""
    return f"substr({a}, 1, length({b}) + 1) NOT IN ({b} || '-', {b} || '_')"


def two_sites(eng: Engine) -> pd.DataFrame:
    """One account switching back and forth between two sites faster than a person can travel.

    A terminal's site is its id without its serial (_TERMINAL_SITE); a site named under another (its name, a
    separator, more: a counter, a floor) is a part of it, not a second site."""
    df = _df(eng, f"""
        WITH e AS (
            SELECT ev.staff_id, ev.day, ev.occurred_at, ev.event_id, ev.subject_id, {_TERMINAL_SITE} AS site
            FROM ev SEMI JOIN window_staff_days sd ON sd.staff_id = ev.staff_id AND sd.day = ev.day
                                                  AND sd.n_terminals >= 2
            WHERE ev.terminal_id IS NOT NULL
        ), s AS (
            SELECT staff_id, day, occurred_at, site, event_id, subject_id,
                   lag(site) OVER w AS prev_site, lag(occurred_at) OVER w AS prev_t,
                   lag(event_id) OVER w AS prev_event
            FROM e WINDOW w AS (PARTITION BY staff_id, day ORDER BY occurred_at, event_id))
        SELECT staff_id, day, count(*) AS obs, {eng.sorted_set("site")} AS sites,
               {eng.sorted_set("subject_id")} AS subjects,
               {eng.pair_set("prev_event", "event_id")} AS event_ids
        FROM s WHERE prev_site <> site AND {_not_within('site', 'prev_site')} AND {_not_within('prev_site', 'site')}
          AND {eng.micros("occurred_at")} - {eng.micros("prev_t")} <= {SWITCH_MINUTES * 60_000_000}
        GROUP BY staff_id, day HAVING count(*) >= 2
        ORDER BY staff_id, day""")
    if df.empty:
        return _finish(df, "two_sites", np.array([]), np.array([]))
    df["sites"] = df["sites"].apply(lambda v: ", ".join(sorted(v)[:3]))
    df["minutes"] = SWITCH_MINUTES
    df["n"] = df["obs"]
    ev = np.clip(5.0 + np.log2(df["obs"].astype(float)), 0, MAX_EVIDENCE)
    return _finish(df, "two_sites", ev, np.zeros(len(df)), ["sites", "minutes", "n"])


def bulk_export(eng: Engine, window: Window) -> pd.DataFrame:
    """An export or search far larger than anything the person and their role peers usually do."""
    df = _df(eng, f"""
        WITH own_max AS (
            SELECT sd.staff_id, sd.day, max(h.max_records) AS own_ref
            FROM window_staff_days sd LEFT JOIN hist h ON h.staff_id = sd.staff_id AND h.day <> sd.day
            WHERE sd.day BETWEEN $first AND $last AND sd.max_records > 10
            GROUP BY sd.staff_id, sd.day)
        SELECT sd.staff_id, sd.day, sd.max_records AS obs,
               greatest(coalesce(m.own_ref, 0), coalesce(p.p99_records, 0), 10) AS reference
        FROM window_staff_days sd JOIN own_max m ON m.staff_id = sd.staff_id AND m.day = sd.day
        JOIN peer_base p ON p.role = coalesce(sd.role, '?')
        WHERE sd.max_records >= {num(BULK_FACTOR)} * greatest(coalesce(m.own_ref, 0), coalesce(p.p99_records, 0), 10)
        ORDER BY sd.staff_id, sd.day""",
             {"first": window.first, "last": window.last})
    if df.empty:
        return _finish(df.assign(event_ids=[]), "bulk_export", np.array([]), np.array([]))
    ratio = df["obs"].astype(float) / df["reference"].astype(float)
    ev = np.clip(2.0 * np.log2(ratio), 0, MAX_EVIDENCE)
    df = _attach_events(eng, df, "e.action IN ('export', 'search') AND e.record_count >= "
                                 f"{BULK_FACTOR} * 10", limit=50, now=True)
    df["records"] = df["obs"].astype(int)
    df["n_subjects"] = df["event_ids"].apply(len)
    return _finish(df, "bulk_export", ev, df["reference"].astype(float).to_numpy(), ["records", "reference"])


def low_and_slow(eng: Engine, window: Window, lookback_days: int) -> pd.DataFrame:
    """One person viewed without a case on several days spread over weeks, beyond what chance gives: the
    chance counts how often everyone else in the organisation looked that person up without a case, and is
    at least the uniform share of the population the organisation's staff look up (its residents: not the
    person's municipality of registration, which for someone registered elsewhere may be a handful)."""
    h0 = window.first - timedelta(days=lookback_days)
    params = {"h0": h0, "first": window.first, "last": window.last}
    # the (staff, person) pairs first, as a relation: the query below reads them twice (Spark would
    # recompute a CTE for each reference). `unexplained` has one row per (staff, person, day) (features), so
    # its rows are the days; a pair seen in the window is one whose last day is in it (one aggregation: no
    # distinct count and no semi-join, each of which costs Spark another pass over the pairs)
    # a window smaller than the stored history before it (an incremental day) names few of the history's pairs:
    # those alone are counted (the same pairs as without the semi-join, whose cost a full run would not repay)
    few = eng.count("window_staff_days") < eng.count("hist_staff_days")
    eng.create("low_slow_pairs", f"""
        SELECT u.staff_id, u.subject_id, count(*) AS k, min(u.day) AS first_day, max(u.day) AS last_day
        FROM unexplained u
        {"SEMI JOIN window_unexplained w ON w.staff_id = u.staff_id AND w.subject_id = u.subject_id" if few else ""}
        WHERE u.day BETWEEN $h0 AND $last
        GROUP BY u.staff_id, u.subject_id
        HAVING count(*) >= {LOW_SLOW_MIN_DAYS}
           AND {eng.days_between("min(u.day)", "max(u.day)")} >= {LOW_SLOW_MIN_SPAN} AND max(u.day) >= $first""",
               params)
    df = _df(eng, f"""
        WITH seen AS (  -- how often everyone looked the person up without a case (some people come in often)
            SELECT u.subject_id, count(*) AS n FROM unexplained u
            SEMI JOIN (SELECT DISTINCT subject_id FROM low_slow_pairs) p ON p.subject_id = u.subject_id
            WHERE u.day BETWEEN $h0 AND $last GROUP BY u.subject_id),
        org_total AS (SELECT org_code, sum(n_unexpl_subjects) AS n FROM hist GROUP BY org_code)
        SELECT p.staff_id, p.last_day AS day, p.k AS obs, p.subject_id, p.first_day,
               o.n_days, o.mean_subj, coalesce(c.org_pop, (SELECT count(*) FROM subjects)) AS population,
               (coalesce(sn.n, 0) - p.k + {num(0.5)}) / (greatest(coalesce(t.n, 0) - o.subj, 0) + {num(1.0)})
                   AS others_share
        FROM low_slow_pairs p JOIN own_base o ON o.staff_id = p.staff_id
        LEFT JOIN staff st ON st.staff_id = p.staff_id
        LEFT JOIN org_total t ON t.org_code = st.org_code
        LEFT JOIN seen sn ON sn.subject_id = p.subject_id
        LEFT JOIN staff_ctx c ON c.staff_id = p.staff_id
        ORDER BY p.staff_id, p.subject_id""", params)
    if df.empty:
        return _finish(df.assign(subjects=[]), "low_and_slow", np.array([]), np.array([]))
    pop = np.maximum(df["population"].astype(float), 1.0)
    # the chance that one of the person's days touches this subject: their unexplained look-ups a day times
    # the subject's share of everyone else's (at least the uniform share)
    share = np.maximum(df["others_share"].astype(float).fillna(0.0).to_numpy(), 1.0 / pop)
    q = np.minimum(df["mean_subj"].astype(float) * share, 1.0)
    lam = df["n_days"].astype(float) * q
    logp = poisson.logsf(df["obs"].astype(float) - 1, np.maximum(lam, 1e-9)) / np.log(10) + np.log10(pop)
    ev = np.clip(-logp, 0, MAX_EVIDENCE)
    keep = ev >= 1.0
    df, ev, lam = df[keep].reset_index(drop=True), ev[keep], lam[keep]
    # the person's days without a case that make the pattern (the stored history's and the window's rows)
    eng.put("_pairs", df[["staff_id", "subject_id"]].drop_duplicates())
    days = _df(eng, """SELECT u.staff_id, u.subject_id, u.day FROM unexplained u
                       SEMI JOIN _pairs p ON p.staff_id = u.staff_id AND p.subject_id = u.subject_id
                       WHERE u.day BETWEEN $h0 AND $last""", params)
    days["day"] = pd.to_datetime(days["day"]).dt.date
    by_pair = days.groupby(["staff_id", "subject_id"], sort=False)["day"].agg(sorted).to_dict()
    df["event_ids"] = _evidence(eng, df["staff_id"],
                                [[(s, d) for d in by_pair.get((staff, s), [])]
                                 for staff, s in zip(df["staff_id"], df["subject_id"], strict=True)], window)
    df["subjects"] = df["subject_id"].apply(lambda s: [s])
    df["days"] = df["obs"].astype(int)
    df["span"] = (pd.to_datetime(df["day"]) - pd.to_datetime(df["first_day"])).dt.days
    df["n_subjects"] = 1
    return _finish(df, "low_and_slow", ev, lam.to_numpy(), ["days", "span", "first_day"])


EVIDENCE_RANGES = 24  # at most this many time ranges bound an evidence read (the closest ones merged beyond)
EVIDENCE_LIMIT = 200  # event ids per finding


def _day_ranges(days: list, limit: int = EVIDENCE_RANGES) -> list[tuple]:
    """Sorted distinct days as (first, last) runs of consecutive days, the runs with the shortest gaps between
    them merged until at most `limit` remain (a merged run covers days that are not asked for: the read's
    join leaves them out)."""
    runs: list[list] = []
    for d in sorted(set(days)):
        if runs and (d - runs[-1][1]).days <= 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    while len(runs) > limit:
        k = min(range(len(runs) - 1), key=lambda i: (runs[i + 1][0] - runs[i][1], i))
        runs[k:k + 2] = [[runs[k][0], runs[k + 1][1]]]
    return [(a, b) for a, b in runs]


def _evidence(eng: Engine, staff: pd.Series, days: list[list[tuple]], window: Window,
              ranges: int = EVIDENCE_RANGES, known: dict[tuple, list[str]] | None = None) -> list:
    """Per finding (its staff member in `staff`, its (person, day) pairs in `days`), the event ids of the staff
    member's accesses to each person on those days, person after person (sorted), each in time order, at most
    EVIDENCE_LIMIT: those of `known` ((staff, person, day) -> event ids) as they are, the others read from the
    archive (_day_events). Within `reading_together`, a PendingEvidence per finding, read with the others' at once."""
    known = known or {}
    pending = [PendingEvidence(str(st), tuple(pairs), known) for st, pairs in zip(staff, days, strict=True)]
    reads = _READS.get()
    if reads is not None and ranges == EVIDENCE_RANGES:
        reads.window = window
        return pending
    return _read_evidence(eng, pending, window, ranges)


@dataclass(frozen=True, eq=False)
class PendingEvidence:
    """A finding's evidence from the archive not read yet (_evidence): its staff member's accesses to each of its
    (person, day) pairs, those in `known` as they are."""

    staff: str
    pairs: tuple[tuple[str, Any], ...]
    known: dict[tuple, list[str]]


def _read_evidence(eng: Engine, pending: list[PendingEvidence], window: Window, ranges: int = EVIDENCE_RANGES
                   ) -> list[list[str]]:
    """The event ids of each PendingEvidence (_evidence), the accesses no `known` holds read in one pass."""
    rows = pd.DataFrame([(p.staff, s, d) for p in pending for s, d in p.pairs if (p.staff, s, d) not in p.known],
                        columns=["staff_id", "subject_id", "day"]).drop_duplicates()
    got = _day_events(eng, rows, window, ranges)

    def ids(p: PendingEvidence, key: tuple) -> list[str]:
        return p.known[key] if key in p.known else got.get(key, [])

    return [list(dict.fromkeys(x for s, d in sorted(p.pairs) for x in ids(p, (p.staff, s, d))))[:EVIDENCE_LIMIT]
            for p in pending]


def _day_events(eng: Engine, rows: pd.DataFrame, window: Window, ranges: int = EVIDENCE_RANGES
                ) -> dict[tuple, list[str]]:
    """(staff, person, day) -> the event ids of the staff member's accesses to the person that (local) day, in
    time order, at most EVIDENCE_LIMIT, for the rows (staff_id, subject_id, day) asked. Read from the archive
    (events_span: the months of the stored history's span and the window) over the asked days alone: their time
    bounds are the read's filter, so a Parquet reader skips the row groups of every other day (a finding's days
    are a few of the 28 or 90 before it), in at most `ranges` time ranges."""
    if rows.empty:
        return {}
    params: dict = {"tz": window.timezone}
    bounds = []
    for i, (a, b) in enumerate(_day_ranges(list(rows["day"]), ranges)):
        params[f"t0_{i}"], params[f"t1_{i}"] = window_bounds(Window(a, b, window.timezone))
        bounds.append(f"(e.occurred_at >= $t0_{i} AND e.occurred_at < $t1_{i})")
    eng.put("_evidence_days", rows)
    got = _df(eng, f"""
        WITH e AS (  -- the pairs' accesses first: the local day is worked out for those alone
            SELECT e.staff_id, e.subject_id, e.event_id, e.occurred_at FROM events_span e
            SEMI JOIN (SELECT DISTINCT staff_id, subject_id FROM _evidence_days) p
                 ON p.staff_id = e.staff_id AND p.subject_id = e.subject_id
            WHERE {" OR ".join(bounds)})
        SELECT e.staff_id, e.subject_id, p.day,
               {eng.ordered_list("e.event_id", "e.occurred_at", EVIDENCE_LIMIT)} AS event_ids
        FROM e JOIN _evidence_days p ON p.staff_id = e.staff_id AND p.subject_id = e.subject_id
             AND p.day = CAST({eng.local_time("e.occurred_at", "$tz")} AS DATE)
        GROUP BY e.staff_id, e.subject_id, p.day""", params)
    return _by_day(got)


def _by_day(df: pd.DataFrame) -> dict[tuple, list[str]]:
    """(staff_id, subject_id, day) -> event ids, from a frame of those columns."""
    days = pd.to_datetime(df["day"]).dt.date
    return {(st, s, d): [str(x) for x in ids] for st, s, d, ids in
            zip(df["staff_id"], df["subject_id"], days, df["event_ids"], strict=True)}


def detect_all(eng: Engine, window: Window, lookback_days: int,
               lap: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Every scenario detector over the window's relation ev and the staff-day history (anomaly.features);
    one row per (staff, day, reason code)."""
    lap = lap or (lambda name: None)
    with reading_together() as reads:  # the detectors' event lists, read in one pass at the end
        parts = _detectors(eng, window, lookback_days, lap)
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    out = reads.fill(eng, pd.concat(parts, ignore_index=True))
    lap("event_lists")
    for col in ("evidence", "observed", "expected"):  # numbers, whatever a detector's frame held
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["day"] = pd.to_datetime(out["day"]).dt.date
    out["event_ids"] = out["event_ids"].apply(lambda v: [str(x) for x in v] if v is not None else [])
    out["subjects"] = out["subjects"].apply(lambda v: [str(x) for x in v] if v is not None else [])
    return out


def _detectors(eng: Engine, window: Window, lookback_days: int, lap: Callable[[str], None]) -> list[pd.DataFrame]:
    """Every detector's findings, as frames (event lists Pending where a detector asked for them)."""
    _baselines(eng, window, lookback_days)
    lap("baselines")
    parts = []
    related_accesses(eng)
    place_surges(eng)
    unexplained_counts(eng)
    repeat_rates(eng)
    for code in RELATIONS:
        parts.append(relationship(eng, code))
    parts.append(coworker_span(eng, window))
    parts.append(sensitive(eng))
    lap("relationships")
    detectors: list[tuple[str, Callable[[], pd.DataFrame]]] = [
        ("curiosity", lambda: curiosity(eng, window)),
        ("out_of_jurisdiction", lambda: out_of_jurisdiction(eng, window)),
        ("update_without_case", lambda: update_without_case(eng, window)),
        ("update_after_view", lambda: update_after_view(eng, window)),
        ("after_hours", lambda: after_hours(eng, window)), ("terminated", lambda: terminated(eng)),
        ("two_sites", lambda: two_sites(eng)), ("bulk_export", lambda: bulk_export(eng, window)),
        ("low_and_slow", lambda: low_and_slow(eng, window, lookback_days))]
    for name, run in detectors:
        parts.append(run())
        lap(name)
    return parts


TESTS_PER_STAFF_DAY = len([c for c in REASONS if c not in UNTESTED_CODES]) + sum(EXTRA_TESTS.values())
