"""CSV downloads of exactly what each view shows, and submission templates; checked like the pages."""

from __future__ import annotations

import flask

from dashboards import access, views
from dashboards.context import audit_view, connect, current_lang, current_user, current_ws
from observatory.errors import NotFound, PermissionDenied, UserError
from observatory.security.users import can, can_see_ministry
from observatory.submissions import Report, report_csv


def _error(status: int, text: str) -> flask.Response:
    resp = flask.make_response(text + "\n", status)
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    return resp


def register(app: flask.Flask) -> None:
    """Add /download/<view>.csv, /download/submission/<sid>/report.csv and /download/template/<kpi>.<fmt>
    to the server."""
    app.add_url_rule("/download/<name>.csv", view_func=download_view)
    app.add_url_rule("/download/submission/<sid>/report.csv", view_func=download_submission_report)
    app.add_url_rule("/download/template/<kpi_id>.<fmt>", view_func=download_template)


def download_view(name: str) -> flask.Response:
    """The CSV of exactly what view `name` shows, checked and audited like its page."""
    user = current_user()
    spec = views.VIEWS.get(name)
    if spec is None:
        return _error(404, f"download {name!r}: no such view")
    page, fn = spec
    lang = current_lang()
    with connect() as con:
        if not access.allowed(user, page):
            audit_view(con, f"download.{name}", outcome="denied")
            return _error(403, "forbidden")
        try:
            data = fn(con, current_ws(), user, flask.request.args)
        except PermissionDenied as exc:
            audit_view(con, f"download.{name}", outcome="denied", detail={"reason": str(exc)})
            return _error(403, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        except UserError as exc:
            return _error(400, str(exc))
        if access.PAGES[page].sensitive:
            # the row count last: a query parameter named `rows` must not rewrite what the log says was taken
            audit_view(con, f"download.{name}", detail={**flask.request.args, "rows": len(data.rows)})
    resp = flask.make_response(views.csv_bytes(data, lang))
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return resp


def download_submission_report(sid: str) -> flask.Response:
    """A submission's validation report as CSV, for those who may see the submission (audited)."""
    user = current_user()
    with connect() as con:
        if not access.allowed(user, "submission"):
            audit_view(con, "download.submission-report", target=sid, outcome="denied")
            return _error(403, "forbidden")
        try:
            row = views.submission_record(con, user, sid)  # get_submission: checked and audited (also when denied)
        except PermissionDenied as exc:
            return _error(403, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        if row.get("report") is None:
            return _error(404, f"submission {sid}: no validation report was recorded")
        audit_view(con, "download.submission-report", target=str(row["submission_id"]))
    resp = flask.make_response(report_csv(Report.from_json(row["report"])))
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="submission-{row["submission_id"]}-report.csv"'
    return resp


def download_template(kpi_id: str, fmt: str) -> flask.Response:
    """A KPI's submission template (CSV or XLSX), for a ministry that submits it."""
    user = current_user()
    if fmt not in ("csv", "xlsx"):
        return _error(404, f"template format {fmt!r}: use csv or xlsx")
    try:
        from observatory.submissions import catalogue, definition, template_bytes  # optional: 404 below
    except ImportError:
        return _error(404, "submissions are not available")
    ministry = flask.request.args.get("ministry") or (user.ministry if user else None)
    try:
        kpi = definition(current_ws(), kpi_id)
    except UserError as exc:
        return _error(404, str(exc))
    allowed_here = can(user, "ministry.all") or (
        ministry and can_see_ministry(user, ministry) and ministry in catalogue.submitters(kpi))
    if not allowed_here:
        with connect() as con:
            audit_view(con, "download.template", target=kpi_id, outcome="denied")
        return _error(403, f"KPI {kpi_id}: your ministry does not submit this KPI")
    data = template_bytes(kpi, fmt)
    resp = flask.make_response(data)
    resp.headers["Content-Type"] = ("text/csv; charset=utf-8" if fmt == "csv" else
                                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp.headers["Content-Disposition"] = f'attachment; filename="{kpi_id}-template.{fmt}"'
    return resp
