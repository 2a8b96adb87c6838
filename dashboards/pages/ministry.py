"""Ministry workspace (/ministry?ministry=): the ministry's KPIs and status, submission upload with the
validation report and receipt, submission history and templates. A ministry user sees only their own."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import ids, queries, views
from dashboards.components import chart_block, message, options, query_string, status_badge
from dashboards.context import client_address, current_lang, current_user, current_ws
from dashboards.i18n import format_number, format_period, name_of, t
from dashboards.shell import guarded
from observatory.errors import PermissionDenied, UserError
from observatory.security.users import can, can_see_ministry

TITLE = "府省ワークスペース / Ministry workspace"


def submittable(ws: Any, ministry: str) -> list[tuple[str, str, str]]:
    """(kpi_id, name_ja, name_en) of the KPIs this ministry may submit files for."""
    try:
        from observatory.submissions import catalogue, definitions
    except ImportError:
        return []
    try:
        defs = definitions(ws)
    except UserError:
        return []
    out = []
    for kpi_id, kpi in sorted(defs.items()):
        if ministry in catalogue.submitters(kpi):
            out.append((kpi_id, catalogue.label(kpi.name, "ja"), catalogue.label(kpi.name, "en")))
    return out


def _ministry_for(user: Any, asked: str | None) -> str | None:
    if can(user, "ministry.all"):
        return asked
    if asked and asked.casefold() != (user.ministry or "").casefold():
        raise PermissionDenied(f"府省 {asked} は閲覧できません（{user.ministry} のみ） / "
                               f"ministry {asked}: you may only see ministry {user.ministry}")
    return user.ministry


@guarded("ministry")
def layout(con: Any, user: Any, lang: str, ministry: str | None = None, kpi: str | None = None,
           **_: Any) -> html.Div:
    """Pick a ministry (cio/admin) or use the user's own; show KPIs, upload, templates and history."""
    ws = current_ws()
    code = _ministry_for(user, ministry)
    head: list[Any] = [dcc.Location(id=ids.MIN_URL, refresh="callback-nav"), html.H1(t("ministry.title", lang))]
    mins = queries.ministries_list(con)
    if can(user, "ministry.all"):
        head.append(html.Div(html.Label([t("filter.ministry", lang),
                                         dcc.Dropdown(id=ids.MIN_MINISTRY, options=options(mins, lang), value=code,
                                                      placeholder=t("ministry.choose", lang))]),
                             className="filters"))
    if not code:
        return html.Div(head + [html.P(t("ministry.pick_kpi", lang))])
    canonical = {m["code"].casefold(): m["code"] for m in mins}
    if code.casefold() not in canonical:
        raise UserError(f"URL パラメータ ministry={code!r} は府省コードではありません / "
                        f"URL parameter ministry={code!r}: not a ministry code")
    code = canonical[code.casefold()]
    head.append(html.P(name_of(next(m for m in mins if m["code"] == code), lang), className="sub"))
    own = [k for k in views.infos(con, ws) if k.owner == code]
    latest = queries.latest_values(con, kpi_ids=[k.id for k in own])
    kpi_items = [html.Li([dcc.Link(k.name_en if lang == "en" else k.name_ja, href=f"/kpi/{k.id}"), ": ",
                          format_number(latest.get(k.id, {}).get("value"), lang, unit=k.unit), " (",
                          format_period(latest.get(k.id, {}).get("period"), k.frequency, lang), ") ",
                          status_badge(latest.get(k.id, {}).get("status") or "no_data", lang)]) for k in own]
    subm = submittable(ws, code)
    upload: list[Any] = [html.H2(t("ministry.upload", lang))]
    if not subm:
        upload.append(html.P(t("ministry.no_submit", lang)))
    else:
        upload += [
            html.Label([t("filter.kpi", lang), dcc.Dropdown(
                id=ids.MIN_KPI, options=[{"label": f"{i} {en if lang == 'en' else ja}", "value": i}
                                         for i, ja, en in subm],
                value=kpi if kpi in {i for i, _, _ in subm} else subm[0][0], clearable=False)]),
            dcc.Upload(id=ids.MIN_UPLOAD, children=html.Div(t("ministry.drop", lang)), className="upload",
                       max_size=int(ws.config.submissions.max_file_mb * 1024 * 1024), multiple=False),
            dcc.Loading(html.Div(id=ids.MIN_RESULT, **{"aria-live": "polite"})),
            html.H3(t("ministry.templates", lang)),
            html.Ul([html.Li([f"{i} {en if lang == 'en' else ja}: ",
                              html.A("CSV", href=f"/download/template/{i}.csv?ministry={code}", download=""), " · ",
                              html.A("XLSX", href=f"/download/template/{i}.xlsx?ministry={code}", download="")])
                     for i, ja, en in subm]),
        ]
    history = views.submissions(con, ws, user, {"ministry": code})
    return html.Div(head + [
        html.Section([html.H2(t("ministry.kpis", lang)), html.Ul(kpi_items or [html.Li("-")])], className="block"),
        html.Section(upload, className="block"),
        chart_block(t("ministry.history", lang), None, history, "submissions", {"ministry": code}, lang,
                    open_table=True),
    ])


