"""CIO overview (/overview?ministry=&year=): status counts per target year, a banner for stale sources and
overdue alerts, then every KPI as a card grouped by target year, the furthest behind first."""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import figures, ids, queries, views
from dashboards.components import chart_block, data_table, options, query_string, status_badge
from dashboards.context import current_ws, now
from dashboards.i18n import format_number, format_period, name_of, status_label, t
from dashboards.shell import guarded
from dashboards.views import ViewData
from observatory.kpis.status import SEVERITY

TITLE = "KPI 概要 / KPI overview"
GROUPS = (2020, 2023, 2026, None)
YEARS = (2020, 2023, 2026)
SHOWN = 6  # cards shown per target year before 'show the other N'


def card(row: dict[str, Any], lang: str, owners: dict[str, dict[str, Any]] | None = None) -> html.Article:
    """One KPI card: the compact head (name, latest value, honest sparkline, the status against the card's target
    year) and, behind one tap, why, the other targets with their own status, when it was met or is projected
    to be, and the owner by name (a phone shows a screen of cards, not a screen of one card)."""
    unit = row["unit"]
    targets_v = [row[f"target_{y}"] for y in YEARS if row.get(f"target_{y}") is not None]
    svg = figures.sparkline_svg(row["spark"], row["status"], targets=targets_v)
    targets = [html.Li([f"{y}: {format_number(row[f'target_{y}'], lang, unit=unit)} ",
                        html.Span(status_label(row.get(f"status_{y}"), lang), className="tstatus")])
               for y in YEARS if row.get(f"target_{y}") is not None]
    when: list[Any] = []
    if row["status"] == "achieved" and row.get("met_on"):
        late = f"（{t('card.met_late', lang)}）" if lang != "en" and row.get("late") else \
            f" ({t('card.met_late', lang)})" if row.get("late") else ""
        when = [html.P(f"{t('card.met_on', lang)}: {format_period(row['met_on'], row['frequency'], lang)}{late}",
                       className="attain")]
    elif row["status"] in ("on_track", "at_risk", "off_track"):
        attain = (format_period(row["attainment_date"], row["frequency"], lang) if row.get("attainment_date")
                  else t("card.never", lang))
        when = [html.P(f"{t('card.projected', lang)}: {attain}", className="attain")]
    owner = (owners or {}).get(row["owner"] or "")
    owner_text = name_of(owner, lang) if owner else (row["owner"] or "-")
    year = row.get("status_year")
    progress = row.get("progress_pct")
    return html.Article([
        html.H3(dcc.Link(name_of(row, lang), href=f"/kpi/{row['kpi_id']}")),
        html.Div([html.P([html.Span(format_number(row["value"], lang, unit=unit), className="big"), " ",
                          html.Span(format_period(row["period"], row["frequency"], lang), className="period")]),
                  html.Img(src="data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(), alt="",
                           className="spark", width=160, height=40)], className="card-head"),
        html.P([status_badge(row["status"], lang), " ",
                html.Span(t("card.status_for", lang, year=year), className="sub") if year else None,
                html.Span(f" · {t('card.progress', lang)} {format_number(progress, lang, digits=0)}%",
                          className="sub") if progress is not None and row["status"] != "achieved" else None]),
        html.Details([
            html.Summary(t("card.more", lang)),
            html.P(row.get("reason_en") if lang == "en" else row.get("reason_ja"), className="reason"),
            html.Ul(targets, className="targets", **{"aria-label": t("card.target", lang)}),
            *when,
            html.P(f"{t('card.owner', lang)}: {owner_text}", className="owner"),
        ], className="card-more"),
    ], className=f"card status-{row['status']}", id=f"card-{row['kpi_id']}")


def group_section(title: str, cards: list[html.Article], lang: str, shown: int = SHOWN) -> html.Section:
    """A target year's cards, the furthest behind first: the first `shown` open, the rest behind one button."""
    parts: list[Any] = [html.H2(title), html.Div(cards[:shown], className="cards")]
    if len(cards) > shown:
        parts.append(html.Details([html.Summary(t("overview.more", lang, n=len(cards) - shown)),
                                   html.Div(cards[shown:], className="cards")], className="group-more"))
    return html.Section(parts, className="group")


def status_counts(rows: list[dict[str, Any]]) -> dict[int, Counter]:
    """Per target year, how many KPIs are in each status against that year's target."""
    out: dict[int, Counter] = {}
    for r in rows:
        for y in YEARS:
            st = r.get(f"status_{y}")
            if st is not None:
                out.setdefault(y, Counter())[st] += 1
    return out


