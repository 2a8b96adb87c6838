"""CLI commands: `submit FILE` and the `submission` group (template, list, show, kpis).

Thin wrappers: everything is done by `observatory.submissions`; these print the report and receipt and map
outcomes to exit codes (0 accepted or duplicate, 2 rejected, 4 denied).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import click

from observatory.cells import shown
from observatory.cli.common import State, pass_state
from observatory.errors import PermissionDenied, UserError
from observatory.submissions import (
    Report,
    csv_safe,
    definition,
    definitions,
    get_submission,
    list_submissions,
    report_csv,
    submit,
    template_bytes,
)
from observatory.submissions.access import acting_user
from observatory.submissions.catalogue import frequency, label, submitters


def _user(state: State, username: str, role: str | None):
    return acting_user(state.ws, username, role)


@click.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kpi", "kpi_id", required=True, help="KPI id the file is for.")
@click.option("--ministry", "ministry_code", help="Submitting ministry code (default: the user's own ministry).")
@click.option("--user", "username", required=True, help="Submitting user (from observatory.yaml).")
@click.option("--role", help="Role to act in (default: the user's main role).")
@click.option("--sheet", help="XLSX sheet to read (default: the KPI's sheet, else the first).")
@click.option("--report-csv", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the validation report as CSV here.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def submit_command(state: State, file: Path, kpi_id: str, ministry_code: str | None, username: str,
                   role: str | None, sheet: str | None, report_path: Path | None, fmt: str) -> None:
    """Submit a KPI data file (CSV UTF-8/Shift_JIS or XLSX) / KPIデータファイルを提出する."""
    ws = state.ws
    if report_path is not None and not report_path.resolve().parent.is_dir():  # found before the submission is stored
        raise UserError(f"{report_path}: 保存先のディレクトリがありません / --report-csv: no such directory "
                        f"{report_path.resolve().parent}")
    found = ws.config.user(username)
    if ministry_code is None:  # (an unknown user is refused, and audited, by submit itself)
        if found is not None and not found.ministry:
            raise UserError("--ministry を指定してください / --ministry is required for this user")
        ministry_code = found.ministry if found is not None else ""
    outcome = submit(ws, file.resolve(), filename=file.name, kpi_id=kpi_id, ministry_code=ministry_code.upper(),
                     user=username, role=role, origin="cli", sheet=sheet)
    if fmt == "json":
        click.echo(json.dumps({"status": outcome.status, "submission_id": outcome.submission_id,
                               "message": outcome.message, "receipt": outcome.receipt,
                               "report": outcome.report.to_json()}, ensure_ascii=False, default=str, indent=2))
    else:
        if outcome.status != "denied":
            for line in outcome.report.lines():
                click.echo(line)
            click.echo("")
        if outcome.status != "denied":
            for line in outcome.receipt_lines():
                click.echo(line)
    if report_path is not None:  # after the receipt: a submission stored is never reported as a failure alone
        try:
            report_path.write_bytes(report_csv(outcome.report))
        except OSError as exc:
            raise UserError(f"{report_path}: 検証レポートを書けません（提出の結果は上記のとおり） / could not write the "
                            f"report ({exc.strerror}); the outcome above stands") from None
    if outcome.status == "denied":
        raise PermissionDenied(outcome.message)
    if outcome.status == "rejected":
        raise UserError(outcome.message)


@click.group("submission")
def submission_group() -> None:
    """Submission templates and history / 提出テンプレートと提出履歴."""


@submission_group.command("template")
@click.argument("kpi_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@pass_state
def template_command(state: State, kpi_id: str, fmt: str, output: Path | None) -> None:
    """Write the submission template of a KPI (CSV UTF-8 with BOM, or XLSX) / 提出テンプレートを出力する."""
    data = template_bytes(definition(state.ws, kpi_id), fmt)  # type: ignore[arg-type]
    if output is not None:
        output.write_bytes(data)
        click.echo(f"wrote {output} ({len(data)} bytes)", err=True)
        return
    if fmt == "xlsx" and sys.stdout.isatty():
        raise UserError("refusing to write XLSX to a terminal; use --output FILE / --output で出力先を指定してください")
    stream = click.get_binary_stream("stdout")
    stream.write(data)
    stream.flush()


@submission_group.command("kpis")
@pass_state
def kpis_command(state: State) -> None:
    """List the KPIs that accept submissions / 提出対象のKPI一覧."""
    for kpi_id, kpi in sorted(definitions(state.ws).items()):
        click.echo(f"{kpi_id}\t{frequency(kpi)}\t{','.join(submitters(kpi))}\t{label(kpi.name, 'ja')} / "
                   f"{label(kpi.name, 'en')}")


_LIST_COLUMNS = ("submission_id", "submitted_at", "kpi_id", "ministry_code", "submitted_by", "status", "file_name",
                 "rows_accepted", "errors", "warnings", "supersedes", "duplicate_of", "periods", "file_sha256")


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if hasattr(value, "strftime") and hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else shown(str(value))  # a stored text value as written: ESC, CR/LF escaped


@submission_group.command("list")
@click.option("--user", "username", required=True, help="Reading user; a ministry user sees only their ministry.")
@click.option("--role", help="Role to act in (default: the user's main role).")
@click.option("--kpi", "kpi_id", help="Only this KPI.")
@click.option("--status", type=click.Choice(["accepted", "rejected", "duplicate", "superseded"]))
@click.option("--limit", type=int, default=200, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@pass_state
def list_command(state: State, username: str, role: str | None, kpi_id: str | None, status: str | None, limit: int,
                 fmt: str) -> None:
    """Submission history, newest first / 提出履歴."""
    user = _user(state, username, role)
    with state.warehouse.connect() as con:
        rows = list_submissions(con, user=user, role=role, kpi_id=kpi_id, status=status, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, default=str, indent=2))
        return
    if fmt == "csv":
        w = csv.writer(click.get_text_stream("stdout"), lineterminator="\n")
        w.writerow(_LIST_COLUMNS)
        for r in rows:
            w.writerow([csv_safe(_cell(r[c])) for c in _LIST_COLUMNS])
        return
    shown = _LIST_COLUMNS[:-1]
    click.echo("  ".join(shown))
    for r in rows:
        click.echo("  ".join(_cell(r[c]) for c in shown))
    if not rows:
        click.echo("(no submissions / 提出はありません)")


@submission_group.command("show")
@click.argument("submission_id", type=int)
@click.option("--user", "username", required=True, help="Reading user; a ministry user sees only their ministry.")
@click.option("--role", help="Role to act in (default: the user's main role).")
@click.option("--changes", type=int, default=50, show_default=True, help="Value changes to list.")
@click.option("--report-csv", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the validation report as CSV here.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def show_command(state: State, submission_id: int, username: str, role: str | None, changes: int,
                 report_path: Path | None, fmt: str) -> None:
    """One submission: receipt, report, per-period history and what changed / 提出の詳細."""
    user = _user(state, username, role)
    with state.warehouse.connect() as con:
        row = get_submission(con, submission_id, user, role, changes=changes)
    report = Report.from_json(row.get("report") or {})
    if report_path is not None:
        report_path.write_bytes(report_csv(report))
    if fmt == "json":
        click.echo(json.dumps(row, ensure_ascii=False, default=str, indent=2))
        return
    for key in ("submission_id", "kpi_id", "ministry_code", "status", "submitted_by", "submitter_role",
                "submitted_at", "origin", "file_name", "file_sha256", "encoding", "sheet", "rows_total",
                "rows_accepted", "errors", "warnings", "supersedes", "duplicate_of"):
        click.echo(f"{key}: {_cell(row.get(key))}")
    kv = (row.get("receipt") or {}).get("kpi_values")
    if kv:
        click.echo(f"kpi_values_changed: {kv.get('changed')} ({kv.get('note', '')})")
    click.echo("periods / 期間別:")
    for h in row["history"]:
        click.echo(f"  {h['period']}: {h['rows_total']} rows, added {h['rows_added']}, changed {h['rows_changed']}, "
                   f"removed {h['rows_removed']}, unchanged {h['rows_unchanged']}; supersedes {_cell(h['supersedes'])}"
                   f"; superseded by {_cell(h['superseded_by']) or '-'}")
    if row["changes"]:
        click.echo("changes / 変更:")
        for c in row["changes"]:
            click.echo(f"  {c['change']} {c['period']} {c['entity_code']} {c['column_name']}: {_cell(c['old_value'])}"
                       f" -> {_cell(c['new_value'])}")
    click.echo("versions / 版:")
    for v in row["versions"]:
        mark = "*" if v["submission_id"] == submission_id else " "
        click.echo(f" {mark}{v['submission_id']} {_cell(v['submitted_at'])} {v['submitted_by']} {v['status']} "
                   f"{v['file_name'] or ''} rows {_cell(v['rows_accepted'])}")
    click.echo("report / 検査結果:")
    for line in report.lines():
        click.echo("  " + line)


COMMANDS = [submit_command, submission_group]
