"""CIO overview (/overview?ministry=&year=): every KPI as a card grouped by target year, source freshness."""

from __future__ import annotations

import base64
from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboards import figures, ids, queries, views
from dashboards.components import chart_block, data_table, options, query_string, status_badge
from dashboards.context import current_ws
from dashboards.i18n import format_date, format_number, format_period, name_of, t
from dashboards.shell import guarded
from dashboards.views import ViewData

TITLE = "KPI 概要 / KPI overview"
GROUPS = (2020, 2023, 2026, None)


def card(row: dict[str, Any], lang: str) -> html.Article:
    """One KPI card: latest value, targets, status, projected attainment and a sparkline."""
    svg = figures.sparkline_svg(row["spark"], row["status"])
    unit = row["unit"]
    targets = [html.Li(f"{y}: {format_number(row[f'target_{y}'], lang, unit=unit)}") for y in (2020, 2023, 2026)
               if row.get(f"target_{y}") is not None]
    attain = (format_date(row["attainment_date"], lang) if row.get("attainment_date")
              else t("card.never", lang) if row.get("forecast_status") else "-")
    return html.Article([
        html.H3(dcc.Link(name_of(row, lang), href=f"/kpi/{row['kpi_id']}")),
        html.P([html.Span(format_number(row["value"], lang, unit=unit), className="big"), " ",
                html.Span(format_period(row["period"], row["frequency"], lang), className="period")]),
        status_badge(row["status"], lang),
        html.Img(src="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(), alt="",
                 className="spark", width=160, height=40),
        html.Ul(targets, className="targets", **{"aria-label": t("card.target", lang)}),
        html.P(f"{t('card.projected', lang)}: {attain}", className="attain"),
        html.P(f"{t('card.owner', lang)}: {row['owner'] or '-'}", className="owner"),
    ], className=f"card status-{row['status']}", id=f"card-{row['kpi_id']}")


def freshness_panel(fresh: ViewData, lang: str) -> html.Section:
    """Sources that are stale or never loaded, highlighted; the full list is on /sources."""
    bad = [r for r in fresh.rows if r["state"] != "ok"]
    shown = ViewData(fresh.columns, bad)
    body: list[Any] = [html.H2(dcc.Link(t("sources.title", lang), href="/sources"))]
    if not fresh.rows:
        body.append(html.P(t("sources.none", lang)))
    elif bad:
        body.append(data_table(shown, lang, t("sources.title", lang)))
    else:
        body.append(html.P(f"{len(fresh.rows)} / {len(fresh.rows)} {t('fresh.ok', lang)}"))
    return html.Section(body, className="block freshness" + (" stale" if bad else ""))


@guarded("overview")
def layout(con: Any, user: Any, lang: str, ministry: str | None = None, year: str | None = None,
           **_: Any) -> html.Div:
    """Filters, cards grouped by target year, the table alternative with CSV, and the freshness panel."""
    ws = current_ws()
    params = {"ministry": ministry, "year": year}
    view = views.overview(con, ws, user, params)
    fresh = views.sources(con, ws, user, {})
    ministries = queries.ministries_list(con)
    year_opts = [{"label": t("group.year", lang, year=y), "value": str(y)} for y in (2020, 2023, 2026)]
    filters = html.Div([
        html.Label([t("filter.ministry", lang),
                    dcc.Dropdown(id=ids.OV_MINISTRY, options=options(ministries, lang), value=ministry,
                                 placeholder=t("filter.all", lang), clearable=True)]),
        html.Label([t("filter.year", lang),
                    dcc.Dropdown(id=ids.OV_YEAR, options=year_opts, value=year, placeholder=t("filter.all", lang),
                                 clearable=True)]),
    ], className="filters")
    sections: list[Any] = []
    for group in GROUPS:
        cards = [card(r, lang) for r in view.rows if r["target_year_group"] == group]
        if cards:
            title = t("group.year", lang, year=group) if group else t("group.none", lang)
            sections.append(html.Section([html.H2(title), html.Div(cards, className="cards")], className="group"))
    if not sections:
        sections.append(html.P(t("overview.none", lang)))
    table = chart_block(t("overview.title", lang), None, view, "overview", params, lang)
    return html.Div([dcc.Location(id=ids.OV_URL, refresh="callback-nav"), html.H1(t("overview.title", lang)), filters,
                     freshness_panel(fresh, lang), *sections, table])


def filters_to_url(ministry: str | None, year: str | None) -> str:
    """The filters as the page's query string (deep link)."""
    return query_string({"ministry": ministry, "year": year})


def register(app: dash.Dash) -> None:
    """Register the page and its callback (filters -> URL; the URL renders the page)."""
    dash.register_page(__name__, path="/overview", title=TITLE, name="overview", layout=layout)
    app.callback(Output(ids.OV_URL, "search"), Input(ids.OV_MINISTRY, "value"), Input(ids.OV_YEAR, "value"),
                 prevent_initial_call=True)(filters_to_url)
