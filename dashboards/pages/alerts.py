"""Alert triage queue (/alerts?status=&scenario=&org=&assignee=): most severe and oldest first, alerts per
day against the budget, time to triage, and bulk actions for the security role."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import dash
from dash import Input, Output, State, dash_table, dcc, html

from dashboards import figures, ids, queries, views
from dashboards.components import chart_block, message, query_string
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
from observatory.errors import UserError
from observatory.kpis import cached_catalogue
from observatory.kpis.engine import recompute_alert_kpis
from observatory.security import alerts as alert_store
from observatory.security.users import can

TITLE = "アラート対応 / Alert triage"
STATUS_FILTERS = ("open", "new", "investigating", "true_positive", "benign", "false_positive", "closed", "all")


def _status_label(value: str, lang: str) -> str:
    if value in ("open", "closed", "all"):
        return {"open": ("未完了", "Open"), "closed": ("完了", "Closed"), "all": ("すべて", "All")}[value][
            1 if lang == "en" else 0]
    return t(f"astatus.{value}", lang)


def queue_records(view: views.ViewData, lang: str) -> list[dict[str, Any]]:
    """The queue as DataTable records (row id = alert id; the alert column links to its page)."""
    return [{"id": r["alert_id"], "alert": f"[#{r['alert_id']}](/alert/{r['alert_id']})",
             "severity": t(f"severity.{r['severity']}", lang), "score": round(float(r["score"]), 2),
             "staff": person_label(r["staff_id"], (r.get("staff_id_name_en") if lang == "en" else None)
                                   or r.get("staff_id_name")),
             "org": (f"{name_of(r, lang, 'org_name')} ({r['org_code']})" if r.get("org_name_ja") or r.get("org_name_en")
                     else r.get("org_code") or ""),
             "scenarios": scenario_names(r.get("scenarios"), lang),
             "status": t(f"astatus.{r['status']}", lang), "assignee": person_label(r["assignee"], r.get("assignee_name")) if r.get("assignee") else "",
             "first_seen": format_date(r["first_seen"], lang), "waiting": format_age(r.get("age_hours"), lang),
             "age_hours": r.get("age_hours"), "deadline": format_datetime(r.get("deadline"), lang),
             "overdue": ("⚠ " + t("col.overdue", lang)) if r.get("overdue") else ""} for r in view.rows]


def _table(records: list[dict[str, Any]], lang: str, selectable: bool) -> dash_table.DataTable:
    cols = [("alert", "col.alert", "markdown"), ("severity", "col.severity", None),
            ("scenarios", "col.scenarios", None), ("status", "col.status", None), ("waiting", "col.raised", None),
            ("deadline", "col.deadline", None), ("overdue", "col.overdue", None), ("staff", "col.staff", None),
            ("org", "filter.org", None), ("assignee", "col.assignee", None), ("first_seen", "col.first_seen", None),
            ("score", "col.score", None)]
    return dash_table.DataTable(
        id=ids.AL_TABLE, data=records,
        columns=[{"id": c, "name": t(label, lang), **({"presentation": p} if p else {})} for c, label, p in cols],
        row_selectable="multi" if selectable else False, selected_row_ids=[], page_size=25, sort_action="native",
        markdown_options={"link_target": "_self"},
        style_cell={"textAlign": "left", "fontFamily": "inherit", "minWidth": "5em", "whiteSpace": "normal"},
        style_data_conditional=[{"if": {"filter_query": "{overdue} != ''"}, "backgroundColor": "#f9dedc"}],
        style_table={"overflowX": "auto"})


@guarded("alerts")
def layout(con: Any, user: Any, lang: str, status: str | None = None, scenario: str | None = None,
           org: str | None = None, assignee: str | None = None, **_: Any) -> html.Div:
    """Filters, per-day budget chart, time-to-triage figures and the queue."""
    ws = current_ws()
    params = {"status": status, "scenario": scenario, "org": org, "assignee": assignee}
    queue = views.alert_queue(con, ws, user, params)
    per_day = views.alerts_per_day(con, ws, user, {})
    ttt = alert_store.triage_times(con, user, ws.config.alerts.triage_service_level_hours)
    deadlines = queries.alert_deadlines(con, ws.config.alerts.triage_service_level_hours, now())
    filters = _filters(queue, queries.user_names(ws.config.users), lang)
    triage = _time_to_triage(ttt, deadlines, lang)
    last_run = _last_run(queries.last_detection_run(con), lang)
    selectable = can(user, "alerts.triage")
    bulk = [_bulk_actions(lang)] if selectable else []
    queue_block = html.Section([html.H2(t("alerts.queue", lang)),
                                _table(queue_records(queue, lang), lang, selectable) if queue.rows
                                else html.P(t("alert.none", lang)),
                                html.Details([html.Summary(t("table.show", lang)),
                                              chart_block(t("alerts.queue", lang), None, queue, "alerts", params,
                                                          lang)])], className="block")
    return html.Div([
        dcc.Location(id=ids.AL_URL, refresh="callback-nav"), html.H1(t("alerts.title", lang)), filters, queue_block, *bulk,
        chart_block(t("alerts.per_day", lang), figures.alerts_per_day_figure(per_day.rows, lang), per_day,
                    "alerts-per-day", {}, lang),
        triage, last_run,
    ])


def _dropdown(ident: str, label: str, values: list[str], value: str | None, lang: str,
              fmt: Any = str) -> html.Label:
    return html.Label([t(label, lang), dcc.Dropdown(id=ident, options=[{"label": fmt(v), "value": v}
                                                                        for v in values], value=value)])


def _filters(queue: Any, people: dict[str, str], lang: str) -> html.Div:
    """The queue's filters: status, scenario, organisation and assignee, set to the ones in force."""
    opts = queue.extra["options"]
    return html.Div([
        _dropdown(ids.AL_STATUS, "filter.status", list(STATUS_FILTERS), queue.extra["status"], lang,
                  lambda v: _status_label(v, lang)),
        _dropdown(ids.AL_SCENARIO, "filter.scenario", opts["scenarios"], queue.extra["scenario"], lang,
                  lambda v: scenario_names([v], lang)),
        _dropdown(ids.AL_ORG, "filter.org", opts["orgs"], queue.extra["org"], lang),
        _dropdown(ids.AL_ASSIGNEE, "filter.assignee", opts["assignees"], queue.extra["assignee"], lang,
                  lambda v: person_label(v, people.get(v))),
    ], className="filters")


