"""A small but complete dashboard warehouse built in code: KPI values and forecasts for the shipped
definitions, collector runs (one source fresh, one stale), submissions, alerts with history and the
access events behind them, and one user per role."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd

from anomaly.explain import REASONS
from dashboards.catalogue import kpi_infos
from observatory.config import Source, User
from observatory.security.users import hash_password
from observatory.warehouse import for_workspace
from observatory.workspace import Workspace

FAST = {"n": 2**10}
USERS = {
    "cio1": {"role": "cio"},
    "mic1": {"role": "ministry", "ministry": "MIC"},
    "mhlw1": {"role": "ministry", "ministry": "MHLW"},
    "sec1": {"role": "security"},
    "admin1": {"role": "admin"},
    "both1": {"role": "cio", "roles": ["security"]},
}
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def password(username: str) -> str:
    return f"{username}-password"


@dataclass
class Built:
    kpi_ids: list[str]
    area_kpi: str
    mic_kpi: str
    other_kpi: str  # a KPI not owned by MIC
    alert_ids: list[int]


def _months(start: date, n: int) -> list[date]:
    out, y, m = [], start.year, start.month
    for _ in range(n):
        out.append(date(y, m, 1))
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def add_users(ws: Workspace) -> None:
    ws.config.users = [User(username=u, password_hash=hash_password(password(u), **FAST), **spec)
                       for u, spec in USERS.items()]
    ws.config.sources = [
        Source(name="card-feed", kind="card-issuance", directory="drop/card", freshness_hours=48),
        Source(name="usage-feed", kind="usage-rates", directory="drop/usage", freshness_hours=24),
        Source(name="never-feed", kind="turnaround", directory="drop/never", freshness_hours=24),
    ]
    ws.save_config()


def build(ws: Workspace, months: int = 36) -> Built:
    """Fill the workspace's warehouse; returns the ids the tests need."""
    add_users(ws)
    infos = kpi_infos(ws)
    assert infos, "the shipped KPI definitions must load"
    area = next(k for k in infos if "municipality" in k.levels)
    mic = next(k for k in infos if k.owner == "MIC" and k.submittable)  # MIC submits files for it
    other = next(k for k in infos if k.owner != "MIC")
    periods = _months(date(2023, 10, 1), months)
    with for_workspace(ws).connect() as con:
        run_fresh, run_stale = 900001, 900002
        con.execute("INSERT INTO collector_runs (run_id, source, kind, started_at, finished_at, status, rows_loaded, "
                    "triggered_by) VALUES (?, 'card-feed', 'card-issuance', ?, ?, 'ok', 1741, 'scheduler'), "
                    "(?, 'usage-feed', 'usage-rates', ?, ?, 'ok', 50, 'scheduler')",
                    [run_fresh, datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC) - timedelta(hours=2),
                     run_stale, datetime.now(UTC) - timedelta(days=100), datetime.now(UTC) - timedelta(days=100)])
        rows = []
        lineage = json.dumps({"runs": [run_fresh], "submissions": [800001]})
        statuses = ["on_track", "at_risk", "off_track", "achieved"]
        for i, k in enumerate(infos):
            for j, p in enumerate(periods):
                rows.append((k.id, 1, "national", "JP", p, 10.0 + i + j * 0.5, 40.0, statuses[i % 4], lineage))
        prefs = [r[0] for r in con.execute("SELECT code FROM prefectures").fetchall()]
        munis = con.execute("SELECT code, prefecture_code FROM municipalities").fetchall()
        for p in periods[-3:]:
            for n, code in enumerate(prefs):
                rows.append((area.id, 1, "prefecture", code, p, 20.0 + n, 40.0, "at_risk", lineage))
            for n, (code, _pref) in enumerate(munis):
                rows.append((area.id, 1, "municipality", code, p, float(n % 97), 40.0,
                             "on_track" if n % 97 > 40 else "off_track", lineage))
        frame = pd.DataFrame(rows, columns=["kpi_id", "version", "level", "entity_code", "period", "value", "target",
                                            "status", "lineage"])
        con.register("kv_frame", frame)
        con.execute("INSERT INTO kpi_values (kpi_id, version, level, entity_code, period, value, target, status, "
                    "computed_at, lineage) SELECT kpi_id, version, level, entity_code, period, value, target, status, "
                    "now(), lineage FROM kv_frame")
        con.unregister("kv_frame")
        fc = []
        for k in infos:
            for y in (2020, 2023, 2026):
                fc.append((k.id, 1, "national", "JP", y, date(y + 1, 3, 31), 40.0, 35.0 + y % 7, 30.0, 45.0,
                           date(y + 2, 6, 1) if y == 2026 else None, "at_risk", "theil_sen", 36))
        con.executemany("INSERT INTO kpi_forecasts (kpi_id, version, level, entity_code, target_year, target_date, "
                        "target_value, projected_value, lower, upper, attainment_date, status, method, n_points, "
                        "computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())", fc)
        subs = [(800001, mic.id, "MIC", "mic1", NOW - timedelta(days=10), "cli", "a" * 64, "mic.csv", "accepted"),
                (800002, mic.id, "MIC", "mic1", NOW - timedelta(days=5), "web:127.0.0.1", "b" * 64, "mic2.csv",
                 "accepted"),
                (800003, other.id, "MHLW", "mhlw1", NOW - timedelta(days=3), "cli", "c" * 64, "mhlw-secret.csv",
                 "accepted")]
        con.executemany("INSERT INTO submissions (submission_id, kpi_id, ministry_code, submitted_by, submitted_at, "
                        "origin, file_sha256, file_name, status, rows_total, rows_accepted, errors, warnings) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 10, 10, 0, 0)", subs)
        _submission_history(con)
        alert_ids = _alerts(con, ws)
        _detection_run(con)
    return Built([k.id for k in infos], area.id, mic.id, other.id, alert_ids)


