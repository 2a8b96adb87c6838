"""Seeded synthetic access logs in the collector's file formats, with labelled incidents.

Used by the benchmark, the tests and `observatory demo`. Ordinary work: caseworkers under open cases,
front-desk lookups of residents without a case, night batch and statistics exports with huge record counts,
overtime, a disaster-response night, leavers, public figures with genuine cases, returning visitors.
Incidents of every scenario are injected into at most `incident_share` of the staff; labels.csv names them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from observatory import events
from observatory.calendar import DEFAULT_TIMEZONE
from observatory.reference import municipalities
from observatory.warehouse import refresh_access_view

# The order incidents rotate through (changing it changes every seeded log); the same names as anomaly.explain.SCENARIOS
# and INJECTORS below (tests/anomaly/test_synthetic.py checks both).
SCENARIOS = ("household", "surname", "neighbour", "coworker", "sensitive", "curiosity", "out_of_jurisdiction",
             "after_hours", "terminated", "two_sites", "bulk_export", "update_without_case", "low_and_slow",
             "update_after_view")
ACTIONS = ("view", "search", "print", "export", "update")
RECORD_TYPES = ("resident", "tax", "welfare", "pension", "health")
# role -> (share of municipal staff, relative daily volume)
ROLES = {"front_desk": (0.30, 1.3), "caseworker": (0.50, 1.0), "manager": (0.10, 0.3),
         "statistics": (0.04, 2.0), "batch": (0.02, 12.0), "it": (0.04, 0.2)}
UNITS = {"front_desk": "resident", "caseworker": None, "manager": None, "statistics": "planning",
         "batch": "it", "it": "it"}
CASE_UNITS = ("resident", "tax", "welfare")
JST = "+09:00"
# Staff display names, labelled as invented on their face ([架空] / [synthetic]): the demo's roster is synthetic
# and its names are no one's; a name is a surname and a given name picked from the staff number (no randomness).
SYNTHETIC_SURNAMES = (("佐藤", "Sato"), ("鈴木", "Suzuki"), ("高橋", "Takahashi"), ("田中", "Tanaka"),
                      ("伊藤", "Ito"), ("渡辺", "Watanabe"), ("山本", "Yamamoto"), ("中村", "Nakamura"),
                      ("小林", "Kobayashi"), ("加藤", "Kato"), ("吉田", "Yoshida"), ("山田", "Yamada"))
SYNTHETIC_GIVEN_NAMES = (("一郎", "Ichiro"), ("花子", "Hanako"), ("健太", "Kenta"), ("陽子", "Yoko"),
                         ("大輔", "Daisuke"), ("恵", "Megumi"), ("翔", "Sho"), ("美咲", "Misaki"),
                         ("誠", "Makoto"), ("由美", "Yumi"), ("拓也", "Takuya"))
DAY_S = 86400


@dataclass(frozen=True)
class GeneratedLog:
    """Paths of the generated files and what was generated."""

    access_log: Path
    staff: Path
    subjects: Path
    cases: Path
    labels: Path
    n_events: int
    n_staff: int
    n_incidents: int
    start: date
    days: int


class _Events:
    """Column buffers of integer-coded events, turned into CSV by DuckDB at the end."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, staff: np.ndarray, t: np.ndarray, subject: np.ndarray, action: np.ndarray,
            case: np.ndarray | None = None, records: np.ndarray | None = None, terminal: np.ndarray | None = None,
            rtype: np.ndarray | None = None, label: int = -1) -> np.ndarray:
        n = len(staff)
        self.parts.append({
            "staff": np.asarray(staff, np.int32), "t": np.asarray(t, np.int64),
            "subject": np.asarray(subject, np.int64), "action": np.asarray(action, np.int8),
            "case": np.full(n, -1, np.int64) if case is None else np.asarray(case, np.int64),
            "records": np.ones(n, np.int32) if records is None else np.asarray(records, np.int32),
            "terminal": np.full(n, -1, np.int32) if terminal is None else np.asarray(terminal, np.int32),
            "rtype": np.zeros(n, np.int8) if rtype is None else np.asarray(rtype, np.int8),
            "label": np.full(n, label, np.int32)})
        return np.arange(n)

    def frame(self) -> pd.DataFrame:
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        return pd.DataFrame(cols)


def _org_codes(rng: np.random.Generator, n: int) -> list[str]:
    munis = [m.code for m in municipalities()]
    return [munis[i] for i in sorted(rng.choice(len(munis), size=n, replace=False))]


@dataclass
class _Population:
    """Organisations and their residents (integer-coded): households, surnames, neighbourhoods."""

    orgs: list[str]
    org_first: np.ndarray  # first resident index of each organisation
    org_pop: np.ndarray
    subj_org: np.ndarray
    hh_id: np.ndarray
    surname: np.ndarray
    nb_id: np.ndarray
    sensitive: np.ndarray
    staff_org: np.ndarray

    @property
    def n_orgs(self) -> int:
        return len(self.orgs)

    def residents(self, o: int) -> np.ndarray:
        return np.arange(self.org_first[o], self.org_first[o] + self.org_pop[o])


