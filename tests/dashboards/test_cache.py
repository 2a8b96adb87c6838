"""The render cache (dashboards/cache.py) and the data version behind it (observatory.warehouse.data_version):
a kept page is shown again only while nothing it shows has changed, permissions are checked before the cache,
and every view of a sensitive page is audited, hit or not. Real DuckDB files, the real app, real processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dashboards import cache as render_cache
from dashboards.app import create_app
from dashboards.catalogue import kpi_infos
from observatory.config import User
from observatory.security import audit
from observatory.security.users import hash_password
from observatory.warehouse import UNVERSIONED, data_version, for_workspace
from tests.dashboards import fixtures
from tests.dashboards.conftest import sign_in
from tests.dashboards.server import running
from tests.dashboards.test_callbacks import _act

ROOT = Path(__file__).resolve().parents[2]
ALERT_ACTIONS = ("dashboard.alert.view", "alerts.get", "alerts.evidence", "alerts.related", "alerts.history")


def router(path: str, search: str = "") -> dict:
    return {"output": render_cache.ROUTER_OUTPUT,
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


def render(client, path: str, search: str = "") -> str:
    resp = client.post("/_dash-update-component", json=router(path, search))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return json.dumps(resp.get_json(), ensure_ascii=False)


def kept(app) -> render_cache.RenderCache:
    return app.server.config[render_cache.CACHE_KEY]


class _StoppedClock:
    """The time module with time() held at one instant: two renders of a test fall in the same minute of the
    cache's clock even when the wall clock crosses a minute between them (a miss the test is not about)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def time(self) -> float:
        return self.at

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture(autouse=True)
def stopped_clock(monkeypatch):
    """Every in-process render of this module sees the minute the test started in (the real minute)."""
    monkeypatch.setattr(render_cache, "time", _StoppedClock(time.time()))


# ----------------------------------------------------------------------------------------------- the LRU itself


def _key(n: int) -> render_cache.RenderKey:
    return render_cache.RenderKey(page="overview", inputs=str(n), query=(), lang="ja", scope=("cio", ("cio",), None, False),
                                  version=1, config=None, definitions=render_cache.Ident(ROOT), clock=0)


def test_lru_is_bounded_by_entries_and_bytes() -> None:
    c = render_cache.RenderCache(max_entries=3, max_bytes=100)
    for n in range(4):
        c.put(_key(n), render_cache.Entry(b"x" * 10, "application/json"))
    assert len(c) == 3 and c.get(_key(0)) is None and c.get(_key(3)) is not None  # the oldest went first
    c.get(_key(1))  # used: now the newest
    c.put(_key(9), render_cache.Entry(b"y" * 75, "application/json"))
    assert c.size_bytes <= 100
    assert c.get(_key(2)) is None and c.get(_key(1)) is not None and c.get(_key(9)) is not None
    c.put(_key(10), render_cache.Entry(b"z" * 101, "application/json"))  # larger than the whole cache: not kept
    assert c.get(_key(10)) is None and c.size_bytes <= 100


def test_keys_normalise_the_query_but_not_the_scope() -> None:
    assert render_cache.query_of("?b=2&a=1") == render_cache.query_of("a=1&b=2")
    assert render_cache.query_of("?a=1") != render_cache.query_of("?a=2")
    mic = User(username="m1", role="ministry", ministry="MIC", password_hash="x")
    mhlw = User(username="m2", role="ministry", ministry="MHLW", password_hash="x")
    other_mic = User(username="m3", role="ministry", ministry="MIC", password_hash="x")
    assert render_cache.scope_of(mic) != render_cache.scope_of(mhlw)
    assert render_cache.scope_of(mic) == render_cache.scope_of(other_mic)  # the user name is not part of it
    both = User(username="b", role="cio", roles=["security"], password_hash="x")
    sec = User(username="s", role="security", password_hash="x")
    assert render_cache.scope_of(both) != render_cache.scope_of(sec)


# ------------------------------------------------------------------------------------------------ data version


def test_every_table_but_the_audit_log_moves_the_data_version(workspace) -> None:
    with for_workspace(workspace).connect() as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                                            "AND NOT temporary").fetchall()}
        triggers = Counter(r[0] for r in con.execute("SELECT table_name FROM duckdb_triggers()").fetchall())
        assert {t for t in tables if triggers[t] == 3} == tables - UNVERSIONED
        assert all(triggers[t] == 0 for t in UNVERSIONED)
        v0 = data_version(con)
        audit.record(con, actor="tester", action="dashboard.alert.view")
        assert data_version(con) == v0  # a view's audit entry changes no page
        con.execute("UPDATE alerts SET assignee = 'someone' WHERE alert_id = (SELECT min(alert_id) FROM alerts)")
        assert data_version(con) == v0 + 1
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM kpi_forecasts")
        other = con.cursor()
        assert data_version(other) == v0 + 1  # not before the change is committed
        con.execute("ROLLBACK")
        assert data_version(con) == v0 + 1  # nor when it is rolled back
        other.close()