REPORT_PERIOD = date(2026, 9, 1)


def _submission_history(con: duckdb.DuckDBPyConnection) -> None:
    """Stored reports and receipts, and 800002 superseding 800001 for one period, as the submissions module
    writes them (so the submission page has a report, a receipt and a history to show)."""
    from observatory.submissions import Report

    for sid, name in ((800001, "mic.csv"), (800002, "mic2.csv"), (800003, "mhlw-secret.csv")):
        report = Report(file_name=name, file_format="csv", encoding="cp932", rows_total=10, rows_valid=10)
        report.warning("blank_optional", f"optional cell empty in {name}", f"任意項目が空欄です ({name})", row=4,
                       column="備考", value="=SUM(A1)")
        receipt = {"submission_id": sid, "kpi_values": {"changed": sid - 799999, "sample": [], "note": "recomputed"}}
        con.execute("UPDATE submissions SET report = ?, receipt = ?, encoding = 'cp932', warnings = 1, "
                    "submitter_role = 'ministry' WHERE submission_id = ?",
                    [json.dumps(report.to_json(), ensure_ascii=False), json.dumps(receipt), sid])
    periods = ("INSERT INTO submission_periods (submission_id, kpi_id, ministry_code, period, rows_total, supersedes, "
               "superseded_by, rows_added, rows_changed, rows_removed, rows_unchanged) "
               "SELECT submission_id, kpi_id, ministry_code, ?, 10, ?, ?, ?, ?, ?, ? FROM submissions "
               "WHERE submission_id = ?")
    con.execute(periods, [REPORT_PERIOD, None, 800002, 10, 0, 0, 0, 800001])
    con.execute(periods, [REPORT_PERIOD, 800001, None, 1, 2, 3, 4, 800002])
    con.execute("UPDATE submissions SET status = 'superseded' WHERE submission_id = 800001")
    con.execute("UPDATE submissions SET supersedes = 800001 WHERE submission_id = 800002")


