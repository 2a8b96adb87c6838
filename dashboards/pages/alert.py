"""One alert (/alert/<id>): who, whom (relationship in words), when against own and peers' usual hours,
which case existed, the reasons, similar past alerts and how they were closed, history, and one-click
decisions (true positive / benign / false positive, with an optional note) for the security role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import figures, ids, queries, views
from dashboards.components import data_table, message
from dashboards.context import audit_view, connect, current_lang, current_user, current_ws, now
from dashboards.i18n import (
    format_age,
    format_date,
    format_datetime,
    format_number,
    name_of,
    person_label,
    scenario_names,
    t,
)
from dashboards.shell import guarded
from dashboards.views import Column, ViewData
from observatory.errors import UserError
from observatory.kpis import cached_catalogue
from observatory.kpis.engine import recompute_alert_kpis
from observatory.security import alerts as alert_store
from observatory.security.users import can

TITLE = "アラート / Alert"
DECISIONS = ("true_positive", "benign", "false_positive", "investigating")


def history_table(rows: list[dict[str, Any]], lang: str, names: dict[str, str] | None = None) -> Any:
    """The alert's history as a table (who did what, when; people by display name with the user name)."""
    queries.name_people(rows, "actor", names or {})
    view = ViewData([Column("at_time", "col.at", "datetime"), Column("actor", "col.actor", "person"),
                     Column("action", "col.action"), Column("from_status", "col.from_status", "astatus"),
                     Column("to_status", "col.to_status", "astatus"), Column("note", "col.note")], rows)
    return data_table(view, lang, t("alert.history", lang), table_id="alx-history-table")


def _hours(span: tuple[int, int] | None) -> str:
    return f"{span[0]}:00–{span[1] + 1}:00" if span else "-"


def evidence_section(con: Any, user: Any, alert: dict[str, Any], lang: str, tz: str) -> html.Section:
    """Evidence expanded, each event with its deciding facts; the hours against own and peers' usual hours."""
    aid = int(alert["alert_id"])
    events = queries.evidence_facts(con, alert["staff_id"], alert_store.evidence(con, user, aid))
    for e in events:
        e["relation_text"] = t(f"relation.{e['relation']}", lang)
        e["case_text"] = e["case"] or t("alert.no_case", lang)
    hourly = queries.hourly_counts(events, tz)
    usual, peers = queries.hourly_patterns(con, alert["staff_id"], alert["first_seen"], tz=tz)
    merged = [{"hour": h["hour"], "events": h["events"], "mean_events": u["mean_events"], "peer_events": p["mean_events"]}
              for h, u, p in zip(hourly, usual, peers, strict=True)]
    tl_view = ViewData([Column("hour", "col.hour"), Column("events", "alert.events", "number"),
                        Column("mean_events", "alert.usual", "number"), Column("peer_events", "alert.peers", "number")],
                       merged)
    no_case = sum(1 for e in events if not e["case"])
    related = sum(1 for e in events if e["relation"] != "none")
    fig = figures.timeline_figure(hourly, usual, lang)
    if peers and peers[0]["peers"]:
        fig.add_trace({"type": "scatter", "x": [p["hour"] for p in peers], "y": [p["mean_events"] for p in peers],
                       "mode": "lines", "name": t("alert.peers", lang), "line": {"color": "#2f6fbf", "dash": "dash"}})
    ev_view = ViewData([Column("occurred_at", "col.at", "datetime"), Column("relation_text", "alert.relation"),
                        Column("case_text", "alert.case"), Column("action", "col.action"),
                        Column("record_type", "col.target_obj"), Column("terminal_id", "col.client"),
                        Column("subject_id", "col.code")], events)
    return html.Section([
        html.H2(t("alert.timeline", lang)),
        html.P(t("alert.summary", lang, n=len(events), no_case=no_case, related=related), id="alx-summary"),
        html.P(t("alert.usual_hours", lang, own=_hours(queries.usual_hours(usual)),
                 peers=_hours(queries.usual_hours(peers))), id="alx-usual-hours"),
        html.Details([html.Summary(f"{t('alert.events', lang)} ({len(events)})"),
                      data_table(ev_view, lang, t("alert.events", lang), table_id="alx-events")], open=True),
        dcc.Graph(figure=fig, config={"displayModeBar": False}),
        html.Details([html.Summary(t("table.show", lang)), data_table(tl_view, lang, t("alert.timeline", lang))]),
    ], className="block")


