"""Callbacks as plain functions, and the state-changing ones through the real callback endpoint."""

from __future__ import annotations

import pytest

from dashboards import ids
from dashboards.pages import alerts, area, audit, kpi, ministry, overview
from observatory.security import alerts as alert_store
from observatory.security import audit as audit_log
from observatory.warehouse import for_workspace
from tests.dashboards.test_access import text_of


def test_filters_become_deep_links() -> None:
    assert overview.filters_to_url("MIC", "2026") == "?ministry=MIC&year=2026"
    assert overview.filters_to_url(None, None) == ""
    assert kpi.entity_to_url("prefecture:13") == "?level=prefecture&entity=13"
    assert kpi.entity_to_url("national:JP") == ""
    assert alerts.filters_to_url("open", None, "131016", None) == "?status=open&org=131016"
    assert audit.filters_to_url(" sec1 ", "") == "?actor=sec1"
    assert ministry.ministry_to_url("MHLW") == "?ministry=MHLW"
    assert area.area_query("k", " 千代田 ", "name", None, "?pref=13") == "?kpi=k&pref=13&q=%E5%8D%83%E4%BB%A3%E7%94%B0&sort=name"
    assert area.area_query("k", "", None, "27", "?pref=13") == "?kpi=k&pref=27"


def _body(output: str, inputs: list[tuple[str, str, object]], state: list[tuple[str, str, object]],
          changed: str) -> dict:
    outs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in output.strip(".").split("...")]
    return {"output": output, "outputs": outs if len(outs) > 1 else outs[0],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state], "changedPropIds": [changed]}


def _act(alert_id: int, status: str) -> dict:
    """One click on a decision button (issue 14: one-click decisions replace the status drop-down)."""
    from dashboards.pages.alert import DECISIONS

    button = ids.ALX_DECIDE.get(status, f"alx-decide-{status}")
    return _body(f"..{ids.ALX_RESULT}.children...{ids.ALX_HISTORY}.children...{ids.ALX_STATUS_NOW}.children..",
                 [(ids.ALX_ASSIGN, "n_clicks", 0), (ids.ALX_ADD_NOTE, "n_clicks", 0)]
                 + [(ids.ALX_DECIDE[s], "n_clicks", 1 if s == status else 0) for s in DECISIONS],
                 [(ids.ALX_ID, "data", alert_id), (ids.ALX_ASSIGNEE, "value", ""),
                  (ids.ALX_NOTE, "value", "checked with the unit")], f"{button}.n_clicks")


def test_security_triages_and_cio_cannot(workspace, client_for, built) -> None:
    aid = built.alert_ids[0]
    refused = client_for("cio1").post("/_dash-update-component", json=_act(aid, "investigating"))
    assert refused.status_code == 200 and "権限がありません" in text_of(refused)
    with for_workspace(workspace).connect() as con:
        assert con.execute("SELECT status FROM alerts WHERE alert_id = ?", [aid]).fetchone()[0] == "new"
    done = client_for("sec1").post("/_dash-update-component", json=_act(aid, "investigating"))
    assert done.status_code == 200 and "保存しました" in text_of(done)
    assert "checked with the unit" in text_of(done)
    bad = client_for("sec1").post("/_dash-update-component", json=_act(built.alert_ids[1], "true_positive"))
    assert "cannot go from benign to true_positive" in text_of(bad)  # a closed alert reopens first
    with for_workspace(workspace).connect() as con:
        assert con.execute("SELECT status FROM alerts WHERE alert_id = ?", [aid]).fetchone()[0] == "investigating"
        hist = con.execute("SELECT actor, to_status, note FROM alert_history WHERE alert_id = ? AND action = 'status'",
                           [aid]).fetchall()
        entries = audit_log.entries(con, actor="sec1", action="alerts.status")
    assert hist == [("sec1", "investigating", "checked with the unit")]
    assert entries and str(aid) in {e["target"] for e in entries}