@dataclass
class _Staff:
    """Staff: role, unit, own resident record, leaving day, site."""

    role: np.ndarray  # index into role_names
    role_names: list[str]
    volume: np.ndarray
    units: np.ndarray
    is_batch: np.ndarray
    subject: np.ndarray  # own resident record, -1 when none
    leaver: np.ndarray
    term_day: np.ndarray  # first day without work (days + 1000: still employed)
    site: np.ndarray

    def roles(self, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
        return np.array(self.role_names)[self.role[idx]]


@dataclass
class _Cases:
    """Caseworkers' cases: 6 slots of consecutive cases per caseworker."""

    workers: np.ndarray
    slots: int
    slot: np.ndarray
    open: np.ndarray
    close: np.ndarray
    staff: np.ndarray
    org: np.ndarray
    subject: np.ndarray
    keep: np.ndarray
    index: np.ndarray  # compact ids of kept cases


@dataclass
class _World:
    """Everything `generate` builds, handed from step to step (the draws happen in a fixed order: same seed,
    same files)."""

    rng: np.random.Generator
    start: date
    days: int
    base: int  # naive local (JST) seconds of the start
    pop: _Population
    staff: _Staff
    cases: _Cases
    ev: _Events
    labels: list[dict]

    @property
    def n_staff(self) -> int:
        return len(self.staff.role)

    def times(self, days: np.ndarray | int, hours: np.ndarray) -> np.ndarray:
        return self.base + np.asarray(days, np.int64) * DAY_S + (hours * 3600).astype(np.int64)

    def inject(self, s: int, scenario: str, days_: list[int], subj: np.ndarray, action: np.ndarray,
               hours: np.ndarray | None = None, records: np.ndarray | None = None,
               terminal: np.ndarray | None = None) -> None:
        """One labelled incident of staff `s`: events on `days_` (office hours unless `hours` says)."""
        n = len(subj)
        dd = np.asarray(days_, np.int64)
        hrs = self.rng.uniform(9.0, 17.0, n) if hours is None else hours
        label = len(self.labels)
        self.ev.add(np.full(n, s), self.times(dd, hrs), subj, action, records=records, terminal=terminal,
                    label=label)
        self.labels.append({"label": label, "staff": s, "scenario": scenario,
                            "start_day": int(dd.min()), "end_day": int(dd.max())})


def generate(out_dir: Path, *, n_staff: int = 2500, days: int = 60, seed: int = 7, start: date = date(2026, 9, 1),
             incident_share: float = 0.01, events_per_staff_day: float = 33.0,
             residents_per_staff: int = 200) -> GeneratedLog:
    """Write access_log.csv, staff.csv, subjects.csv, cases.csv and labels.csv into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pop = _population(rng, n_staff, residents_per_staff)
    staff = _staff(rng, pop, n_staff, days)
    w = _World(rng, start, days, int(datetime(start.year, start.month, start.day).timestamp()), pop, staff,
               _cases(rng, pop, staff, days), _Events(), [])
    _ordinary_work(w, events_per_staff_day)
    _disaster_night(w)
    for i, s in enumerate(_perpetrators(w, max(1, int(round(incident_share * n_staff))))):
        scenario = SCENARIOS[i % len(SCENARIOS)]
        d0 = min(int(rng.integers(min(7, days - 1), max(8, days - 2))), days - 1)
        INJECTORS[scenario](w, s, scenario, d0)
    return _write_files(w, out_dir)


def _population(rng: np.random.Generator, n_staff: int, residents_per_staff: int) -> _Population:
    """Organisations (real municipality codes), their staff counts and residents."""
    n_orgs = max(3, n_staff // 120)
    orgs = _org_codes(rng, n_orgs)
    org_weight = rng.pareto(1.5, n_orgs) + 1.0
    staff_org = rng.choice(n_orgs, size=n_staff, p=org_weight / org_weight.sum())
    staff_org[:n_orgs] = np.arange(n_orgs)  # every organisation has staff
    org_staff_n = np.bincount(staff_org, minlength=n_orgs)
    org_pop = np.maximum(org_staff_n * residents_per_staff, 300)
    subj_org = np.repeat(np.arange(n_orgs), org_pop)
    n_subj = len(subj_org)
    org_first = np.concatenate([[0], np.cumsum(org_pop)[:-1]])
    # households: consecutive residents, sizes 1..6 (geometric-ish)
    sizes = rng.choice([1, 2, 3, 4, 5, 6], size=n_subj, p=[0.35, 0.3, 0.17, 0.12, 0.04, 0.02])
    hh_id = np.repeat(np.arange(n_subj), sizes)[:n_subj]
    # a household never spans two municipalities
    hh_id = hh_id + subj_org * n_subj
    _, hh_id = np.unique(hh_id, return_inverse=True)
    # surnames: skewed like Japan's (the commonest ~1.5 %, a long tail), shared within a household
    ranks = np.arange(1, 20001)
    p_surname = 1.0 / (ranks + 8.0)
    p_surname /= p_surname.sum()
    hh_surname = rng.choice(len(ranks), size=hh_id.max() + 1, p=p_surname)
    # neighbourhoods (chome): blocks of ~150 consecutive residents inside a municipality
    nb_id = (np.arange(n_subj) - org_first[subj_org]) // 150 + subj_org * 1000000
    _, nb_id = np.unique(nb_id, return_inverse=True)
    sensitive = rng.random(n_subj) < 0.001
    return _Population(orgs, org_first, org_pop, subj_org, hh_id, hh_surname[hh_id], nb_id, sensitive, staff_org)


def _staff(rng: np.random.Generator, pop: _Population, n_staff: int, days: int) -> _Staff:
    """Roles and units, own resident records, ordinary leavers, sites."""
    role_names = list(ROLES)
    role_p = np.array([ROLES[r][0] for r in role_names])
    staff_role = rng.choice(len(role_names), size=n_staff, p=role_p / role_p.sum())
    volume = np.array([ROLES[r][1] for r in role_names])[staff_role]
    units = np.array([UNITS[r] or "" for r in role_names], dtype=object)[staff_role]
    no_unit = units == ""
    units[no_unit] = rng.choice(CASE_UNITS, size=int(no_unit.sum()))
    is_batch = np.array(role_names)[staff_role] == "batch"
    # own resident record: most live where they work, some elsewhere, some unknown
    staff_subject = np.full(n_staff, -1, np.int64)
    lives = rng.random(n_staff)
    home_org = np.where(lives < 0.85, pop.staff_org, rng.integers(0, pop.n_orgs, n_staff))
    has_record = (lives < 0.93) & ~is_batch
    pick = pop.org_first[home_org] + (rng.random(n_staff) * pop.org_pop[home_org]).astype(np.int64)
    staff_subject[has_record] = pick[has_record]
    # leavers: ordinary terminations during the window; they stop working the day before
    leaver = (rng.random(n_staff) < 0.02) & ~is_batch
    term_day = np.where(leaver, rng.integers(min(5, days - 1), days, n_staff), days + 1000)
    # terminals: site per organisation (HQ, or a branch for some units), one terminal per person
    branch = rng.random(n_staff) < 0.2
    return _Staff(staff_role, role_names, volume, units, is_batch, staff_subject, leaver, term_day,
                  np.where(branch, 1, 0))


def _cases(rng: np.random.Generator, pop: _Population, staff: _Staff, days: int) -> _Cases:
    """Each caseworker keeps 6 slots of consecutive cases; some public figures have genuine ones."""
    case_workers = np.flatnonzero(staff.roles() == "caseworker")
    slots = 6
    n_slot = len(case_workers) * slots
    slot_staff = np.repeat(case_workers, slots)
    per_slot = max(4, days // 3 + 4)
    dur = rng.integers(2 * 3600, 20 * DAY_S, size=(n_slot, per_slot))
    first_open = -rng.integers(0, 10 * DAY_S, size=(n_slot, 1))
    opens = first_open + np.concatenate([np.zeros((n_slot, 1), np.int64), np.cumsum(dur, axis=1)[:, :-1]], axis=1)
    closes = opens + dur
    case_slot = np.repeat(np.arange(n_slot), per_slot)
    case_open = opens.ravel()
    cs_staff = slot_staff[case_slot]
    cs_org = pop.staff_org[cs_staff]
    # case subject: a resident of the organisation (returning clients: some cases share a subject)
    case_subject = pop.org_first[cs_org] + (rng.random(len(case_slot)) * pop.org_pop[cs_org]).astype(np.int64)
    # public figures with genuine cases
    sens_idx = np.flatnonzero(pop.sensitive)
    if len(sens_idx):
        k = min(len(sens_idx), max(1, len(case_slot) // 2000))
        chosen = rng.choice(len(case_slot), size=k, replace=False)
        for c in chosen:
            cand = sens_idx[pop.subj_org[sens_idx] == cs_org[c]]
            if len(cand):
                case_subject[c] = rng.choice(cand)
    keep_case = case_open < days * DAY_S
    return _Cases(case_workers, slots, case_slot, case_open, closes.ravel(), cs_staff, cs_org, case_subject,
                  keep_case, np.cumsum(keep_case) - 1)


def _ordinary_work(w: _World, events_per_staff_day: float) -> None:
    """Every day's ordinary work: a weekly rhythm (weekends nearly idle) and month-start rushes, scaled so
    the mean is events_per_staff_day."""
    mean_volume = float(np.mean(w.staff.volume))
    seasons = np.array([(1.0 if (w.start + timedelta(days=d)).weekday() < 5 else 0.04)
                        * (1.25 if (w.start + timedelta(days=d)).day <= 3 else 1.0) for d in range(w.days)])
    seasons /= seasons.mean()
    for d in range(w.days):
        _ordinary_day(w, d, events_per_staff_day * w.staff.volume / mean_volume * seasons[d])


def _under_cases(w: _World, cw_idx: np.ndarray, staff_idx: np.ndarray, t: np.ndarray, subject: np.ndarray,
                 case: np.ndarray, action: np.ndarray) -> None:
    """Caseworkers' events (positions cw_idx of the day's arrays, changed in place): under one of their open
    cases, mostly with the case id, updates too."""
    rng, cases = w.rng, w.cases
    pos = np.searchsorted(cases.workers, staff_idx[cw_idx])
    slot = pos * cases.slots + rng.integers(0, cases.slots, len(cw_idx))
    key = slot.astype(np.int64) * (10**9) + (t[cw_idx] - w.base)
    case_keys = cases.slot.astype(np.int64) * (10**9) + cases.open
    ci = np.searchsorted(case_keys, key, side="right") - 1
    under = rng.random(len(cw_idx)) < 0.92
    sel = cw_idx[under]
    subject[sel] = cases.subject[ci[under]]
    with_id = rng.random(len(sel)) < 0.9
    case[sel[with_id]] = ci[under][with_id]
    upd = rng.random(len(sel)) < 0.15
    action[sel[upd]] = 4


def _ordinary_day(w: _World, d: int, rate: np.ndarray) -> None:
    """One day: office hours with an overtime tail, caseworkers under their open cases, night batch runs,
    statistics exports, returning visitors at the front desk."""
    rng, pop, staff = w.rng, w.pop, w.staff
    active = staff.term_day > d
    n_ev = rng.poisson(rate * rng.gamma(8.0, 1 / 8.0, w.n_staff)) * active
    staff_idx = np.repeat(np.arange(w.n_staff), n_ev)
    if len(staff_idx) == 0:
        return
    role = staff.roles(staff_idx)
    n = len(staff_idx)
    # working hours 8:30-17:30 with overtime tail up to 21:00
    hours = np.clip(rng.normal(12.5, 2.6, n), 8.0, 21.0)
    overtime = rng.random(n) < 0.03
    hours[overtime] = rng.uniform(17.5, 22.5, overtime.sum())
    t = w.times(d, hours)
    org = pop.staff_org[staff_idx]
    subject = pop.org_first[org] + (rng.random(n) * pop.org_pop[org]).astype(np.int64)
    action = rng.choice(3, size=n, p=[0.7, 0.2, 0.1]).astype(np.int8)  # view/search/print
    case = np.full(n, -1, np.int64)
    records = np.ones(n, np.int32)
    search = action == 1
    records[search] = rng.integers(1, 30, int(search.sum()))
    cw_idx = np.flatnonzero(role == "caseworker")
    if len(cw_idx):
        _under_cases(w, cw_idx, staff_idx, t, subject, case, action)
    # batch accounts: night runs, exports with huge record counts, no case
    bt = role == "batch"
    if bt.any():
        b = np.flatnonzero(bt)
        t[b] = w.base + d * DAY_S + rng.integers(1 * 3600, 5 * 3600, len(b))
        action[b] = rng.choice([1, 3, 0], size=len(b), p=[0.4, 0.2, 0.4])
        records[b] = np.where(action[b] == 3, rng.integers(1000, 60000, len(b)), rng.integers(1, 500, len(b)))
    st = role == "statistics"
    if st.any():
        s = np.flatnonzero(st)
        action[s] = rng.choice([1, 3, 0], size=len(s), p=[0.5, 0.1, 0.4])
        records[s] = np.where(action[s] == 3, rng.integers(100, 5000, len(s)), rng.integers(1, 300, len(s)))
    # returning visitors at the front desk: a small pool of the organisation's residents per day
    fd = np.flatnonzero(role == "front_desk")
    ret = fd[rng.random(len(fd)) < 0.05]
    subject[ret] = pop.org_first[org[ret]] + (rng.integers(0, 40, len(ret)) * 7919 + d // 7) % pop.org_pop[org[ret]]
    w.ev.add(staff_idx, t, subject, action, case=case, records=records, rtype=rng.integers(0, 5, n))


def _disaster_night(w: _World) -> None:
    """A disaster-response night: most front desk and caseworkers of one organisation work without cases."""
    rng, pop = w.rng, w.pop
    dis_org = int(rng.integers(0, pop.n_orgs))
    dis_day = int(rng.integers(w.days // 3, max(w.days // 3 + 1, w.days - 3)))
    crew = np.flatnonzero((pop.staff_org == dis_org) & np.isin(w.staff.roles(), ["front_desk", "caseworker"])
                          & (w.staff.term_day > dis_day + 1))
    if len(crew):
        k = rng.integers(5, 25, len(crew))
        st_idx = np.repeat(crew, k)
        t = w.base + dis_day * DAY_S + rng.integers(21 * 3600, 27 * 3600, len(st_idx))
        subj = pop.org_first[dis_org] + rng.integers(0, pop.org_pop[dis_org], len(st_idx))
        w.ev.add(st_idx, t, subj, rng.choice(3, size=len(st_idx)).astype(np.int8))


def _perpetrators(w: _World, n_inc: int) -> list[int]:
    """Staff who commit the incidents, one per scenario in turn; household and surname snooping need
    someone with a household of three or more, or at least three namesakes."""
    rng, pop, staff = w.rng, w.pop, w.staff
    eligible = np.flatnonzero(~staff.is_batch & ~staff.leaver & (staff.subject >= 0)
                              & (staff.roles() != "statistics"))
    hh_size = np.bincount(pop.hh_id)
    perpetrators: list[int] = []
    for i in range(min(n_inc, len(eligible))):
        pool = np.setdiff1d(eligible, perpetrators)
        if SCENARIOS[i % len(SCENARIOS)] == "household":
            big = pool[hh_size[pop.hh_id[staff.subject[pool]]] >= 3]
            pool = big if len(big) else pool
        elif SCENARIOS[i % len(SCENARIOS)] == "surname":
            same = np.array([_namesakes(pop, int(m)) for m in staff.subject[pool]])
            many = pool[same >= 3]
            pool = many if len(many) else pool
        perpetrators.append(int(rng.choice(pool)))
    return perpetrators


def _namesakes(pop: _Population, me: int) -> int:
    """Residents of `me`'s municipality with `me`'s surname, outside `me`'s household."""
    around = pop.residents(int(pop.subj_org[me]))
    return int(np.sum((pop.surname[around] == pop.surname[me]) & (pop.hh_id[around] != pop.hh_id[me])))