def _time_to_triage(ttt: dict[str, Any], deadlines: dict[str, Any], lang: str) -> html.Section:
    """Median and p90 hours to the first action, open alerts and those past the triage service level."""
    return html.Section([html.H2(t("alerts.ttt", lang)), html.Dl([
        html.Dt(f"{t('col.median', lang)} ({t('col.hours', lang)})"),
        html.Dd(format_number(ttt["median_hours_to_first_action"], lang)),
        html.Dt("p90 (" + t("col.hours", lang) + ")"), html.Dd(format_number(ttt["p90_hours_to_first_action"], lang)),
        html.Dt(t("astatus.investigating", lang) + " / " + t("astatus.new", lang)), html.Dd(str(deadlines["open"])),
        html.Dt(t("alerts.overdue", lang, hours=format_number(deadlines["service_level_hours"], lang, digits=0))),
        html.Dd(str(deadlines["overdue"]), id="al-overdue"),
    ], className="facts", id="al-ttt")], className="block")


def _share(value: float | None, lang: str) -> str:
    """A share (0..1) as the pages show percentages (format_number's percent unit)."""
    return format_number(None if value is None else 100 * float(value), lang, unit="percent")


def _last_run(run: dict[str, Any] | None, lang: str) -> html.Section:
    """The latest detection run's diagnostics (issue 12): window, share explained by path, the floor and why,
    what was raised, shifted peer groups, and per scenario the staff-days at the floor against chance."""
    title = html.H2(t("alerts.run", lang))
    if run is None:
        return html.Section([title, html.P(t("alerts.run.none", lang))], className="block", id="al-run")
    explained = run["explained"]
    paths = ", ".join(f"{t('path.' + k, lang)} {_share(v, lang)}" for k, v in explained.items() if k != "explained")
    shifted = ", ".join(f"{k} {format_number(v, lang, digits=2)}" for k, v in sorted(run["calibration"].items()))
    facts = [
        ("alerts.run.window", t("alerts.run.window_value", lang, first=format_date(run["first_day"], lang),
                                last=format_date(run["last_day"], lang), engine=run["engine"],
                                seconds=format_number(run["seconds"], lang), ran_at=format_datetime(run["ran_at"], lang))),
        ("alerts.run.explained", t("alerts.run.explained_value", lang, events=format_number(run["events"], lang, digits=0),
                                   share=_share(explained.get("explained"), lang), paths=paths)),
        ("alerts.run.floor", t("alerts.run.floor_value", lang, floor=format_number(run["floor"], lang, digits=2),
                               odds=format_number(10 ** float(run["floor"]), lang, digits=0),
                               share=_share(run["chance_share"], lang))),
        ("alerts.run.raised", t("alerts.run.raised_value", lang, candidates=run["candidates"], budget=run["budget"],
                                created=run["created"], updated=run["updated"], over=run["over_budget"],
                                suppressed=run["suppressed"], held=run["held_back"])),
    ] + ([("alerts.run.shifted", shifted)] if shifted else [])
    batch = run.get("batch_corrections") or {}
    if batch.get("staff_days"):
        facts.append(("alerts.run.batch", t("alerts.run.batch_value", lang, staff_days=batch["staff_days"],
                                            people=format_number(batch["people"], lang, digits=0),
                                            threshold=batch.get("threshold"))))
    desks = run.get("night_desks") or {}
    if desks.get("terminals"):
        facts.append(("alerts.run.desks", t("alerts.run.desks_value", lang, terminals=desks["terminals"],
                                            example=desks.get("example", ""), staff_days=desks["staff_days"],
                                            other_staff=desks.get("other_staff"),
                                            other_nights=desks.get("other_nights"))))
    rows = [html.Tr([html.Th(scenario_names((sc,), lang), scope="row"), html.Td(str(v["at_floor"])),
                     html.Td(format_number(v["expected_by_chance"], lang, digits=3))])
            for sc, v in run["by_scenario"].items()]
    table = html.Table([
        html.Caption(t("alerts.run.scenarios", lang)),
        html.Thead(html.Tr([html.Th(t("col.scenarios", lang), scope="col"),
                            html.Th(t("alerts.run.at_floor", lang), scope="col"),
                            html.Th(t("alerts.run.expected", lang), scope="col")])),
        html.Tbody(rows)], className="data", id="al-run-scenarios")
    return html.Section([title, html.Dl([x for key, value in facts for x in (html.Dt(t(key, lang)), html.Dd(value))],
                                        className="facts", id="al-run-facts"), table],
                        className="block", id="al-run")


