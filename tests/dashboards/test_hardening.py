"""Sessions and requests, as an attacker probes them: sign-out that ends the session, lockout per account and
rate limit per address, local-only redirects, security headers, Origin checks, path normalisation, malformed
requests (400, never 500) and cell text that cannot turn into Markdown."""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import quote

import pytest

from dashboards.app import create_app
from dashboards.components import data_table
from dashboards.views import Column, ViewData
from observatory.security import alerts as alert_store
from observatory.warehouse import for_workspace
from tests.dashboards import fixtures
from tests.dashboards.conftest import sign_in
from tests.dashboards.server import running
from tests.dashboards.test_access import router_body, text_of

ADMIN = alert_store.Actor("sec-test", ("security",))


def _cookie(client) -> str:
    cookie = client.get_cookie("observatory_session")
    assert cookie is not None
    return cookie.value


def test_sign_out_revokes_the_session_on_the_server(app, client_for) -> None:
    client = client_for("cio1")
    stolen = _cookie(client)
    assert client.get("/overview").status_code == 200
    assert client.get("/logout").status_code == 200  # GET only offers the button
    assert client.get("/overview").status_code == 200
    assert client.post("/logout").status_code == 302
    replay = app.server.test_client()
    replay.set_cookie("observatory_session", stolen)
    assert replay.get("/overview").status_code == 302
    assert replay.get("/download/overview.csv").status_code == 401
    assert replay.post("/_dash-update-component", json=router_body("/overview")).status_code == 401
    again = client_for("cio1")  # signing in again gives a fresh, working session
    assert again.get("/overview").status_code == 200


def test_revocation_is_shared_by_every_server_process(workspace, client_for) -> None:
    client = client_for("cio1")
    stolen = _cookie(client)
    client.post("/logout")
    other_process = create_app(workspace).server.test_client()  # a second app reads the same workspace
    other_process.set_cookie("observatory_session", stolen)
    assert other_process.get("/overview").status_code == 302


def test_password_change_still_ends_sessions(workspace, client_for) -> None:
    import os
    import time

    from observatory.security.users import hash_password
    from observatory.workspace import load_workspace

    client = client_for("cio1")
    assert client.get("/overview").status_code == 200
    fresh = load_workspace(workspace.home)
    fresh.config.user("cio1").password_hash = hash_password("a-brand-new-password", **fixtures.FAST)
    fresh.save_config()
    os.utime(workspace.config_path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert client.get("/overview").status_code == 302


def test_lockout_is_per_account_and_the_address_limit_is_separate(workspace) -> None:
    workspace.config.security.max_failures_per_address = 8
    app = create_app(workspace)
    attacker = app.server.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    for _ in range(workspace.config.security.max_failed_logins):
        assert sign_in(attacker, "sec1", "wrong-password").status_code == 401
    assert sign_in(attacker, "sec1").status_code == 429  # that account is locked ...
    colleague = app.server.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "10.0.0.7"  # ... but not the others behind the same address
    assert sign_in(colleague, "cio1").status_code == 302
    for user in ("nobody1", "nobody2", "nobody3"):
        sign_in(attacker, user, "wrong-password")
    limited = sign_in(attacker, "admin1")  # 8 failures from this address: now it is slowed down
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    elsewhere = app.server.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    assert sign_in(elsewhere, "admin1").status_code == 302


@pytest.mark.parametrize("trusted", [False, True])
def test_forwarded_addresses_are_believed_only_from_configured_proxies(workspace, trusted) -> None:
    workspace.config.security.max_failures_per_address = 3
    workspace.config.security.max_failed_logins = 100
    if trusted:
        workspace.config.security.trusted_proxies = ["127.0.0.0/8"]
    app = create_app(workspace)
    client = app.server.test_client()
    for i in range(3):
        resp = sign_in_from(client, f"198.51.100.{i}", "mic1", "wrong-password")
        assert resp.status_code == 401
    resp = sign_in_from(client, "198.51.100.99", "mic1")
    # behind a trusted proxy each forwarded client has its own count; otherwise X-Forwarded-For is ignored
    assert resp.status_code == (302 if trusted else 429)
    spoofed = sign_in_from(client, "198.51.100.0, 203.0.113.5", "mic1")
    assert spoofed.status_code == (302 if trusted else 429)  # the right-most untrusted address counts


def sign_in_from(client, forwarded: str, username: str, password: str | None = None):
    headers = {"X-Forwarded-For": forwarded}
    page = client.get("/login", headers=headers)
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", headers=headers, data={"csrf": token, "username": username,
                                                        "password": password or fixtures.password(username)})