# --- incidents: one injector per scenario (staff s, its scenario, the incident's day d0) ---------------------

def _household(w: _World, s: int, scenario: str, d0: int) -> None:
    me = int(w.staff.subject[s])
    fam = np.flatnonzero(w.pop.hh_id == w.pop.hh_id[me])
    fam = fam[fam != me]
    if len(fam) == 0:
        fam = np.array([me])
    subj = np.repeat(fam, w.rng.integers(1, 3, len(fam)))
    w.inject(s, scenario, [d0] * len(subj), subj, w.rng.choice([0, 2], len(subj)).astype(np.int8))


def _alike(w: _World, s: int, scenario: str, d0: int) -> None:
    """Namesakes (`surname`) or neighbours (`neighbour`) outside the perpetrator's own household."""
    pop, me = w.pop, int(w.staff.subject[s])
    pool = pop.residents(int(pop.subj_org[me]))
    same = pop.surname if scenario == "surname" else pop.nb_id
    pool = pool[(same[pool] == same[me]) & (pop.hh_id[pool] != pop.hh_id[me])]
    if len(pool) == 0:
        pool = pop.residents(int(pop.staff_org[s]))
    subj = w.rng.choice(pool, size=min(len(pool), int(w.rng.integers(3, 6))), replace=False)
    w.inject(s, scenario, [d0] * len(subj), subj, np.zeros(len(subj), np.int8))