def ministry_to_url(ministry: str | None) -> str:
    """The chosen ministry as the page's query string (deep link)."""
    return query_string({"ministry": ministry})


def outcome_view(outcome: Any, lang: str) -> html.Div:
    """Status, receipt and the full validation report of one submission attempt."""
    from observatory.submissions import report_csv

    report = outcome.report
    rows = [html.Tr([html.Td(p.severity), html.Td(p.row if p.row is not None else "-"), html.Td(p.column or "-"),
                     html.Td(p.value if p.value is not None else "-"),
                     html.Td(p.message_en if lang == "en" else p.message_ja)]) for p in report.problems]
    table = html.Table([
        html.Caption(t("ministry.report", lang)),
        html.Thead(html.Tr([html.Th(t(f"report.{h}", lang), scope="col")
                            for h in ("severity", "row", "column", "value", "reason")])),
        html.Tbody(rows)], className="data", id="min-report")
    csv_uri = "data:text/csv;base64," + base64.b64encode(report_csv(report)).decode()
    return html.Div([
        message(outcome.message, "info" if outcome.accepted else "error"),
        html.H3(t("ministry.receipt", lang)),
        html.Pre("\n".join(outcome.receipt_lines()), id="min-receipt"),
        html.H3(t("ministry.report", lang)),
        html.P("\n".join(report.lines()[:1])),
        table,
        html.A(t("download.csv", lang), href=csv_uri, download=f"report-{outcome.submission_id or 'x'}.csv"),
    ], className=f"outcome outcome-{outcome.status}")


def upload(contents: str | None, filename: str | None, kpi_id: str | None, search: str | None) -> Any:
    """Decode the uploaded file and hand it to observatory.submissions.submit (which checks and audits)."""
    lang = current_lang()
    user = current_user()
    if not contents:
        return dash.no_update
    from urllib.parse import parse_qs

    asked = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}.get("ministry")
    code = asked if can(user, "ministry.all") else user.ministry
    if not code or not can_see_ministry(user, code):
        return message(f"ministry {code or '-'}: not yours", "error")
    try:
        from observatory.submissions import submit
    except ImportError:
        return message(t("ministry.no_submit", lang), "error")
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        return message(f"{filename}: the upload could not be decoded", "error")
    outcome = submit(current_ws(), data, filename=filename, kpi_id=kpi_id or "", ministry_code=code, user=user,
                     origin=f"web:{client_address()}")
    return outcome_view(outcome, lang)


def register(app: dash.Dash) -> None:
    """Register the page and its callbacks (ministry picker -> URL; upload -> report and receipt)."""
    dash.register_page(__name__, path="/ministry", title=TITLE, name="ministry", layout=layout)
    app.callback(Output(ids.MIN_URL, "search"), Input(ids.MIN_MINISTRY, "value"),
                 prevent_initial_call=True)(ministry_to_url)
    app.callback(Output(ids.MIN_RESULT, "children"), Input(ids.MIN_UPLOAD, "contents"),
                 State(ids.MIN_UPLOAD, "filename"), State(ids.MIN_KPI, "value"), State(ids.MIN_URL, "search"),
                 prevent_initial_call=True)(upload)
