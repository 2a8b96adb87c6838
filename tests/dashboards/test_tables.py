"""Long tables page and filter; URL codes ignore case; words for people instead of codes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

from observatory.security import audit
from observatory.warehouse import for_workspace
from tests.dashboards.test_access import router_body


def _page(client, path: str, search: str = "") -> str:
    resp = client.post("/_dash-update-component", json=router_body(path, search))
    assert resp.status_code == 200
    return json.dumps(resp.get_json(), ensure_ascii=False)


def _csv(client, url: str) -> list[dict[str, str]]:
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:200]
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def test_audit_log_pages_and_filters_by_actor_action_and_dates(workspace, client_for) -> None:
    start = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    with for_workspace(workspace).connect() as con:
        for i in range(130):
            audit.record(con, actor="bulk" if i % 2 else "other", action="alerts.get", target=str(i))
        con.execute("UPDATE audit_log SET at_time = ? + to_days(CAST(target AS INTEGER) % 7) "
                    "WHERE action = 'alerts.get'", [start])
    admin = client_for("admin1")
    # 65 entries by 'bulk' (odd i) on 2026-06-01 + (i mod 7) days, 12:00 JST
    rows = _csv(admin, "/download/audit.csv?actor=bulk&action=alerts.get&from=2026-06-03&to=2026-06-05&lang=en")
    days = {r[next(k for k in r if k.endswith("(at_time)"))][:10] for r in rows}
    assert days == {"2026-06-03", "2026-06-04", "2026-06-05"}
    assert len(rows) == sum(1 for i in range(130) if i % 2 and i % 7 in (2, 3, 4))
    first = _page(admin, "/audit", "?actor=bulk&action=alerts.get")
    assert "Page 1 of 2 (65 entries)" in first and "Older 50" in first  # the CSV request chose English
    second = _csv(admin, "/download/audit.csv?actor=bulk&action=alerts.get&page=2&lang=en")
    assert len(second) == 15
    assert "<td>Alert viewed</td>" in first  # the action in words, not alerts.get
    bad = _page(admin, "/audit", "?from=yesterday")
    assert "not a date (YYYY-MM-DD)" in bad


def test_codes_in_urls_ignore_case(client_for) -> None:
    cio = client_for("cio1")
    lower, upper = _page(cio, "/overview", "?ministry=mic"), _page(cio, "/overview", "?ministry=MIC")
    assert "not one of" not in lower and "card-" in lower
    strip = '"search": "?ministry=mic"'
    assert lower.replace(strip, "") .count('"card-') == upper.count('"card-')


def test_overview_names_owners_and_counts_each_target_year(client_for) -> None:
    text = _page(client_for("cio1"), "/overview")
    assert "総務省" in text and "担当: MIC" not in text  # owner by name, not code
    assert "ov-count-2026" in text and "ov-banner" in text
    assert "usage-feed" in text and "期限（72時間）を過ぎた未完了のアラートが" in text


def test_access_denied_keeps_a_way_on(workspace, client_for) -> None:
    """The in-app denied view offers the pages the user may open (the navigation stays around it)."""
    from dashboards.components import denied
    from tests.dashboards.fixtures import USERS

    user = next(u for u in workspace.config.users if u.username == "mic1")
    assert USERS["mic1"]["role"] == "ministry"
    text = json.dumps(denied("ja", user).to_plotly_json(), default=lambda o: o.to_plotly_json(),
                      ensure_ascii=False)
    assert "アクセス権がありません" in text and '"href": "/ministry"' in text and '"href": "/"' in text
    assert '"href": "/audit"' not in text  # only pages the user may open are offered


def test_kpi_page_says_the_definition_in_words_not_yaml(built, client_for) -> None:
    text = _page(client_for("cio1"), f"/kpi/{built.mic_kpi}")
    assert "kpi-definition" in text and "分子" in text
    for raw in ("ratio:", "numerator:", "agg:", "scale:", "source_note:"):
        assert raw not in text, raw
    assert re.findall(r'.{60}"percent".{20}', text) == [] and "national / JP" not in text and "全国" in text


def test_ministry_codes_in_urls_ignore_case(client_for) -> None:
    lower = _page(client_for("cio1"), "/ministry", "?ministry=mic")
    assert "not a ministry code" not in lower and "総務省 (MIC)" in lower
    own = _page(client_for("mic1"), "/ministry", "?ministry=mic")
    assert "閲覧できません" not in own


def test_fiscal_years_are_fiscal_years_and_counts_are_whole(workspace, client_for) -> None:
    from dashboards.i18n import format_number, format_period
    from dashboards.publish.i18n import number

    assert format_number(1609909.7, "ja", unit="count") == "1,609,910"
    assert number(1609909.7, "ja", "count") == "1,609,910件"
    from datetime import date

    assert format_period(date(2019, 4, 1), "fiscal_year", "ja").startswith("2019年度")
    assert format_period(date(2019, 4, 1), "fiscal_year", "en").startswith("FY2019")
    from dashboards.catalogue import kpi_infos
    from tests.dashboards.conftest import SECRET_ENV  # noqa: F401 - the workspace fixture sets it

    fy = [k for k in kpi_infos(workspace) if k.frequency == "fiscal_year"]
    assert fy  # the history table labels fiscal-year periods as fiscal years, never as 4月 dates
    if fy:
        text = _page(client_for("cio1"), f"/kpi/{fy[0].id}")
        assert "年度" in text and "年4月</td>" not in text


def test_home_shows_each_user_their_own_work(built, client_for) -> None:
    cio = _page(client_for("cio1"), "/")
    assert "ov-banner" in cio and "ov-count-2026" in cio
    sec = _page(client_for("sec1"), "/")
    assert "home-queue" in sec and "うち対応期限（72時間）超過" in sec
    mic = _page(client_for("mic1"), "/")
    assert "home-due-table" in mic and "未提出" in mic and "ov-banner" not in mic



def test_a_period_is_due_until_an_accepted_file_covers_it(workspace, built) -> None:
    from datetime import date

    from dashboards import queries
    from dashboards.catalogue import kpi_infos
    from observatory.warehouse import for_workspace
    from tests.dashboards.fixtures import REPORT_PERIOD

    infos = [k for k in kpi_infos(workspace) if k.id == built.mic_kpi]
    with for_workspace(workspace).connect() as con:
        for today in (date(2026, 12, 1), date(2027, 6, 1)):
            (row,) = queries.due_submissions(con, infos, "MIC", today)
            assert row["due_on"] < today and row["period"] <= today
            # the fixture's accepted files cover REPORT_PERIOD only
            assert row["due"] == (row["period"] != REPORT_PERIOD), row


def test_access_denied_page_for_a_direct_url_offers_the_users_pages(client_for) -> None:
    """A direct URL the user may not open (served by the guard, outside the Dash app) is no dead end either: it
    keeps a navigation with the pages the user may open, in the user's language."""
    mic = client_for("mic1")
    resp = mic.get("/alerts")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "アクセス権がありません" in page
    links = dict(re.findall(r'<a[^>]* href="([^"]+)"[^>]*>([^<]+)</a>', page))
    assert links.get("/ministry") == "府省ワークスペース" and "/" in links and "/kpi" not in links
    assert "/alerts" not in links and "/audit" not in links and "/overview" not in links  # only what mic1 may open
    assert '<nav aria-label="main">' in page
    sec = client_for("sec1").get("/audit?lang=en").get_data(as_text=True)
    assert 'href="/alerts"' in sec and 'href="/ministry"' not in sec and "Alert" in sec