def _coworker(w: _World, s: int, scenario: str, d0: int) -> None:
    staff_org = w.pop.staff_org
    mates = w.staff.subject[(staff_org == staff_org[s]) & (w.staff.subject >= 0) & (np.arange(w.n_staff) != s)]
    subj = w.rng.choice(mates, size=min(len(mates), int(w.rng.integers(2, 5))), replace=False)
    w.inject(s, scenario, [d0] * len(subj), subj, np.zeros(len(subj), np.int8))


def _sensitive(w: _World, s: int, scenario: str, d0: int) -> None:
    sens_idx = np.flatnonzero(w.pop.sensitive)
    cand = sens_idx if len(sens_idx) else w.pop.residents(int(w.pop.staff_org[s]))
    subj = w.rng.choice(cand, size=min(len(cand), int(w.rng.integers(2, 5))), replace=False)
    w.inject(s, scenario, [d0] * len(subj), subj, np.zeros(len(subj), np.int8))


def _curiosity(w: _World, s: int, scenario: str, d0: int) -> None:
    n = int(w.rng.integers(40, 90))
    subj = w.rng.choice(w.pop.residents(int(w.pop.staff_org[s])), size=n, replace=False)
    hrs = 13.0 + np.sort(w.rng.uniform(0, 2.0, n))
    w.inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8), hours=hrs)


