"""One submission (/submission/<id>): receipt, status, who/when/from where, encoding, the validation report
(table and CSV), the per-period history and the versions it superseded or was superseded by.

Everything comes from `observatory.submissions.get_submission`, which decides who may see the submission
(a ministry user: their own ministry's only) and writes the audit entry of the view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboards import ids, queries
from dashboards.components import data_table, message
from dashboards.context import connect, current_lang, current_user, current_ws
from dashboards.i18n import format_datetime, format_number, name_of, person_label, role_label, t
from dashboards.shell import guarded
from dashboards.views import Column, ViewData, name_submission_codes, submission_record
from observatory.config import User
from observatory.errors import NotFound, PermissionDenied
from observatory.security.users import can

TITLE = "提出 / Submission"
SEVERITIES = ("error", "warning", "info")


@dataclass
class SubmissionDetail:
    """What the page shows of one submission, each table as a ViewData."""

    row: dict[str, Any]
    report: ViewData
    history: ViewData
    changes: ViewData
    versions: ViewData
    superseded: list[int]  # versions this one replaced (for some period)
    superseding: list[int]  # versions that replaced this one (for some period)
    kpi_values_changed: int | None


def report_view(report: dict[str, Any] | None, lang: str, severity: str | None = None) -> ViewData:
    """The stored validation report's problems as table rows, optionally of one severity."""
    if severity not in (None, "", "all") and severity not in SEVERITIES:
        severity = None
    problems = (report or {}).get("problems") or []
    rows = [{**p, "reason": p.get("message_en") if lang == "en" else p.get("message_ja")}
            for p in problems if severity in (None, "", "all") or p.get("severity") == severity]
    cols = [Column("severity", "report.severity", "psev"), Column("row", "report.row"),
            Column("column", "report.column"), Column("value", "report.value"), Column("code", "col.code_kind"),
            Column("reason", "report.reason")]
    return ViewData(cols, rows, extra={"unlisted": int((report or {}).get("unlisted") or 0)})


def _name_entities(con: Any, rows: list[dict[str, Any]]) -> None:
    """`entity_code_name_ja/_en` beside each changed value's entity (municipality, prefecture or ministry)."""
    names = {c: queries.org_name(con, c) for c in {r.get("entity_code") for r in rows} if c}
    for r in rows:
        org = names.get(r.get("entity_code")) or {}
        r["entity_code_name_ja"], r["entity_code_name_en"] = org.get("name_ja"), org.get("name_en")


def detail(con: Any, user: User, raw_id: Any, lang: str = "ja", ws: Any = None) -> SubmissionDetail:
    """Everything the page shows of one submission the user may see (PermissionDenied / NotFound otherwise);
    with the workspace `ws`, KPI, ministry and people by name with their codes alongside."""
    row = submission_record(con, user, raw_id)
    version_rows = [v for v in row.get("versions") or [] if v.get("submission_id") != row["submission_id"]]
    if ws is not None:
        name_submission_codes(con, ws, [row, *version_rows])
    _name_entities(con, list(row.get("changes") or []))
    history = list(row.get("history") or [])
    superseded = sorted({int(h["supersedes"]) for h in history if h.get("supersedes") is not None}
                        | ({int(row["supersedes"])} if row.get("supersedes") is not None else set()))
    superseding = sorted({int(h["superseded_by"]) for h in history if h.get("superseded_by") is not None})
    hist_view = ViewData([Column("period", "col.period", "date"), Column("rows_total", "col.rows_total", "number"),
                          Column("supersedes", "col.supersedes", "submission_link"),
                          Column("superseded_by", "col.superseded_by", "submission_link"),
                          Column("rows_added", "col.rows_added", "number"),
                          Column("rows_changed", "col.rows_changed", "number"),
                          Column("rows_removed", "col.rows_removed", "number"),
                          Column("rows_unchanged", "col.rows_unchanged", "number")], history)
    changes = ViewData([Column("period", "col.period", "date"), Column("entity_code", "col.entity", "named"),
                        Column("column_name", "col.column"), Column("change", "col.change"),
                        Column("old_value", "col.old_value"), Column("new_value", "col.new_value")],
                       list(row.get("changes") or []))
    versions = ViewData([Column("submission_id", "col.submission", "submission_link"),
                         Column("submitted_at", "col.submitted_at", "datetime"),
                         Column("submitted_by", "col.submitted_by", "person"), Column("file_name", "col.file"),
                         Column("status", "col.status", "sstatus"), Column("rows_accepted", "col.rows", "number")],
                        version_rows)
    kv = (row.get("receipt") or {}).get("kpi_values")
    changed = int(kv.get("changed") or 0) if isinstance(kv, dict) else None
    return SubmissionDetail(row, report_view(row.get("report"), lang), hist_view, changes, versions, superseded,
                            superseding, changed)


def _links(numbers: list[int], lang: str) -> Any:
    if not numbers:
        return t("submission.none", lang)
    return html.Span([dcc.Link(f"#{n}", href=f"/submission/{n}", className="version-link") for n in numbers],
                     className="links")


def named(row: dict[str, Any], key: str, lang: str) -> str:
    """A code of the row with its name in `lang` ('総務省 (MIC)'); the code alone where no name is known."""
    return person_label(row.get(key), name_of(row, lang, f"{key}_name") or None)


