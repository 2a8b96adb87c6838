"""One alert (/alert/<id>): reason codes, evidence timeline against the usual pattern (security role only),
related alerts of the same person, history, and assign / change status / add note."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import figures, ids, queries
from dashboards.components import data_table, message
from dashboards.context import connect, current_lang, current_user, current_ws
from dashboards.i18n import format_date, format_number, t
from dashboards.shell import guarded
from dashboards.views import Column, ViewData
from observatory.errors import NotFound, UserError
from observatory.security import alerts as alert_store
from observatory.security.users import can

TITLE = "アラート / Alert"


def _id(alert_id: Any) -> int:
    try:
        return int(str(alert_id))
    except ValueError:
        raise NotFound(f"alert {alert_id!r}: not an alert number") from None


def history_table(rows: list[dict[str, Any]], lang: str) -> html.Table:
    """The alert's history as a table (who did what, when)."""
    view = ViewData([Column("at_time", "col.at", "datetime"), Column("actor", "col.actor"),
                     Column("action", "col.action"), Column("from_status", "col.from_status", "astatus"),
                     Column("to_status", "col.to_status", "astatus"), Column("note", "col.note")], rows)
    return data_table(view, lang, t("alert.history", lang), table_id="alx-history-table")


@guarded("alert")
def layout(con: Any, user: Any, lang: str, alert_id: str | None = None, **_: Any) -> html.Div:
    """Everything about one alert; evidence and triage controls only for the security role."""
    ws = current_ws()
    aid = _id(alert_id)
    alert = alert_store.get_alert(con, user, aid)
    reasons = [html.Li([html.Strong(r.get("code", "")), " ", r.get("text_en" if lang == "en" else "text_ja")
                        or r.get("text_ja") or r.get("text_en") or ""]) for r in alert.get("reasons") or []]
    parts: list[Any] = [
        dcc.Store(id=ids.ALX_ID, data=aid),
        html.H1(f"{t('alert.title', lang)} #{aid}"),
        html.Dl([html.Dt(t("col.staff", lang)), html.Dd(alert["staff_id"]),
                 html.Dt(t("filter.org", lang)), html.Dd(alert.get("org_code") or "-"),
                 html.Dt(t("col.severity", lang)), html.Dd(t(f"severity.{alert['severity']}", lang)),
                 html.Dt(t("col.score", lang)), html.Dd(format_number(alert["score"], lang, digits=2)),
                 html.Dt(t("col.status", lang)), html.Dd(t(f"astatus.{alert['status']}", lang), id="alx-status-now"),
                 html.Dt(t("col.assignee", lang)), html.Dd(alert.get("assignee") or "-"),
                 html.Dt(t("col.first_seen", lang)),
                 html.Dd(f"{format_date(alert['first_seen'], lang)} – {format_date(alert['last_seen'], lang)}"),
                 html.Dt(t("col.scenarios", lang)), html.Dd(", ".join(alert.get("scenarios") or []))],
                className="facts"),
        html.Section([html.H2(t("alert.reasons", lang)), html.Ul(reasons)], className="block"),
    ]
    if can(user, "alerts.evidence"):
        events = alert_store.evidence(con, user, aid)
        tz = ws.config.timezone
        hourly = queries.hourly_counts(events, tz)
        usual = queries.usual_hourly_pattern(con, alert["staff_id"], alert["first_seen"], tz=tz)
        merged = [{"hour": h["hour"], "events": h["events"], "mean_events": u["mean_events"]}
                  for h, u in zip(hourly, usual, strict=True)]
        tl_view = ViewData([Column("hour", "col.hour"), Column("events", "alert.events", "number"),
                            Column("mean_events", "alert.usual", "number")], merged)
        parts.append(html.Section([
            html.H2(t("alert.timeline", lang)),
            dcc.Graph(figure=figures.timeline_figure(hourly, usual, lang), config={"displayModeBar": False}),
            html.Details([html.Summary(t("table.show", lang)), data_table(tl_view, lang, t("alert.timeline", lang))]),
            html.Details([html.Summary(f"{t('alert.events', lang)} ({len(events)})"), data_table(ViewData(
                [Column("occurred_at", "col.at", "datetime"), Column("action", "col.action"),
                 Column("record_type", "col.target_obj"), Column("subject_id", "col.target_obj"),
                 Column("terminal_id", "col.client")], events), lang, t("alert.events", lang))]),
        ], className="block"))
    else:
        parts.append(message(t("alert.no_evidence", lang)))
    related = alert_store.related(con, user, aid)
    rel_view = ViewData([Column("alert_id", "col.alert", "alert_link"), Column("severity", "col.severity", "severity"),
                         Column("status", "col.status", "astatus"), Column("first_seen", "col.first_seen", "date")],
                        related)
    parts.append(html.Section([html.H2(t("alert.related", lang)), data_table(rel_view, lang, t("alert.related", lang))],
                              className="block"))
    if can(user, "alerts.triage"):
        parts.append(html.Section([
            html.Div([html.Label([t("alert.assign", lang), dcc.Input(id=ids.ALX_ASSIGNEE, type="text", maxLength=80,
                                                                      value=alert.get("assignee") or "")]),
                      html.Button(t("alert.assign", lang), id=ids.ALX_ASSIGN, n_clicks=0)], className="filters"),
            html.Div([html.Label([t("alert.set_status", lang), dcc.Dropdown(
                id=ids.ALX_STATUS, options=[{"label": t(f"astatus.{s}", lang), "value": s}
                                            for s in alert_store.TRANSITIONS.get(alert["status"], ())])]),
                      html.Button(t("alert.set_status", lang), id=ids.ALX_SET_STATUS, n_clicks=0)],
                     className="filters"),
            html.Div([html.Label([t("alert.note", lang), dcc.Textarea(id=ids.ALX_NOTE, maxLength=2000)]),
                      html.Button(t("alert.note", lang), id=ids.ALX_ADD_NOTE, n_clicks=0)], className="filters"),
            html.Div(id=ids.ALX_RESULT, **{"aria-live": "polite"}),
        ], className="block triage"))
    parts.append(html.Section([html.H2(t("alert.history", lang)),
                               html.Div(history_table(alert_store.history(con, user, aid), lang), id=ids.ALX_HISTORY)],
                              className="block"))
    return html.Div(parts)


