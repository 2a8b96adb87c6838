"""Null distributions calibrated on the organisation's own data, per peer group (organisation x role).

Each scenario's evidence is a -log10 p-value from a model of chance (hypergeometric draws, Poisson rates,
robust baselines). Where the model fits, a staff-day reaches evidence t with probability 10^-t; where an
organisation's legitimate work breaks an assumption (people looked up far more often than others, a unit
that routinely works at night, relatives who really do come to the counter), the same evidence is reached
far more often. This stage counts, per peer group and reason code, how many of the group's tested
staff-days reached evidence 2 and 3, compares that with the 10^-2 and 10^-3 expected, and shifts the
group's evidence down by the excess (in decades: p-values multiplied by the inflation, as in genomic
control), never up. Small groups borrow from their role across organisations, and that from the nominal
rate (pseudo-counts of PRIOR_STAFF_DAYS), and each person is calibrated on the peers without them, so that
an incident does not calibrate itself away.

Explicit stage: `calibrate(engine, CalibrationInputs) -> Calibration` (anomaly.engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anomaly.engine import num
from anomaly.engine.duckdb_engine import as_engine

FINDING_COLUMNS = ("staff_id", "day", "code", "evidence")
STAFF_DAY_COLUMNS = ("staff_id", "day", "org_code", "role")
GROUP_COLUMNS = ("org_code", "role", "code", "n_tests", "exceed_2", "exceed_3", "shift")
STAFF_COLUMNS = ("staff_id", "org_code", "role", "code", "n_tests", "exceed_2", "exceed_3", "shift")
LEVELS = (2.0, 3.0)  # evidence levels whose exceedance rates are compared with 10^-level
PRIOR_STAFF_DAYS = 500.0
UNCALIBRATED = ("terminated",)  # policy facts, not statistics


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
    """Per (organisation, role, code): the excess of evidence >= 2 and >= 3 over chance, as a shift."""
    eng = as_engine(target)
    eng.bind("_c_findings", inputs.findings, FINDING_COLUMNS)
    eng.bind("_c_staff_days", inputs.staff_days, STAFF_DAY_COLUMNS)
    skip = ", ".join(f"'{c}'" for c in UNCALIBRATED)
    m, (t2, t3) = num(PRIOR_STAFF_DAYS), LEVELS
    eng.create("calibration_staff", f"""
        WITH staff AS (SELECT staff_id, min(org_code) AS org_code, min(coalesce(role, '?')) AS role,
                              count(*) AS n
                       FROM _c_staff_days GROUP BY staff_id),
        own AS (
            SELECT f.staff_id, f.code, {eng.count_distinct(f'CASE WHEN f.evidence >= {t2} THEN f.day END')} AS k2,
                   {eng.count_distinct(f'CASE WHEN f.evidence >= {t3} THEN f.day END')} AS k3
            FROM _c_findings f SEMI JOIN _c_staff_days sd ON sd.staff_id = f.staff_id AND sd.day = f.day
            WHERE f.code NOT IN ({skip}) GROUP BY f.staff_id, f.code),
        codes AS (SELECT DISTINCT code FROM own),
        grid AS (SELECT s.staff_id, s.org_code, s.role, s.n, c.code, coalesce(o.k2, 0) AS k2, coalesce(o.k3, 0) AS k3
                 FROM staff s CROSS JOIN codes c LEFT JOIN own o ON o.staff_id = s.staff_id AND o.code = c.code),
        grp AS (SELECT org_code, role, code, sum(n) AS n, sum(k2) AS k2, sum(k3) AS k3 FROM grid
                GROUP BY org_code, role, code),
        rol AS (SELECT role, code, sum(n) AS n, sum(k2) AS k2, sum(k3) AS k3 FROM grid GROUP BY role, code),
        loo AS (  -- each person's peers without the person: nobody is their own null
            SELECT g.staff_id, g.org_code, g.role, g.code, p.n - g.n AS n, p.k2 - g.k2 AS k2, p.k3 - g.k3 AS k3,
                   (r.k2 - g.k2 + {m} * 1e-{int(t2)}) / (r.n - g.n + {m}) AS r2,
                   (r.k3 - g.k3 + {m} * 1e-{int(t3)}) / (r.n - g.n + {m}) AS r3
            FROM grid g JOIN grp p ON p.org_code = g.org_code AND p.role = g.role AND p.code = g.code
            JOIN rol r ON r.role = g.role AND r.code = g.code)
        SELECT staff_id, org_code, role, code, n AS n_tests, k2 AS exceed_2, k3 AS exceed_3,
               greatest({num(0.0)}, log10(((k2 + {m} * r2) / (n + {m})) / 1e-{int(t2)}),
                        log10(((k3 + {m} * r3) / (n + {m})) / 1e-{int(t3)})) AS shift
        FROM loo""")
    eng.create("calibration_groups", f"""
        SELECT org_code, role, code, max(n_tests) AS n_tests, max(exceed_2) AS exceed_2, max(exceed_3) AS exceed_3,
               {eng.median("shift")} AS shift
        FROM calibration_staff GROUP BY org_code, role, code""")
    return Calibration(groups=eng.table("calibration_groups"), staff=eng.table("calibration_staff"))
