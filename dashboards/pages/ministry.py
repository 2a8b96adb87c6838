"""Ministry workspace (/ministry?ministry=): the ministry's KPIs and status, submission upload with the
validation report and receipt, submission history and templates. A ministry user sees only their own."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import flask
from dash import Input, Output, State, dcc, html

from dashboards import ids, queries, views
from dashboards.access import allowed
from dashboards.components import chart_block, message, options, query_string, status_badge
from dashboards.context import client_address, connect, current_lang, current_user, current_ws
from dashboards.i18n import format_number, format_period, name_of, t
from dashboards.shell import guarded
from observatory.errors import PermissionDenied, UserError
from observatory.security.users import can, can_see_ministry
from observatory.submissions import SubmissionOutcome, get_submission, report_csv, submit
from observatory.submissions.problems import Report

TITLE = "府省ワークスペース / Ministry workspace"


def submittable(ws: Any, ministry: str) -> list[tuple[str, str, str]]:
    """(kpi_id, name_ja, name_en) of the KPIs this ministry may submit files for."""
    try:
        from observatory.submissions import (  # here: a deployment may leave submissions out
            catalogue,
            definitions,
        )
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
    kpi_items = _kpi_items(con, ws, code, lang)
    upload = _upload(ws, code, kpi, lang)
    history = views.submissions(con, ws, user, {"ministry": code})
    return html.Div(head + [
        html.Section([html.H2(t("ministry.kpis", lang)), html.Ul(kpi_items or [html.Li("-")])], className="block"),
        html.Section(upload, className="block"),
        chart_block(t("ministry.history", lang), None, history, "submissions", {"ministry": code}, lang,
                    open_table=True),
    ])


def _kpi_items(con: Any, ws: Any, code: str, lang: str) -> list[html.Li]:
    """The ministry's own KPIs, each with its latest value, period and status."""
    own = [k for k in views.infos(con, ws) if k.owner == code]
    latest = queries.latest_values(con, kpi_ids=[k.id for k in own])
    return [html.Li([dcc.Link(k.name_en if lang == "en" else k.name_ja, href=f"/kpi/{k.id}"), ": ",
                     format_number(latest.get(k.id, {}).get("value"), lang, unit=k.unit), " (",
                     format_period(latest.get(k.id, {}).get("period"), k.frequency, lang), ") ",
                     status_badge(latest.get(k.id, {}).get("status") or "no_data", lang)]) for k in own]


def _upload(ws: Any, code: str, kpi: str | None, lang: str) -> list[Any]:
    """The upload section: the KPI to submit, the drop zone, the result and the templates (or why there is none)."""
    subm = submittable(ws, code)
    upload: list[Any] = [html.H2(t("ministry.upload", lang))]
    if not subm:
        upload.append(html.P(t("ministry.no_submit", lang)))
        return upload
    return upload + [
        html.Label([t("filter.kpi", lang), dcc.Dropdown(
            id=ids.MIN_KPI, options=[{"label": f"{i} {en if lang == 'en' else ja}", "value": i}
                                     for i, ja, en in subm],
            value=kpi if kpi in {i for i, _, _ in subm} else subm[0][0], clearable=False)]),
        dcc.Upload(id=ids.MIN_UPLOAD, children=html.Div(t("ministry.drop", lang)), className="upload",
                   max_size=int(ws.config.submissions.max_file_mb * 1024 * 1024), multiple=False),
        dcc.Store(id=ids.MIN_UPLOADED),
        dcc.Loading(html.Div(id=ids.MIN_RESULT, **{"aria-live": "polite"})),
        html.H3(t("ministry.templates", lang)),
        html.Ul([html.Li([f"{i} {en if lang == 'en' else ja}: ",
                          html.A("CSV", href=f"/download/template/{i}.csv?ministry={code}", download=""), " · ",
                          html.A("XLSX", href=f"/download/template/{i}.xlsx?ministry={code}", download="")])
                 for i, ja, en in subm]),
    ]


def ministry_to_url(ministry: str | None) -> str:
    """The chosen ministry as the page's query string (deep link)."""
    return query_string({"ministry": ministry})


def outcome_view(outcome: Any, lang: str) -> html.Div:
    """Status, receipt and the full validation report of one submission attempt."""

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


UPLOAD_PATH = "/upload/submission"
# The browser posts the chosen file's bytes to UPLOAD_PATH (never through a callback, which would carry it as
# base64 in JSON: several copies of 50 MB in the server); the callback below only shows the stored outcome.
UPLOAD_JS = """async function(contents, filename, kpi, search) {
    if (!contents) { return window.dash_clientside.no_update; }
    const ministry = new URLSearchParams(search || "").get("ministry") || "";
    const query = new URLSearchParams({kpi: kpi || "", ministry: ministry, filename: filename || "upload"});
    try {
        const text = atob(contents.slice(contents.indexOf(",") + 1));
        const bytes = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
        const resp = await fetch("UPLOAD_PATH?" + query.toString(), {method: "POST", body: bytes,
            credentials: "same-origin", headers: {"Content-Type": "application/octet-stream"}});
        let answer;
        try { answer = await resp.json(); } catch (e) { answer = {status: "error", message: "HTTP " + resp.status}; }
        return Object.assign(answer, {http: resp.status, at: Date.now()});
    } catch (e) {
        return {status: "error", message: String(e), at: Date.now()};
    }
}""".replace("UPLOAD_PATH", UPLOAD_PATH)


