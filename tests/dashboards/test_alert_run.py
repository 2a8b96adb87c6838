"""The alerts page shows the latest detection run's diagnostics (issue 12): the share explained by path, the
floor and the chance share behind it, what was raised, and per scenario the staff-days at the floor against
chance, from a real detection over the workspace's archive."""

from __future__ import annotations

import anomaly
from observatory.warehouse import for_workspace
from tests.dashboards.test_access import router_body, text_of


def _page(client, path: str, search: str = "") -> str:
    resp = client.post("/_dash-update-component", json=router_body(path, search))
    assert resp.status_code == 200
    return text_of(resp)


def test_alerts_page_reads_the_last_detection_run(workspace, client_for) -> None:
    security = client_for("sec1")
    with for_workspace(workspace).connect() as con:  # the fixture's run goes: a workspace that never detected
        con.execute("DELETE FROM anomaly_runs")
    assert "検知はまだ実行されていません" in _page(security, "/alerts")
    workspace.config.alerts.chance_share = 0.25
    result = anomaly.detect(workspace, workspace.config)
    assert result.events > 0 and result.by_scenario
    with for_workspace(workspace).connect() as con:
        stored = con.execute("SELECT engine, events, floor, chance_share, first_day FROM anomaly_runs").fetchall()
    assert stored == [("duckdb", result.events, result.floor, 0.25, result.first_day)]

    page = _page(security, "/alerts", "?lang=en")
    assert "Last detection run" in page
    assert f"{result.floor:.2f} decades" in page and "at most 25.0% of the alert budget" in page
    assert f"{100 * result.explained['explained']:.1f}% of {result.events:,}" in page
    assert "Staff-days at the floor" in page and "Own household" in page and "Account used after termination" in page
    at_floor = sum(v["at_floor"] for v in result.by_scenario.values())
    assert f"{len(result.created)} new" in page and at_floor >= 1

    ja = _page(security, "/alerts")
    assert "直近の検知実行" in ja and "有意水準" in ja and "同一世帯の閲覧" in ja
    denied = client_for("mic1").post("/_dash-update-component", json=router_body("/alerts"))
    assert denied.status_code == 403 and "有意水準" not in text_of(denied)  # the page stays the security role's


def test_alerts_page_tells_of_the_batch_corrections_the_run_did_not_count(workspace, client_for) -> None:
    """A run's batch corrections (anomaly.features.batch_days: their updates are no personal accesses) are told
    on the page, in both languages; a run with none says nothing of them."""
    security = client_for("sec1")
    anomaly.detect(workspace, workspace.config)
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE anomaly_runs SET batch_corrections = "
                    "'{\"staff_days\": 0, \"people\": 0, \"threshold\": 20}'")
    assert "Batch corrections" not in _page(security, "/alerts", "?lang=en")
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE anomaly_runs SET batch_corrections = "
                    "'{\"staff_days\": 3, \"people\": 1234, \"threshold\": 20}'")
    page = _page(security, "/alerts", "?lang=en")
    assert "Batch corrections" in page and "3 staff-days, 1,234 people (20 or more updated" in page
    assert "一括更新" in _page(security, "/alerts") and "3職員日、1,234人" in _page(security, "/alerts")


def test_alerts_page_tells_of_the_night_desks_the_run_found(workspace, client_for) -> None:
    """A run's night desks (anomaly.features.night_desks: after-hours look-ups there are not the person's
    after-hours work) are told on the page with an example terminal, in both languages; a run with none, or a run
    stored before the column was kept (NULL), says nothing of them."""
    security = client_for("sec1")
    anomaly.detect(workspace, workspace.config)
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE anomaly_runs SET night_desks = NULL")
    assert "Night desks" not in _page(security, "/alerts", "?lang=en")
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE anomaly_runs SET night_desks = '{\"terminals\": 2, \"staff_days\": 41, \"other_staff\": 3, "
                    "\"other_nights\": 5, \"example\": \"UKI-HQ-SHUKU-01\"}'")
    page = _page(security, "/alerts", "?lang=en")
    assert "Night desks" in page and "2 terminals (e.g. UKI-HQ-SHUKU-01)" in page and "on 41 staff-days" in page
    ja = _page(security, "/alerts")
    assert "夜間窓口の端末" in ja and "2台（例: UKI-HQ-SHUKU-01）" in ja
