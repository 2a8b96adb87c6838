"""`observatory demo --no-serve`: the whole chain on a fresh workspace, as `make run` does it.

Files are generated, served by the loopback feed and dropped into drop directories, loaded by the real
collectors, then KPIs, detection, ministry submissions and the public site follow.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_feeds_every_source_through_the_collectors(tmp_path: Path):
    home = tmp_path / "demo"
    cmd = [sys.executable, "-m", "observatory", "--home", str(home), "demo", "--no-serve", "--staff", "120",
           "--days", "14", "--feed-port", str(_free_port())]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for source in ("usage_rates_feed", "card_issuance_feed", "card_issuance_drop", "procedure_inventory_drop",
                   "municipal_dx_drop", "turnaround_drop", "staff_drop", "subjects_drop", "cases_drop",
                   "access_log_drop"):
        assert f"{source}: ok" in out, out
    assert "cio-demo-2026" in out and "http://127.0.0.1:8050/" in out
    assert "rejected 0" in out and "rejected 1" not in out
    assert (home / "site" / "ja" / "index.html").exists() and (home / "site" / "en" / "index.html").exists()

    con = duckdb.connect(str(home / "observatory.duckdb"), read_only=True)
    try:
        runs = con.execute("SELECT source, status, rows_loaded, triggered_by FROM collector_runs").fetchall()
        assert {r[1] for r in runs} == {"ok"}
        assert {r[3] for r in runs} == {"demo"}
        # the published anchors went through the collectors unchanged
        fy2015 = dict(con.execute(
            "SELECT field, round(100.0 * sum(cases_online) / sum(cases_total), 1) FROM procedure_usage "
            "WHERE period BETWEEN DATE '2015-04-01' AND DATE '2016-03-01' GROUP BY field").fetchall())
        assert fy2015["registration"] == 66.3 and fy2015["social_insurance"] == 8.7
        assert fy2015["employment_insurance"] == 11.9 and fy2015["labour_insurance"] == 3.1
        # the real publications: every check the publishers' figures allow agrees
        from observatory.checks import run_checks

        checks = run_checks(con)
        assert [(r.check.id, r.status) for r in checks if r.status != "agrees"] == []
        assert con.execute("SELECT count(DISTINCT municipality_code), count(DISTINCT as_of) FROM card_issuance"
                           ).fetchone() == (1741, 46)
        # synthetic only where nothing is public: no card figure was made up
        assert con.execute("SELECT count(*) FROM card_issuance WHERE held IS NOT NULL OR as_of > DATE '2022-12-31'"
                           ).fetchone()[0] == 0
        # every municipality has a real issuance rate for each of the 45 months MIC published (46 dates)
        assert con.execute("SELECT count(*) FROM kpi_values WHERE kpi_id = 'card_issuance_rate' AND level = "
                           "'municipality' AND value IS NOT NULL").fetchone()[0] == 1741 * 45
        assert con.execute("SELECT count(*) FROM kpi_values WHERE status <> 'no_data'").fetchone()[0] > 50_000
        assert con.execute("SELECT count(*) FROM submissions WHERE status = 'accepted'").fetchone()[0] > 5
        assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] >= 1
        # the synthetic roster names its staff, each name saying it is invented, in both languages
        assert con.execute("SELECT count(*), count(*) FILTER (WHERE display_name LIKE '[架空] %' AND "
                           "display_name_en LIKE '[synthetic] %') FROM staff").fetchone() == (120, 120)
        # lineage: every fact row names the run that loaded it
        assert con.execute("SELECT count(*) FROM card_issuance WHERE run_id IS NULL").fetchone()[0] == 0
    finally:
        con.close()

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # second `make run`: reuse, no reload
    assert again.returncode == 0, again.stderr
    assert "feeding it through the collectors" not in again.stdout
