"""Benchmark: full KPI recompute of the shipped catalogue over 10 years of monthly data.

Generates, into a fresh workspace, FY2016-FY2025 (120 months) of card issuance for all 1,741
municipalities, procedure usage and case records for all ministries, alerts and staff, and accepted
ministry submissions for the submission-fed KPIs; then times
  1. values and statuses for every KPI, level, entity and period (goal < 3 s),
  2. forecasts for every KPI and entity (goal < 10 s more),
  3. the incremental recompute after one new month of data (goal < 1 s).
Run: .venv/bin/python benchmarks/kpi_compute.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from observatory.kpis.catalogue import load_catalogue
from observatory.kpis.engine import recompute
from observatory.kpis.forecast import refresh_forecasts
from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace

ROOT = Path(__file__).resolve().parent.parent
FIELDS = [("MOJ", "registration"), ("MHLW", "social_insurance"), ("MHLW", "employment_insurance"),
          ("MHLW", "labour_insurance"), ("NTA", "national_tax"), ("MIC", "local_tax")]
FIRST_MONTH, MONTHS = date(2016, 4, 1), 120


def generate(con, months: int = MONTHS, first: date = FIRST_MONTH, offset: int = 0) -> None:
    """Insert `months` months of synthetic data starting `offset` months after `first` (set-based SQL)."""
    con.execute("SELECT setseed(0.42)")
    m0 = f"DATE '{first.isoformat()}' + INTERVAL (m) MONTH"
    con.execute(f"""
        INSERT INTO card_issuance
        SELECT code, CAST({m0} AS DATE), pop,
               CAST(pop * least(0.95, 0.08 + 0.0075 * m * (0.7 + 0.6 * h)) AS BIGINT) AS applications,
               CAST(pop * least(0.93, 0.06 + 0.0070 * m * (0.7 + 0.6 * h)) AS BIGINT) AS issued,
               CAST(pop * least(0.92, 0.06 + 0.0068 * m * (0.7 + 0.6 * h)) AS BIGINT) AS held, 1000 + m, NULL
        FROM (SELECT code, 2000 + CAST(hash(code) % 500000 AS BIGINT) AS pop, (hash(code) % 1000) / 1000.0 AS h
              FROM municipalities) mu, range({offset}, {offset + months}) r(m)
        ORDER BY m, code""")  # loaded month by month, as the collectors do
    con.execute("CREATE OR REPLACE TEMP TABLE bench_procs AS SELECT * FROM (VALUES "
                + ", ".join(f"('{m}', '{f}')" for m, f in FIELDS) + ") v(ministry_code, field)")
    con.execute("""INSERT INTO bench_procs SELECT code, 'other' FROM ministries
                   WHERE code NOT IN (SELECT ministry_code FROM bench_procs)""")
    con.execute(f"""
        INSERT INTO procedure_usage
        SELECT p.ministry_code, p.ministry_code || '-' || p.field || '-' || k, p.field || ' ' || k, p.field,
               CAST({m0} AS DATE), total, CAST(total * least(0.98, 0.05 + 0.006 * m + 0.1 * (k % 3)) AS BIGINT),
               (k + m / 12) % 4 <> 0, 1000 + m, NULL
        FROM bench_procs p, range(10) kk(k), range({offset}, {offset + months}) r(m),
             (SELECT 1000 + 37 * 10 AS total)
        ORDER BY m""")
    con.execute(f"""
        INSERT INTO procedure_cases
        SELECT 'C' || m || '-' || code || '-' || k, code || '-p' || (k % 5), code,
               NULL, CASE WHEN k % 3 = 0 THEN 'online' ELSE 'counter' END,
               ts, ts + INTERVAL (1 + (k * 7 + m) % 40) DAY, 30, 1000 + m, NULL
        FROM (SELECT code FROM ministries) mi, range(40) kk(k), range({offset}, {offset + months}) r(m),
             LATERAL (SELECT CAST({m0} AS TIMESTAMPTZ) + INTERVAL (k % 27) DAY AS ts)
        ORDER BY m""")
    con.execute(f"""
        INSERT INTO alerts
        SELECT 900000000 + m * 100 + k, 'S' || (k * 13 % 5000), 'DA', d, d, 0.5 + k / 100.0, 'medium',
               CASE WHEN k % 7 = 0 THEN 'true_positive' WHEN k % 3 = 0 THEN 'new' ELSE 'benign' END,
               NULL, NULL, NULL, NULL, NULL, CAST(d AS TIMESTAMPTZ), CAST(d AS TIMESTAMPTZ), NULL
        FROM range({offset}, {offset + months}) r(m), range(20) kk(k),
             LATERAL (SELECT CAST({m0} AS DATE) + CAST(k % 27 AS INTEGER) AS d)""")
    con.execute(f"""
        INSERT INTO alert_history
        SELECT alert_id, created_at + INTERVAL ((alert_id % 5) * 24) HOUR, 'officer', 'assigned', 'new', 'new', NULL
        FROM alerts WHERE status <> 'new' AND alert_id >= 900000000 + {offset} * 100""")


def generate_static(con) -> None:
    """Staff and accepted ministry submissions (fiscal-year KPIs), FY2019-FY2025."""
    con.execute("""INSERT INTO staff (staff_id, org_code, unit, role, subject_id, status, terminated_on, run_id)
                   SELECT 'S' || i, 'DA', NULL, NULL, NULL,
                   CASE WHEN i % 50 = 0 THEN 'terminated' ELSE 'active' END, NULL, NULL FROM range(5000) r(i)""")
    specs = [
        ("once_only_rate", "ministry", ["procedures_total", "procedures_no_attachment"]),
        ("status_tracking_rate", "ministry", ["permits_total", "permits_with_tracking"]),
        ("public_data_apis", "ministry", ["apis_published"]),
        ("one_stop_life_event_procedures", "national",
         ["procedures_birth", "procedures_moving", "procedures_marriage", "procedures_death"]),
        ("special_collection_electronic_rate", "municipality", ["notices_total", "notices_electronic"]),
    ]
    sid = 5_000_000
    for kpi_id, level, columns in specs:
        entities = {"ministry": "SELECT code FROM ministries WHERE code NOT IN ('CIO', 'DA')",
                    "national": "SELECT 'JP'", "municipality": "SELECT code FROM municipalities"}[level]
        for fy in range(2019, 2026):
            sid += 1
            submitter = "MIC" if level != "ministry" else "DA"
            con.execute("INSERT INTO submissions (submission_id, kpi_id, ministry_code, submitted_by, submitted_at, "
                        "file_sha256, status, periods) VALUES (?, ?, ?, 'bench', now(), 'x', 'accepted', ?)",
                        [sid, kpi_id, submitter, [date(fy, 4, 1)]])
            for i, col in enumerate(columns):
                con.execute(
                    f"INSERT INTO submission_values SELECT ?, ?, ?, ?, e.code, ?, "
                    f"CAST(20 + (hash(e.code) % 50) * (1 + (? - 2019) * 0.1) * (1 - 0.4 * ?) AS BIGINT), NULL "
                    f"FROM ({entities}) e(code)", [sid, kpi_id, submitter, date(fy, 4, 1), col, fy, i % 2])
            if kpi_id == "special_collection_electronic_rate":
                con.execute(
                    "INSERT INTO submission_values SELECT ?, ?, 'MIC', ?, code, 'sends_electronically', NULL, "
                    "CASE WHEN hash(code || ?) % 10 < ? THEN 'yes' ELSE 'no' END FROM municipalities",
                    [sid, kpi_id, date(fy, 4, 1), str(fy), fy - 2016])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the workspace here and keep it")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kpi-bench-"))
    home = args.keep or tmp / "ws"
    try:
        ws, _ = init_workspace(home)
        catalogue = load_catalogue(ROOT / "kpi_definitions")
        with for_workspace(ws).connect() as con:
            t = time.perf_counter()
            generate(con)
            generate_static(con)
            counts = {tb: con.execute(f"SELECT count(*) FROM {tb}").fetchall()[0][0]
                      for tb in ("card_issuance", "procedure_usage", "procedure_cases", "alerts", "submission_values")}
            print(f"generated in {time.perf_counter() - t:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

            t, c = time.perf_counter(), time.process_time()
            result = recompute(con, catalogue, forecast=False)
            full, full_cpu = time.perf_counter() - t, time.process_time() - c
            n_status = con.execute("SELECT status, count(*) FROM kpi_values GROUP BY ALL ORDER BY ALL").fetchall()
            print(f"1. values + statuses: {full:.2f} s (goal < 3 s; CPU {full_cpu:.2f} s) - {result.values:,} values for "
                  f"{len(result.kpis)} KPIs; statuses {dict(n_status)}")

            t, c = time.perf_counter(), time.process_time()
            n_fc = refresh_forecasts(con, catalogue)
            fc, fc_cpu = time.perf_counter() - t, time.process_time() - c
            fstatus = con.execute("SELECT status, count(*) FROM kpi_forecasts GROUP BY ALL ORDER BY ALL").fetchall()
            print(f"2. forecasts: {fc:.2f} s (goal < 10 s; CPU {fc_cpu:.2f} s) - {n_fc:,} forecasts; statuses {dict(fstatus)}")

            generate(con, months=1, offset=MONTHS)
            new_month = date(2026, 4, 1)
            t, c = time.perf_counter(), time.process_time()
            inc = recompute(con, catalogue, tables=["card_issuance", "procedure_usage", "procedure_cases", "alerts"],
                            periods=[new_month], forecast=False)
            incremental, inc_cpu = time.perf_counter() - t, time.process_time() - c
            print(f"3. incremental after one new month: {incremental:.2f} s (goal < 1 s; CPU {inc_cpu:.2f} s) - {len(inc.kpis)} KPIs, "
                  f"{inc.values:,} values computed, {inc.changed:,} changed")
            t = time.perf_counter()
            n_fc2 = refresh_forecasts(con, catalogue, kpi_ids=inc.changed_kpis())
            print(f"   (+ refitting forecasts of the changed KPIs: {time.perf_counter() - t:.2f} s, {n_fc2:,} rows)")
            ok = full < 3 and fc < 10 and incremental < 1
            load = os.getloadavg()[0]
            print(f"RESULT: {'all goals met' if ok else 'GOAL MISSED'} (wall clock; 1-min load average {load:.1f} "
                  f"on {os.cpu_count()} CPUs: CPU seconds count all DuckDB threads)")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
