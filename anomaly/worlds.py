"""Independent world generator for the robustness benchmark: access logs of many differently-shaped
organisations, written in the collectors' file contract, with labelled incidents of every scenario.

Written apart from `anomaly.synthetic` (whose habits the detector was developed on) so that a detector is
not scored on its own generator's fingerprints: work is generated case-first (a staff member's case
accesses are cut into cases afterwards, so cases have ragged lengths and overlap closure), roles and units
carry Japanese names, keys and identifiers are formatted differently, headers may be Japanese, timestamps
may be in UTC, and every habit below is a setting drawn per world over the ranges in `RANGES`.

Legitimate patterns that a naive "no case = suspicious" rule would flag, each with a drawn rate:
front-desk and welfare look-ups without a case, household members of a case subject, referrals (a subject
with an open case in another unit of the same organisation), follow-up views after a case closed, night
shifts and disaster-response nights, data-cleansing updates without a case, shared terminals, staff who
leave or join during the period, residents who moved out of the area, and case ids missing from the log.

Incidents (labels.csv: staff_id, scenario, variant, strength, start_date, end_date) come in three
strengths (weak, typical, strong) and in variants: family by surname only, neighbours in adjacent blocks,
tampering as a view one day and an update days later, co-worker snooping spread over weeks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from observatory.reference import municipalities

SCENARIOS = ("household", "surname", "neighbour", "coworker", "sensitive", "curiosity", "out_of_jurisdiction",
             "after_hours", "terminated", "two_sites", "bulk_export", "update_without_case", "low_and_slow")
STRENGTHS = ("weak", "typical", "strong")
VARIANTS = {"surname": ("same_name", "family"), "neighbour": ("same_key", "adjacent"),
            "update_without_case": ("direct", "view_then_update"), "coworker": ("one_day", "spread")}
# role -> (unit, mean accesses per working day, may hold cases)
ROLES = {"窓口": ("市民課", 38.0, True), "福祉": ("福祉課", 18.0, True), "税務": ("税務課", 24.0, True),
         "保険年金": ("保険年金課", 22.0, True), "管理職": (None, 6.0, False), "統計": ("企画課", 6.0, False),
         "システム": ("情報政策課", 4.0, False)}
CASE_UNITS = ("市民課", "福祉課", "税務課", "保険年金課")

# name -> (low, high, what it controls); every world draws each setting uniformly in its range.
RANGES: dict[str, tuple[float, float, str]] = {
    "n_staff": (400, 1500, "staff in the world"),
    "days": (30, 45, "days of log"),
    "n_orgs": (1, 8, "organisations (municipalities)"),
    "org_size_alpha": (0.4, 4.0, "Dirichlet concentration of organisation sizes (low = one dominant)"),
    "residents_per_staff": (60, 220, "residents per staff member of an organisation"),
    "role_front_desk": (0.10, 0.45, "weight of 窓口 (front desk) in the role mix"),
    "role_welfare": (0.08, 0.35, "weight of 福祉 (welfare)"),
    "role_tax": (0.05, 0.30, "weight of 税務 (tax)"),
    "role_pension": (0.05, 0.25, "weight of 保険年金 (insurance and pension)"),
    "role_manager": (0.03, 0.12, "weight of 管理職 (managers)"),
    "role_statistics": (0.01, 0.06, "weight of 統計 (statistics: large exports)"),
    "role_it": (0.01, 0.05, "weight of システム (IT: batch exports, data cleansing)"),
    "case_share": (0.30, 0.95, "share of case-holding roles' accesses made under a case"),
    "case_length": (1.5, 15.0, "mean accesses per case"),
    "case_id_logged": (0.0, 1.0, "share of case accesses whose case_id is written in the log"),
    "household_mean": (1.6, 3.4, "mean household size"),
    "family_links": (0.0, 0.3, "share of households sharing a surname with another household nearby"),
    "neighbourhood_size": (30, 400, "residents per neighbourhood key"),
    "town_blocks": (2, 9, "neighbourhoods (blocks) per town, for adjacency"),
    "surname_exponent": (0.7, 1.2, "Zipf exponent of surnames (high = a few very common names)"),
    "front_desk_no_case": (0.3, 1.0, "share of front-desk accesses looked up without any case"),
    "welfare_no_case": (0.02, 0.4, "share of welfare accesses without any case (consultations)"),
    "other_no_case": (0.0, 0.08, "share of other staff's accesses without any case"),
    "household_of_case": (0.0, 0.25, "share of case work that also views a household member of the subject"),
    "referrals": (0.0, 0.2, "share of case roles' accesses to a subject with an open case in another unit"),
    "follow_up": (0.0, 0.12, "share of case roles' accesses re-viewing an earlier case's subject"),
    "overtime": (0.0, 0.15, "share of accesses in the evening (18-22 h)"),
    "night_shift_share": (0.0, 0.06, "share of welfare/front-desk staff working night shifts"),
    "disaster_nights": (0, 3, "organisation-wide disaster-response nights"),
    "cleansing_days": (0, 4, "data-cleansing days (bulk updates without a case by tax/IT staff)"),
    "update_no_case": (0.0, 0.1, "share of case roles' updates made without a case (corrections)"),
    "shared_terminals": (0.0, 0.8, "share of units whose staff share a pool of terminals"),
    "turnover": (0.0, 0.05, "share of staff leaving during the period"),
    "joiners": (0.0, 0.05, "share of staff joining during the period"),
    "moved_out": (0.0, 0.05, "share of residents registered outside the organisations' areas"),
    "sensitive_share": (0.0005, 0.004, "share of residents with a sensitive (public figure) record"),
    "incident_share": (0.012, 0.022, "share of staff carrying an incident"),
}
STRENGTH_WEIGHTS = (0.3, 0.4, 0.3)
HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class WorldSettings:
    """One world's drawn settings (see RANGES), plus the file-format choices."""

    seed: int
    values: dict[str, float]
    neighbourhood_keys: str  # town_block | sequential | opaque
    headers: str  # en | ja
    utc: bool
    start: date

    def __getitem__(self, name: str) -> float:
        return self.values[name]