BAD_NEXT = ["/%09/evil.example", "//evil.example", "/\\evil.example", "/\\/evil.example", "https://evil.example",
            "https:evil.example", "javascript:alert(1)", "/%0d%0a/evil.example", "%2F%2Fevil.example",
            "/%E3%80%80/evil.example", " //evil.example", "/%00/evil.example",
            # dot segments: a browser folds `/.//evil` to `//evil`, and reads %2e as '.'
            "/.//evil.example", "/a/..//evil.example", "/%252e%252e//evil.example", "/%2e//evil.example"]


@pytest.mark.parametrize("target", BAD_NEXT)
def test_next_is_only_ever_a_local_path(app, target) -> None:
    client = app.server.test_client()
    page = client.get("/login?next=" + target)
    html = page.get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    sent_next = re.search(r'name="next" value="([^"]*)"', html).group(1)
    resp = client.post("/login?next=" + target, data={"csrf": token, "username": "cio1",
                                                       "password": "cio1-password", "next": sent_next})
    assert resp.status_code == 302 and resp.headers["Location"] == "/", (target, resp.headers["Location"])


def test_next_keeps_a_local_deep_link(app) -> None:
    client = app.server.test_client()
    page = client.get("/login?next=" + quote("/overview?ministry=MIC", safe=""))
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    resp = client.post("/login", data={"csrf": token, "username": "cio1", "password": "cio1-password",
                                       "next": "/overview?ministry=MIC"})
    assert resp.headers["Location"] == "/overview?ministry=MIC"


HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def test_security_headers_on_every_response(client_for) -> None:
    client = client_for("cio1")
    responses = [client.get("/login"), client.get("/overview"), client.get("/no-such-page"),
                 client.get("/assets/observatory.css"), client.get("/download/overview.csv"),
                 client.post("/_dash-update-component", json=router_body("/overview")),
                 client.get("/public/"), client.get("/healthz"), client.get("/logout"),
                 client.get("/login/../audit")]
    for resp in responses:
        for name, value in HEADERS.items():
            assert resp.headers.get(name) == value, (resp.request.path, name)
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-eval" not in csp
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


def test_sign_in_and_sign_out_pages_are_not_kept_by_caches(app) -> None:
    """The sign-in form carries a CSRF token tied to the session cookie it sets: no browser or shared cache may
    keep it (nor the sign-out form, nor the answer to a sign-in)."""
    client = app.server.test_client()
    responses = [client.get("/login"), client.get("/logout"), sign_in(client, "cio1"),
                 client.post("/login", data={"username": "cio1", "password": "x"})]
    for resp in responses:
        assert resp.headers.get("Cache-Control") == "no-store", (resp.request.path, resp.request.method)


def test_state_changing_requests_from_another_origin_are_refused(client_for) -> None:
    client = client_for("cio1")
    evil = {"Origin": "https://evil.example"}
    assert client.post("/_dash-update-component", json=router_body("/overview"), headers=evil).status_code == 403
    assert client.post("/logout", headers=evil).status_code == 403
    assert client.get("/overview").status_code == 200  # still signed in
    assert client.post("/_dash-update-component", json=router_body("/overview"),
                       headers={"Origin": "null"}).status_code == 403
    assert client.post("/_dash-update-component", json=router_body("/overview"),
                       headers={"Referer": "https://evil.example/page"}).status_code == 403
    same = {"Origin": "http://localhost"}
    assert client.post("/_dash-update-component", json=router_body("/overview"), headers=same).status_code == 200
    assert client.post("/logout", headers=same).status_code == 302


def test_origin_behind_a_configured_proxy(workspace) -> None:
    workspace.config.security.trusted_proxies = ["127.0.0.1"]
    client = create_app(workspace).server.test_client()
    sign_in(client, "cio1")
    proxied = {"Origin": "https://observatory.example.go.jp", "X-Forwarded-Host": "observatory.example.go.jp"}
    assert client.post("/_dash-update-component", json=router_body("/overview"), headers=proxied).status_code == 200
    client.environ_base["REMOTE_ADDR"] = "192.0.2.9"  # not the proxy: its X-Forwarded-Host is not believed
    assert client.post("/_dash-update-component", json=router_body("/overview"), headers=proxied).status_code == 403


def test_cell_text_never_becomes_markdown() -> None:
    payload = "ok\n\n![x](https://evil.example/pixel.png)\r\n\r\n[click](https://evil.example/)"
    view = ViewData([Column("note", "col.note")], [{"note": payload}])
    markup = data_table(view, "ja", "caption\n\n![c](https://evil.example/c.png)").children
    assert "\n" not in markup and "\r" not in markup  # one HTML block: Markdown never starts
    assert "<img" not in markup and "](https" in markup  # the text is kept, as text


