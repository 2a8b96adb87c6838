"""Audit log (/audit?actor=&action=&from=&to=&page=): who viewed sensitive data and who did what (admin only),
50 entries a page, filtered by actor, action (in words) and a date range."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import ids, queries, views
from dashboards.components import chart_block, query_string
from dashboards.context import current_ws
from dashboards.i18n import action_label, person_label, t
from dashboards.shell import guarded

TITLE = "監査ログ / Audit log"


def _pager(view: views.ViewData, lang: str) -> html.Nav:
    x = view.extra
    base = {"actor": x["actor"], "action": x["action"], "from": x["from"], "to": x["to"]}
    links: list[Any] = []
    if x["page"] > 1:
        links.append(dcc.Link(t("audit.prev", lang), href="/audit" + query_string({**base, "page": x["page"] - 1})))
    links.append(html.Span(t("audit.page", lang, page=x["page"], pages=x["pages"], total=f"{x['total']:,}")))
    if x["page"] < x["pages"]:
        links.append(dcc.Link(t("audit.next", lang), href="/audit" + query_string({**base, "page": x["page"] + 1})))
    return html.Nav(links, className="pager", **{"aria-label": t("audit.page", lang, page=x["page"],
                                                                  pages=x["pages"], total=x["total"])})


@guarded("audit")
def layout(con: Any, user: Any, lang: str, actor: str | None = None, action: str | None = None,
           page: str | None = None, **kwargs: Any) -> html.Div:
    """Filters, one page of entries and the pager (reading the log is itself logged)."""
    params = {"actor": actor, "action": action, "from": kwargs.get("from"), "to": kwargs.get("to"), "page": page}
    view = views.audit_log(con, current_ws(), user, params)
    users = current_ws().config.users
    choices = queries.audit_choices(con, [u.username for u in users])
    if actor and actor not in choices["actors"]:  # a deep link to an actor not offered keeps its filter shown
        choices["actors"].append(actor)
    people = queries.user_names(users)
    x = view.extra
    filters = html.Div([
        html.Label([t("col.actor", lang), dcc.Dropdown(id=ids.AUD_ACTOR, value=actor or None, clearable=True,
                                                      options=[{"label": person_label(a, people.get(a)), "value": a}
                                                               for a in choices["actors"]],
                                                      placeholder=t("filter.all", lang))]),
        html.Label([t("col.action", lang), dcc.Dropdown(
            id=ids.AUD_ACTION, value=action or None, clearable=True, placeholder=t("filter.all", lang),
            options=[{"label": action_label(a, lang), "value": a} for a in choices["actions"]])]),
        html.Label([t("audit.from", lang), dcc.Input(id=ids.AUD_FROM, type="date", debounce=True,
                                                     value=x["from"].isoformat() if x["from"] else "")]),
        html.Label([t("audit.to", lang), dcc.Input(id=ids.AUD_TO, type="date", debounce=True,
                                                   value=x["to"].isoformat() if x["to"] else "")]),
    ], className="filters")
    shown = {k: v for k, v in params.items() if v}
    return html.Div([
        dcc.Location(id=ids.AUD_URL, refresh="callback-nav"), html.H1(t("audit.title", lang)), filters,
        _pager(view, lang),
        chart_block(t("audit.title", lang), None, view, "audit", shown, lang, open_table=True),
        _pager(view, lang),
    ])


def filters_to_url(actor: str | None, action: str | None, since: str | None = None,
                   until: str | None = None, current: str | None = None) -> str:
    """The filters as the page's query string (deep link); a new filter starts again at page 1."""
    return query_string({"actor": (actor or "").strip(), "action": (action or "").strip(),
                         "from": (since or "").strip(), "to": (until or "").strip()}, current)


def register(app: dash.Dash) -> None:
    """Register the page and its filter callback."""
    dash.register_page(__name__, path="/audit", title=TITLE, name="audit", layout=layout)
    app.callback(Output(ids.AUD_URL, "search"), Input(ids.AUD_ACTOR, "value"), Input(ids.AUD_ACTION, "value"),
                 Input(ids.AUD_FROM, "value"), Input(ids.AUD_TO, "value"), State(ids.AUD_URL, "search"),
                 prevent_initial_call=True)(filters_to_url)
