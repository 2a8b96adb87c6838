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

Explicit stage: `calibrate(con, CalibrationInputs) -> Calibration`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from anomaly.explanations import bind

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
    every tested staff-day of the same period."""

    findings: duckdb.DuckDBPyRelation
    staff_days: duckdb.DuckDBPyRelation


@dataclass(frozen=True)
class Calibration:
    """staff: STAFF_COLUMNS, the shift (decades, >= 0) to subtract from a code's evidence for each person,
    from their peer group without them; groups: GROUP_COLUMNS, the same summarised per peer group (the
    median person's shift) for the run's diagnostics."""

    groups: duckdb.DuckDBPyRelation
    staff: duckdb.DuckDBPyRelation


def calibrate(con: duckdb.DuckDBPyConnection, inputs: CalibrationInputs) -> Calibration:
    """Per (organisation, role, code): the excess of evidence >= 2 and >= 3 over chance, as a shift."""
    for rel, cols in ((inputs.findings, FINDING_COLUMNS), (inputs.staff_days, STAFF_DAY_COLUMNS)):
        missing = [c for c in cols if c not in rel.columns]
        if missing:
            raise ValueError(f"calibration input lacks columns {missing}")
    bind(con, inputs.findings, "_c_findings", FINDING_COLUMNS)
    bind(con, inputs.staff_days, "_c_staff_days", STAFF_DAY_COLUMNS)
    skip = ", ".join(f"'{c}'" for c in UNCALIBRATED)
    m, (t2, t3) = PRIOR_STAFF_DAYS, LEVELS
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE anomaly_calibration_staff AS
        WITH staff AS (SELECT staff_id, any_value(org_code) AS org_code, any_value(coalesce(role, '?')) AS role,
                              count(*) AS n
                       FROM _c_staff_days GROUP BY staff_id),
        own AS (
            SELECT f.staff_id, f.code, count(DISTINCT f.day) FILTER (WHERE f.evidence >= {t2}) AS k2,
                   count(DISTINCT f.day) FILTER (WHERE f.evidence >= {t3}) AS k3
            FROM _c_findings f SEMI JOIN _c_staff_days sd USING (staff_id, day)
            WHERE f.code NOT IN ({skip}) GROUP BY ALL),
        codes AS (SELECT DISTINCT code FROM own),
        grid AS (SELECT s.staff_id, s.org_code, s.role, s.n, c.code, coalesce(o.k2, 0) AS k2, coalesce(o.k3, 0) AS k3
                 FROM staff s CROSS JOIN codes c LEFT JOIN own o ON o.staff_id = s.staff_id AND o.code = c.code),
        grp AS (SELECT org_code, role, code, sum(n) AS n, sum(k2) AS k2, sum(k3) AS k3 FROM grid GROUP BY ALL),
        rol AS (SELECT role, code, sum(n) AS n, sum(k2) AS k2, sum(k3) AS k3 FROM grid GROUP BY ALL),
        loo AS (  -- each person's peers without the person: nobody is their own null
            SELECT g.staff_id, g.org_code, g.role, g.code, p.n - g.n AS n, p.k2 - g.k2 AS k2, p.k3 - g.k3 AS k3,
                   (r.k2 - g.k2 + {m} * 1e-{int(t2)}) / (r.n - g.n + {m}) AS r2,
                   (r.k3 - g.k3 + {m} * 1e-{int(t3)}) / (r.n - g.n + {m}) AS r3
            FROM grid g JOIN grp p USING (org_code, role, code) JOIN rol r USING (role, code))
        SELECT staff_id, org_code, role, code, n AS n_tests, k2 AS exceed_2, k3 AS exceed_3,
               greatest(0.0, log10(((k2 + {m} * r2) / (n + {m})) / 1e-{int(t2)}),
                        log10(((k3 + {m} * r3) / (n + {m})) / 1e-{int(t3)})) AS shift
        FROM loo""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE anomaly_calibration AS
        SELECT org_code, role, code, max(n_tests) AS n_tests, max(exceed_2) AS exceed_2, max(exceed_3) AS exceed_3,
               median(shift) AS shift
        FROM anomaly_calibration_staff GROUP BY ALL""")
    return Calibration(groups=con.table("anomaly_calibration"), staff=con.table("anomaly_calibration_staff"))