def _raw(base: str, method: str, target: str, body: bytes | None = None, headers: dict | None = None):
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location"), resp.read()
    finally:
        conn.close()


SHELL_MARK = b"_dash-renderer"


def test_paths_are_normalised_before_the_guard(workspace) -> None:
    with running(workspace) as base:
        for target in ("/loginfoo", "/login.html", "/healthzz", "/assetsx/observatory.css", "/publicity",
                       "/api/publicx"):
            status, location, body = _raw(base, "GET", target)
            assert SHELL_MARK not in body and status == 302 and "/login?next=" in location, target
        for target in ("/login/../audit", "/login/%2e%2e/audit", "/public/../audit", "/assets/../audit",
                       "/login/./../audit", "/lang/..%2f..%2faudit", "/login\\..\\audit", "/audit//x"):
            status, _, body = _raw(base, "GET", target)
            assert status == 400 and SHELL_MARK not in body, (target, status)
        status, _, body = _raw(base, "GET", "//audit")  # the server reads it as /audit: sign-in first
        assert status in (302, 400) and SHELL_MARK not in body


MALFORMED_PATHS = ["/%ff", "/kpi/%ff%fe", "/%00", "/kpi/%00", "/municipality/%0a", "/" + "a" * 5000,
                   "/kpi/" + "%e3%81" * 10, "/download/%ff.csv", "/lang/%ff", "/submission/%c0%ae"]


def test_malformed_paths_are_answered_400_not_500(workspace) -> None:
    with running(workspace) as base:
        page_status, _, _ = _raw(base, "GET", "/login")
        assert page_status == 200
        for target in MALFORMED_PATHS:
            status, _, _ = _raw(base, "GET", target)
            assert status < 500, (target, status)
            assert status in (302, 400, 404), (target, status)


def _callback_bodies() -> list[str]:
    good = router_body("/overview")
    bodies: list[object] = [None, [], "text", 1, {}, {"output": 1}, {"output": "x", "outputs": "y"},
                            {"output": good["output"]},
                            {**good, "inputs": "nope"}, {**good, "inputs": [1, 2]}, {**good, "inputs": [{}]},
                            {**good, "inputs": good["inputs"][:1]}, {**good, "state": {"a": 1}},
                            {**good, "changedPropIds": [1]}, {**good, "changedPropIds": "x"},
                            {**good, "outputs": [{"id": "_pages_content"}]},
                            {**good, "outputs": [{"property": "children"}]},
                            {**good, "output": "ov-url.search", "outputs": {"id": "ov-url", "property": "search"}},
                            {**good, "inputs": [{"id": "_pages_location", "property": "x", "value": 1}] * 2}]
    texts = [json.dumps(b) for b in bodies]
    texts.append('{"output": "ov-url.search", "outputs": {"id": "ov-url", "property": "search"}, "inputs": '
                 + "[" * 50_000 + "]" * 50_000 + "}")  # nesting deeper than the parser's recursion limit
    texts.append('{"output": "ov-url.search", "outputs": {"id": "ov-url", "property": "search"}')  # cut short
    return texts


def test_malformed_callback_payloads_are_answered_400_not_500(client_for) -> None:
    client = client_for("admin1")
    for text in _callback_bodies():
        resp = client.post("/_dash-update-component", data=text, headers={"Content-Type": "application/json"})
        assert resp.status_code in (400, 403), (text[:120], resp.status_code)
    assert client.post("/_dash-update-component", data=b"\xff\xfe{", headers={
        "Content-Type": "application/json"}).status_code == 400
    assert client.post("/_dash-update-component", json=router_body("/overview")).status_code == 200


def _typed_bodies() -> list[dict]:
    """Well-shaped requests whose values are of a type the page's components never send."""
    router = [{**router_body("/overview"), "inputs": [{"id": "_pages_location", "property": "pathname", "value": v},
                                                      {"id": "_pages_location", "property": "search", "value": ""}]}
              for v in (None, "", "overview", "<script>", -1, True, {"a": 1})]
    router.append({**router_body("/overview"), "inputs": [
        {"id": "_pages_location", "property": "pathname", "value": "/overview"},
        {"id": "_pages_location", "property": "search", "value": ["x"]}]})
    kpi = [{"output": "kpi-url.search", "outputs": {"id": "kpi-url", "property": "search"},
            "inputs": [{"id": "kpi-entity", "property": "value", "value": v}], "state": []} for v in (-1, 1e308, ["x"])]
    overview = [{"output": "ov-url.search", "outputs": {"id": "ov-url", "property": "search"},
                 "inputs": [{"id": "ov-ministry", "property": "value", "value": None},
                            {"id": "ov-year", "property": "value", "value": None}],
                 "state": [{"id": "ov-url", "property": "search", "value": v}]} for v in (-1, {"a": 1})]
    upload = [{"output": "min-result.children", "outputs": {"id": "min-result", "property": "children"},
               "inputs": [{"id": "min-uploaded", "property": "data", "value": v}], "state": []} for v in ("x", -1)]
    return router + kpi + overview + upload