def act(n_assign: int, n_status: int, n_note: int, alert_id: int, assignee: str | None, status: str | None,
        note: str | None) -> tuple[Any, Any]:
    """Assign, change status or add a note (security only; the lifecycle module audits it)."""
    lang = current_lang()
    user = current_user()
    trigger = dash.ctx.triggered_id
    if not can(user, "alerts.triage"):
        return message(t("denied.body", lang), "error"), dash.no_update
    ws = current_ws()
    try:
        with connect() as con:
            if trigger == ids.ALX_ASSIGN:
                alert_store.assign(con, user, int(alert_id), (assignee or "").strip() or None)
            elif trigger == ids.ALX_SET_STATUS:
                if not status:
                    raise UserError(f"alert {alert_id}: choose a status")
                alert_store.set_status(con, user, int(alert_id), status, note=(note or "").strip() or None,
                                       suppression_days=ws.config.alerts.benign_suppression_days)
            elif trigger == ids.ALX_ADD_NOTE:
                alert_store.add_note(con, user, int(alert_id), note or "")
            else:
                return dash.no_update, dash.no_update
            hist = alert_store.history(con, user, int(alert_id))
    except UserError as exc:
        return message(str(exc), "error"), dash.no_update
    return message(t("alert.saved", lang)), history_table(hist, lang)


def register(app: dash.Dash) -> None:
    """Register the page and its triage callback."""
    dash.register_page(__name__, path_template="/alert/<alert_id>", title=TITLE, name="alert", layout=layout)
    app.callback(Output(ids.ALX_RESULT, "children"), Output(ids.ALX_HISTORY, "children"),
                 Input(ids.ALX_ASSIGN, "n_clicks"), Input(ids.ALX_SET_STATUS, "n_clicks"),
                 Input(ids.ALX_ADD_NOTE, "n_clicks"), State(ids.ALX_ID, "data"), State(ids.ALX_ASSIGNEE, "value"),
                 State(ids.ALX_STATUS, "value"), State(ids.ALX_NOTE, "value"), prevent_initial_call=True)(act)
