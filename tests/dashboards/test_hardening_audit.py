"""Hardening found by probing the running app: a callback whose `outputs` name another page than the `output` Dash
runs is refused (400) before Dash reads it; the audit entry of a download keeps its real row count; a refused
triage attempt and a look for an alert that does not exist are audited; an Individual Number typed as a user
name is not written to the audit log in clear."""

from __future__ import annotations

import json
import re

import pytest

from observatory.security import audit as audit_log
from observatory.warehouse import for_workspace
from tests.dashboards.test_access import router_body, text_of
from tests.dashboards.test_callbacks import _act
from tests.security.test_pseudonym_finder import PROBE

AUDIT_CALLBACK = {"output": "aud-url.search", "outputs": {"id": "aud-url", "property": "search"},
                  "inputs": [{"id": "aud-actor", "property": "value", "value": "x"},
                             {"id": "aud-action", "property": "value", "value": None},
                             {"id": "aud-from", "property": "value", "value": None},
                             {"id": "aud-to", "property": "value", "value": None}],
                  "state": [{"id": "aud-url", "property": "search", "value": ""}], "changedPropIds": ["aud-actor.value"]}


@pytest.fixture(autouse=True)
def _no_held_warehouse(app):
    """No keeper thread left holding DuckDB open when the test process ends right after these tests."""
    app.server.config["OBSERVATORY_KEEP_OPEN"] = False


def test_outputs_that_disagree_with_the_output_are_refused_not_a_500(client_for) -> None:
    ministry = client_for("mic1")
    assert ministry.post("/_dash-update-component", json=AUDIT_CALLBACK).status_code == 403
    forged = {**AUDIT_CALLBACK, "outputs": {"id": "min-url", "property": "search"}}  # a page mic1 may open
    assert ministry.post("/_dash-update-component", json=forged).status_code == 400
    admin = client_for("admin1")
    assert admin.post("/_dash-update-component", json=AUDIT_CALLBACK).status_code == 200
    assert admin.post("/_dash-update-component", json=forged).status_code == 400


def test_a_download_audit_entry_keeps_its_real_row_count(workspace, client_for) -> None:
    resp = client_for("sec1").get("/download/alerts.csv?status=all&rows=0")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"  # kept by no browser or proxy
    shown = len(resp.get_data(as_text=True).strip().splitlines()) - 1
    assert shown > 0
    with for_workspace(workspace).connect() as con:
        [entry] = audit_log.entries(con, actor="sec1", action="download.alerts", limit=1)
    detail = entry["detail"] if isinstance(entry["detail"], dict) else json.loads(entry["detail"])
    assert detail["rows"] == shown


def test_a_refused_triage_attempt_is_audited(workspace, client_for, built) -> None:
    aid = built.alert_ids[0]
    refused = client_for("cio1").post("/_dash-update-component", json=_act(aid, "investigating"))
    assert refused.status_code == 200
    with for_workspace(workspace).connect() as con:
        denied = [e for e in audit_log.entries(con, actor="cio1") if e["outcome"] == "denied"]
    assert any(e["action"] == "alerts.triage" and e["target"] == str(aid) for e in denied), denied


def test_a_look_for_an_alert_that_does_not_exist_is_audited(workspace, client_for, built) -> None:
    missing = max(built.alert_ids) + 1000
    resp = client_for("sec1").post("/_dash-update-component", json=router_body(f"/alert/{missing}"))
    assert resp.status_code == 200
    with for_workspace(workspace).connect() as con:
        looks = [e for e in audit_log.entries(con, actor="sec1", action="dashboard.alert.view")
                 if e["outcome"] == "not_found"]
    assert looks and str(missing) in json.dumps(looks[0]["detail"], ensure_ascii=False), looks


def test_an_individual_number_typed_as_a_user_name_is_masked_in_the_audit_log(workspace, app) -> None:
    number = PROBE[0]
    client = app.server.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"csrf": token, "username": number, "password": "x"}).status_code == 401
    with for_workspace(workspace).connect() as con:
        rows = con.execute("SELECT actor, CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'signin'").fetchall()
    assert rows and all(number not in str(v) for row in rows for v in row)
    assert ("********" + number[-4:]) in {r[0] for r in rows}


def test_a_session_ends_eight_hours_after_sign_in_however_often_it_is_used(app, client_for, monkeypatch) -> None:
    import time as _time

    client = client_for("cio1")
    assert client.get("/overview").status_code == 200
    started = _time.time()
    for hours in (4, 7.9):  # each request re-signs the cookie: its own age is reset every time
        monkeypatch.setattr(_time, "time", lambda h=hours: started + h * 3600)
        assert client.get("/overview").status_code == 200, hours
    monkeypatch.setattr(_time, "time", lambda: started + 8.1 * 3600)
    resp = client.get("/overview")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_an_unknown_component_bundle_is_a_404_for_anyone(app) -> None:
    client = app.server.test_client()  # signed out: the component suites are open
    for path in ("/_dash-component-suites/nosuchpkg/x.js", "/_dash-component-suites/dash/x.v1m1.js"):
        assert client.get(path).status_code == 404, path


def test_signed_in_pages_and_their_data_are_not_cached(client_for) -> None:
    client = client_for("cio1")
    for path in ("/overview", "/_dash-layout", "/_dash-dependencies"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


@pytest.mark.parametrize("alert_id", ["abc", {"x": 1}, "1" * 30, True, [1]])
def test_a_triage_request_with_no_alert_number_is_answered_not_a_500(client_for, alert_id) -> None:
    """The alert id is the page's state: a request may carry any JSON there (a 30-digit number overflowed BIGINT)."""
    resp = client_for("sec1").post("/_dash-update-component", json=_act(alert_id, "investigating"))
    assert resp.status_code == 200 and "not an alert number" in text_of(resp), resp.get_data(as_text=True)[:300]