def _out_of_jurisdiction(w: _World, s: int, scenario: str, d0: int) -> None:
    n_orgs = w.pop.n_orgs
    other = (int(w.pop.staff_org[s]) + 1 + int(w.rng.integers(0, n_orgs - 1))) % n_orgs
    n = int(w.rng.integers(5, 11))
    subj = w.rng.choice(w.pop.residents(other), size=n, replace=False)
    w.inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8))


def _after_hours(w: _World, s: int, scenario: str, d0: int) -> None:
    n = int(w.rng.integers(5, 11))
    subj = w.rng.choice(w.pop.residents(int(w.pop.staff_org[s])), size=n, replace=False)
    w.inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8), hours=w.rng.uniform(23.0, 26.0, n))


def _terminated(w: _World, s: int, scenario: str, d0: int) -> None:
    w.staff.term_day[s] = min(w.staff.term_day[s], d0 - 1)
    n = int(w.rng.integers(3, 10))
    subj = w.rng.choice(w.pop.residents(int(w.pop.staff_org[s])), size=n)
    w.inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8))


def _two_sites(w: _World, s: int, scenario: str, d0: int) -> None:
    """Someone else's terminal at another organisation, while the owner works at the desk."""
    rng, o = w.rng, int(w.pop.staff_org[s])
    n = int(rng.integers(4, 9))
    subj = rng.choice(w.pop.residents(o), size=n)
    other_staff = int(rng.choice(np.flatnonzero(w.pop.staff_org != o)))
    w.inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8), hours=rng.uniform(10.0, 11.0, n),
             terminal=np.full(n, other_staff))
    at_desk = rng.choice(w.pop.residents(o), size=n)
    w.ev.add(np.full(n, s), w.times(d0, rng.uniform(10.0, 11.0, n)), at_desk, np.zeros(n, np.int8))