WRITE_ELSEWHERE = """
import sys
from pathlib import Path
from observatory.warehouse import for_workspace
from observatory.workspace import load_workspace
with for_workspace(load_workspace(Path(sys.argv[1]))).connect() as con:
    con.execute(sys.argv[2], [float(sys.argv[3]), sys.argv[4]])
"""


def _write_in_another_process(ws, sql: str, value: float, key: str) -> None:
    subprocess.run([sys.executable, "-c", WRITE_ELSEWHERE, str(ws.home), sql, str(value), key], check=True,
                   cwd=ROOT, capture_output=True, timeout=120)


# ------------------------------------------------------------------------------------ kept pages and new data


def test_a_kept_page_shows_a_write_of_another_process_at_once(app, client_for, workspace, built) -> None:
    client = client_for("cio1")
    path = f"/kpi/{built.mic_kpi}"
    first = render(client, path)
    hits = kept(app).hits
    assert render(client, path) == first and kept(app).hits == hits + 1  # the second view is the kept page
    with for_workspace(workspace).connect() as con:
        latest = con.execute("SELECT max(period) FROM kpi_values WHERE kpi_id = ? AND level = 'national'",
                             [built.mic_kpi]).fetchone()[0]
    assert "98765.4" not in first
    _write_in_another_process(workspace, "UPDATE kpi_values SET value = ? WHERE kpi_id = ? AND level = 'national' "
                              f"AND period = DATE '{latest.isoformat()}'", 98765.4, built.mic_kpi)
    again = render(client, path)
    assert "98765.4" in again  # the chart's data carries the new value


def test_a_triage_decision_shows_on_the_kept_alert_page(app, client_for, built) -> None:
    client = client_for("sec1")
    aid = built.alert_ids[0]
    before = render(client, f"/alert/{aid}")
    assert render(client, f"/alert/{aid}") == before  # kept
    resp = client.post("/_dash-update-component", json=_act(aid, "investigating"))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    after = render(client, f"/alert/{aid}")
    assert after != before and "checked with the unit" in after  # the decision's note is in the history shown


def test_the_overview_shows_a_recomputed_value_with_the_same_row_counts(app, client_for, workspace, built) -> None:
    """The old memo compared KPI row counts: a recompute that changed values but not counts stayed hidden."""
    client = client_for("cio1")
    first = render(client, "/overview")
    with for_workspace(workspace).connect() as con:
        counts = con.execute("SELECT (SELECT count(*) FROM kpi_values), (SELECT count(*) FROM kpi_forecasts)").fetchone()
        con.execute("UPDATE kpi_forecasts SET attainment_date = DATE '2031-07-01', status = 'off_track' "
                    "WHERE level = 'national'")
        con.execute("UPDATE kpi_values SET status = 'off_track'")
        assert con.execute("SELECT (SELECT count(*) FROM kpi_values), (SELECT count(*) FROM kpi_forecasts)"
                           ).fetchone() == counts
    assert render(client, "/overview") != first


# ------------------------------------------------------------------------------------------ audit and access


def _entries(workspace, actor: str) -> list[tuple]:
    with for_workspace(workspace).connect() as con:
        return con.execute("SELECT action, target, outcome, CAST(detail AS VARCHAR), role, client FROM audit_log "
                           "WHERE actor = ? ORDER BY audit_id", [actor]).fetchall()


def test_a_hit_writes_the_same_audit_entries_in_the_viewers_name(workspace, built) -> None:
    workspace.config.users = workspace.config.users + [
        User(username="sec2", role="security", password_hash=hash_password(fixtures.password("sec2"), **fixtures.FAST))]
    workspace.save_config()
    app = create_app(workspace)
    one, two = app.server.test_client(), app.server.test_client()
    assert sign_in(one, "sec1").status_code == 302 and sign_in(two, "sec2", fixtures.password("sec2")).status_code == 302
    aid = built.alert_ids[0]
    first = render(one, f"/alert/{aid}")
    written = [e for e in _entries(workspace, "sec1") if e[0] != "signin"]
    assert sorted({e[0] for e in written}) == sorted(ALERT_ACTIONS)
    hits = kept(app).hits
    assert render(two, f"/alert/{aid}") == first and kept(app).hits == hits + 1  # sec2 got the kept page ...
    replayed = [e for e in _entries(workspace, "sec2") if e[0] != "signin"]
    assert [e[:5] for e in replayed] == [e[:5] for e in written]  # ... and the same entries, in sec2's name
    assert all(e[5] for e in replayed)  # with the client's address
    assert render(two, f"/alert/{aid}") == first  # every view, not only the first hit
    assert len([e for e in _entries(workspace, "sec2") if e[0] != "signin"]) == 2 * len(written)


