"""Role enforcement over HTTP (Flask test client on the real app and warehouse): every page, every callback
endpoint, every role, anonymous requests, and ministry users reaching for another ministry's data."""

from __future__ import annotations

import json
import re

import pytest

from dashboards import access
from observatory.security import audit
from observatory.warehouse import for_workspace
from tests.dashboards.conftest import sign_in
from tests.dashboards.fixtures import USERS

ROLES = [None, *USERS]
DENIED_TEXT = "アクセス権がありません"


def _expected(page: str, user: str | None) -> bool:
    if user is None:
        return False
    allowed = {
        "home": set(USERS),
        "overview": {"cio1", "admin1", "both1"}, "area": {"cio1", "admin1", "both1"},
        "municipality": {"cio1", "admin1", "both1"}, "sources": {"cio1", "admin1", "both1"},
        "kpi": {"cio1", "admin1", "both1", "mic1", "mhlw1"},
        "ministry": {"cio1", "admin1", "both1", "mic1", "mhlw1"},
        "submission": {"cio1", "admin1", "both1", "mic1", "mhlw1"},
        "alerts": {"cio1", "admin1", "sec1", "both1"}, "alert": {"cio1", "admin1", "sec1", "both1"},
        "audit": {"admin1"},
    }
    return user in allowed[page]


def _paths(built) -> dict[str, str]:
    return {"home": "/", "overview": "/overview", "kpi": f"/kpi/{built.mic_kpi}", "area": "/area",
            "municipality": "/municipality/131016", "sources": "/sources", "ministry": "/ministry",
            "submission": "/submission/800002", "alerts": "/alerts", "alert": f"/alert/{built.alert_ids[0]}", "audit": "/audit"}


def router_body(path: str, search: str = "") -> dict:
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


def text_of(resp) -> str:
    """The response body with JSON unicode escapes decoded, so Japanese text can be searched."""
    try:
        return json.dumps(resp.get_json(), ensure_ascii=False)
    except Exception:  # noqa: BLE001 - not JSON
        return resp.get_data(as_text=True)


def test_every_page_is_listed(built) -> None:
    assert set(_paths(built)) == set(access.PAGES)


@pytest.mark.parametrize("user", ROLES)
def test_every_page_for_every_role(client_for, built, user) -> None:
    client = client_for(user)
    for page, path in _paths(built).items():
        get = client.get(path)
        post = client.post("/_dash-update-component", json=router_body(path))
        if user is None:
            target = get.headers.get("Location", "")
            assert get.status_code == 302 and ("/login" in target or (page == "home" and target == "/public/")), page
            assert post.status_code == 401, page
        elif page in ("kpi", "submission") and user == "mhlw1":  # may open these pages, but this one is MIC's
            assert get.status_code == 200 and post.status_code == 200
            assert DENIED_TEXT in text_of(post)
        elif _expected(page, user):
            assert get.status_code == 200, (page, user)
            assert post.status_code == 200, (page, user, post.status_code)
            assert DENIED_TEXT not in text_of(post), (page, user)
        else:
            assert get.status_code == 403, (page, user, get.status_code)
            assert post.status_code == 403, (page, user, post.status_code)


def _callback_bodies(app) -> list[tuple[str, dict]]:
    """A well-formed request for every registered callback (inputs/states set to None)."""
    client = app.server.test_client()
    client.get("/_dash-dependencies")  # nothing without sign-in; makes sure the map is complete below
    bodies = []
    for key, spec in app.callback_map.items():
        if key.startswith("_pages_") or "_pages_content" in key or "callback" not in spec:  # clientside: 400
            continue
        parts = re.findall(r"([A-Za-z0-9_-]+)\.([A-Za-z_]+)", key)
        outputs = [{"id": i, "property": p} for i, p in parts]
        inputs = [{"id": d["id"], "property": d["property"], "value": None} for d in spec["inputs"]]
        state = [{"id": d["id"], "property": d["property"], "value": None} for d in spec["state"]]
        bodies.append((key, {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
                             "inputs": inputs, "state": state, "changedPropIds": []}))
    return bodies


@pytest.mark.parametrize("user", ROLES)
def test_every_callback_for_every_role(app, client_for, user) -> None:
    client = client_for(user)
    bodies = _callback_bodies(app)
    assert len(bodies) >= 8
    for key, body in bodies:
        page = access.PREFIX_PAGE[key.strip(".").split("-", 1)[0]]
        resp = client.post("/_dash-update-component", json=body)
        if user is None:
            assert resp.status_code == 401, key
        elif _expected(page, user):
            assert resp.status_code in (200, 204), (key, user, resp.status_code, resp.get_data(as_text=True)[:300])
        else:
            assert resp.status_code == 403, (key, user, resp.status_code)