def _bulk_export(w: _World, s: int, scenario: str, d0: int) -> None:
    subj = w.rng.choice(w.pop.residents(int(w.pop.staff_org[s])), size=1)
    w.inject(s, scenario, [d0], subj, np.array([3], np.int8), records=w.rng.integers(3000, 30000, 1))


def _update_without_case(w: _World, s: int, scenario: str, d0: int) -> None:
    n = int(w.rng.integers(2, 5))
    subj = w.rng.choice(w.pop.residents(int(w.pop.staff_org[s])), size=n, replace=False)
    w.inject(s, scenario, [d0] * n, subj, np.full(n, 4, np.int8))


def _update_after_view(w: _World, s: int, scenario: str, d0: int) -> None:
    """Records looked at without a case, then changed without a case two to six days later (one incident)."""
    n = int(w.rng.integers(2, 5))
    subj = w.rng.choice(w.pop.residents(int(w.pop.staff_org[s])), size=n, replace=False)
    seen = max(0, d0 - int(w.rng.integers(2, 7)))
    w.inject(s, scenario, [seen] * n + [d0] * n, np.r_[subj, subj], np.r_[np.zeros(n, np.int8), np.full(n, 4, np.int8)])


def _low_and_slow(w: _World, s: int, scenario: str, d0: int) -> None:
    """One resident, about weekly, over four weeks or so (d0 is not used: the visits set their own days)."""
    target = int(w.rng.choice(w.pop.residents(int(w.pop.staff_org[s]))))
    first = int(w.rng.integers(0, max(1, w.days - 28)))
    gaps = w.rng.integers(3, 7, 8)
    dd = [x for x in (first + np.cumsum(gaps)) if x < w.days][:7]
    w.inject(s, scenario, dd, np.full(len(dd), target), np.zeros(len(dd), np.int8))


INJECTORS: dict[str, Callable[[_World, int, str, int], None]] = {
    "household": _household, "surname": _alike, "neighbour": _alike, "coworker": _coworker,
    "sensitive": _sensitive, "curiosity": _curiosity, "out_of_jurisdiction": _out_of_jurisdiction,
    "after_hours": _after_hours, "terminated": _terminated, "two_sites": _two_sites, "bulk_export": _bulk_export,
    "update_without_case": _update_without_case, "low_and_slow": _low_and_slow,
    "update_after_view": _update_after_view,
}


