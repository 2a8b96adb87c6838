"""Home (/): the user's own work first. The CIO office and admins: the banner and the status counts per
target year; a ministry: the submissions it owes; security: the open queue and what is overdue. Then the
pages the user may open."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboards import access, queries, views
from dashboards.components import data_table
from dashboards.context import current_ws, now
from dashboards.i18n import format_number, t
from dashboards.pages.overview import banner, counts_panel
from dashboards.shell import NAV, guarded
from dashboards.views import Column, ViewData
from observatory.security.users import can

TITLE = "電子行政オブザーバトリ / e-Government Observatory"


def _cio(con: Any, ws: Any, user: Any, lang: str) -> list[Any]:
    view = views.overview(con, ws, user, {})
    fresh = views.sources(con, ws, user, {})
    overdue = queries.alert_deadlines(con, ws.config.alerts.triage_service_level_hours, now())
    return [banner(fresh, overdue, lang), counts_panel(view.rows, lang),
            html.P(dcc.Link(t("home.to_overview", lang), href="/overview"))]


def _ministry(con: Any, ws: Any, user: Any, lang: str) -> list[Any]:
    rows = queries.due_submissions(con, views.infos(con, ws), user.ministry, views.today(ws))
    for r in rows:
        r["state"] = t("home.due" if r["due"] else "home.received", lang)
    table = ViewData([Column("name", "col.kpi"), Column("period", "col.period", "period"),
                      Column("due_on", "home.due_on", "date"), Column("state", "col.status"),
                      Column("submitted_at", "col.submitted_at", "datetime")], rows)
    n_due = sum(1 for r in rows if r["due"])
    return [html.H2(t("home.owed", lang)),
            html.P(t("home.owed_count", lang, n=n_due, days=queries.DUE_DAYS), id="home-due"),
            data_table(table, lang, t("home.owed", lang), table_id="home-due-table"),
            html.P(dcc.Link(t("home.to_ministry", lang), href="/ministry"))]


def _security(con: Any, ws: Any, lang: str) -> list[Any]:
    d = queries.alert_deadlines(con, ws.config.alerts.triage_service_level_hours, now())
    hours = format_number(d["service_level_hours"], lang, digits=0)
    return [html.H2(t("alerts.queue", lang)),
            html.P(t("home.queue", lang, open=d["open"], overdue=d["overdue"], hours=hours), id="home-queue",
                   className="notice notice-error" if d["overdue"] else "notice"),
            html.P(dcc.Link(t("home.to_queue", lang), href="/alerts"))]


@guarded("home")
def layout(con: Any, user: Any, lang: str, **_: Any) -> html.Div:
    """The user's own work, then the pages this user may open."""
    ws = current_ws()
    work: list[Any] = []
    if can(user, "kpi.all"):
        work += _cio(con, ws, user, lang)
    elif user.ministry and access.allowed(user, "ministry"):
        work += _ministry(con, ws, user, lang)
    if access.allowed(user, "alerts") and can(user, "alerts.triage"):
        work += _security(con, ws, lang)
    items = [html.Li(dcc.Link(t(key, lang), href=href)) for page, href, key in NAV if access.allowed(user, page)]
    return html.Div([html.H1(t("app.title", lang)), *work, html.H2(t("home.pages", lang)),
                     html.Ul(items, className="home-links")])


def register(app: dash.Dash) -> None:
    """Register the page (no callbacks)."""
    dash.register_page(__name__, path="/", title=TITLE, name="home", layout=layout)