def _bulk_actions(lang: str) -> html.Section:
    """Status, assignee and note for the selected alerts (shown to those who triage)."""
    return html.Section([
        html.H2(t("alerts.bulk", lang)),
        html.Div([
            html.Label([t("alert.set_status", lang), dcc.Dropdown(
                id=ids.AL_BULK_STATUS, options=[{"label": t(f"astatus.{s}", lang), "value": s}
                                                for s in alert_store.STATUSES])]),
            html.Label([t("alert.assign", lang), dcc.Input(id=ids.AL_BULK_ASSIGNEE, type="text", maxLength=80)]),
            html.Label([t("alert.note", lang), dcc.Input(id=ids.AL_BULK_NOTE, type="text", maxLength=500)]),
            html.Button(t("alert.save", lang), id=ids.AL_BULK_APPLY, n_clicks=0),
        ], className="filters"),
        html.Div(id=ids.AL_BULK_RESULT, **{"aria-live": "polite"}),
    ], className="block")


def filters_to_url(status: str | None, scenario: str | None, org: str | None, assignee: str | None,
                   current: str | None = None) -> str:
    """The queue filters as the page's query string (deep link; the page's language is kept)."""
    return query_string({"status": status, "scenario": scenario, "org": org, "assignee": assignee}, current)


def apply_bulk(n_clicks: int, selected: list[int] | None, status: str | None, assignee: str | None,
               note: str | None, search: str | None) -> tuple[Any, Any]:
    """Apply status / assignee / note to the selected alerts (security only), then refresh the queue."""
    lang = current_lang()
    user = current_user()
    if not n_clicks:
        return dash.no_update, dash.no_update
    if not can(user, "alerts.triage"):
        with connect() as con:  # a refused triage attempt is audited like every other refusal
            audit_view(con, "alerts.bulk", outcome="denied", detail={"alerts": str(selected)[:200]})
        return message(t("denied.body", lang), "error"), dash.no_update
    if not selected or not isinstance(selected, list):
        return message(t("alert.none", lang), "error"), dash.no_update

    params = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}
    ws = current_ws()
    try:
        with connect() as con:
            results = alert_store.bulk(con, user, [views.alert_number(i) for i in selected], status=status or None,
                                       assignee=(assignee or "").strip() or None, note=(note or "").strip() or None,
                                       suppression_days=ws.config.alerts.benign_suppression_days)
            if status or assignee:  # the security KPIs read status and first triage time

                recompute_alert_kpis(con, cached_catalogue(ws.kpi_dir), [int(k) for k, v in results.items()
                                                                         if v == "ok"], timezone=ws.config.timezone)
            queue = views.alert_queue(con, ws, user, params)
    except UserError as exc:
        return message(str(exc), "error"), dash.no_update
    lines = [html.Li(f"#{k}: {'OK' if v == 'ok' else v}") for k, v in sorted(results.items())]
    return html.Div([message(t("alert.saved", lang)), html.Ul(lines)]), queue_records(queue, lang)


def register(app: dash.Dash) -> None:
    """Register the page and its callbacks (filters -> URL; bulk actions)."""
    dash.register_page(__name__, path="/alerts", title=TITLE, name="alerts", layout=layout)
    app.callback(Output(ids.AL_URL, "search"), Input(ids.AL_STATUS, "value"), Input(ids.AL_SCENARIO, "value"),
                 Input(ids.AL_ORG, "value"), Input(ids.AL_ASSIGNEE, "value"), State(ids.AL_URL, "search"),
                 prevent_initial_call=True)(filters_to_url)
    app.callback(Output(ids.AL_BULK_RESULT, "children"), Output(ids.AL_TABLE, "data"),
                 Input(ids.AL_BULK_APPLY, "n_clicks"), State(ids.AL_TABLE, "selected_row_ids"),
                 State(ids.AL_BULK_STATUS, "value"), State(ids.AL_BULK_ASSIGNEE, "value"),
                 State(ids.AL_BULK_NOTE, "value"), State(ids.AL_URL, "search"),
                 prevent_initial_call=True)(apply_bulk)