def receive_upload() -> Any:
    """POST UPLOAD_PATH?kpi=&ministry=&filename= with the file as the body: streamed to a private temporary
    file with the size limit enforced while reading, then handed to observatory.submissions.submit (which
    checks permission, archives, validates and audits). Answers JSON {status, submission_id, message}."""

    user = current_user()
    ws = current_ws()
    args = flask.request.args
    if user is None or not allowed(user, "ministry"):
        return flask.make_response(flask.jsonify(status="denied", message="not allowed / 権限がありません"), 403)
    asked = args.get("ministry") or None
    code = asked if can(user, "ministry.all") else user.ministry
    if not code or not can_see_ministry(user, code):
        return flask.make_response(flask.jsonify(status="denied", message=f"ministry {code or '-'}: not yours / "
                                                 "他府省の提出はできません"), 403)
    limit = int(ws.config.submissions.max_file_mb * 1024 * 1024)
    name = Path(str(args.get("filename") or "upload")).name[:255] or "upload"
    declared = flask.request.content_length
    if declared is None or declared > limit:
        status = 411 if declared is None else 413
        return flask.make_response(flask.jsonify(
            status="rejected", message=f"{name}: the file is larger than {limit / 1e6:.0f} MB (or its size was not "
            f"sent) / ファイルサイズが上限 {limit / 1e6:.0f} MB を超えています"), status)
    with _received(ws, flask.request.stream, limit) as (path, size):
        if size != declared:
            return flask.make_response(flask.jsonify(status="rejected", message=f"{name}: the upload was cut off "
                                                     "/ アップロードが途中で切れました"), 400)
        outcome = submit(ws, path, filename=name, kpi_id=args.get("kpi") or "", ministry_code=code, user=user,
                         origin=f"web:{client_address()}")
    return flask.jsonify(status=outcome.status, submission_id=outcome.submission_id, message=outcome.message)


@contextlib.contextmanager
def _received(ws: Any, stream: Any, limit: int) -> Iterator[tuple[Path, int]]:
    """The request body in a 0600 file of the workspace's private .work directory (plain-<pid>-*: swept if the
    process dies), read in 1 MiB chunks and never past `limit` + 1 bytes; removed on exit."""

    work = ws.home / ".work"
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o700)
    path = work / f"plain-{os.getpid()}-{os.urandom(4).hex()}-upload"
    size = 0
    try:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            while size <= limit and (chunk := stream.read(min(1 << 20, limit + 1 - size))):
                fh.write(chunk)
                size += len(chunk)
        yield path, size
    finally:
        path.unlink(missing_ok=True)


def show_upload(answer: dict[str, Any] | None) -> Any:
    """The outcome of an upload: the stored submission's receipt and report (re-read through get_submission,
    which checks who may see it), or the refusal's message."""
    lang = current_lang()
    user = current_user()
    if not answer or not isinstance(answer, dict):  # not the upload's answer (the store holds only that)
        return dash.no_update
    sid = answer.get("submission_id")
    if not isinstance(sid, int) or user is None:
        return message(str(answer.get("message") or answer.get("status") or "upload failed"), "error")

    try:
        with connect() as con:
            row = get_submission(con, sid, user)
    except (PermissionDenied, UserError) as exc:
        return message(str(exc), "error")
    outcome = SubmissionOutcome(row["status"], Report.from_json(row.get("report") or {}), sid,
                                row.get("receipt") or {}, str(answer.get("message") or row["status"]))
    return outcome_view(outcome, lang)


def register(app: dash.Dash) -> None:
    """Register the page and its callbacks (ministry picker -> URL; upload -> report and receipt)."""
    dash.register_page(__name__, path="/ministry", title=TITLE, name="ministry", layout=layout)
    app.callback(Output(ids.MIN_URL, "search"), Input(ids.MIN_MINISTRY, "value"),
                 prevent_initial_call=True)(ministry_to_url)
    app.clientside_callback(UPLOAD_JS, Output(ids.MIN_UPLOADED, "data"), Input(ids.MIN_UPLOAD, "contents"),
                            State(ids.MIN_UPLOAD, "filename"), State(ids.MIN_KPI, "value"),
                            State(ids.MIN_URL, "search"), prevent_initial_call=True)
    app.callback(Output(ids.MIN_RESULT, "children"), Input(ids.MIN_UPLOADED, "data"),
                 prevent_initial_call=True)(show_upload)
    app.server.add_url_rule(UPLOAD_PATH, "upload_submission", receive_upload, methods=["POST"])