def decision_section(alert: dict[str, Any], lang: str) -> html.Section:
    """One click per decision, with an optional note; assignment beside it."""
    allowed = alert_store.TRANSITIONS.get(alert["status"], ())
    buttons = [html.Button(t(f"astatus.{s}", lang) if s != "investigating" else t("alert.to_investigating", lang),
                           id=ids.ALX_DECIDE[s], n_clicks=0, disabled=s not in allowed, className=f"decide decide-{s}")
               for s in DECISIONS]
    return html.Section([
        html.H2(t("alert.decide", lang)),
        html.Label([t("alert.decide_note", lang), dcc.Textarea(id=ids.ALX_NOTE, maxLength=2000)]),
        html.Div(buttons, className="filters decisions"),
        html.Div([html.Button(t("alert.note", lang), id=ids.ALX_ADD_NOTE, n_clicks=0)], className="filters"),
        html.Div([html.Label([t("alert.assign", lang), dcc.Input(id=ids.ALX_ASSIGNEE, type="text", maxLength=80,
                                                                  value=alert.get("assignee") or "")]),
                  html.Button(t("alert.assign", lang), id=ids.ALX_ASSIGN, n_clicks=0)], className="filters"),
        html.Div(id=ids.ALX_RESULT, **{"aria-live": "polite"}),
    ], className="block triage")


@guarded("alert")
def layout(con: Any, user: Any, lang: str, alert_id: str | None = None, **_: Any) -> html.Div:
    """Everything about one alert; evidence and triage controls only for the security role."""
    ws = current_ws()
    aid = views.alert_number(alert_id)
    alert = alert_store.get_alert(con, user, aid)
    people = queries.user_names(ws.config.users)
    parts: list[Any] = [
        dcc.Store(id=ids.ALX_ID, data=aid), _pager(queries.queue_neighbours(con, aid), lang),
        html.H1(f"{t('alert.title', lang)} #{aid} · {scenario_names(alert.get('scenarios'), lang)}"),
        _facts(con, ws, user, alert, people, lang),
        _reasons(alert, lang),
    ]
    if can(user, "alerts.evidence"):
        parts.append(evidence_section(con, user, alert, lang, ws.config.timezone))
    else:
        parts.append(message(t("alert.no_evidence", lang)))
    if can(user, "alerts.triage"):
        parts.append(decision_section(alert, lang))
    parts.append(_similar(con, user, aid, lang))
    parts.append(html.Section([html.H2(t("alert.history", lang)),
                               html.Div(history_table(alert_store.history(con, user, aid), lang, people),
                                        id=ids.ALX_HISTORY)],
                              className="block"))
    return html.Div(parts)


def _pager(near: dict[str, Any], lang: str) -> html.Nav:
    """Previous and next alert of the queue, and the way back to it."""
    return html.Nav([
        dcc.Link(t("alert.previous", lang), href=f"/alert/{near['previous']}", id="alx-previous")
        if near["previous"] else None,
        dcc.Link(t("alert.back_to_queue", lang), href="/alerts"),
        dcc.Link(t("alert.next", lang), href=f"/alert/{near['next']}", id="alx-next") if near["next"] else None,
    ], className="pager", **{"aria-label": t("alerts.queue", lang)})


def _facts(con: Any, ws: Any, user: Any, alert: dict[str, Any], people: dict[str, str], lang: str) -> html.Dl:
    """Who (named only for those who investigate), organisation, severity, status, age against the triage
    service level, assignee, the days seen and the score."""
    org = queries.org_name(con, alert.get("org_code"))
    prof = queries.staff_profile(con, alert["staff_id"]) or {}
    # the person behind the staff code only for those who investigate (issue 14: security role only)
    staff_name = queries.staff_names(con, [alert["staff_id"]], lang).get(alert["staff_id"]) \
        if can(user, "alerts.evidence") else None
    sla = ws.config.alerts.triage_service_level_hours
    created = alert.get("created_at")
    deadline = created + timedelta(hours=sla) if created else None
    waited = (now() - created).total_seconds() / 3600 if created else None
    return html.Dl([html.Dt(t("alert.who", lang)),
                    html.Dd(" · ".join(x for x in (person_label(alert["staff_id"], staff_name), prof.get("role"),
                                                   prof.get("unit")) if x), id="alx-who"),
                    html.Dt(t("filter.org", lang)),
                    html.Dd(f"{name_of(org, lang)} ({org['code']})" if org else alert.get("org_code") or "-"),
                    html.Dt(t("col.severity", lang)), html.Dd(t(f"severity.{alert['severity']}", lang)),
                    html.Dt(t("col.status", lang)),
                    html.Dd(t(f"astatus.{alert['status']}", lang), id=ids.ALX_STATUS_NOW),
                    html.Dt(t("col.raised", lang)), html.Dd(format_age(waited, lang)),
                    html.Dt(t("col.deadline", lang)), html.Dd(format_datetime(deadline, lang)),
                    html.Dt(t("col.assignee", lang)),
                    html.Dd(person_label(alert.get("assignee"), people.get(alert.get("assignee") or "")),
                            id="alx-assignee"),
                    html.Dt(t("col.first_seen", lang)),
                    html.Dd(f"{format_date(alert['first_seen'], lang)} – {format_date(alert['last_seen'], lang)}"),
                    html.Dt(t("col.score", lang)), html.Dd(format_number(alert["score"], lang, digits=2))],
                   className="facts")