def counts_panel(rows: list[dict[str, Any]], lang: str) -> html.Section:
    """The ten-second answer: per target year, counts by status, worst first."""
    counts = status_counts(rows)
    items = []
    for y in YEARS:
        c = counts.get(y)
        if not c:
            continue
        parts = [html.Span(f"{status_label(s, lang)} {c[s]}", className=f"badge status-{s}")
                 for s in sorted(c, key=lambda s: SEVERITY.get(s, 9))]
        items.append(html.Li([html.Strong(t("overview.counts_row", lang, year=y, n=sum(c.values()))), " ",
                              *[x for p in parts for x in (p, " ")]], id=f"ov-count-{y}"))
    return html.Section([html.H2(t("overview.counts", lang)), html.Ul(items, className="counts"),
                         html.P(t("overview.order", lang), className="sub")], className="block", id="ov-counts")


def banner(fresh: ViewData, overdue: dict[str, Any], lang: str) -> html.Div:
    """Stale sources and open alerts past their deadline, said first (role=alert when anything is wrong)."""
    bad = [r for r in fresh.rows if r["state"] != "ok"]
    lines: list[Any] = []
    if bad:
        lines.append(html.P(dcc.Link(t("banner.stale", lang, n=len(bad), names=", ".join(r["source"] for r in bad)),
                                     href="/sources")))
    if overdue.get("overdue"):
        hours = format_number(overdue["service_level_hours"], lang, digits=0)
        lines.append(html.P(dcc.Link(t("banner.overdue", lang, n=overdue["overdue"], hours=hours),
                                     href="/alerts?status=open")))
    if not lines:
        return html.Div(html.P(t("banner.ok", lang)), className="notice", id="ov-banner", role="status")
    return html.Div(lines, className="notice notice-error", id="ov-banner", role="alert")


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
    """Banner, counts per target year, filters, cards grouped by target year, the table with CSV, freshness."""
    ws = current_ws()
    params = {"ministry": ministry, "year": year}
    view = views.overview(con, ws, user, params)
    fresh = views.sources(con, ws, user, {})
    overdue = queries.alert_deadlines(con, ws.config.alerts.triage_service_level_hours, now())
    ministries = views.ministries(con, ws)
    owners = {m["code"]: m for m in ministries}
    year_opts = [{"label": t("group.year", lang, year=y), "value": str(y)} for y in YEARS]
    filters = html.Div([
        html.Label([t("filter.ministry", lang),
                    dcc.Dropdown(id=ids.OV_MINISTRY, options=options(ministries, lang, label_code=False),
                                 value=view.extra["ministry"], placeholder=t("filter.all", lang), clearable=True)]),
        html.Label([t("filter.year", lang),
                    dcc.Dropdown(id=ids.OV_YEAR, options=year_opts, value=year, placeholder=t("filter.all", lang),
                                 clearable=True)]),
    ], className="filters")
    sections: list[Any] = []
    for group in GROUPS:
        cards = [card(r, lang, owners) for r in view.rows if r["target_year_group"] == group]
        if cards:
            title = t("group.year", lang, year=group) if group else t("group.none", lang)
            sections.append(group_section(title, cards, lang, len(cards) if year else SHOWN))
    if not sections:
        sections.append(html.P(t("overview.none", lang)))
    table = chart_block(t("overview.title", lang), None, view, "overview", params, lang)
    return html.Div([dcc.Location(id=ids.OV_URL, refresh="callback-nav"), html.H1(t("overview.title", lang)),
                     banner(fresh, overdue, lang), counts_panel(view.rows, lang), filters, *sections, table,
                     freshness_panel(fresh, lang)])


def filters_to_url(ministry: str | None, year: str | None, current: str | None = None) -> str:
    """The filters as the page's query string (deep link; the page's language is kept)."""
    return query_string({"ministry": ministry, "year": year}, current)


def register(app: dash.Dash) -> None:
    """Register the page and its callback (filters -> URL; the URL renders the page)."""
    dash.register_page(__name__, path="/overview", title=TITLE, name="overview", layout=layout)
    app.callback(Output(ids.OV_URL, "search"), Input(ids.OV_MINISTRY, "value"), Input(ids.OV_YEAR, "value"),
                 State(ids.OV_URL, "search"), prevent_initial_call=True)(filters_to_url)
