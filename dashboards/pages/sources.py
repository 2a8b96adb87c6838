"""Source freshness (/sources): every configured source, its last success and whether it is stale."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboards import views
from dashboards.components import chart_block
from dashboards.context import current_ws
from dashboards.i18n import t
from dashboards.shell import guarded

TITLE = "データ鮮度 / Data freshness"


@guarded("sources")
def layout(con: Any, user: Any, lang: str, **_: Any) -> html.Div:
    """The freshness table (stale rows are marked in words and colour) with its CSV."""
    view = views.sources(con, current_ws(), user, {})
    if not view.rows:
        return html.Div([html.H1(t("sources.title", lang)), html.P(t("sources.none", lang))])
    return html.Div([html.H1(t("sources.title", lang)),
                     chart_block(t("sources.title", lang), None, view, "sources", {}, lang, open_table=True)])


def register(app: dash.Dash) -> None:
    """Register the page (no callbacks)."""
    dash.register_page(__name__, path="/sources", title=TITLE, name="sources", layout=layout)