def test_a_role_without_access_is_refused_after_an_allowed_role_filled_the_cache(app, client_for, workspace,
                                                                                built) -> None:
    aid = built.alert_ids[0]
    security = render(client_for("sec1"), f"/alert/{aid}")
    render(client_for("sec1"), "/alerts")
    assert "alx-summary" in security  # the security role sees the evidence
    ministry = client_for("mic1")
    for path in ("/alerts", f"/alert/{aid}"):
        resp = ministry.post("/_dash-update-component", json=router(path))
        assert resp.status_code == 403
        assert "alx-" not in resp.get_data(as_text=True)
    denied = [e for e in _entries(workspace, "mic1") if e[2] == "denied"]
    assert len(denied) == 2
    cio = render(client_for("cio1"), f"/alert/{aid}")  # may read alerts, not their evidence
    assert "alx-summary" not in cio and cio != security


def test_ministries_do_not_see_each_others_home(app, client_for, workspace, built) -> None:
    name = next(k.name_ja for k in kpi_infos(workspace) if k.id == built.mic_kpi)
    mic = render(client_for("mic1"), "/")
    mhlw = render(client_for("mhlw1"), "/")
    assert name in mic and name not in mhlw


@pytest.mark.parametrize("path", ["/audit", "/ministry", "/submission/800001"])
def test_pages_with_per_user_or_audit_content_are_never_kept(app, client_for, path) -> None:
    client = client_for("admin1")
    size, hits = len(kept(app)), kept(app).hits
    render(client, path)
    render(client, path)
    assert len(kept(app)) == size and kept(app).hits == hits


def test_every_view_of_the_kept_queue_is_audited(app, client_for, workspace) -> None:
    cio = client_for("cio1")
    first = render(cio, "/alerts")
    hits = kept(app).hits
    assert render(cio, "/alerts") == first and kept(app).hits == hits + 1
    actions = Counter(e[0] for e in _entries(workspace, "cio1"))
    assert actions["dashboard.alerts.view"] == 2 and actions["alerts.list"] == 2


def test_a_failed_render_is_not_kept(app, client_for) -> None:
    client = client_for("cio1")
    size = len(kept(app))
    render(client, "/kpi/no_such_kpi")
    render(client, "/overview", "?ministry=NOPE")
    assert len(kept(app)) == size


def test_the_clock_of_a_key_is_the_minute_or_the_day_in_japan() -> None:
    at = datetime(2026, 12, 1, 15, 30, 45, tzinfo=UTC).timestamp()  # 00:30:45 on 2 December in Japan
    assert render_cache.clock_start("minute", at) == datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    assert render_cache.clock_start("day", at) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # midnight in Japan
    before = datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC).timestamp()  # 23:59:59 on 1 December in Japan
    assert render_cache.clock_start("day", before) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def test_one_render_per_page_while_others_wait_for_it(workspace, built) -> None:
    """Twelve users asking at once for a page nobody has rendered yet get one render between them."""
    app = create_app(workspace)
    clients = [app.server.test_client() for _ in range(12)]
    for c in clients:
        assert sign_in(c, "sec1").status_code == 302
    results: list[str] = []
    gate = threading.Barrier(len(clients))

    def ask(c) -> None:
        gate.wait()
        results.append(render(c, f"/alert/{built.alert_ids[0]}"))

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert len(results) == len(clients) and len(set(results)) == 1
    assert kept(app).hits == len(clients) - 1
    c = render_cache.RenderCache()
    assert c.claim(_key(1)) is None
    busy = c.claim(_key(1))
    assert busy is not None and not busy.is_set()
    c.done(_key(1))
    assert busy.is_set() and c.claim(_key(1)) is None


def test_over_http_a_kept_page_follows_a_write_of_another_process(workspace, built) -> None:
    """The same through waitress on 127.0.0.1: two users, one kept page, a write by another process in between."""
    path = f"/kpi/{built.mic_kpi}"
    with running(workspace) as base, httpx.Client(timeout=60) as one, httpx.Client(timeout=60) as two:
        for client, user in ((one, "cio1"), (two, "admin1")):
            page = client.get(f"{base}/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            resp = client.post(f"{base}/login", data={"csrf": token, "username": user,
                                                      "password": fixtures.password(user), "next": "/"})
            assert resp.status_code == 302

        def show(client) -> str:
            resp = client.post(f"{base}/_dash-update-component", json=router(path))
            assert resp.status_code == 200
            return json.dumps(resp.json(), ensure_ascii=False)

        first = show(one)
        assert show(one) == first and "12345.6" not in first
        _write_in_another_process(workspace, "UPDATE kpi_values SET value = ? WHERE kpi_id = ? AND level = 'national'",
                                  12345.6, built.mic_kpi)
        assert "12345.6" in show(one) and "12345.6" in show(two)
