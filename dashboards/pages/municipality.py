"""One municipality (/municipality/<code>): every KPI's latest value with its trend, its status and the
prefecture's and the nation's values beside it, each linked to its history there."""

from __future__ import annotations

import base64
from typing import Any

import dash
from dash import dcc, html

from dashboards import figures, views
from dashboards.components import chart_block, status_badge
from dashboards.context import current_ws
from dashboards.i18n import format_number, format_period, name_of, t
from dashboards.shell import guarded

TITLE = "市区町村 / Municipality"


@guarded("municipality")
def layout(con: Any, user: Any, lang: str, code: str | None = None, **_: Any) -> html.Div:
    """Heading with names and codes, a list of KPI values with links, the table and its CSV."""
    view = views.municipality(con, current_ws(), user, {"code": code})
    m = view.extra["municipality"]
    con_series = view.extra["series"]
    items = [html.Li([dcc.Link(name_of(r, lang), href=f"/kpi/{r['kpi_id']}?level=municipality&entity={m['code']}"),
                      f": {format_number(r['value'], lang, unit=r['unit'])} ({format_period(r['period'], r.get('frequency'), lang)}) ",
                      status_badge(r["status"], lang), " ",
                      html.Img(src="data:image/svg+xml;base64," + base64.b64encode(figures.sparkline_svg(
                          con_series.get(r["kpi_id"], []), r["status"]).encode()).decode(), alt="",
                               className="spark", width=160, height=40),
                      html.Span(f" {t('muni.prefecture', lang)} {format_number(r['prefecture_value'], lang, unit=r['unit'])}"
                                f" · {t('muni.national', lang)} {format_number(r['national_value'], lang, unit=r['unit'])}",
                                className="sub")])
             for r in view.rows]
    pref = m["prefecture_en"] if lang == "en" else m["prefecture_ja"]
    return html.Div([
        html.H1(f"{name_of(m, lang)} ({m['code']})", id="muni-title"),
        html.P([dcc.Link(pref, href=f"/area?pref={m['prefecture_code']}"), f" · {m['name_kana']}"], className="sub"),
        html.Ul(items, className="kpi-list"),
        chart_block(t("muni.title", lang), None, view, "municipality", {"code": m["code"]}, lang, open_table=True),
    ])


def register(app: dash.Dash) -> None:
    """Register the page (no callbacks)."""
    dash.register_page(__name__, path_template="/municipality/<code>", title=TITLE, name="municipality",
                       layout=layout)