def _alerts(con: duckdb.DuckDBPyConnection, ws: Workspace) -> list[int]:
    events = []
    base = date(2026, 10, 1)
    for d in range(28):  # usual pattern: daytime work
        day = base + timedelta(days=d)
        for h in (9, 10, 11, 14, 15):
            events.append((f"e-{d}-{h}", datetime(day.year, day.month, day.day, h - 9, 0, tzinfo=UTC), "S001",
                           "131016", f"p:{d:032x}", "view", "resident", None, 1, "T1", 1))
        for h in (9, 13, 16):  # the peer S002 (same organisation and role) works days too
            events.append((f"q-{d}-{h}", datetime(day.year, day.month, day.day, h - 9, 30, tzinfo=UTC), "S002",
                           "131016", f"p:{d + 500:032x}", "view", "resident", None, 1, "T2", 1))
    evidence = []
    for n in range(6):  # the episode: late-night views of many records (22:00-23:00 JST)
        ev = f"x-{n}"
        evidence.append(ev)
        events.append((ev, datetime(2026, 10, 29, 13 + n % 2, 10 * n, tzinfo=UTC), "S001", "131016",
                       f"p:{1000 + n:032x}", "view", "resident", None, 1, "T9", 1))
    month_dir = ws.events_dir / "month=2026-10"
    month_dir.mkdir(parents=True, exist_ok=True)
    tmp = duckdb.connect()
    tmp.execute("CREATE TABLE e (event_id VARCHAR, occurred_at TIMESTAMPTZ, staff_id VARCHAR, org_code VARCHAR, "
                "subject_id VARCHAR, action VARCHAR, record_type VARCHAR, case_id VARCHAR, record_count INTEGER, "
                "terminal_id VARCHAR, run_id BIGINT)")
    frame = pd.DataFrame(events, columns=["event_id", "occurred_at", "staff_id", "org_code", "subject_id", "action",
                                          "record_type", "case_id", "record_count", "terminal_id", "run_id"])
    tmp.register("frame", frame)
    tmp.execute("INSERT INTO e SELECT * FROM frame")
    path = str(month_dir / "part-0.parquet")
    assert re.fullmatch(r"[\w/.\-=]+", path)
    tmp.execute(f"COPY e TO '{path}' (FORMAT parquet)")
    tmp.close()
    reasons = json.dumps([{"code": "after_hours", "text_ja": "勤務時間外に案件なしで6人を閲覧",
                           "text_en": "viewed 6 people after hours without a case", "evidence": {"score": 0.9}},
                          {"code": "household", "text_ja": "案件なしで同一世帯の記録を1件閲覧",
                           "text_en": "viewed 1 records in own household without a case",
                           "evidence": {"score": 0.7}}], ensure_ascii=False)
    spec = [(700001, "S001", "131016", "critical", "new", ["after_hours", "household"], evidence),
            (700002, "S001", "131016", "medium", "benign", ["curiosity"], []),
            (700003, "S002", "271004", "high", "investigating", ["neighbour"], []),
            (700004, "S003", "011002", "low", "new", ["sensitive"], [])]
    # the rosters the evidence is explained with: S001 lives in household H1; x-0 is a member of it, x-1 a
    # neighbour, x-2 was viewed under an open case; S002 (same organisation and role) is S001's peer
    con.execute("INSERT INTO staff (staff_id, org_code, unit, role, subject_id, status, terminated_on, run_id) "
                "VALUES ('S001', '131016', '住民課', 'clerk', 'p:self', 'active', NULL, NULL), "
                "('S002', '131016', '住民課', 'clerk', 'p:peer', 'active', NULL, NULL), "
                "('S003', '011002', '税務課', 'clerk', NULL, 'active', NULL, NULL)")
    con.execute("INSERT INTO subjects (subject_id, municipality_code, surname_key, household_key, neighbourhood_key, "
                "sensitive, run_id) VALUES ('p:self', '131016', 'SN1', 'H1', 'N1', FALSE, NULL), "
                f"('p:{1000:032x}', '131016', 'SN2', 'H1', 'N1', FALSE, NULL), "
                f"('p:{1001:032x}', '131016', 'SN3', 'H2', 'N1', FALSE, NULL), "
                f"('p:{1002:032x}', '131016', 'SN4', 'H3', 'N9', FALSE, NULL)")
    con.execute("INSERT INTO cases (case_id, subject_id, org_code, unit, procedure_code, opened_at, closed_at, run_id) "
                f"VALUES ('C-77', 'p:{1002:032x}', '131016', '住民課', 'P1', "
                "TIMESTAMPTZ '2026-10-01 00:00:00+00', NULL, NULL)")
    for n, (aid, staff, org, sev, status, scen, evs) in enumerate(spec):
        created = NOW - timedelta(days=20 - n)
        con.execute("INSERT INTO alerts (alert_id, staff_id, org_code, first_seen, last_seen, score, severity, status, "
                    "assignee, scenarios, reasons, event_ids, baseline, created_at, updated_at, closed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
                    [aid, staff, org, date(2026, 10, 29) - timedelta(days=n), date(2026, 10, 29), 5.0 - n, sev,
                     status, scen, reasons, evs, "{}", created, created, None])
        con.execute("INSERT INTO alert_history (alert_id, at_time, actor, action, from_status, to_status, note) "
                    "VALUES (?, ?, 'detector', 'created', NULL, 'new', NULL)",
                    [aid, created])
    return [s[0] for s in spec]


def _detection_run(con: duckdb.DuckDBPyConnection) -> None:
    """One detection run's diagnostics (anomaly_runs) as a run over the events above would leave them, so that
    every page check (layout, axe) sees the alerts page's run section with its table: every scenario a run
    reports (REASONS; the list once written here lacked one)."""
    scenarios = dict.fromkeys(scenario for scenario, _, _ in REASONS.values())
    by_scenario = {s: {"at_floor": int(s == "after_hours"), "expected_by_chance": 0.0009} for s in scenarios}
    con.execute("INSERT INTO anomaly_runs (run_id, ran_at, engine, first_day, last_day, events, staff_days, findings, "
                "candidates, budget, floor, chance_share, created, updated, over_budget, suppressed, held_back, seconds, "
                "explained, by_scenario, calibration) VALUES (1, ?, 'duckdb', DATE '2026-10-01', DATE '2026-10-29', "
                "146, 57, 9, 1, 2, 5.204, 0.1, 1, 0, 0, 0, 0, 1.4, ?, ?, ?)",
                [NOW - timedelta(days=20), json.dumps({"explained": 0.0068, "case_unit": 0.0068}),
                 json.dumps(by_scenario), json.dumps({"after_hours": 0.31})])


def valid_submission(ws: Workspace, kpi_id: str) -> bytes:
    """The KPI's own CSV template with its commented example row made a real row (a file that loads)."""
    from observatory.submissions import definition, template_bytes

    text = template_bytes(definition(ws, kpi_id), "csv").decode("utf-8-sig")
    lines = text.splitlines()
    lines[-1] = lines[-1].lstrip("#")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