@dataclass
class World:
    """Paths of a written world and what is in it."""

    settings: WorldSettings
    access_log: Path
    staff: Path
    subjects: Path
    cases: Path
    labels: Path
    n_events: int
    n_staff: int
    days: int
    start: date
    n_incidents: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def draw_settings(seed: int) -> WorldSettings:
    """A world's settings, each drawn uniformly over its RANGES entry (integers where the range is)."""
    rng = np.random.default_rng([seed, 1])
    values: dict[str, float] = {}
    for name, (lo, hi, _) in RANGES.items():
        v = rng.uniform(lo, hi)
        values[name] = float(round(v)) if isinstance(lo, int) and isinstance(hi, int) else float(v)
    return WorldSettings(seed=seed, values=values,
                         neighbourhood_keys=str(rng.choice(["town_block", "sequential", "opaque"])),
                         headers=str(rng.choice(["en", "ja"])), utc=bool(rng.random() < 0.4),
                         start=date(2026, 1, 5) + timedelta(days=int(rng.integers(0, 300))))


class _Log:
    """Event column buffers; label -1 is ordinary work."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, staff, t, subject, action, *, case=None, records=None, terminal=None, label: int = -1) -> None:
        n = len(staff)
        if n == 0:
            return

        def full(v, fill, dt) -> np.ndarray:
            return np.full(n, fill, dt) if v is None else np.broadcast_to(np.asarray(v, dt), n)

        self.parts.append({"staff": full(staff, 0, np.int64), "t": full(t, 0, np.int64),
                           "subject": full(subject, -1, np.int64), "action": full(action, 0, np.int8),
                           "case": full(case, -1, np.int64), "records": full(records, 1, np.int64),
                           "terminal": full(terminal, -1, np.int64), "label": np.full(n, label, np.int64)})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]})


ACTIONS = ("view", "search", "print", "export", "update")
VIEW, SEARCH, PRINT, EXPORT, UPDATE = range(5)


def generate_world(out_dir: Path, seed: int, *, n_staff: int | None = None, days: int | None = None) -> World:
    """Draw a world's settings from `seed`, generate it and write its five files into out_dir."""
    s = draw_settings(seed)
    if n_staff is not None or days is not None:
        v = dict(s.values)
        v["n_staff"] = float(n_staff or v["n_staff"])
        v["days"] = float(days or v["days"])
        s = WorldSettings(s.seed, v, s.neighbourhood_keys, s.headers, s.utc, s.start)
    return _Builder(s).build(Path(out_dir))