def _reasons(alert: dict[str, Any], lang: str) -> html.Section:
    """Why the alert was raised: each scenario with its explanation in the page's language, and the reason that
    recurred on separate days where the score rests on that (the baseline's `recurrence`)."""
    reasons = [html.Li([html.Strong(scenario_names([r.get("code", "")], lang)), "：" if lang != "en" else ": ",
                        r.get("text_en" if lang == "en" else "text_ja") or r.get("text_ja") or r.get("text_en") or ""])
               for r in alert.get("reasons") or []]
    for rec in (alert.get("baseline") or {}).get("recurrence") or []:  # an episode of one code on separate days
        reasons.append(html.Li(t("alert.recurrence", lang, code=scenario_names([rec.get("code", "")], lang),
                                 days=", ".join(rec.get("days") or []),
                                 evidence=format_number(rec.get("evidence"), lang, digits=2))))
    return html.Section([html.H2(t("alert.reasons", lang)), html.Ul(reasons)], className="block")


def _similar(con: Any, user: Any, aid: int, lang: str) -> html.Section:
    """Other alerts about the same staff member, newest first."""
    related = alert_store.related(con, user, aid)
    for r in related:
        r["scenarios_text"] = ", ".join(r.get("scenarios") or [])
    rel_view = ViewData([Column("alert_id", "col.alert", "alert_link"), Column("first_seen", "col.first_seen", "date"),
                         Column("scenarios_text", "col.scenarios", "scenarios"),
                         Column("status", "col.status", "astatus"), Column("severity", "col.severity", "severity")],
                        related)
    return html.Section([html.H2(t("alert.similar", lang)),
                         data_table(rel_view, lang, t("alert.similar", lang)) if related
                         else html.P(t("alert.none", lang))], className="block")


def triage(con: Any, ws: Any, user: Any, alert_id: int, action: str, *, assignee: str | None = None,
           note: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Apply one triage action ('assign', 'note' or a decision) to an alert, then recompute the security KPIs
    of the month it was raised in (the triage rate and the confirmed count read the alerts); returns the
    alert's history and its status now. Permissions and the audit entry are the lifecycle module's."""
    if action == "assign":
        alert_store.assign(con, user, alert_id, (assignee or "").strip() or None)
    elif action == "note":
        alert_store.add_note(con, user, alert_id, note or "")
    elif action in DECISIONS:
        alert_store.set_status(con, user, alert_id, action, note=(note or "").strip() or None,
                               suppression_days=ws.config.alerts.benign_suppression_days)
    else:
        raise UserError(f"unknown triage action {action!r}")
    if action != "note":  # a note changes no KPI input

        recompute_alert_kpis(con, cached_catalogue(ws.kpi_dir), [alert_id], timezone=ws.config.timezone)
    return alert_store.history(con, user, alert_id), alert_store.get_alert(con, user, alert_id)["status"]


def act(n_assign: int, n_note: int, *rest: Any) -> tuple[Any, Any, Any]:
    """Assign, decide in one click (with the optional note) or add a note (security only). Inputs: assign,
    note, one per decision; states: alert id, assignee, note. The work is `triage`."""
    n_decisions = len(DECISIONS)
    alert_id, assignee, note = rest[n_decisions:]
    lang = current_lang()
    user = current_user()
    trigger = dash.ctx.triggered_id
    if not can(user, "alerts.triage"):
        with connect() as con:  # a refused triage attempt is audited like every other refusal
            audit_view(con, "alerts.triage", target=str(alert_id)[:40], outcome="denied",
                       detail={"trigger": str(trigger)[:80]})
        return message(t("denied.body", lang), "error"), dash.no_update, dash.no_update
    decided = next((s for s, ident in ids.ALX_DECIDE.items() if ident == trigger), None)
    action = "assign" if trigger == ids.ALX_ASSIGN else "note" if trigger == ids.ALX_ADD_NOTE else decided
    if action is None:
        return dash.no_update, dash.no_update, dash.no_update
    try:
        with connect() as con:
            hist, now = triage(con, current_ws(), user, views.alert_number(alert_id), action, assignee=assignee,
                                note=note)
    except UserError as exc:
        return message(str(exc), "error"), dash.no_update, dash.no_update
    names = queries.user_names(current_ws().config.users)
    return message(t("alert.saved", lang)), history_table(hist, lang, names), t(f"astatus.{now}", lang)


def register(app: dash.Dash) -> None:
    """Register the page and its triage callback."""
    dash.register_page(__name__, path_template="/alert/<alert_id>", title=TITLE, name="alert", layout=layout)
    app.callback(Output(ids.ALX_RESULT, "children"), Output(ids.ALX_HISTORY, "children"),
                 Output(ids.ALX_STATUS_NOW, "children"),
                 Input(ids.ALX_ASSIGN, "n_clicks"), Input(ids.ALX_ADD_NOTE, "n_clicks"),
                 *[Input(ids.ALX_DECIDE[s], "n_clicks") for s in DECISIONS],
                 State(ids.ALX_ID, "data"), State(ids.ALX_ASSIGNEE, "value"), State(ids.ALX_NOTE, "value"),
                 prevent_initial_call=True)(act)
