"""Seeded synthetic access logs in the collector's file formats, with labelled incidents.

Used by the benchmark, the tests and `observatory demo`. Ordinary work: caseworkers under open cases,
front-desk lookups of residents without a case, night batch and statistics exports with huge record counts,
overtime, a disaster-response night, leavers, public figures with genuine cases, returning visitors.
Incidents of every scenario are injected into at most `incident_share` of the staff; labels.csv names them.
"""

from __future__ import annotations

import shutil
import tempfile
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

SCENARIOS = ("household", "surname", "neighbour", "coworker", "sensitive", "curiosity", "out_of_jurisdiction",
             "after_hours", "terminated", "two_sites", "bulk_export", "update_without_case", "low_and_slow")
ACTIONS = ("view", "search", "print", "export", "update")
RECORD_TYPES = ("resident", "tax", "welfare", "pension", "health")
# role -> (share of municipal staff, relative daily volume)
ROLES = {"front_desk": (0.30, 1.3), "caseworker": (0.50, 1.0), "manager": (0.10, 0.3),
         "statistics": (0.04, 2.0), "batch": (0.02, 12.0), "it": (0.04, 0.2)}
UNITS = {"front_desk": "resident", "caseworker": None, "manager": None, "statistics": "planning",
         "batch": "it", "it": "it"}
CASE_UNITS = ("resident", "tax", "welfare")
JST = "+09:00"


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