def test_bulk_actions(workspace, client_for, built) -> None:
    ids_ = built.alert_ids[2:4]
    body = _body(f"..{ids.AL_BULK_RESULT}.children...{ids.AL_TABLE}.data..", [(ids.AL_BULK_APPLY, "n_clicks", 1)],
                 [(ids.AL_TABLE, "selected_row_ids", ids_), (ids.AL_BULK_STATUS, "value", "false_positive"),
                  (ids.AL_BULK_ASSIGNEE, "value", "sec1"), (ids.AL_BULK_NOTE, "value", "duplicate feed"),
                  (ids.AL_URL, "search", "?status=all")], f"{ids.AL_BULK_APPLY}.n_clicks")
    resp = client_for("sec1").post("/_dash-update-component", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    table = resp.get_json()["response"][ids.AL_TABLE]["data"]
    assert {r["id"] for r in table} >= set(ids_)
    with for_workspace(workspace).connect() as con:
        rows = con.execute("SELECT status, assignee FROM alerts WHERE list_contains(?, alert_id)", [ids_]).fetchall()
    assert rows == [("false_positive", "sec1")] * 2
    body["state"][1]["value"] = "investigating"
    refused = client_for("cio1").post("/_dash-update-component", json=body)
    assert refused.status_code == 200 and "権限がありません" in text_of(refused)
    with for_workspace(workspace).connect() as con:
        after = con.execute("SELECT status FROM alerts WHERE list_contains(?, alert_id)", [ids_]).fetchall()
    assert after == [("false_positive",)] * 2


def test_ministry_upload_goes_to_own_ministry(workspace, client_for, built) -> None:
    """The page posts the file's bytes to the upload route (streamed to disk, never base64 through a callback:
    issue 11); the callback shows the stored outcome."""
    from tests.dashboards.fixtures import valid_submission

    data = valid_submission(workspace, built.mic_kpi)
    url = f"{ministry.UPLOAD_PATH}?kpi={built.mic_kpi}&ministry=MHLW&filename=tax.csv"
    resp = client_for("mic1").post(url, data=data, content_type="application/octet-stream")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    answer = resp.get_json()
    assert answer["status"] == "accepted" and isinstance(answer["submission_id"], int)
    body = _body(f"{ids.MIN_RESULT}.children", [(ids.MIN_UPLOADED, "data", answer)], [], f"{ids.MIN_UPLOADED}.data")
    resp = client_for("mic1").post("/_dash-update-component", json=body)
    assert resp.status_code == 200
    text = text_of(resp)
    assert "min-receipt" in text and "min-report" in text and "accepted" in text
    with for_workspace(workspace).connect() as con:
        rows = con.execute("SELECT ministry_code, submitted_by, origin FROM submissions WHERE file_name = 'tax.csv'"
                           ).fetchall()
    assert rows and all(r[0] == "MIC" and r[1] == "mic1" and r[2].startswith("web:") for r in rows)
    assert client_for("sec1").post(url, data=data, content_type="application/octet-stream").status_code == 403
    assert client_for("sec1").post("/_dash-update-component", json=body).status_code == 403


def test_upload_route_refuses_what_is_over_the_limit_before_reading_it(workspace, client_for, built) -> None:
    limit = int(workspace.config.submissions.max_file_mb * 1024 * 1024)
    url = f"{ministry.UPLOAD_PATH}?kpi={built.mic_kpi}&filename=big.csv"
    resp = client_for("mic1").post(url, data=b"x" * (limit + 1), content_type="application/octet-stream")
    assert resp.status_code == 413 and "big.csv" in resp.get_json()["message"]
    assert client_for(None).post(url, data=b"a,b\n").status_code in (302, 401)  # signed out: never received
    with for_workspace(workspace).connect() as con:
        assert con.execute("SELECT count(*) FROM submissions WHERE file_name = 'big.csv'").fetchone() == (0,)
    assert not list((workspace.home / ".work").glob("plain-*-upload"))  # the received bytes are not left behind
    # the file's base64 never goes through a server callback: the upload one runs in the browser only
    body = _body(f"{ids.MIN_UPLOADED}.data", [(ids.MIN_UPLOAD, "contents", "data:text/csv;base64,YQ==")],
                 [(ids.MIN_UPLOAD, "filename", "a.csv"), (ids.MIN_KPI, "value", built.mic_kpi),
                  (ids.MIN_URL, "search", "")], f"{ids.MIN_UPLOAD}.contents")
    assert client_for("mic1").post("/_dash-update-component", json=body).status_code == 400


def test_alert_store_is_what_the_pages_use(workspace, built) -> None:
    sec = workspace.config.user("sec1")
    with for_workspace(workspace).connect() as con:
        queue = alert_store.list_alerts(con, sec, status="open")
    severities = [r["severity"] for r in queue]
    order = {"critical": 4, "high": 3, "medium": 2, "low": 1}
    assert [order[s] for s in severities] == sorted((order[s] for s in severities), reverse=True)


def test_a_filter_change_keeps_the_pages_language() -> None:
    # CI once showed /audit?lang=en in Japanese: the filter callback rewrote the URL without ?lang=
    assert audit.filters_to_url("sec1", None, current="?lang=en&actor=x") == "?actor=sec1&lang=en"
    assert overview.filters_to_url(None, None, "?lang=en") == "?lang=en"
    assert alerts.filters_to_url("open", None, None, None, "?page=3") == "?status=open"


def _security_kpis(con, period) -> dict[str, float | None]:
    return dict(con.execute("SELECT kpi_id, value FROM kpi_values WHERE level = 'national' AND period = ? AND kpi_id IN "
                            "('alert_triage_within_sla_rate', 'confirmed_unauthorised_viewings_per_1000_staff')",
                            [period]).fetchall())


def _expected_security_kpis(con, period) -> dict[str, float]:
    """The two security KPIs of a month straight from their definitions in SQL (alerts raised that month, JST)."""
    month = "date_trunc('month', timezone('Asia/Tokyo', a.created_at)) = ?"
    confirmed, raised, in_time = con.execute(
        "SELECT count(*) FILTER (WHERE status = 'true_positive'), count(*), count(*) FILTER (WHERE "
        "(SELECT (epoch(min(h.at_time)) - epoch(a.created_at)) / 3600 FROM alert_history h WHERE h.alert_id = "
        f"a.alert_id AND h.action IN ('assigned', 'status')) <= 72) FROM alerts a WHERE {month}", [period]).fetchone()
    staff = con.execute("SELECT count(*) FROM staff WHERE status = 'active'").fetchone()[0]
    return {"alert_triage_within_sla_rate": 100 * in_time / raised,
            "confirmed_unauthorised_viewings_per_1000_staff": confirmed * 1000 / staff}


def test_a_decision_recomputes_the_security_kpis(workspace, client_for, built) -> None:
    """A one-click decision and a bulk assignment change the KPIs' inputs (status, first triage time): the stored
    values of the month the alert was raised follow at once, instead of keeping the last load's."""
    from datetime import date

    from observatory.calendar import DEFAULT_TIMEZONE

    aid = built.alert_ids[0]
    with for_workspace(workspace).connect() as con:
        day = con.execute("SELECT CAST(timezone(?, created_at) AS DATE) FROM alerts WHERE alert_id = ?",
                          [DEFAULT_TIMEZONE, aid]).fetchone()[0]
        period = date(day.year, day.month, 1)
        before = _security_kpis(con, period)
    resp = client_for("sec1").post("/_dash-update-component", json=_act(aid, "true_positive"))
    assert resp.status_code == 200 and "保存しました" in text_of(resp)
    with for_workspace(workspace).connect() as con:
        after, expected = _security_kpis(con, period), _expected_security_kpis(con, period)
    assert expected["confirmed_unauthorised_viewings_per_1000_staff"] > 0
    assert after == pytest.approx(expected) and after != before
    late = built.alert_ids[3]  # a bulk assignment is a first triage action too
    body = _body(f"..{ids.AL_BULK_RESULT}.children...{ids.AL_TABLE}.data..", [(ids.AL_BULK_APPLY, "n_clicks", 1)],
                 [(ids.AL_TABLE, "selected_row_ids", [late]), (ids.AL_BULK_STATUS, "value", None),
                  (ids.AL_BULK_ASSIGNEE, "value", "sec1"), (ids.AL_BULK_NOTE, "value", ""),
                  (ids.AL_URL, "search", "")], f"{ids.AL_BULK_APPLY}.n_clicks")
    assert client_for("sec1").post("/_dash-update-component", json=body).status_code == 200
    with for_workspace(workspace).connect() as con:
        day = con.execute("SELECT CAST(timezone(?, created_at) AS DATE) FROM alerts WHERE alert_id = ?",
                          [DEFAULT_TIMEZONE, late]).fetchone()[0]
        period = date(day.year, day.month, 1)
        assert _security_kpis(con, period) == pytest.approx(_expected_security_kpis(con, period))
