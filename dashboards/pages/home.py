"""Home (/): where a signed-in user starts; links to the pages their roles open."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from dashboards import access
from dashboards.i18n import t
from dashboards.shell import NAV, guarded

TITLE = "電子行政オブザーバトリ / e-Government Observatory"


@guarded("home")
def layout(con: Any, user: Any, lang: str, **_: Any) -> html.Div:
    """A short list of the pages this user may open."""
    items = [html.Li(dcc.Link(t(key, lang), href=href)) for page, href, key in NAV if access.allowed(user, page)]
    return html.Div([html.H1(t("app.title", lang)), html.Ul(items, className="home-links")])


def register(app: dash.Dash) -> None:
    """Register the page (no callbacks)."""
    dash.register_page(__name__, path="/", title=TITLE, name="home", layout=layout)