def generate(out_dir: Path, *, n_staff: int = 2500, days: int = 60, seed: int = 7, start: date = date(2026, 9, 1),
             incident_share: float = 0.01, events_per_staff_day: float = 33.0,
             residents_per_staff: int = 200) -> GeneratedLog:
    """Write access_log.csv, staff.csv, subjects.csv, cases.csv and labels.csv into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = int(datetime(start.year, start.month, start.day).timestamp())  # naive local (JST) seconds
    day_s = 86400

    # --- organisations and residents -------------------------------------------------------------------
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
    subj_surname = hh_surname[hh_id]
    # neighbourhoods (chome): blocks of ~150 consecutive residents inside a municipality
    nb_id = (np.arange(n_subj) - org_first[subj_org]) // 150 + subj_org * 1000000
    _, nb_id = np.unique(nb_id, return_inverse=True)
    sensitive = rng.random(n_subj) < 0.001

    # --- staff -----------------------------------------------------------------------------------------
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
    home_org = np.where(lives < 0.85, staff_org, rng.integers(0, n_orgs, n_staff))
    has_record = (lives < 0.93) & ~is_batch
    pick = org_first[home_org] + (rng.random(n_staff) * org_pop[home_org]).astype(np.int64)
    staff_subject[has_record] = pick[has_record]
    # leavers: ordinary terminations during the window; they stop working the day before
    leaver = (rng.random(n_staff) < 0.02) & ~is_batch
    term_day = np.where(leaver, rng.integers(min(5, days - 1), days, n_staff), days + 1000)
    # terminals: site per organisation (HQ, or a branch for some units), one terminal per person
    branch = rng.random(n_staff) < 0.2
    staff_site = np.where(branch, 1, 0)

    # --- cases: each caseworker keeps 6 slots of consecutive cases -------------------------------------
    case_workers = np.flatnonzero(np.array(role_names)[staff_role] == "caseworker")
    slots = 6
    n_slot = len(case_workers) * slots
    slot_staff = np.repeat(case_workers, slots)
    per_slot = max(4, days // 3 + 4)
    dur = rng.integers(2 * 3600, 20 * day_s, size=(n_slot, per_slot))
    first_open = -rng.integers(0, 10 * day_s, size=(n_slot, 1))
    opens = first_open + np.concatenate([np.zeros((n_slot, 1), np.int64), np.cumsum(dur, axis=1)[:, :-1]], axis=1)
    closes = opens + dur
    case_slot = np.repeat(np.arange(n_slot), per_slot)
    case_open = opens.ravel()
    case_close = closes.ravel()
    cs_staff = slot_staff[case_slot]
    cs_org = staff_org[cs_staff]
    # case subject: a resident of the organisation (returning clients: some cases share a subject)
    case_subject = org_first[cs_org] + (rng.random(len(case_slot)) * org_pop[cs_org]).astype(np.int64)
    # public figures with genuine cases
    sens_idx = np.flatnonzero(sensitive)
    if len(sens_idx):
        k = min(len(sens_idx), max(1, len(case_slot) // 2000))
        chosen = rng.choice(len(case_slot), size=k, replace=False)
        for c in chosen:
            cand = sens_idx[subj_org[sens_idx] == cs_org[c]]
            if len(cand):
                case_subject[c] = rng.choice(cand)
    keep_case = case_open < days * day_s
    case_index = np.cumsum(keep_case) - 1  # compact ids of kept cases

    ev = _Events()
    # --- ordinary work, one day at a time --------------------------------------------------------------
    mean_volume = float(np.mean(volume))
    # weekly rhythm (weekends nearly idle) and month-start rushes, scaled so the mean is events_per_staff_day
    seasons = np.array([(1.0 if (start + timedelta(days=d)).weekday() < 5 else 0.04)
                        * (1.25 if (start + timedelta(days=d)).day <= 3 else 1.0) for d in range(days)])
    seasons /= seasons.mean()
    for d in range(days):
        season = seasons[d]
        active = term_day > d
        lam = events_per_staff_day * volume / mean_volume * season * rng.gamma(8.0, 1 / 8.0, n_staff)
        n_ev = rng.poisson(lam) * active
        staff_idx = np.repeat(np.arange(n_staff), n_ev)
        if len(staff_idx) == 0:
            continue
        role = np.array(role_names)[staff_role[staff_idx]]
        n = len(staff_idx)
        # working hours 8:30-17:30 with overtime tail up to 21:00
        hours = np.clip(rng.normal(12.5, 2.6, n), 8.0, 21.0)
        overtime = rng.random(n) < 0.03
        hours[overtime] = rng.uniform(17.5, 22.5, overtime.sum())
        t = base + d * day_s + (hours * 3600).astype(np.int64)
        org = staff_org[staff_idx]
        subject = org_first[org] + (rng.random(n) * org_pop[org]).astype(np.int64)
        action = rng.choice(3, size=n, p=[0.7, 0.2, 0.1]).astype(np.int8)  # view/search/print
        case = np.full(n, -1, np.int64)
        records = np.ones(n, np.int32)
        search = action == 1
        records[search] = rng.integers(1, 30, int(search.sum()))
        # caseworkers: under one of their open cases, mostly with the case id, updates too
        cw = role == "caseworker"
        if cw.any():
            cw_idx = np.flatnonzero(cw)
            pos = np.searchsorted(case_workers, staff_idx[cw_idx])
            slot = pos * slots + rng.integers(0, slots, len(cw_idx))
            key = slot.astype(np.int64) * (10**9) + (t[cw_idx] - base)
            case_keys = case_slot.astype(np.int64) * (10**9) + case_open
            ci = np.searchsorted(case_keys, key, side="right") - 1
            under = rng.random(len(cw_idx)) < 0.92
            sel = cw_idx[under]
            subject[sel] = case_subject[ci[under]]
            with_id = rng.random(len(sel)) < 0.9
            case[sel[with_id]] = ci[under][with_id]
            upd = rng.random(len(sel)) < 0.15
            action[sel[upd]] = 4
        # batch accounts: night runs, exports with huge record counts, no case
        bt = role == "batch"
        if bt.any():
            b = np.flatnonzero(bt)
            t[b] = base + d * day_s + rng.integers(1 * 3600, 5 * 3600, len(b))
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
        subject[ret] = org_first[org[ret]] + (rng.integers(0, 40, len(ret)) * 7919 + d // 7) % org_pop[org[ret]]
        ev.add(staff_idx, t, subject, action, case=case, records=records, rtype=rng.integers(0, 5, n))

    # a disaster-response night: most front desk and caseworkers of one organisation work without cases
    dis_org = int(rng.integers(0, n_orgs))
    dis_day = int(rng.integers(days // 3, max(days // 3 + 1, days - 3)))
    crew = np.flatnonzero((staff_org == dis_org) & np.isin(np.array(role_names)[staff_role],
                                                           ["front_desk", "caseworker"]) & (term_day > dis_day + 1))
    if len(crew):
        k = rng.integers(5, 25, len(crew))
        st_idx = np.repeat(crew, k)
        t = base + dis_day * day_s + rng.integers(21 * 3600, 27 * 3600, len(st_idx))
        subj = org_first[dis_org] + rng.integers(0, org_pop[dis_org], len(st_idx))
        ev.add(st_idx, t, subj, rng.choice(3, size=len(st_idx)).astype(np.int8))

    # --- incidents -------------------------------------------------------------------------------------
    labels: list[dict] = []
    n_inc = max(1, int(round(incident_share * n_staff)))
    eligible = np.flatnonzero(~is_batch & ~leaver & (staff_subject >= 0) & (np.array(role_names)[staff_role] != "statistics"))
    def residents(o: int) -> np.ndarray:
        return np.arange(org_first[o], org_first[o] + org_pop[o])

    hh_size = np.bincount(hh_id)
    perpetrators: list[int] = []
    for i in range(min(n_inc, len(eligible))):
        pool = np.setdiff1d(eligible, perpetrators)
        if SCENARIOS[i % len(SCENARIOS)] == "household":  # snooping on family: a household of three or more
            big = pool[hh_size[hh_id[staff_subject[pool]]] >= 3]
            pool = big if len(big) else pool
        elif SCENARIOS[i % len(SCENARIOS)] == "surname":  # snooping on namesakes: at least three of them
            own = staff_subject[pool]
            same = np.array([int(np.sum((subj_surname[residents(int(subj_org[m]))] == subj_surname[m])
                                        & (hh_id[residents(int(subj_org[m]))] != hh_id[m]))) for m in own])
            many = pool[same >= 3]
            pool = many if len(many) else pool
        perpetrators.append(int(rng.choice(pool)))
    next_label = 0

    def inject(s: int, scenario: str, days_: list[int], subj: np.ndarray, action: np.ndarray,
               hours: np.ndarray | None = None, records: np.ndarray | None = None,
               terminal: np.ndarray | None = None) -> None:
        nonlocal next_label
        n = len(subj)
        dd = np.asarray(days_, np.int64)
        hrs = rng.uniform(9.0, 17.0, n) if hours is None else hours
        t = base + dd * day_s + (hrs * 3600).astype(np.int64)
        ev.add(np.full(n, s), t, subj, action, records=records, terminal=terminal, label=next_label)
        labels.append({"label": next_label, "staff": s, "scenario": scenario,
                       "start_day": int(dd.min()), "end_day": int(dd.max())})
        next_label += 1

    for i, s in enumerate(perpetrators):
        scenario = SCENARIOS[i % len(SCENARIOS)]
        o = int(staff_org[s])
        d0 = min(int(rng.integers(min(7, days - 1), max(8, days - 2))), days - 1)
        me = int(staff_subject[s])
        if scenario == "household":
            fam = np.flatnonzero(hh_id == hh_id[me])
            fam = fam[fam != me]
            if len(fam) == 0:
                fam = np.array([me])
            subj = np.repeat(fam, rng.integers(1, 3, len(fam)))
            inject(s, scenario, [d0] * len(subj), subj, rng.choice([0, 2], len(subj)).astype(np.int8))
        elif scenario in ("surname", "neighbour"):
            pool = residents(int(subj_org[me]))
            if scenario == "surname":
                pool = pool[(subj_surname[pool] == subj_surname[me]) & (hh_id[pool] != hh_id[me])]
            else:
                pool = pool[(nb_id[pool] == nb_id[me]) & (hh_id[pool] != hh_id[me])]
            if len(pool) == 0:
                pool = residents(o)
            subj = rng.choice(pool, size=min(len(pool), int(rng.integers(3, 6))), replace=False)
            inject(s, scenario, [d0] * len(subj), subj, np.zeros(len(subj), np.int8))
        elif scenario == "coworker":
            mates = staff_subject[(staff_org == o) & (staff_subject >= 0) & (np.arange(n_staff) != s)]
            subj = rng.choice(mates, size=min(len(mates), int(rng.integers(2, 5))), replace=False)
            inject(s, scenario, [d0] * len(subj), subj, np.zeros(len(subj), np.int8))
        elif scenario == "sensitive":
            cand = sens_idx if len(sens_idx) else residents(o)
            subj = rng.choice(cand, size=min(len(cand), int(rng.integers(2, 5))), replace=False)
            inject(s, scenario, [d0] * len(subj), subj, np.zeros(len(subj), np.int8))
        elif scenario == "curiosity":
            n = int(rng.integers(40, 90))
            subj = rng.choice(residents(o), size=n, replace=False)
            hrs = 13.0 + np.sort(rng.uniform(0, 2.0, n))
            inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8), hours=hrs)
        elif scenario == "out_of_jurisdiction":
            other = (o + 1 + int(rng.integers(0, n_orgs - 1))) % n_orgs
            n = int(rng.integers(5, 11))
            subj = rng.choice(residents(other), size=n, replace=False)
            inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8))
        elif scenario == "after_hours":
            n = int(rng.integers(5, 11))
            subj = rng.choice(residents(o), size=n, replace=False)
            inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8), hours=rng.uniform(23.0, 26.0, n))
        elif scenario == "terminated":
            term_day[s] = min(term_day[s], d0 - 1)
            n = int(rng.integers(3, 10))
            subj = rng.choice(residents(o), size=n)
            inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8))
        elif scenario == "two_sites":
            n = int(rng.integers(4, 9))
            subj = rng.choice(residents(o), size=n)
            # someone else's terminal at another organisation, while the owner works at the desk
            other_staff = int(rng.choice(np.flatnonzero(staff_org != o)))
            inject(s, scenario, [d0] * n, subj, np.zeros(n, np.int8), hours=rng.uniform(10.0, 11.0, n),
                   terminal=np.full(n, other_staff))
            inject_same = rng.choice(residents(o), size=n)
            ev.add(np.full(n, s), base + d0 * day_s + (rng.uniform(10.0, 11.0, n) * 3600).astype(np.int64),
                   inject_same, np.zeros(n, np.int8))
        elif scenario == "bulk_export":
            subj = rng.choice(residents(o), size=1)
            inject(s, scenario, [d0], subj, np.array([3], np.int8), records=rng.integers(3000, 30000, 1))
        elif scenario == "update_without_case":
            n = int(rng.integers(2, 5))
            subj = rng.choice(residents(o), size=n, replace=False)
            inject(s, scenario, [d0] * n, subj, np.full(n, 4, np.int8))
        elif scenario == "low_and_slow":
            target = int(rng.choice(residents(o)))
            first = int(rng.integers(0, max(1, days - 28)))
            gaps = rng.integers(3, 7, 8)
            dd = [x for x in (first + np.cumsum(gaps)) if x < days][:7]
            inject(s, scenario, dd, np.full(len(dd), target), np.zeros(len(dd), np.int8))

    # the terminated-account incidents must not also be silent leavers' ordinary work after their last day
    frame = ev.frame()
    frame = frame[(frame["label"] >= 0) | ((frame["t"] - base) // day_s < term_day[frame["staff"]])]
    frame = frame.sort_values("t", kind="stable").reset_index(drop=True)
    frame["eid"] = np.arange(len(frame))

    staff_df = pd.DataFrame({
        "idx": np.arange(n_staff), "org": np.array(orgs, dtype=object)[staff_org], "unit": units,
        "role": np.array(role_names, dtype=object)[staff_role], "subject": staff_subject,
        "terminated": term_day < days + 1000, "term_day": term_day, "site": staff_site})
    subjects_df = pd.DataFrame({"idx": np.arange(n_subj), "org": np.array(orgs, dtype=object)[subj_org],
                                "surname": subj_surname, "hh": hh_id, "nb": nb_id, "sensitive": sensitive})
    kept = np.flatnonzero(keep_case)
    cases_df = pd.DataFrame({"idx": case_index[kept], "subject": case_subject[kept],
                             "org": np.array(orgs, dtype=object)[cs_org[kept]], "unit": units[cs_staff[kept]],
                             "open": case_open[kept], "close": case_close[kept]})
    frame["case"] = np.where(frame["case"] >= 0, case_index[np.maximum(frame["case"], 0)], -1)
    paths = {name: out_dir / f"{name}.csv" for name in ("access_log", "staff", "subjects", "cases", "labels")}
    con = duckdb.connect()
    try:
        con.register("ev", frame)
        con.register("st", staff_df)
        con.register("sj", subjects_df)
        con.register("cs", cases_df)
        con.execute("SET TimeZone = 'UTC'")
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
                              '%Y-%m-%d') ELSE '' END AS terminated_on
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
                         CASE WHEN "close" < {days * day_s} THEN strftime(TIMESTAMP '{start_ts}' + to_seconds("close"),
                              '%Y-%m-%dT%H:%M:%S') || '{JST}' ELSE '' END AS closed_at
                  FROM cs ORDER BY idx) TO '{_q(paths['cases'])}' (HEADER)""")
        lab = pd.DataFrame(labels)
        ids = frame[frame["label"] >= 0].groupby("label")["eid"].apply(
            lambda x: " ".join(f"E{v:09d}" for v in sorted(x)))
        lab["event_ids"] = lab["label"].map(ids).fillna("")
        lab["staff_id"] = [f"U{s:06d}" for s in lab["staff"]]
        lab["start_date"] = [(start + timedelta(days=int(d))).isoformat() for d in lab["start_day"]]
        lab["end_date"] = [(start + timedelta(days=int(d))).isoformat() for d in lab["end_day"]]
        lab[["staff_id", "scenario", "start_date", "end_date", "event_ids"]].to_csv(paths["labels"], index=False)
    finally:
        con.close()
    return GeneratedLog(paths["access_log"], paths["staff"], paths["subjects"], paths["cases"], paths["labels"],
                        n_events=len(frame), n_staff=n_staff, n_incidents=len(labels), start=start, days=days)


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
        f"INSERT OR REPLACE INTO staff SELECT staff_id, org_code, nullif(unit, ''), nullif(role, ''), "
        f"nullif(subject_id, ''), status, nullif(terminated_on, '')::DATE, ? "
        f"FROM read_csv('{_q(log.staff)}', header = true, all_varchar = true)", [run_id])
    con.execute(
        f"INSERT OR REPLACE INTO subjects SELECT subject_id, nullif(municipality_code, ''), surname_key, "
        f"household_key, neighbourhood_key, sensitive = 'true', ? "
        f"FROM read_csv('{_q(log.subjects)}', header = true, all_varchar = true)", [run_id])
    con.execute(
        f"INSERT OR REPLACE INTO cases SELECT case_id, subject_id, org_code, nullif(unit, ''), procedure_code, "
        f"opened_at::TIMESTAMPTZ, nullif(closed_at, '')::TIMESTAMPTZ, ? "
        f"FROM read_csv('{_q(log.cases)}', header = true, all_varchar = true)", [run_id])
    refresh_access_view(con, events_dir)
    return log.n_events