def test_unknown_callback_outputs_are_refused(client_for) -> None:
    client = client_for("admin1")
    body = {"output": "mystery.children", "outputs": {"id": "mystery", "property": "children"}, "inputs": []}
    assert client.post("/_dash-update-component", json=body).status_code == 403
    assert client.post("/_dash-update-component", data=b"not json",
                       headers={"Content-Type": "application/json"}).status_code == 400


def test_ministry_user_cannot_reach_another_ministrys_data(client_for, built) -> None:
    mic = client_for("mic1")
    own = text_of(mic.post("/_dash-update-component", json=router_body("/ministry")))
    assert "mic2.csv" in own and "mhlw-secret.csv" not in own
    other = mic.post("/_dash-update-component", json=router_body("/ministry", "?ministry=MHLW"))
    assert other.status_code == 200
    text = text_of(other)
    assert DENIED_TEXT in text and "mhlw-secret.csv" not in text
    assert mic.get("/download/submissions.csv?ministry=MHLW").status_code == 403
    assert "mhlw-secret" not in mic.get("/download/submissions.csv").get_data(as_text=True)
    assert mic.get(f"/download/kpi-history.csv?kpi={built.other_kpi}").status_code == 403
    assert mic.get(f"/download/kpi-history.csv?kpi={built.mic_kpi}").status_code == 200
    assert mic.get(f"/download/kpi-history.csv?kpi={built.mic_kpi}&level=prefecture&entity=13").status_code == 403
    page = text_of(mic.post("/_dash-update-component", json=router_body(f"/kpi/{built.other_kpi}")))
    assert DENIED_TEXT in page
    assert mic.get("/download/overview.csv").status_code == 403
    template = mic.get(f"/download/template/{built.mic_kpi}.csv")
    assert template.status_code == 200 and template.data.startswith("\ufeff".encode())
    assert mic.get(f"/download/template/{built.mic_kpi}.csv?ministry=MHLW").status_code == 403
    assert client_for("sec1").get(f"/download/template/{built.mic_kpi}.csv").status_code == 403
    assert mic.get("/download/alerts.csv").status_code == 403


def test_evidence_only_for_security(client_for, built) -> None:
    path = f"/alert/{built.alert_ids[0]}"
    cio = text_of(client_for("cio1").post("/_dash-update-component", json=router_body(path)))
    sec = text_of(client_for("sec1").post("/_dash-update-component", json=router_body(path)))
    subject = f"p:{1000:032x}"
    assert subject in sec and subject not in cio
    assert "セキュリティ権限" in cio


def test_denials_and_sensitive_views_are_audited(workspace, client_for, built) -> None:
    client_for("mic1").get("/alerts")
    client_for("sec1").post("/_dash-update-component", json=router_body(f"/alert/{built.alert_ids[0]}"))
    with for_workspace(workspace).connect() as con:
        rows = audit.entries(con, limit=200)
    assert any(r["actor"] == "mic1" and r["outcome"] == "denied" for r in rows)
    assert any(r["actor"] == "sec1" and r["action"] == "alerts.evidence" for r in rows)
    assert any(r["actor"] == "sec1" and r["action"] == "dashboard.alert.view" for r in rows)
    assert any(r["actor"] == "mic1" and r["action"] == "signin" and r["outcome"] == "ok" for r in rows)


def test_session_cookie_flags_and_rate_limit(app, workspace) -> None:
    client = app.server.test_client()
    resp = sign_in(client, "cio1")
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    other = app.server.test_client()
    codes = [sign_in(other, "sec1", "wrong-password").status_code
             for _ in range(workspace.config.security.max_failed_logins)]
    assert codes == [401] * len(codes)
    locked = sign_in(other, "sec1")  # right password, but locked now
    assert locked.status_code == 429 and "Retry-After" in locked.headers


def test_disabled_user_loses_session(app, workspace, client_for) -> None:
    client = client_for("cio1")
    assert client.get("/overview").status_code == 200
    from observatory.workspace import load_workspace

    fresh = load_workspace(workspace.home)
    fresh.config.user("cio1").disabled = True
    fresh.save_config()
    import os
    import time

    os.utime(workspace.config_path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert client.get("/overview").status_code == 302


def test_login_redirect_is_local_only(app) -> None:
    client = app.server.test_client()
    page = client.get("/login?next=//evil.example/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"csrf": token, "username": "cio1", "password": "cio1-password",
                                       "next": "//evil.example/"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_workspace_lock_is_released_when_idle(workspace, client_for) -> None:
    """Between bursts of requests another process must be able to take the write lock (ingest, CLI)."""
    import fcntl
    import os
    import time

    client = client_for("cio1")
    assert client.get("/overview").status_code == 200
    client.post("/_dash-update-component", json=router_body("/overview"))
    fd = os.open(workspace.lock_path, os.O_RDWR)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the dashboard kept the workspace locked while idle"
                time.sleep(0.05)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
