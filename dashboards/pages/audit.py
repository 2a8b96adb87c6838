"""Audit log (/audit?actor=&action=): who viewed sensitive data and who did what (admin only)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboards import ids, views
from dashboards.components import chart_block, query_string
from dashboards.context import current_ws
from dashboards.i18n import t
from dashboards.shell import guarded

TITLE = "監査ログ / Audit log"


@guarded("audit")
def layout(con: Any, user: Any, lang: str, actor: str | None = None, action: str | None = None,
           **_: Any) -> html.Div:
    """Filters and the newest 500 entries (reading the log is itself logged)."""
    view = views.audit_log(con, current_ws(), user, {"actor": actor, "action": action})
    return html.Div([
        dcc.Location(id=ids.AUD_URL, refresh="callback-nav"), html.H1(t("audit.title", lang)),
        html.Div([html.Label([t("col.actor", lang), dcc.Input(id=ids.AUD_ACTOR, value=actor or "", debounce=True)]),
                  html.Label([t("col.action", lang), dcc.Input(id=ids.AUD_ACTION, value=action or "", debounce=True)])],
                 className="filters"),
        chart_block(t("audit.title", lang), None, view, "audit", {"actor": actor, "action": action}, lang,
                    open_table=True),
    ])


def filters_to_url(actor: str | None, action: str | None) -> str:
    """The filters as the page's query string (deep link)."""
    return query_string({"actor": (actor or "").strip(), "action": (action or "").strip()})


def register(app: dash.Dash) -> None:
    """Register the page and its filter callback."""
    dash.register_page(__name__, path="/audit", title=TITLE, name="audit", layout=layout)
    app.callback(Output(ids.AUD_URL, "search"), Input(ids.AUD_ACTOR, "value"), Input(ids.AUD_ACTION, "value"),
                 prevent_initial_call=True)(filters_to_url)