class _Builder:
    def __init__(self, s: WorldSettings) -> None:
        self.s = s
        self.rng = np.random.default_rng([s.seed, 2])
        self.n_staff = int(s["n_staff"])
        self.days = int(s["days"])
        self.log = _Log()
        self.labels: list[dict] = []

    # --- population ----------------------------------------------------------------------------------------
    def residents(self) -> None:
        rng, s = self.rng, self.s
        codes = [m.code for m in municipalities()]
        pick = rng.choice(len(codes), size=int(s["n_orgs"]) + 40, replace=False)
        self.orgs = [codes[i] for i in pick[:int(s["n_orgs"])]]
        self.elsewhere = [codes[i] for i in pick[int(s["n_orgs"]):]]
        n_orgs = len(self.orgs)
        share = rng.dirichlet(np.full(n_orgs, s["org_size_alpha"]))
        staff_org = rng.choice(n_orgs, size=self.n_staff, p=share)
        staff_org[:n_orgs] = np.arange(n_orgs)
        self.staff_org = np.sort(staff_org)
        pop = np.maximum(np.bincount(self.staff_org, minlength=n_orgs) * s["residents_per_staff"], 1500).astype(int)
        subj_org = np.repeat(np.arange(n_orgs), pop)
        n = len(subj_org)
        # households: consecutive residents within an organisation
        sizes = 1 + rng.poisson(s["household_mean"] - 1.0, size=n)
        hh = np.repeat(np.arange(n), np.minimum(sizes, 9))[:n]
        hh = hh + subj_org * n  # never across organisations
        _, hh = np.unique(hh, return_inverse=True)
        n_hh = hh.max() + 1
        # surnames: Zipf over 8,000 names; linked households (families) copy the previous household's name
        p = 1.0 / np.arange(1, 8001) ** s["surname_exponent"]
        hh_name = rng.choice(8000, size=n_hh, p=p / p.sum())
        linked = rng.random(n_hh) < s["family_links"]
        linked[0] = False
        for i in np.flatnonzero(linked):
            hh_name[i] = hh_name[i - 1]
        self.hh_linked = linked
        # neighbourhoods: runs of whole households; towns are runs of blocks (adjacency)
        first_of_hh = np.r_[True, hh[1:] != hh[:-1]]
        cum = np.cumsum(first_of_hh)
        block = (np.arange(n) // max(int(s["neighbourhood_size"]), 1))
        block = np.maximum.accumulate(np.where(first_of_hh, block, 0))  # blocks start at a household boundary
        block = block + subj_org * n
        _, block = np.unique(block, return_inverse=True)
        per_town = int(s["town_blocks"])
        town = block // per_town
        self.subj_org, self.hh, self.block, self.town = subj_org, hh, block, town
        self.surname = hh_name[hh]
        self.muni = np.array(self.orgs)[subj_org].astype(object)
        moved = rng.random(n) < s["moved_out"]
        self.muni[moved] = rng.choice(self.elsewhere, size=int(moved.sum()))
        self.out_area = moved
        self.sensitive = rng.random(n) < s["sensitive_share"]
        self.org_first = np.r_[0, np.cumsum(pop)[:-1]]
        self.org_pop = pop
        self.n_subj = n
        del cum

    def staff(self) -> None:
        rng, s = self.rng, self.s
        names = list(ROLES)
        w = np.array([s["role_front_desk"], s["role_welfare"], s["role_tax"], s["role_pension"], s["role_manager"],
                      s["role_statistics"], s["role_it"]])
        self.role = rng.choice(len(names), size=self.n_staff, p=w / w.sum())
        self.role_names = names
        units = [ROLES[r][0] for r in names]
        self.unit = np.array([units[r] or str(rng.choice(CASE_UNITS)) for r in self.role], dtype=object)
        # where staff live: in their organisation's area mostly
        lives_in = rng.random(self.n_staff) < rng.uniform(0.4, 0.9)
        home = self.org_first[self.staff_org] + (rng.random(self.n_staff) * self.org_pop[self.staff_org]).astype(int)
        self.home = np.where(lives_in, home, -1)
        self.volume = np.array([ROLES[names[r]][1] for r in self.role]) * rng.lognormal(0, 0.35, self.n_staff)
        self.night = (np.isin(self.role, [0, 1])) & (rng.random(self.n_staff) < s["night_shift_share"])
        self.term_day = np.full(self.n_staff, 10**6)
        leave = rng.random(self.n_staff) < s["turnover"]
        self.term_day[leave] = rng.integers(5, self.days, size=int(leave.sum()))
        self.join_day = np.zeros(self.n_staff, int)
        join = (rng.random(self.n_staff) < s["joiners"]) & ~leave
        self.join_day[join] = rng.integers(3, max(4, self.days - 5), size=int(join.sum()))
        self.site = (rng.random(self.n_staff) < 0.25).astype(int)  # 0 = main office, 1 = branch
        # terminals: own, or a pool shared in the unit
        shared_units = {u for u in sorted(set(self.unit)) if rng.random() < s["shared_terminals"]}
        self.terminal = np.arange(self.n_staff) + 10
        for (_, u, _), idx in pd.Series(range(self.n_staff)).groupby([self.staff_org, self.unit, self.site]):
            if u in shared_units and len(idx) >= 3:
                pool = idx.to_numpy()[: max(1, len(idx) // 3)]
                self.terminal[idx.to_numpy()] = rng.choice(pool, size=len(idx)) + 10
        self.shared = np.array([u in shared_units for u in self.unit])

    # --- ordinary work -------------------------------------------------------------------------------------
    def work(self) -> None:
        rng, s = self.rng, self.s
        weekday = np.array([(self.s.start + timedelta(days=d)).weekday() for d in range(self.days)])
        active = (weekday[None, :] < 5) & (rng.random((self.n_staff, self.days)) > 0.07)
        active |= self.night[:, None] & (rng.random((self.n_staff, self.days)) < 0.3)
        d = np.arange(self.days)[None, :]
        active &= (d <= self.term_day[:, None]) & (d >= self.join_day[:, None])
        day_mult = rng.lognormal(0, 0.15, self.days) * np.where(weekday < 5, 1.0, 0.4)
        n = rng.poisson(self.volume[:, None] * day_mult[None, :] * active)
        staff = np.repeat(np.repeat(np.arange(self.n_staff), self.days), n.ravel())
        day = np.repeat(np.tile(np.arange(self.days), self.n_staff), n.ravel())
        m = len(staff)
        hours = 8.5 + rng.beta(2.0, 2.2, m) * 9.5
        ot = rng.random(m) < s["overtime"]
        hours[ot] = 18 + rng.random(int(ot.sum())) * 4
        nightw = self.night[staff] & (rng.random(m) < 0.6)
        hours[nightw] = (17 + rng.random(int(nightw.sum())) * 15) % 24
        t = day * DAY + (hours * HOUR).astype(np.int64)
        role = self.role[staff]
        # kind of access: 0 case, 1 no case, 2 household of case subject, 3 referral, 4 follow-up
        no_case = np.select([role == 0, role == 1], [s["front_desk_no_case"], s["welfare_no_case"]],
                            s["other_no_case"])
        case_roles = np.isin(role, [0, 1, 2, 3])
        extra = np.where(case_roles, s["household_of_case"] + s["referrals"] + s["follow_up"], 0.0)
        cap = np.maximum(1.0 - no_case, 0) * np.minimum(extra, 0.5)
        p_case = np.where(case_roles, (1 - no_case) - cap, 0.0)
        u = rng.random(m)
        kind = np.full(m, 1)
        kind[u < p_case] = 0
        rest = (u >= p_case) & (u < p_case + cap)
        split = np.array([s["household_of_case"], s["referrals"], s["follow_up"]]) + 1e-9
        kind[rest] = 2 + rng.choice(3, size=int(rest.sum()), p=split / split.sum())
        # case_share: a share of what would be "case" work goes through without any case
        demote = (kind == 0) & (rng.random(m) > s["case_share"]) & (role != 0)
        kind[demote] = 1
        order = np.lexsort((t, staff))
        staff, t, kind, day = staff[order], t[order], kind[order], day[order]
        subject = self._random_residents(staff)
        case = np.full(len(staff), -1)
        self.cases: list[tuple] = []
        self._cut_cases(staff, t, kind, subject, case)
        self._related_work(staff, t, kind, subject, case)
        action = self._actions(kind, self.role[staff])
        records = np.ones(len(staff), np.int64)
        records[action == SEARCH] = 1 + rng.poisson(4, int((action == SEARCH).sum()))
        self.log.add(staff, t, subject, action, case=case, records=records, terminal=self._terminal(staff))
        self.active = active
        self._batch_and_exports(active)
        self._disasters_and_cleansing()

    def _random_residents(self, staff: np.ndarray) -> np.ndarray:
        o = self.staff_org[staff]
        return self.org_first[o] + (self.rng.random(len(staff)) ** 1.3 * self.org_pop[o]).astype(np.int64)

    def _cut_cases(self, staff, t, kind, subject, case) -> None:
        """Cut each staff member's run of case accesses into cases of ragged length (geometric)."""
        rng = self.rng
        idx = np.flatnonzero(kind == 0)
        if len(idx) == 0:
            return
        new = rng.random(len(idx)) < 1.0 / max(self.s["case_length"], 1.0)
        new |= np.r_[True, staff[idx][1:] != staff[idx][:-1]]
        cid = np.cumsum(new) - 1
        first = idx[new]
        subj = self._random_residents(staff[first])
        moved = rng.random(len(subj)) < 0.02  # a few cases concern residents registered elsewhere
        pool = np.flatnonzero(self.out_area)
        if len(pool):
            subj[moved] = rng.choice(pool, size=int(moved.sum()))
        subject[idx] = subj[cid]
        case[idx] = cid
        t_first = pd.Series(t[idx]).groupby(cid).min().to_numpy()
        t_last = pd.Series(t[idx]).groupby(cid).max().to_numpy()
        opened = t_first - (rng.exponential(2.0, len(first)) * DAY).astype(np.int64) - 600
        closed = t_last + (rng.exponential(1.5, len(first)) * DAY).astype(np.int64) + 600
        still_open = rng.random(len(first)) < 0.3
        owner = staff[first]
        self.case_owner, self.case_subject = owner, subj
        self.case_open, self.case_close = opened, np.where(still_open, -1, closed)
        self.case_unit = self.unit[owner]
        self.case_org = self.staff_org[owner]
        self.case_logged = self.rng.random(len(first)) < self.s["case_id_logged"]

    def _related_work(self, staff, t, kind, subject, case) -> None:
        """Household members of the current case subject, referrals, follow-ups of earlier cases."""
        rng = self.rng
        if not hasattr(self, "case_owner"):
            return
        cur = pd.Series(np.where(case >= 0, case, np.nan)).groupby(staff).ffill().bfill().to_numpy()
        has = ~np.isnan(cur)
        # household member of the case subject
        sel = np.flatnonzero((kind == 2) & has)
        cs = self.case_subject[cur[sel].astype(int)]
        mate = cs + rng.choice([-2, -1, 1, 2], size=len(sel))
        ok = (mate >= 0) & (mate < self.n_subj)
        ok[ok] &= self.hh[mate[ok]] == self.hh[cs[ok]]
        subject[sel[ok]] = mate[ok]
        # follow-up: an earlier case of the same staff member (often closed by now)
        sel = np.flatnonzero((kind == 4) & has)
        back = np.maximum(cur[sel].astype(int) - rng.integers(1, 8, len(sel)), 0)
        same = self.case_owner[back] == staff[sel]
        subject[sel[same]] = self.case_subject[back[same]]
        # referral: a subject with a case opened in another unit of the same organisation around that time
        sel = np.flatnonzero(kind == 3)
        if len(sel) and len(self.case_owner) > 10:
            order = np.argsort(self.case_open)
            opens = self.case_open[order]
            pos = np.clip(np.searchsorted(opens, t[sel]) - rng.integers(1, 40, len(sel)), 0, len(opens) - 1)
            c = order[pos]
            ok = (self.case_org[c] == self.staff_org[staff[sel]]) & (self.case_unit[c] != self.unit[staff[sel]])
            subject[sel[ok]] = self.case_subject[c[ok]]

    def _actions(self, kind: np.ndarray, role: np.ndarray) -> np.ndarray:
        rng = self.rng
        m = len(kind)
        case_p = np.array([0.66, 0.06, 0.1, 0.0, 0.18])
        free_p = np.array([0.84, 0.12, 0.04, 0.0, 0.0])
        a = np.where(kind == 0, rng.choice(5, size=m, p=case_p), rng.choice(5, size=m, p=free_p))
        corr = (kind != 0) & np.isin(role, [1, 2, 3]) & (rng.random(m) < self.s["update_no_case"] * 0.2)
        a[corr] = UPDATE
        return a.astype(np.int8)

    def _terminal(self, staff: np.ndarray) -> np.ndarray:
        return self.terminal[staff]

    def _batch_and_exports(self, active: np.ndarray) -> None:
        rng = self.rng
        for r, lo, hi in ((5, 200, 30000), (6, 1000, 200000)):
            who = np.flatnonzero(self.role == r)
            for w in who:
                days = np.flatnonzero(active[w] & (rng.random(self.days) < 0.5))
                if len(days) == 0:
                    continue
                hour = rng.uniform(9, 17, len(days)) if r == 5 else rng.uniform(1, 5, len(days))
                self.log.add(np.full(len(days), w), days * DAY + (hour * HOUR).astype(np.int64), -1,
                             np.where(rng.random(len(days)) < 0.6, EXPORT, SEARCH),
                             records=rng.integers(lo, hi, len(days)), terminal=self.terminal[w])

    def _disasters_and_cleansing(self) -> None:
        rng, s = self.rng, self.s
        for _ in range(int(s["disaster_nights"])):
            o = rng.integers(len(self.orgs))
            d = rng.integers(1, self.days)
            crew = np.flatnonzero((self.staff_org == o) & np.isin(self.role, [0, 1, 4]) & (d < self.term_day)
                                  & (d >= self.join_day) & (rng.random(self.n_staff) < 0.6))
            k = rng.poisson(8, len(crew)) + 2
            st = np.repeat(crew, k)
            t = d * DAY + (rng.uniform(19, 26, len(st)) * HOUR).astype(np.int64)
            self.log.add(st, t, self._random_residents(st), VIEW, terminal=self.terminal[st])
        for _ in range(int(s["cleansing_days"])):
            d = rng.integers(0, self.days)
            cand = np.flatnonzero(np.isin(self.role, [2, 6]) & self.active[:, d])
            if len(cand) == 0:
                continue
            w = rng.choice(cand)
            k = int(rng.integers(30, 300))
            st = np.full(k, w)
            t = d * DAY + (rng.uniform(9, 18, k) * HOUR).astype(np.int64)
            self.log.add(st, t, self._random_residents(st), UPDATE, terminal=self.terminal[w])

    # --- incidents -----------------------------------------------------------------------------------------
    def plan(self) -> None:
        """Scenario, strength and variant of each incident; leavers are chosen before work is generated."""
        rng, s = self.rng, self.s
        n = max(len(SCENARIOS), int(round(s["incident_share"] * self.n_staff)))
        order = np.concatenate([rng.permutation(len(SCENARIOS)) for _ in range(n // len(SCENARIOS) + 1)])[:n]
        self.planned = []
        for k in order:
            sc = SCENARIOS[k]
            self.planned.append((sc, STRENGTHS[rng.choice(3, p=STRENGTH_WEIGHTS)],
                                 str(rng.choice(VARIANTS.get(sc, ("plain",))))))
        self.taken: set[int] = set()
        self.leavers: list[int] = []
        for sc, _, _ in self.planned:
            if sc == "terminated":
                w = int(rng.choice(np.flatnonzero(self.term_day > self.days)))
                self.term_day[w] = int(rng.integers(8, self.days - 3))
                self.taken.add(w)
                self.leavers.append(w)

    def incidents(self) -> None:
        rng = self.rng
        leavers = list(self.leavers)
        for sc, strength, variant in self.planned:
            k = STRENGTHS.index(strength)
            for _ in range(200):
                if sc == "terminated":
                    w, d0 = leavers.pop(), 0
                else:
                    w = int(rng.integers(self.n_staff))
                    d0 = int(rng.integers(10, self.days - 2))
                    if (w in self.taken or self.role[w] >= 5 or self.night[w] or self.join_day[w] > d0 - 8
                            or self.term_day[w] < self.days or not self.active[w, d0]):
                        continue
                got = getattr(self, f"_i_{sc}")(w, d0, k, variant)
                if got is not None:
                    self.taken.add(w)
                    self.labels.append({"staff": w, "scenario": sc, "variant": variant, "strength": strength,
                                        "start_day": got[0], "end_day": got[1]})
                    break

    def _when(self, d: int, n: int, lo: float = 9.0, hi: float = 17.5) -> np.ndarray:
        return d * DAY + np.sort((self.rng.uniform(lo, hi, n) * HOUR).astype(np.int64))

    def _views(self, w: int, d: int, subjects: np.ndarray, action: int = VIEW, **kw) -> None:
        subjects = np.asarray(subjects, np.int64)
        self.log.add(np.full(len(subjects), w), kw.pop("t", None) if "t" in kw else self._when(d, len(subjects)),
                     subjects, action, terminal=self.terminal[w], label=len(self.labels), **kw)

    def _pick(self, pool: np.ndarray, n: int) -> np.ndarray | None:
        pool = np.unique(pool)
        return None if len(pool) < n else self.rng.choice(pool, size=n, replace=False)

    def _i_household(self, w, d0, k, variant):
        h = self.home[w]
        if h < 0:
            return None
        mates = np.flatnonzero(self.hh == self.hh[h])
        mates = mates[mates != h]
        if len(mates) == 0:
            return None
        n = (1, 2, len(mates))[k]
        pick = self._pick(mates, min(n, len(mates)))
        self._views(w, d0, pick if k == 0 else np.repeat(pick, 2))
        if k == 2:
            self._views(w, d0 + 1, pick)
            return d0, d0 + 1
        return d0, d0

    def _org_pool(self, w: int) -> np.ndarray:
        o = self.staff_org[w]
        return np.arange(self.org_first[o], self.org_first[o] + self.org_pop[o])

    def _i_surname(self, w, d0, k, variant):
        h = self.home[w]
        if h < 0:
            return None
        pool = self._org_pool(w)
        if variant == "family":  # households linked to the staff member's own by a shared family name
            near = pool[np.abs(self.hh[pool] - self.hh[h]) <= 4]
            pool = near[(self.surname[near] == self.surname[h]) & (self.hh[near] != self.hh[h])]
            n = (1, 2, 4)[k]
        else:
            pool = pool[(self.surname[pool] == self.surname[h]) & (self.hh[pool] != self.hh[h])]
            n = (2, 3, 6)[k]
        pick = self._pick(pool, n)
        if pick is None:
            return None
        self._views(w, d0, pick)
        return d0, d0

    def _i_neighbour(self, w, d0, k, variant):
        h = self.home[w]
        if h < 0:
            return None
        pool = self._org_pool(w)
        if variant == "adjacent":
            b = self.block[h]
            pool = pool[(np.abs(self.block[pool] - b) == 1) & (self.town[pool] == self.town[h])]
        else:
            pool = pool[(self.block[pool] == self.block[h]) & (self.hh[pool] != self.hh[h])]
        pick = self._pick(pool, (2, 4, 8)[k])
        if pick is None:
            return None
        self._views(w, d0, pick)
        return d0, d0

    def _i_coworker(self, w, d0, k, variant):
        mates = self.home[(self.staff_org == self.staff_org[w]) & (self.home >= 0)]
        mates = mates[mates != self.home[w]]
        if variant == "spread":
            visits = (3, 4, 6)[k]
            gaps = self.rng.integers(3, 9, visits - 1)
            days = d0 - int(gaps.sum()) + np.r_[0, np.cumsum(gaps)]
            if days[0] < 5:
                return None
            pick = self._pick(mates, visits)
            if pick is None:
                return None
            for dd, p in zip(days, pick, strict=True):
                self._views(w, int(dd), [p])
            return int(days[0]), int(days[-1])
        pick = self._pick(mates, (1, 2, 4)[k])
        if pick is None:
            return None
        self._views(w, d0, pick)
        return d0, d0

    def _i_sensitive(self, w, d0, k, variant):
        pool = self._org_pool(w)
        pick = self._pick(pool[self.sensitive[pool]], (1, 2, 4)[k])
        if pick is None:
            return None
        self._views(w, d0, pick)
        return d0, d0

    def _i_curiosity(self, w, d0, k, variant):
        usual = self.volume[w]
        n = int(max((10, 20, 40)[k], (1.0, 2.5, 5.0)[k] * usual))
        subj = self._random_residents(np.full(n, w))
        h0 = self.rng.uniform(9, 15)
        self._views(w, d0, subj, t=self._when(d0, n, h0, h0 + 2.5))
        return d0, d0

    def _i_out_of_jurisdiction(self, w, d0, k, variant):
        pick = self._pick(np.flatnonzero(self.out_area), (2, 4, 8)[k])
        if pick is None:
            return None
        self._views(w, d0, pick)
        return d0, d0

    def _i_after_hours(self, w, d0, k, variant):
        n = (2, 4, 10)[k]
        subj = self._random_residents(np.full(n, w))
        h0 = self.rng.uniform(22, 26)
        self._views(w, d0, subj, t=self._when(d0, n, h0, h0 + 1.5))
        return d0, d0 + (1 if h0 + 1.5 >= 24 else 0)

    def _i_terminated(self, w, d0, k, variant):
        d = int(self.term_day[w]) + 1 + int(self.rng.integers(0, 3))
        n = (1, 4, 8)[k]
        self._views(w, d, self._random_residents(np.full(n, w)))
        if k == 2 and d + 1 < self.days:
            self._views(w, d + 1, self._random_residents(np.full(n, w)))
            return d, d + 1
        return d, d

    def _i_two_sites(self, w, d0, k, variant):
        other = np.flatnonzero((self.staff_org == self.staff_org[w]) & (self.site != self.site[w]))
        if len(other) == 0:
            return None
        far = int(self.terminal[self.rng.choice(other)])
        n = (2, 3, 6)[k] + 1
        t = d0 * DAY + int(self.rng.uniform(10, 16) * HOUR) + np.cumsum(self.rng.integers(120, 600, n))
        term = np.where(np.arange(n) % 2 == 0, self.terminal[w], far)
        self.log.add(np.full(n, w), t, self._random_residents(np.full(n, w)), VIEW, terminal=term,
                     label=len(self.labels))
        return d0, d0

    def _i_bulk_export(self, w, d0, k, variant):
        records = int((5, 15, 80)[k] * 40 * self.rng.uniform(1, 2))
        self.log.add(np.array([w]), self._when(d0, 1), -1, EXPORT, records=records, terminal=self.terminal[w],
                     label=len(self.labels))
        return d0, d0

    def _i_update_without_case(self, w, d0, k, variant):
        subj = self._random_residents(np.full((1, 2, 4)[k], w))
        if variant == "view_then_update":
            d1 = d0 + int(self.rng.integers(2, 7))
            if d1 >= self.days:
                return None
            self._views(w, d0, subj)
            self._views(w, d1, subj, action=UPDATE)
            return d0, d1
        self._views(w, d0, subj, action=UPDATE)
        return d0, d0

    def _i_low_and_slow(self, w, d0, k, variant):
        n_days, span = (3, 4, 6)[k], min((15, 21, 28)[k], self.days - 8)
        first = d0 - span
        if first < 3:
            return None
        days = np.unique(np.r_[first, np.sort(self.rng.integers(first + 1, d0, n_days - 2)), d0])
        if len(days) < n_days - 1:
            return None
        subj = self._random_residents(np.array([w]))[0]
        for dd in days:
            self._views(w, int(dd), [subj])
        return int(days[0]), int(days[-1])

    # --- files ---------------------------------------------------------------------------------------------
    def build(self, out: Path) -> World:
        out.mkdir(parents=True, exist_ok=True)
        self.residents()
        self.staff()
        self.plan()
        self.work()
        self.incidents()
        return self.write(out)

    def write(self, out: Path) -> World:
        s, ja = self.s, self.s.headers == "ja"
        ev = self.log.frame().sort_values(["t", "staff"], kind="stable").reset_index(drop=True)
        ev = ev[ev["t"] < self.days * DAY].reset_index(drop=True)
        staff_id = np.array([f"K{s.seed % 1000:03d}-{i:05d}" for i in range(self.n_staff)], dtype=object)
        subj_id = np.array([f"JM{i:08X}" for i in range(self.n_subj)], dtype=object)
        site_name = np.array(["HONCHO", "SHISHO"])
        term_name = np.array([f"{self.orgs[self.staff_org[i]]}-{site_name[self.site[i]]}-{i:05d}"
                              for i in range(self.n_staff)], dtype=object)
        local = np.datetime64(s.start.isoformat(), "s") + ev["t"].to_numpy().astype("timedelta64[s]")
        ts = pa.array(local - np.timedelta64(9 * 3600, "s") if s.utc else local)
        text = pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S")
        text = pc.binary_join_element_wise(text, pa.scalar("Z" if s.utc else "+09:00"), "")
        case = ev["case"].to_numpy()
        logged = np.zeros(len(ev), bool)
        has = case >= 0
        logged[has] = self.case_logged[case[has]]
        rtype = {"市民課": "resident", "福祉課": "welfare", "税務課": "tax", "保険年金課": "pension"}
        staff_ix = ev["staff"].to_numpy()
        log = pa.table({
            "event_id": pa.array([f"EV{s.seed}-{i:08d}" for i in range(len(ev))]),
            "occurred_at": text,
            "staff_id": pa.array(staff_id[staff_ix]),
            "org_code": pa.array(np.array(self.orgs, dtype=object)[self.staff_org[staff_ix]]),
            "subject_id": pa.array(np.where(ev["subject"] >= 0, subj_id[np.maximum(ev["subject"], 0)], "")),
            "action": pa.array(np.array(ACTIONS, dtype=object)[ev["action"].to_numpy()]),
            "record_type": pa.array([rtype.get(u, "other") for u in self.unit[staff_ix]]),
            "case_id": pa.array(np.where(logged, [f"CASE{c:07d}" for c in np.maximum(case, 0)], "")),
            "record_count": pa.array(ev["records"].to_numpy()),
            "terminal_id": pa.array(term_name[np.maximum(ev["terminal"].to_numpy() - 10, 0)]),
        })
        if ja:
            log = log.rename_columns(["イベントID", "発生日時", "職員ID", "組織コード", "本人ID", "操作", "記録種別",
                                      "案件ID", "件数", "端末ID"])
        paths = {k: out / f"{k}.csv" for k in ("access_log", "staff", "subjects", "cases", "labels")}
        pacsv.write_csv(log, paths["access_log"])
        self._write_rosters(paths, staff_id, subj_id, ja)
        lab = pd.DataFrame(self.labels)
        lab["staff_id"] = staff_id[lab["staff"].to_numpy()]
        lab["start_date"] = [(s.start + timedelta(days=int(d))).isoformat() for d in lab["start_day"]]
        lab["end_date"] = [(s.start + timedelta(days=int(d))).isoformat() for d in lab["end_day"]]
        lab[["staff_id", "scenario", "variant", "strength", "start_date", "end_date"]].to_csv(paths["labels"],
                                                                                             index=False)
        return World(s, paths["access_log"], paths["staff"], paths["subjects"], paths["cases"], paths["labels"],
                     n_events=len(ev), n_staff=self.n_staff, days=self.days, start=s.start,
                     n_incidents=len(lab), extra={"subjects": self.n_subj, "cases": len(self.case_owner)})

    def _write_rosters(self, paths: dict[str, Path], staff_id, subj_id, ja: bool) -> None:
        s = self.s
        left = self.term_day < self.days
        staff = pd.DataFrame({
            "staff_id": staff_id, "org_code": np.array(self.orgs)[self.staff_org], "unit": self.unit,
            "role": np.array(self.role_names, dtype=object)[self.role],
            "subject_id": np.where(self.home >= 0, subj_id[np.maximum(self.home, 0)], ""),
            "status": np.where(left, "退職" if ja else "terminated", "在職" if ja else "active"),
            "terminated_on": [(s.start + timedelta(days=int(d))).isoformat() if lv else ""
                              for d, lv in zip(self.term_day, left, strict=True)]})
        nb = self._neighbourhood_keys()
        subjects = pd.DataFrame({
            "subject_id": subj_id, "municipality_code": self.muni,
            "surname_key": [f"SEI{n:05d}" for n in self.surname], "household_key": [f"SETAI{h:07d}" for h in self.hh],
            "neighbourhood_key": nb, "sensitive": np.where(self.sensitive, "1" if ja else "true", "0" if ja else "false")})
        shift = np.timedelta64(9 * 3600 if s.utc else 0, "s")

        def fmt(t: np.ndarray) -> np.ndarray:
            return np.datetime64(s.start.isoformat(), "s") + t.astype("timedelta64[s]") - shift

        tz = "Z" if s.utc else "+09:00"
        opened = pd.Series(fmt(self.case_open)).dt.strftime("%Y-%m-%dT%H:%M:%S") + tz
        closed = pd.Series(fmt(np.maximum(self.case_close, 0))).dt.strftime("%Y-%m-%dT%H:%M:%S") + tz
        cases = pd.DataFrame({
            "case_id": [f"CASE{c:07d}" for c in range(len(self.case_owner))],
            "subject_id": subj_id[self.case_subject], "org_code": np.array(self.orgs)[self.case_org],
            "unit": self.case_unit, "procedure_code": [f"TK{c % 57:03d}" for c in range(len(self.case_owner))],
            "opened_at": opened, "closed_at": np.where(self.case_close >= 0, closed, "")})
        if ja:
            staff.columns = ["職員ID", "組織コード", "所属", "職種", "本人ID", "在職状況", "退職日"]
            subjects.columns = ["本人ID", "市区町村コード", "姓キー", "世帯キー", "地区キー", "要配慮"]
            cases.columns = ["案件ID", "本人ID", "組織コード", "担当課", "手続コード", "開始日時", "終了日時"]
        staff.to_csv(paths["staff"], index=False)
        subjects.to_csv(paths["subjects"], index=False)
        cases.to_csv(paths["cases"], index=False)

    def _neighbourhood_keys(self) -> list[str]:
        style = self.s.neighbourhood_keys
        if style == "town_block":
            first_block = pd.Series(self.block).groupby(self.town).transform("min").to_numpy()
            return [f"{self.muni_org(i)}-{t:04d}-{b - fb + 1}" for i, (t, b, fb) in
                    enumerate(zip(self.town, self.block, first_block, strict=True))]
        if style == "sequential":
            return [f"NB{b:06d}" for b in self.block]
        salt = self.s.seed * 7919
        return [f"{(b * 2654435761 + salt) % 2**32:08x}" for b in self.block]

    def muni_org(self, i: int) -> str:
        return self.orgs[self.subj_org[i]]


def settings_table(settings: WorldSettings) -> dict[str, object]:
    """The drawn settings of a world as a flat dict (for printing)."""
    return asdict(settings)["values"] | {"neighbourhood_keys": settings.neighbourhood_keys,
                                         "headers": settings.headers, "utc": settings.utc,
                                         "start": settings.start.isoformat()}
