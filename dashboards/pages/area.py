"""Areas (/area?kpi=&pref=&q=&sort=): tile map of the 47 prefectures, drill-down to municipal ranking,
distribution and search by name or code."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import dash
from dash import Input, Output, State, dash_table, dcc, html

from dashboards import figures, ids, queries, views
from dashboards.components import GRAPH_CONFIG, chart_block, data_table, download_link, query_string
from dashboards.context import current_ws
from dashboards.i18n import format_number, format_period, name_of, status_label, t
from dashboards.shell import guarded
from dashboards.views import Column, ViewData

TITLE = "地域別 / Areas"


@guarded("area")
def layout(con: Any, user: Any, lang: str, kpi: str | None = None, pref: str | None = None, q: str | None = None,
           sort: str | None = None, **_: Any) -> html.Div:
    """Map and table of prefectures; with a prefecture or a search, the municipal ranking."""
    ws = current_ws()
    params = {"kpi": kpi, "pref": pref, "q": q, "sort": sort}
    prefs = views.area_prefectures(con, ws, user, params)
    info = prefs.extra["info"]
    if info is None:
        return html.Div([html.H1(t("area.title", lang)), html.P(t("area.no_area_kpi", lang))])
    params["kpi"] = info.id
    munis = views.area_municipalities(con, ws, user, params)
    area_ids = set(views.memo(con, ws, queries.area_kpi_ids))
    kpi_opts = [{"label": f"{k.id} {k.name_en if lang == 'en' else k.name_ja}", "value": k.id}
                for k in views.infos(con, ws) if k.id in area_ids]
    sort_opts = [{"label": label, "value": value} for value, label in (
        ("value_desc", "値の高い順 / Highest first"), ("value_asc", "値の低い順 / Lowest first"),
        ("code", "コード順 / By code"), ("name", "名称順 (かな) / By name"))]
    controls = html.Div([
        html.Label([t("filter.kpi", lang), dcc.Dropdown(id=ids.AREA_KPI, options=kpi_opts, value=info.id,
                                                         clearable=False)]),
        html.Label([t("filter.search", lang), dcc.Input(id=ids.AREA_SEARCH, type="search", value=q or "",
                                                         debounce=True, maxLength=60)]),
        html.Label([t("col.rank", lang), dcc.Dropdown(id=ids.AREA_SORT, options=sort_opts,
                                                       value=munis.extra["sort"], clearable=False)]),
    ], className="filters")
    selected = munis.extra["pref"]
    map_block = chart_block(t("area.national", lang), figures.tile_map(prefs.rows, lang, info.unit, selected=selected),
                            prefs, "area-prefectures", {"kpi": info.id}, lang, graph_id=ids.AREA_MAP)
    parts: list[Any] = [dcc.Location(id=ids.AREA_URL, refresh="callback-nav"), html.H1(t("area.title", lang)),
                        html.P(info.name_en if lang == "en" else info.name_ja, className="sub"), controls, map_block]
    if selected or munis.extra["q"]:
        pref_name = next((name_of(r, lang) for r in prefs.rows if r["code"] == selected), "")
        title = f"{t('area.ranking', lang)} {pref_name} {('「' + munis.extra['q'] + '」') if munis.extra['q'] else ''}"
        values = [r["value"] for r in munis.rows]
        bins = ViewData([Column("from", "col.lower", "number"), Column("to", "col.upper", "number"),
                         Column("count", "col.count", "number")], figures.histogram_bins(values))
        parts.append(html.Section([
            html.H2(t("area.distribution", lang)),
            dcc.Graph(id=ids.AREA_DIST, figure=figures.distribution_figure(values, lang, info.unit),
                      config=GRAPH_CONFIG),
            html.Details([html.Summary(t("table.show", lang)), data_table(bins, lang, t("area.distribution", lang))]),
        ], className="block"))
        parts.append(html.Section([html.H2(title), _ranking_table(munis, lang),
                                   download_link("area-municipalities", params, lang)], className="block"))
    else:
        parts.append(html.P(t("area.pick", lang)))
    return html.Div(parts)


def ranking_records(view: Any, lang: str) -> list[dict[str, Any]]:
    """The ranking as DataTable records; the name links to the municipality's page."""
    unit = view.unit
    return [{"rank": r["rank"], "code": r["code"], "name": f"[{name_of(r, lang)}](/municipality/{r['code']})",
             "period": format_period(r["period"], r.get("frequency"), lang), "value": format_number(r["value"], lang, unit=unit),
             "status": status_label(r["status"], lang)} for r in view.rows]


def _ranking_table(view: Any, lang: str) -> Any:
    """A sortable, paged table (one component, so thousands of rows stay fast)."""
    cols = [("name", "col.name", "markdown"), ("rank", "col.rank", None), ("value", "col.value", None),
            ("status", "col.period_status", None), ("period", "col.period", None), ("code", "col.code", None)]
    return html.Div(dash_table.DataTable(
        data=ranking_records(view, lang), page_size=25, sort_action="native",
        columns=[{"id": c, "name": t(label, lang), **({"presentation": p} if p else {})} for c, label, p in cols],
        markdown_options={"link_target": "_self"},
        style_cell={"textAlign": "left", "fontFamily": "inherit", "minWidth": "5em", "whiteSpace": "normal"},
        style_table={"overflowX": "auto"}),
        id="area-ranking")


def area_query(kpi: str | None, search: str | None, sort: str | None, clicked_pref: str | None,
               current: str | None) -> str:
    """The controls (and a prefecture tile just clicked) as the page's query string (deep link)."""
    now = {k: v[0] for k, v in parse_qs((current or "").lstrip("?")).items()}
    pref = clicked_pref or now.get("pref")
    return query_string({"kpi": kpi, "pref": pref, "q": (search or "").strip(), "sort": sort})


def controls_to_url(kpi: str | None, search: str | None, sort: str | None, click: dict | None,
                    current: str | None) -> str:
    """Callback: a map click sets the prefecture; other controls keep it."""
    clicked = None
    if dash.ctx.triggered_id == ids.AREA_MAP and click and click.get("points"):
        clicked = str(click["points"][0].get("customdata") or "") or None
    return area_query(kpi, search, sort, clicked, current)


def register(app: dash.Dash) -> None:
    """Register the page and its callback (controls and map clicks -> URL)."""
    dash.register_page(__name__, path="/area", title=TITLE, name="area", layout=layout)
    app.callback(Output(ids.AREA_URL, "search"), Input(ids.AREA_KPI, "value"), Input(ids.AREA_SEARCH, "value"),
                 Input(ids.AREA_SORT, "value"), Input(ids.AREA_MAP, "clickData"), State(ids.AREA_URL, "search"),
                 prevent_initial_call=True)(controls_to_url)