def test_people_appear_by_display_name_with_their_code(workspace, built, client_for) -> None:
    """Users by their display_name from observatory.yaml (assignee, history, audit log, submissions) and staff by
    the roster's optional display_name column, to the security role only; the code stays alongside."""
    for u in workspace.config.users:
        if u.username in ("sec1", "mic1"):
            u.display_name = {"sec1": "佐藤 花子", "mic1": "鈴木 一郎"}[u.username]
    workspace.save_config()
    aid = built.alert_ids[0]
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE alerts SET assignee = 'sec1' WHERE alert_id = ?", [aid])
        con.execute("INSERT INTO alert_history (alert_id, at_time, actor, action, from_status, to_status, note) "
                    "VALUES (?, now(), 'sec1', 'note', NULL, NULL, 'looked')", [aid])
        con.execute("UPDATE staff SET display_name = '山田 太郎' WHERE staff_id = 'S001'")
    sec = client_for("sec1")
    page = _page(sec, f"/alert/{aid}")
    assert "山田 太郎 (S001)" in page and "佐藤 花子 (sec1)" in page
    assert re.search(r"<td>[^<]*</td><td>佐藤 花子 \(sec1\)</td>", page)  # the history's actor column
    queue = _page(sec, "/alerts", "?status=all")
    assert "山田 太郎 (S001)" in queue and "佐藤 花子 (sec1)" in queue
    cio = _page(client_for("cio1"), f"/alert/{aid}")
    assert "山田 太郎" not in cio and "S001" in cio  # the staff member's name is for the security role only
    assert "山田 太郎" not in _page(client_for("cio1"), "/alerts", "?status=all")
    audit_page = _page(client_for("admin1"), "/audit")
    assert "佐藤 花子 (sec1)" in audit_page
    history = _page(client_for("mic1"), "/ministry")
    assert "鈴木 一郎 (mic1)" in history
    rows = _csv(sec, "/download/alerts.csv?status=all")
    assert any(r.get(next(k for k in r if k.endswith("(staff_id_name)"))) == "山田 太郎" for r in rows)


def test_the_forecast_table_of_a_kpi_without_targets_says_so(workspace, client_for) -> None:
    """A KPI with no official target (the municipal DX figures: `targets: {}`) has no forecast rows; its table says
    "no target set", as its status line and the public site do, rather than "nothing to show"."""
    with for_workspace(workspace).connect() as con:  # the fixture gives every KPI forecasts; a real run does not
        con.execute("DELETE FROM kpi_forecasts WHERE kpi_id = 'dx_ai_in_use'")
        con.execute("UPDATE kpi_values SET target = NULL WHERE kpi_id = 'dx_ai_in_use'")
    cio = client_for("cio1")
    for lang, words in (("ja", "予測: 目標が設定されていないため"), ("en", "Forecast: no target set")):
        page = _page(cio, "/kpi/dx_ai_in_use", f"?lang={lang}")
        assert words in page
    assert "no target set" not in _page(cio, "/kpi/card_issuance_rate", "?lang=en")
    assert "予測: 該当する行はありません" in _page(cio, "/kpi/card_issuance_rate", "?lang=ja&level=prefecture&entity=99")
