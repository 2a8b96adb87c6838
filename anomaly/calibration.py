"""Null distributions calibrated on the organisation's own data, per peer group (organisation x role, and
organisation x unit where the roster names units: a person's shift is the larger of the two).

Each scenario's evidence is a -log10 p-value from a model of chance (hypergeometric draws, Poisson rates,
robust baselines). Where the model fits, a staff-day reaches evidence t with probability 10^-t; where an
organisation's legitimate work breaks an assumption (people looked up far more often than others, a unit
that routinely works at night, relatives who really do come to the counter), the same evidence is reached
far more often. This stage counts, per peer group and reason code, how many of the group's staff reached evidence
2, 3, 4, 6, 8 and 10 (LEVELS) on any of their tested days, compares that with the 10^-level per tested staff-day
expected (by chance a person of n days reaches a rare level about n times 10^-level: as many people as staff-days;
one person whose own work reaches it every day is one peculiarity, not a tail of the group: counted in staff-days,
a payroll keyer's days of co-workers' records shifted every colleague's co-worker evidence by up to 6 decades in
gen4's worlds), and shifts the group's evidence down by the largest excess (in decades: p-values multiplied by the
inflation, as in genomic control), never up. The low levels correct a model of chance that is a little off
everywhere; the high ones a peer group whose ordinary work reaches far into the tail (a tenth of the managers
making one large export each month, counter clerks serving their own families at their window): a group in which
many staff-days reach 10 decades does not make 10 decades rare. So that a peer group's own incidents do not
calibrate each other away, its exceedances count only beyond INCIDENT_ALLOWANCE people at each level (a group of a
few thousand staff-days holds an incident or two of a scenario, not several at the same strength). Small groups
borrow from their role across organisations, and that from the nominal rate (pseudo-counts of PRIOR_STAFF_DAYS),
and each person is calibrated on the peers without them, so that an incident does not calibrate itself away.

Explicit stage: `calibrate(engine, CalibrationInputs) -> Calibration` (anomaly.engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anomaly.engine import num, source_columns
from anomaly.engine.duckdb_engine import as_engine

FINDING_COLUMNS = ("staff_id", "day", "code", "evidence")
STAFF_DAY_COLUMNS = ("staff_id", "day", "org_code", "role")
GROUP_COLUMNS = ("org_code", "role", "code", "n_tests", "exceed_2", "exceed_3", "shift")
STAFF_COLUMNS = ("staff_id", "org_code", "role", "code", "n_tests", "exceed_2", "exceed_3", "shift")
LEVELS = (2, 3, 4, 6, 8, 10)  # evidence levels whose exceedance rates are compared with 10^-level
REPORTED = (2, 3)  # the levels whose exceedances the run's diagnostics show (exceed_2, exceed_3)
INCIDENT_ALLOWANCE = 2  # people at a level a group's (or a role's) incidents may account for
PRIOR_STAFF_DAYS = 500.0
UNCALIBRATED = ("terminated",)  # policy facts, not statistics
UNIT = "unit"  # the staff-days' optional column: a second peer grouping (calibrate); staff without one have none


@dataclass(frozen=True)
class CalibrationInputs:
    """findings: FINDING_COLUMNS, raw evidence of the history and the window; staff_days: STAFF_DAY_COLUMNS,
    every tested staff-day of the same period. Relation names on the engine (or DuckDB relations)."""

    findings: Any
    staff_days: Any


@dataclass(frozen=True)
class Calibration:
    """staff: STAFF_COLUMNS, the shift (decades, >= 0) to subtract from a code's evidence for each person,
    from their peer group without them; groups: GROUP_COLUMNS, the same summarised per peer group (the
    median person's shift) for the run's diagnostics. The engine's handles on calibration_staff and
    calibration_groups."""

    groups: Any
    staff: Any


def calibrate(target: Any, inputs: CalibrationInputs) -> Calibration:
    """Per (organisation, role, code), and per (organisation, unit, code) where the staff-days name units: the
    largest excess of evidence >= each of LEVELS over chance, as a shift; a person's shift is the larger of the
    two groups'. A roster's role may be a rank (役職: 主事, 係長) shared by every unit, so that a counter's evenings
    in the moving season are a tail of its unit's, not of the rank's; where role names the function, the unit
    is a second view of the same peers and mostly agrees."""
    eng = as_engine(target)
    units = UNIT in source_columns(eng, inputs.staff_days)
    eng.bind("_c_findings", inputs.findings, FINDING_COLUMNS)
    eng.bind("_c_staff_days", inputs.staff_days, STAFF_DAY_COLUMNS + ((UNIT,) if units else ()))
    _exceedances(eng)
    _shifts(eng, "role", "_c_by_role")
    if units:
        _shifts(eng, UNIT, "_c_by_unit")
        eng.hold("calibration_staff", f"""
            SELECT r.staff_id, r.org_code, r.role, r.code, r.n_tests,
                   {", ".join(f"r.exceed_{t}" for t in REPORTED)}, greatest(r.shift, coalesce(u.shift, 0)) AS shift
            FROM _c_by_role r LEFT JOIN _c_by_unit u ON u.staff_id = r.staff_id AND u.code = r.code""")
    else:
        eng.create("calibration_staff", "SELECT * FROM _c_by_role")
    eng.create("calibration_groups", f"""
        SELECT org_code, role, code, max(n_tests) AS n_tests, max(exceed_2) AS exceed_2, max(exceed_3) AS exceed_3,
               {eng.median("shift")} AS shift
        FROM calibration_staff GROUP BY org_code, role, code""")
    return Calibration(groups=eng.table("calibration_groups"), staff=eng.table("calibration_staff"))


def _exceedances(eng: Any) -> None:
    """Relation _c_own (staff_id, code, k<level> and p<level> for each of LEVELS): per person and code, the tested
    staff-days whose evidence reached each level (k, reported) and whether any did (p, the shift's count), read by
    both peer groupings. A day counts at a level when its strongest finding of the code does (the day's maximum
    first, then plain counts: six distinct counts took twice as long on DuckDB, and Spark collects a set for each)."""
    skip = ", ".join(f"'{c}'" for c in UNCALIBRATED)
    eng.hold("_c_own", f"""
        WITH days AS (
            SELECT f.staff_id, f.code, f.day, max(f.evidence) AS evidence
            FROM _c_findings f SEMI JOIN _c_staff_days sd ON sd.staff_id = f.staff_id AND sd.day = f.day
            WHERE f.code NOT IN ({skip}) GROUP BY f.staff_id, f.code, f.day)
        SELECT staff_id, code, {", ".join(f"count(CASE WHEN evidence >= {t} THEN 1 END) AS k{t}" for t in LEVELS)},
               {", ".join(f"max(CASE WHEN evidence >= {t} THEN 1 ELSE 0 END) AS p{t}" for t in LEVELS)}
        FROM days GROUP BY staff_id, code""")


def _shifts(eng: Any, group: str, out: str) -> None:
    """Relation `out` (STAFF_COLUMNS, `role` holding the group): each person's shift per code from the peers of
    their (organisation, `group`) without them, borrowing from the group across organisations. A missing role is
    a group of its own ('?'); a missing unit is none (it would be the whole organisation)."""
    m, a = num(PRIOR_STAFF_DAYS), INCIDENT_ALLOWANCE

    def each(template: Callable[[int], str]) -> str:
        return ", ".join(template(t) for t in LEVELS)

    eng.create(out, f"""
        WITH staff AS (SELECT staff_id, min(org_code) AS org_code, min(coalesce({group}, '?')) AS role,
                              count(*) AS n
                       FROM _c_staff_days {"WHERE unit IS NOT NULL" if group == UNIT else ""} GROUP BY staff_id),
        codes AS (SELECT DISTINCT code FROM _c_own),
        grid AS (SELECT s.staff_id, s.org_code, s.role, s.n, c.code, {each(lambda t: f"coalesce(o.k{t}, 0) AS k{t}")},
                        {each(lambda t: f"coalesce(o.p{t}, 0) AS p{t}")}
                 FROM staff s CROSS JOIN codes c LEFT JOIN _c_own o ON o.staff_id = s.staff_id AND o.code = c.code),
        grp AS (SELECT org_code, role, code, sum(n) AS n, {each(lambda t: f"sum(k{t}) AS k{t}")},
                       {each(lambda t: f"sum(p{t}) AS p{t}")} FROM grid GROUP BY org_code, role, code),
        rol AS (SELECT role, code, sum(n) AS n, {each(lambda t: f"sum(p{t}) AS p{t}")} FROM grid GROUP BY role, code),
        loo AS (  -- each person's peers without the person: nobody is their own null; at each level the peers
                  -- reaching it beyond the allowance, in the organisation's group and (r: the prior) in the role
            SELECT g.staff_id, g.org_code, g.role, g.code, p.n - g.n AS n,
                   {each(lambda t: f"p.k{t} - g.k{t} AS k{t}")},
                   {each(lambda t: f"greatest(p.p{t} - g.p{t} - {a}, 0) AS x{t}")},
                   {each(lambda t: f"(greatest(r.p{t} - g.p{t} - {a}, 0) + {m} * 1e-{t}) / (r.n - g.n + {m}) AS r{t}")}
            FROM grid g JOIN grp p ON p.org_code = g.org_code AND p.role = g.role AND p.code = g.code
            JOIN rol r ON r.role = g.role AND r.code = g.code)
        SELECT staff_id, org_code, role, code, n AS n_tests, {", ".join(f"k{t} AS exceed_{t}" for t in REPORTED)},
               greatest({num(0.0)}, {each(lambda t: f"log10(((x{t} + {m} * r{t}) / (n + {m})) / 1e-{t})")}) AS shift
        FROM loo""")