def _facts(d: SubmissionDetail, lang: str) -> html.Dl:
    r = d.row
    rep = r.get("report") or {}
    fmt = " / ".join(str(x) for x in (rep.get("file_format"), r.get("encoding") or rep.get("encoding"),
                                      r.get("sheet")) if x) or "-"
    if d.kpi_values_changed is None:
        kv = t("submission.not_recomputed", lang) if r.get("status") == "accepted" else "-"
    else:
        kv = format_number(d.kpi_values_changed, lang)
    pairs = [
        ("submission.id", str(r["submission_id"])),
        ("col.status", t(f"sstatus.{r.get('status')}", lang)),
        ("col.kpi", named(r, "kpi_id", lang)),
        ("filter.ministry", named(r, "ministry_code", lang)),
        ("col.submitted_by", f"{person_label(r.get('submitted_by'), r.get('submitted_by_name'))}"
                             f"{' · ' + role_label(r['submitter_role'], lang) if r.get('submitter_role') else ''}"),
        ("col.submitted_at", format_datetime(r.get("submitted_at"), lang)),
        ("submission.origin", str(r.get("origin") or "-")),
        ("col.file", str(r.get("file_name") or "-")),
        ("submission.sha256", str(r.get("file_sha256") or "-")),
        ("submission.format", fmt),
        ("submission.rows_total", format_number(r.get("rows_total"), lang)),
        ("submission.rows_accepted", format_number(r.get("rows_accepted"), lang)),
        ("col.errors", format_number(r.get("errors"), lang)),
        ("submission.warnings", format_number(r.get("warnings"), lang)),
        ("submission.kpi_changed", kv),
    ]
    items: list[Any] = []
    for key, value in pairs:
        items += [html.Dt(t(key, lang)), html.Dd(value, id=f"sub-fact-{key.split('.')[-1]}")]
    if r.get("duplicate_of") is not None:
        items += [html.Dt(t("submission.duplicate_of", lang)), html.Dd(_links([int(r["duplicate_of"])], lang))]
    return html.Dl(items, className="facts")


def report_block(view: ViewData, lang: str) -> Any:
    """The report table (or a note that none was recorded), with the count of problems not listed."""
    parts: list[Any] = [data_table(view, lang, t("submission.report", lang), table_id="sub-report-table")]
    if view.extra.get("unlisted"):
        parts.append(html.P(f"+{format_number(view.extra['unlisted'], lang)}", className="sub"))
    return html.Div(parts)


@guarded("submission")
def layout(con: Any, user: Any, lang: str, submission_id: str | None = None, **_: Any) -> html.Div:
    """The receipt, report, history and versions of one submission the user may see."""
    d = detail(con, user, submission_id, lang, current_ws())
    sid = d.row["submission_id"]
    back = "/ministry" + (f"?ministry={d.row['ministry_code']}" if can(user, "ministry.all") else "")
    report_part: list[Any] = [html.H2(t("submission.report", lang))]
    if d.row.get("report") is None:
        report_part.append(html.P(t("submission.report_none", lang)))
    else:
        report_part += [
            html.Label([t("submission.severity_filter", lang), dcc.Dropdown(
                id=ids.SUB_SEVERITY, value="all", clearable=False,
                options=[{"label": t("filter.all", lang), "value": "all"}]
                + [{"label": t(f"psev.{s}", lang), "value": s} for s in SEVERITIES])], className="filters"),
            html.Div(report_block(d.report, lang), id=ids.SUB_REPORT),
            html.A(t("download.csv", lang), href=f"/download/submission/{sid}/report.csv", className="download",
                   download="", id="sub-report-csv"),
        ]
    return html.Div([
        dcc.Store(id=ids.SUB_ID, data=sid),
        html.P(dcc.Link(t("submission.back", lang), href=back)),
        html.H1(f"{t('submission.title', lang)} #{sid}"),
        html.Section([html.H2(t("submission.receipt", lang)), _facts(d, lang)], className="block"),
        html.Section(report_part, className="block"),
        html.Section([html.H2(t("submission.history", lang)),
                      data_table(d.history, lang, t("submission.history", lang), table_id="sub-history-table")],
                     className="block"),
        html.Section([html.H2(t("submission.changes", lang)),
                      data_table(d.changes, lang, t("submission.changes", lang), table_id="sub-changes-table")],
                     className="block"),
        html.Section([html.H2(t("submission.versions", lang)),
                      html.Dl([html.Dt(t("submission.superseded", lang)),
                               html.Dd(_links(d.superseded, lang), id="sub-superseded"),
                               html.Dt(t("submission.superseding", lang)),
                               html.Dd(_links(d.superseding, lang), id="sub-superseding")], className="facts"),
                      html.P(f"{named(d.row, 'kpi_id', lang)} · {named(d.row, 'ministry_code', lang)}",
                             id="sub-versions-of"),
                      data_table(d.versions, lang, t("submission.same_kpi", lang), table_id="sub-versions-table")],
                     className="block"),
    ])


def filter_report(severity: str | None, sid: Any) -> Any:
    """Show the report's problems of one severity (re-read through get_submission: checked and audited)."""
    lang = current_lang()
    user = current_user()
    if sid is None or user is None:
        return dash.no_update
    try:
        with connect() as con:
            row = submission_record(con, user, sid)
    except PermissionDenied as exc:
        return message(str(exc), "error")
    except NotFound as exc:
        return message(str(exc), "error")
    return report_block(report_view(row.get("report"), lang, severity), lang)


def register(app: dash.Dash) -> None:
    """Register the page and its callback (report severity filter)."""
    dash.register_page(__name__, path_template="/submission/<submission_id>", title=TITLE, name="submission",
                       layout=layout)
    app.callback(Output(ids.SUB_REPORT, "children"), Input(ids.SUB_SEVERITY, "value"), State(ids.SUB_ID, "data"),
                 prevent_initial_call=True)(filter_report)