def _write_files(w: _World, out_dir: Path) -> GeneratedLog:
    """The five CSV files, in the collectors' formats, written by DuckDB from the integer-coded frames."""
    start, days, base, pop, staff, cases = w.start, w.days, w.base, w.pop, w.staff, w.cases
    # the terminated-account incidents must not also be silent leavers' ordinary work after their last day
    frame = w.ev.frame()
    frame = frame[(frame["label"] >= 0) | ((frame["t"] - base) // DAY_S < staff.term_day[frame["staff"]])]
    frame = frame.sort_values("t", kind="stable").reset_index(drop=True)
    frame["eid"] = np.arange(len(frame))
    orgs = np.array(pop.orgs, dtype=object)
    staff_df = pd.DataFrame({
        "idx": np.arange(w.n_staff), "org": orgs[pop.staff_org], "unit": staff.units,
        "role": np.array(staff.role_names, dtype=object)[staff.role], "subject": staff.subject,
        "terminated": staff.term_day < days + 1000, "term_day": staff.term_day, "site": staff.site})
    subjects_df = pd.DataFrame({"idx": np.arange(len(pop.subj_org)), "org": orgs[pop.subj_org],
                                "surname": pop.surname, "hh": pop.hh_id, "nb": pop.nb_id, "sensitive": pop.sensitive})
    kept = np.flatnonzero(cases.keep)
    cases_df = pd.DataFrame({"idx": cases.index[kept], "subject": cases.subject[kept],
                             "org": orgs[cases.org[kept]], "unit": staff.units[cases.staff[kept]],
                             "open": cases.open[kept], "close": cases.close[kept]})
    frame["case"] = np.where(frame["case"] >= 0, cases.index[np.maximum(frame["case"], 0)], -1)
    paths = {name: out_dir / f"{name}.csv" for name in ("access_log", "staff", "subjects", "cases", "labels")}
    con = duckdb.connect()
    try:
        con.register("ev", frame)
        con.register("st", staff_df)
        con.register("sj", subjects_df)
        con.register("cs", cases_df)
        con.execute("SET TimeZone = 'UTC'")
        _copy_csvs(con, paths, start, days, base)
        _write_labels(frame, w.labels, start, paths["labels"])
    finally:
        con.close()
    return GeneratedLog(paths["access_log"], paths["staff"], paths["subjects"], paths["cases"], paths["labels"],
                        n_events=len(frame), n_staff=w.n_staff, n_incidents=len(w.labels), start=start, days=days)


def _copy_csvs(con: duckdb.DuckDBPyConnection, paths: dict[str, Path], start: date, days: int, base: int) -> None:
    start_ts = f"{start.isoformat()} 00:00:00"
    ts = f"(TIMESTAMP '{start_ts}' + to_seconds(ev.t - {base}))"
    con.execute(f"""
        COPY (SELECT 'E' || lpad(ev.eid::VARCHAR, 9, '0') AS event_id,
                     strftime({ts}, '%Y-%m-%dT%H:%M:%S') || '{JST}' AS occurred_at,
                     'U' || lpad(ev.staff::VARCHAR, 6, '0') AS staff_id, st.org AS org_code,
                     'S' || lpad(ev.subject::VARCHAR, 8, '0') AS subject_id,
                     {_case_sql('ev.action', ACTIONS)} AS action,
                     {_case_sql('ev.rtype', RECORD_TYPES)} AS record_type,
                     CASE WHEN ev.case >= 0 THEN 'C' || lpad(ev.case::VARCHAR, 8, '0') ELSE '' END AS case_id,
                     ev.records AS record_count,
                     CASE WHEN ev.terminal >= 0
                          THEN t2.org || '-' || CASE WHEN t2.site = 1 THEN 'B1' ELSE 'HQ' END || '-'
                               || lpad(ev.terminal::VARCHAR, 5, '0')
                          WHEN st.role = 'batch' THEN st.org || '-DC-SRV' || lpad(ev.staff::VARCHAR, 5, '0')
                          ELSE st.org || '-' || CASE WHEN st.site = 1 THEN 'B1' ELSE 'HQ' END || '-'
                               || lpad(ev.staff::VARCHAR, 5, '0') END AS terminal_id
              FROM ev JOIN st ON st.idx = ev.staff LEFT JOIN st t2 ON t2.idx = ev.terminal
              ORDER BY ev.eid) TO '{_q(paths['access_log'])}' (HEADER, DELIMITER ',')""")
    con.execute(f"""
        COPY (SELECT 'U' || lpad(idx::VARCHAR, 6, '0') AS staff_id, org AS org_code, unit, role,
                     CASE WHEN subject >= 0 THEN 'S' || lpad(subject::VARCHAR, 8, '0') ELSE '' END AS subject_id,
                     CASE WHEN terminated THEN 'terminated' ELSE 'active' END AS status,
                     CASE WHEN terminated THEN strftime(DATE '{start.isoformat()}' + (term_day - 1)::INTEGER,
                          '%Y-%m-%d') ELSE '' END AS terminated_on,
                     {_synthetic_name_sql("ja")} AS display_name, {_synthetic_name_sql("en")} AS display_name_en
              FROM st ORDER BY idx) TO '{_q(paths['staff'])}' (HEADER)""")
    con.execute(f"""
        COPY (SELECT 'S' || lpad(idx::VARCHAR, 8, '0') AS subject_id, org AS municipality_code,
                     'N' || lpad(surname::VARCHAR, 4, '0') AS surname_key, 'H' || hh AS household_key,
                     'B' || nb AS neighbourhood_key, CASE WHEN sensitive THEN 'true' ELSE 'false' END AS sensitive
              FROM sj ORDER BY idx) TO '{_q(paths['subjects'])}' (HEADER)""")
    con.execute(f"""
        COPY (SELECT 'C' || lpad(idx::VARCHAR, 8, '0') AS case_id, 'S' || lpad(subject::VARCHAR, 8, '0') AS subject_id,
                     org AS org_code, unit, 'P' || (idx % 40) AS procedure_code,
                     strftime(TIMESTAMP '{start_ts}' + to_seconds("open"), '%Y-%m-%dT%H:%M:%S') || '{JST}' AS opened_at,
                     CASE WHEN "close" < {days * DAY_S} THEN strftime(TIMESTAMP '{start_ts}' + to_seconds("close"),
                          '%Y-%m-%dT%H:%M:%S') || '{JST}' ELSE '' END AS closed_at
              FROM cs ORDER BY idx) TO '{_q(paths['cases'])}' (HEADER)""")


def _write_labels(frame: pd.DataFrame, labels: list[dict], start: date, path: Path) -> None:
    """labels.csv: each incident's staff, scenario, first and last day and the ids of its events."""
    lab = pd.DataFrame(labels)
    ids = frame[frame["label"] >= 0].groupby("label")["eid"].apply(lambda x: " ".join(f"E{v:09d}" for v in sorted(x)))
    lab["event_ids"] = lab["label"].map(ids).fillna("")
    lab["staff_id"] = [f"U{s:06d}" for s in lab["staff"]]
    lab["start_date"] = [(start + timedelta(days=int(d))).isoformat() for d in lab["start_day"]]
    lab["end_date"] = [(start + timedelta(days=int(d))).isoformat() for d in lab["end_day"]]
    lab[["staff_id", "scenario", "start_date", "end_date", "event_ids"]].to_csv(path, index=False)


def _synthetic_name_sql(lang: str) -> str:
    """SQL for the staff member `idx`'s invented name: '[架空] 佐藤 一郎' or '[synthetic] Ichiro Sato'."""
    pick = 0 if lang == "ja" else 1
    surnames = "[" + ", ".join(f"'{n[pick]}'" for n in SYNTHETIC_SURNAMES) + "]"
    given = "[" + ", ".join(f"'{n[pick]}'" for n in SYNTHETIC_GIVEN_NAMES) + "]"
    surname = f"{surnames}[idx % {len(SYNTHETIC_SURNAMES)} + 1]"
    first = f"{given}[idx // {len(SYNTHETIC_SURNAMES)} % {len(SYNTHETIC_GIVEN_NAMES)} + 1]"
    if lang == "ja":
        return f"'[架空] ' || {surname} || ' ' || {first}"
    return f"'[synthetic] ' || {first} || ' ' || {surname}"


def _case_sql(column: str, names: tuple[str, ...]) -> str:
    whens = " ".join(f"WHEN {i} THEN '{n}'" for i, n in enumerate(names))
    return f"CASE {column} {whens} END"


def _q(path: Path) -> str:
    return str(path).replace("'", "''")


def load_generated(con: duckdb.DuckDBPyConnection, events_dir: Path, log: GeneratedLog, *,
                   run_id: int | None = None, timezone: str = DEFAULT_TIMEZONE) -> int:
    """Stand-in loader for tests and benchmarks: the CSVs into the event archive (its own writer and layout,
    observatory.events) and the roster tables.

    The real path is the access-log collector; this only reads the files this module writes, unchecked."""
    events_dir = Path(events_dir)
    staging = events.staging_root(events_dir)
    staging.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="synthetic-", dir=staging))
    try:
        events.write_staged(con, (
            "SELECT event_id, occurred_at::TIMESTAMPTZ AS occurred_at, staff_id, org_code, subject_id, action, "
            "record_type, nullif(case_id, '') AS case_id, record_count::INTEGER AS record_count, terminal_id, "
            f"?::BIGINT AS run_id, {events.month_sql('occurred_at::TIMESTAMPTZ')} AS month "
            "FROM read_csv(?, header = true, all_varchar = true)"), [run_id, timezone, str(log.access_log)],
            workdir / "out")
        events.publish(workdir / "out", events_dir, "synthetic" if run_id is None else str(run_id))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    con.execute(
        f"INSERT OR REPLACE INTO staff (staff_id, org_code, unit, role, subject_id, status, terminated_on, "
        f"display_name, display_name_en, run_id) SELECT staff_id, org_code, nullif(unit, ''), nullif(role, ''), "
        f"nullif(subject_id, ''), status, nullif(terminated_on, '')::DATE, display_name, display_name_en, ? "
        f"FROM read_csv('{_q(log.staff)}', header = true, all_varchar = true)", [run_id])
    con.execute(
        f"INSERT OR REPLACE INTO subjects (subject_id, municipality_code, surname_key, household_key, "
        f"neighbourhood_key, sensitive, run_id) SELECT subject_id, nullif(municipality_code, ''), surname_key, "
        f"household_key, neighbourhood_key, sensitive = 'true', ? "
        f"FROM read_csv('{_q(log.subjects)}', header = true, all_varchar = true)", [run_id])
    con.execute(
        f"INSERT OR REPLACE INTO cases (case_id, subject_id, org_code, unit, procedure_code, opened_at, closed_at, "
        f"run_id) SELECT case_id, subject_id, org_code, nullif(unit, ''), procedure_code, "
        f"opened_at::TIMESTAMPTZ, nullif(closed_at, '')::TIMESTAMPTZ, ? "
        f"FROM read_csv('{_q(log.cases)}', header = true, all_varchar = true)", [run_id])
    refresh_access_view(con, events_dir)
    return log.n_events