def test_callback_values_of_the_wrong_type_are_answered_400_not_500(client_for) -> None:
    client = client_for("admin1")
    for body in _typed_bodies():
        resp = client.post("/_dash-update-component", json=body)
        assert resp.status_code in (200, 400), (body, resp.status_code)
        assert "Internal Server Error" not in resp.get_data(as_text=True), body


def test_alert_org_filter_ignores_case(client_for, workspace, built) -> None:
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE alerts SET org_code = 'NTA' WHERE alert_id = ?", [built.alert_ids[0]])
    client = client_for("sec1")
    lower = client.post("/_dash-update-component", json=router_body("/alerts", "?org=nta&status=all"))
    upper = client.post("/_dash-update-component", json=router_body("/alerts", "?org=NTA&status=all"))
    assert lower.status_code == upper.status_code == 200
    assert "not one of" not in text_of(lower)
    alert = built.alert_ids[0]
    for resp in (lower, upper):
        assert f"(/alert/{alert})" in text_of(resp)


@pytest.mark.parametrize(("path", "search"), [
    ("/ministry", "?ministry=MIC&ministry=MOJ"), ("/overview", "?year=2020&year=2023"),
    ("/alerts", "?status=open&status=closed"), ("/area", "?pref=13&pref=01"), ("/audit", "?actor=a&actor=b"),
    ("/overview", "?lang=en&lang=ja&year=2020&year=2023"),
])
def test_a_parameter_given_twice_is_a_clear_message_not_an_internal_error(client_for, path, search) -> None:
    """Dash hands a repeated query parameter to the page as a list; the pages read one value, and a list
    made them fail with the "internal error" box (and a traceback in the log) or drop the filter silently."""
    client = client_for("admin1")
    resp = client.post("/_dash-update-component", json=router_body(path, search))
    assert resp.status_code == 200
    body = text_of(resp)
    assert "internal error" not in body, body[:300]
    name = next(p.split("=")[0] for p in search.lstrip("?").split("&") if not p.startswith("lang="))
    assert f"parameter {name} is given" in body and ("more than once" in body or "複数" in body), body[:300]


def _session_cookie(resp) -> str:
    return next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("observatory_session="))


@pytest.mark.parametrize("trusted", [False, True])
def test_session_cookie_is_secure_when_the_request_came_over_https(workspace, trusted) -> None:
    """Served over HTTPS (directly, or by a configured proxy that says so in X-Forwarded-Proto) the session
    cookie is marked Secure, so a browser never sends it over plain HTTP; a client's own X-Forwarded-Proto
    is not believed."""
    if trusted:
        workspace.config.security.trusted_proxies = ["127.0.0.0/8"]
    client = create_app(workspace).server.test_client()
    assert "Secure" in _session_cookie(sign_in_https(client))
    assert "Secure" not in _session_cookie(client.get("/login"))
    proxied = _session_cookie(client.get("/login", headers={"X-Forwarded-Proto": "https"}))
    assert ("Secure" in proxied) is trusted
    # a client's own value ahead of the one the proxy appended is not the proxy's word
    appended = _session_cookie(client.get("/login", headers={"X-Forwarded-Proto": "https, http"}))
    assert "Secure" not in appended


def sign_in_https(client):
    page = client.get("/login", base_url="https://localhost")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    resp = client.post("/login", base_url="https://localhost", data={"csrf": token, "username": "cio1",
                                                                     "password": fixtures.password("cio1")})
    assert resp.status_code == 302
    return resp


@pytest.mark.parametrize("trusted", [False, True])
def test_a_response_over_https_tells_the_browser_to_keep_to_https(workspace, trusted) -> None:
    """Strict-Transport-Security on every response that went out over HTTPS (directly, or by a configured proxy):
    a browser that once reached the dashboard over HTTPS does not send its next request, cookie and all, over HTTP."""
    if trusted:
        workspace.config.security.trusted_proxies = ["127.0.0.0/8"]
    client = create_app(workspace).server.test_client()
    assert client.get("/login", base_url="https://localhost").headers["Strict-Transport-Security"] == \
        "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers
    proxied = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert ("Strict-Transport-Security" in proxied.headers) is trusted
