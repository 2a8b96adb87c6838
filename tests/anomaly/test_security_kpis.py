"""The security KPIs are computed from the alerts the detector has just written (not left at "no data")."""

from __future__ import annotations

from datetime import timedelta

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
