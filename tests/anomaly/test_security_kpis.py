"""The security KPIs are computed from the alerts the detector has just written (not left at "no data")."""

from __future__ import annotations

from datetime import timedelta

import pytest

from observatory import jobs
from observatory.warehouse import for_workspace
from tests.anomaly import world as w


def test_detection_recomputes_the_kpis_that_read_alerts(built) -> None:
    for i in range(3):
        built.event("CW1", w.TEST_DAY - timedelta(days=1), 10 + i / 10, w.rid(1 + i))
    built.flush()
    with for_workspace(built.ws).connect() as con:
        before = con.execute("SELECT count(*) FROM kpi_values WHERE kpi_id = 'alert_triage_within_sla_rate' "
                             "AND value IS NOT NULL").fetchone()[0]
    jobs.detect_alerts(built.ws)
    with for_workspace(built.ws).connect() as con:
        n_alerts = con.execute("SELECT count(*) FROM alerts").fetchone()[0]
        rows = con.execute("SELECT period, value, denominator FROM kpi_values WHERE kpi_id = "
                           "'alert_triage_within_sla_rate' AND level = 'national' AND value IS NOT NULL").fetchall()
    assert n_alerts >= 1 and before == 0
    assert rows and sum(r[2] for r in rows) == n_alerts  # every alert counted in the month it was raised


def test_the_detect_and_status_commands_recompute_them_too(built) -> None:
    """`observatory alerts detect` ran the detector alone (the KPIs kept "no data"); a decision from the command
    line changes the confirmed count of the month the alert was raised in."""
    from click.testing import CliRunner

    from observatory.cli import cli

    for i in range(3):
        built.event("CW1", w.TEST_DAY - timedelta(days=1), 10 + i / 10, w.rid(1 + i))
    built.flush()
    home = str(built.ws.home)
    out = CliRunner().invoke(cli, ["--home", home, "alerts", "detect"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    with for_workspace(built.ws).connect() as con:
        n_alerts, alert_id = con.execute("SELECT count(*), min(alert_id) FROM alerts").fetchone()
        raised = con.execute("SELECT sum(denominator) FROM kpi_values WHERE kpi_id = 'alert_triage_within_sla_rate' "
                             "AND level = 'national' AND value IS NOT NULL").fetchone()[0]
    assert n_alerts >= 1 and raised == n_alerts
    out = CliRunner().invoke(cli, ["--home", home, "alerts", "status", str(alert_id), "true_positive", "--user", "sato"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    with for_workspace(built.ws).connect() as con:
        confirmed = con.execute("SELECT sum(value) FROM kpi_values WHERE kpi_id = "
                                "'confirmed_unauthorised_viewings_per_1000_staff' AND level = 'national'").fetchone()[0]
        staff = con.execute("SELECT count(*) FROM staff WHERE status = 'active'").fetchone()[0]
    assert confirmed == pytest.approx(1000 / staff)
