"""A small but complete warehouse for the public-site tests, built in code with real DuckDB rows."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from dashboards.publish.definitions import load_definitions
from observatory.config import shipped_kpi_dir
from observatory.security import audit
from observatory.warehouse import for_workspace
from observatory.workspace import Workspace

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
STAFF_MARKER = "STAFF-SECRET-7731"  # must never appear in the published site
SUBJECT_MARKER = "SUBJ-HIDDEN-4410"
STAFF_NAME_MARKER = "秘密 職員名"  # a staff member's display name (roster 氏名): never in the published site

# the shipped catalogue (kpi_definitions/*.yaml) is the source of truth for definitions
DEFINITIONS = load_definitions(shipped_kpi_dir())
ONLINE, CARD, TURNAROUND = "online_rate_registration", "card_holding_rate", "turnaround_median_days"
NO_TARGET = "dx_ai_in_use"  # a KPI with figures and no target
ONE_POINT = "inventory_online_usage_rate"  # a KPI with a single figure
TRIAGE, CONFIRMED = "alert_triage_within_sla_rate", "confirmed_unauthorised_viewings_per_1000_staff"


def months(start: date, n: int) -> list[date]:
    out, y, m = [], start.year, start.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def populate(ws: Workspace, municipalities: int | None = 60, seed: int = 7) -> None:
    """Insert KPI values (all levels), forecasts, runs, submissions, alerts and audit rows."""
    rng = random.Random(seed)
    periods = months(date(2024, 1, 1), 24)
    with for_workspace(ws).connect() as con:
        munis = [r[0] for r in con.execute("SELECT code FROM municipalities ORDER BY code").fetchall()]
        prefs = [r[0] for r in con.execute("SELECT code FROM prefectures ORDER BY code").fetchall()]
        chosen = munis if municipalities is None else munis[:: max(1, len(munis) // municipalities)][:municipalities]
        rows = []
        for i, p in enumerate(periods):
            v = 35 + i * 0.9
            rows.append((ONLINE, "national", "JP", p, v, v * 1000, 100000.0, 70.0, "on_track"))
            rows.append((ONLINE, "ministry", "MOJ", p, v + 3, None, None, 70.0, "on_track"))
            c = 60 + i * 0.7
            rows.append((CARD, "national", "JP", p, c, None, None, 95.0, "at_risk"))
            for pc in prefs:
                rows.append((CARD, "prefecture", pc, p, c + rng.uniform(-5, 5), None, None, 95.0, "at_risk"))
            for j, mc in enumerate(chosen):
                if j % 11 == 3 and i > 20:  # some late submitters: gaps, never zeros
                    rows.append((CARD, "municipality", mc, p, None, None, None, 95.0, "no_data"))
                    continue
                pop = 1000 + j * 37
                held = pop * (c + rng.uniform(-8, 8)) / 100
                rows.append((CARD, "municipality", mc, p, 100 * held / pop, held, float(pop), 95.0, "at_risk"))
            # alert-derived KPIs: a month with few alerts must not reveal its counts
            den = 6.0 if i % 4 == 0 else 40.0 + i
            num = den - 1 if i % 4 == 0 else den - 3
            rows.append((TRIAGE, "national", "JP", p, 100 * num / den, num, den, 90.0, "at_risk"))
            rows.append((CONFIRMED, "national", "JP", p, 0.4, None, None, 0.5, "on_track"))
            rows.append((TURNAROUND, "national", "JP", p, 14.0 - i * 0.1, None, None, 10.0, "off_track"))
        rows.append(("mystery_kpi", "national", "JP", periods[-1], 1.0, None, None, None, "no_target"))
        for fy, v in ((2021, 40.0), (2022, 45.0), (2023, 51.9)):
            rows.append((NO_TARGET, "national", "JP", date(fy, 4, 1), v, None, None, None, "no_target"))
        rows.append((ONE_POINT, "national", "JP", date(2023, 4, 1), 51.9, None, None, None, "no_target"))
        frame = pd.DataFrame(rows, columns=["kpi_id", "level", "entity_code", "period", "value", "numerator",
                                            "denominator", "target", "status"])
        frame["period"] = pd.to_datetime(frame["period"])
        con.register("fixture_values", frame)
        con.execute(
            "INSERT INTO kpi_values (kpi_id, version, level, entity_code, period, value, numerator, denominator, "
            "target, gap, status, computed_at, lineage) SELECT kpi_id, 1, level, entity_code, period::DATE, value, "
            "numerator, denominator, target, NULL, status, ?, ? FROM fixture_values", [NOW, json.dumps({"runs": [1]})])
        con.unregister("fixture_values")
        fc = []
        for kpi, years, status in ((ONLINE, (2020, 2023, 2026), "on_track"), (CARD, (2023, 2026), "at_risk")):
            for y in years:
                fc.append((kpi, "national", "JP", y, date(y + 1, 3, 31), 70.0 if kpi == ONLINE else 95.0,
                           60.0 + (y - 2020), 55.0 + (y - 2020), 66.0 + (y - 2020),
                           None if status != "on_track" else date(y + 1, 1, 1),
                           "achieved" if y == 2020 else status, "linear", 24))
        con.executemany("INSERT INTO kpi_forecasts (kpi_id, version, level, entity_code, target_year, target_date, "
                        "target_value, projected_value, lower, upper, attainment_date, status, method, n_points, "
                        "computed_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [(*f, NOW) for f in fc])
        con.execute(
            "INSERT INTO collector_runs (run_id, source, kind, started_at, finished_at, status, rows_loaded) "
            "VALUES (900001, 'card-issuance', 'card-issuance', ?, ?, 'ok', 100), "
            "(900002, 'usage-rates', 'usage-rates', ?, ?, 'failed', 0)",
            [NOW - timedelta(days=2), NOW - timedelta(days=2), NOW - timedelta(hours=3), NOW - timedelta(hours=3)],
        )
        con.execute(
            "INSERT INTO submissions (submission_id, kpi_id, ministry_code, submitted_by, submitted_at, file_sha256, "
            "status) VALUES (900010, ?, 'MOJ', 'moj-officer-kato', ?, 'abc', 'accepted')", [ONLINE, NOW])
        alerts = []
        statuses = ["true_positive"] * 3 + ["benign"] * 14 + ["new"] * 12 + ["false_positive"] * 2
        for n, st in enumerate(statuses):
            d = date(2026, 6 + n % 4, 1 + n % 20)
            alerts.append((900100 + n, f"{STAFF_MARKER}-{n}", "131016", d, d, 0.9, "high", st,
                           json.dumps([{"code": "neighbour", "text_en": f"viewed {SUBJECT_MARKER}"}]), NOW, NOW))
        con.executemany(
            "INSERT INTO alerts (alert_id, staff_id, org_code, first_seen, last_seen, score, severity, status, "
            "reasons, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", alerts)
        con.execute("INSERT INTO staff (staff_id, org_code, unit, role, subject_id, status, terminated_on, run_id, "
                    "display_name) VALUES (?, '131016', 'tax', 'clerk', ?, 'active', NULL, 1, ?)",
                    [STAFF_MARKER, SUBJECT_MARKER, STAFF_NAME_MARKER])
        audit.record(con, actor=STAFF_MARKER, action="view_alert", role="security", target=SUBJECT_MARKER,
                     client="127.0.0.1")
