"""Job wiring: a load triggers the KPI recompute of what it touched; the publish job rebuilds only on change."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from observatory import jobs
from observatory.warehouse import for_workspace

SAMPLE = Path(__file__).parent / "fixtures" / "collectors" / "card_issuance_sample_cp932.csv"


def test_ingest_from_the_cli_recomputes_the_kpis_it_touched(tmp_path: Path):
    home = tmp_path / "ws"
    obs = [sys.executable, "-m", "observatory", "--home", str(home)]
    assert subprocess.run([*obs, "init"], capture_output=True, timeout=300).returncode == 0
    result = subprocess.run([*obs, "ingest", "card-issuance", str(SAMPLE), "--period", "2026-10"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "KPI values changed:" in result.stdout
    import duckdb

    con = duckdb.connect(str(home / "observatory.duckdb"), read_only=True)
    try:
        loaded = con.execute("SELECT count(*) FROM card_issuance WHERE period = DATE '2026-10-01'").fetchone()[0]
        values = con.execute(
            "SELECT count(*) FROM kpi_values WHERE kpi_id = 'card_holding_rate' AND level = 'municipality' "
            "AND period = DATE '2026-10-01' AND value IS NOT NULL").fetchone()[0]
        national = con.execute(
            "SELECT value FROM kpi_values WHERE kpi_id = 'card_holding_rate' AND level = 'national' "
            "AND period = DATE '2026-10-01'").fetchone()[0]
        expected = con.execute(
            "SELECT 100.0 * sum(held) / sum(population) FROM card_issuance WHERE period = DATE '2026-10-01'"
        ).fetchone()[0]
    finally:
        con.close()
    assert loaded > 0 and values == loaded  # every loaded municipality has its value
    assert abs(national - expected) < 1e-9
    status = subprocess.run([*obs, "status"], capture_output=True, text=True, timeout=300)
    assert status.returncode == 0 and "card_issuance" in status.stdout


def test_publish_job_rebuilds_only_when_the_data_changed(workspace):
    first = jobs.republish_if_changed(workspace)
    assert first is not None
    site = workspace.resolve(workspace.config.publish.outdir)
    assert (site / "ja" / "index.html").exists()
    assert jobs.republish_if_changed(workspace) is None  # nothing changed: no rebuild
    with for_workspace(workspace).connect() as con:
        now = datetime.now(UTC)
        con.execute("INSERT INTO collector_runs (run_id, source, kind, started_at, finished_at, status) "
                    "VALUES (nextval('id_seq'), 'x', 'usage-rates', ?, ?, 'ok')", [now, now])
    assert jobs.republish_if_changed(workspace) is not None


def test_detection_after_a_days_access_log_starts_at_that_day_not_the_first_of_its_month(workspace, tmp_path: Path):
    """A daily feed re-examined its month from the 1st after every load (the access log reports months touched):
    a month of daily files cost days squared. The collector reports the first local day of the file's events and
    detection after the load starts there; other loads still start at the first period they touched."""
    from datetime import date

    import collectors
    from collectors.base import RunResult
    from observatory import jobs
    from tests.collectors.conftest import csv_bytes, write
    from tests.collectors.test_access_log import HEADER, events

    april = [r for r in events(6) if r[1].startswith("2026-04")]
    jobs.ingest(workspace, "access-log", [write(tmp_path, "april.csv", csv_bytes([HEADER, *april]))])  # detected
    rows = [r for r in events(6) if r[1].startswith("2026-05")]  # the May events, the earliest on 5/2 (JST)
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "day.csv", csv_bytes([HEADER, *rows]))])
    assert result.status == "ok" and result.periods_touched == [date(2026, 5, 1)]
    assert result.detail["first_day"] == min(r[1][:10] for r in rows) == "2026-05-02"
    roster = RunResult(1, "file", "staff", "ok", rows_loaded=3, periods_touched=[date(2026, 6, 1)])
    assert jobs._detection_since(workspace, [result, roster]) == date(2026, 5, 2)
    assert jobs._detection_since(workspace, [RunResult(2, "file", "staff", "ok", rows_loaded=3)]) is None
    # a roster's periods, at most ROSTER_LOOKBACK_DAYS before the last day detected, once May is detected
    # (before, May's days no run has examined come first: see the test below)
    assert jobs._detection_since(workspace, [roster]) == date(2026, 5, 2)
    jobs.detect_alerts(workspace)
    horizon = date.fromisoformat(max(r[1][:10] for r in rows)) - timedelta(days=jobs.ROSTER_LOOKBACK_DAYS)
    assert jobs._detection_since(workspace, [roster]) == max(date(2026, 6, 1), horizon)


def test_days_a_failed_follow_up_left_are_detected_after_the_next_load(workspace, tmp_path: Path):
    """The detection after a load did not run (a process stopped between the load and its follow-up, an engine
    that failed): the next day's load detects from the first day no run has examined, not from its own first
    day only, which left those days examined by no one until someone ran `alerts detect`."""
    from observatory import jobs
    from tests.collectors.conftest import csv_bytes, write
    from tests.collectors.test_access_log import HEADER, events

    may = sorted((r for r in events(18) if r[1].startswith("2026-05")), key=lambda r: r[1])
    days = sorted({r[1][:10] for r in may})
    assert len(days) >= 4
    part = [[r for r in may if r[1][:10] in group] for group in (days[:1], days[1:3], days[3:])]
    for name, rows, follow_up in (("d1.csv", part[0], True), ("d2.csv", part[1], False), ("d3.csv", part[2], True)):
        _, follow = jobs.ingest(workspace, "access-log", [write(tmp_path, name, csv_bytes([HEADER, *rows]))],
                                follow_up=follow_up)
    assert follow.detection is not None and follow.detection.startswith(f"{days[1]}.."), follow.detection
    with for_workspace(workspace).connect() as con:
        detected = {d.isoformat() for (d,) in con.execute("SELECT DISTINCT day FROM anomaly_staff_days").fetchall()}
    assert set(days) <= detected


def test_a_leaver_named_late_by_the_roster_is_found_on_the_days_already_detected(workspace, tmp_path: Path):
    """The roster that says a staff member left on 1 May arrives after May's accesses were detected: detection
    after the roster's load looks at May again (the leaver's month), not only at the newest day, and finds the
    account used after its holder left."""
    from observatory import jobs
    from tests.collectors.conftest import csv_bytes, write
    from tests.collectors.test_access_log import HEADER, events

    rows = [r for r in events(12) if r[1].startswith("2026-05") and r[2] == "ST001"]
    assert rows
    staff = [["staff_id", "org_code", "unit", "role", "status", "terminated_on"],
             ["ST001", "132063", "市民課", "clerk", "active", ""]]
    jobs.ingest(workspace, "staff", [write(tmp_path, "s1.csv", csv_bytes(staff))])
    _, follow = jobs.ingest(workspace, "access-log", [write(tmp_path, "may.csv", csv_bytes([HEADER, *rows]))])
    assert follow.detection is not None and not _alert_codes(workspace)
    staff[1][4:] = ["terminated", "2026-05-01"]
    _, follow = jobs.ingest(workspace, "staff", [write(tmp_path, "s2.csv", csv_bytes(staff))])
    assert follow.detection.startswith("2026-05-02.."), follow.detection  # May again, from its first access
    assert "terminated" in _alert_codes(workspace), follow.detection


def _alert_codes(ws) -> set[str]:
    from observatory.warehouse import for_workspace

    with for_workspace(ws).connect() as con:
        return {s for (sc,) in con.execute("SELECT scenarios FROM alerts").fetchall() for s in sc}


def test_a_load_whose_follow_up_did_not_run_is_followed_up_by_the_next_load(workspace, tmp_path: Path):
    """A load whose KPI recompute did not run (the process stopped between the load and its follow-up) left its
    KPI values stale until another load touched the same tables: it is remembered as not followed up, and the
    next load's follow-up recomputes what it touched too, then marks both."""
    from observatory import jobs
    from tests.collectors.conftest import write

    stopped = jobs.ingest(workspace, "card-issuance", [write(tmp_path, "card.csv", SAMPLE.read_bytes())],
                          period="2026-10", follow_up=False)[0]
    assert [r.run_id for r in jobs.pending(workspace)] == [stopped[0].run_id]
    assert _kpi_values(workspace, "card_holding_rate", "2026-10-01") == 0  # stale: never recomputed
    status = subprocess.run([sys.executable, "-m", "observatory", "--home", str(workspace.home), "status"],
                            capture_output=True, text=True, timeout=300)
    assert status.returncode == 0 and "loads not yet followed up" in status.stdout, status.stdout + status.stderr
    assert f"#{stopped[0].run_id}" in status.stdout
    assert jobs.after_load(workspace, []).kpi_values_changed == 0  # a run that loaded nothing follows up nothing
    assert [r.run_id for r in jobs.pending(workspace)] == [stopped[0].run_id]
    staff = write(tmp_path, "staff.csv", b"staff_id,org_code,unit,role,status\nST001,132063,X,clerk,active\n")
    [later], follow = jobs.ingest(workspace, "staff", [staff])
    assert later.status == "ok" and not follow.errors
    assert _kpi_values(workspace, "card_holding_rate", "2026-10-01") > 0
    assert jobs.pending(workspace) == []


def _kpi_values(ws, kpi_id: str, period: str) -> int:
    with for_workspace(ws).connect() as con:
        return con.execute("SELECT count(*) FROM kpi_values WHERE kpi_id = ? AND period = CAST(? AS DATE) "
                           "AND value IS NOT NULL", [kpi_id, period]).fetchone()[0]
