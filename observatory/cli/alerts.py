"""CLI commands: `observatory alerts detect|list|show|export|assign|status|note` (unauthorised-viewing alerts)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from typing import get_args

import click

from observatory.cli.common import State, pass_state
from observatory.config import EngineKind
from observatory.errors import PermissionDenied, UserError
from observatory.security import alerts as store
from observatory.security.alerts import STATUSES

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).

USER_OPTION = click.option("--user", "username", envvar="OBSERVATORY_USER", required=True,
                           help="Acting user from observatory.yaml (audited); default $OBSERVATORY_USER.")


def _actor(state: State, username: str):
    """The configured user behind --user; unknown or disabled users are refused."""
    user = state.ws.config.user(username)
    if user is None:
        raise PermissionDenied(f"--user {username!r}: 利用者がいません / no such user in {state.ws.config_path} "
                               "(add one with `observatory users add`)")
    if user.disabled:
        raise PermissionDenied(f"--user {username!r}: アカウントは無効です / the account is disabled")
    return user


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option}: {value!r} は日付ではありません / is not a date (YYYY-MM-DD)") from None


def _recompute_kpis(state: State, con, alert_id: int) -> None:
    """The security KPIs read the alerts' status and first triage time: recompute the alert's month."""
    from observatory.kpis import cached_catalogue
    from observatory.kpis.engine import recompute_alert_kpis

    recompute_alert_kpis(con, cached_catalogue(state.ws.kpi_dir), [alert_id], timezone=state.ws.config.timezone)


@click.group("alerts")
def alerts() -> None:
    """Unauthorised-viewing alerts: detect, triage, export / 不正閲覧アラート."""


@alerts.command("detect")
@click.option("--since", help="First day to (re)examine, YYYY-MM-DD (default: the days since the last run).")
@click.option("--until", help="Last day to examine, YYYY-MM-DD (default: the newest event).")
@click.option("--engine", type=click.Choice(get_args(EngineKind)),
              help="Where the heavy stages run (default: detection.engine of observatory.yaml).")
@pass_state
def detect_cmd(state: State, since: str | None, until: str | None, engine: str | None) -> None:
    """Run the detector on new access events and raise alerts within the configured budget (the security KPIs
    are recomputed after it). Stages are reported on stderr as they finish."""
    from observatory import jobs

    def progress(stage: str) -> None:
        click.echo(f"  detection: {stage}", err=True)

    result = jobs.detect_alerts(state.ws, since=_parse_day(since, "--since"), until=_parse_day(until, "--until"),
                                engine=engine, progress=progress)
    click.echo(result.summary())
    for line in result.diagnostics():  # share explained, the floor and why, findings against chance (issue 12)
        click.echo(line)


@alerts.command("list")
@click.option("--status", type=click.Choice(STATUSES + ("open", "closed")), help="Only alerts with this status.")
@click.option("--scenario", help="Only alerts with this scenario (e.g. household).")
@click.option("--org", help="Only alerts of this organisation code.")
@click.option("--assignee", help="Only alerts assigned to this analyst.")
@click.option("--limit", type=int, default=100, show_default=True)
@USER_OPTION
@pass_state
def list_cmd(state: State, status: str | None, scenario: str | None, org: str | None, assignee: str | None,
             limit: int, username: str) -> None:
    """The triage queue: most severe first, then oldest."""
    actor = _actor(state, username)
    with state.warehouse.connect() as con:
        rows = store.list_alerts(con, actor, status=status, scenario=scenario, org=org, assignee=assignee,
                                 limit=limit)
    if not rows:
        click.echo("no alerts / アラートなし")
        return
    click.echo(f"{'id':>8}  {'severity':8}  {'status':14}  {'score':>6}  {'staff':10}  {'org':8}  "
               f"{'first':10}  {'last':10}  scenarios")
    for a in rows:
        click.echo(f"{a['alert_id']:>8}  {a['severity']:8}  {a['status']:14}  {a['score']:6.2f}  {a['staff_id']:10}  "
                   f"{a['org_code'] or '-':8}  {a['first_seen']}  {a['last_seen']}  {', '.join(a['scenarios'] or [])}")


@alerts.command("show")
@click.argument("alert_id", type=int)
@click.option("--evidence/--no-evidence", default=False, help="Also list the evidence events (security role).")
@USER_OPTION
@pass_state
def show_cmd(state: State, alert_id: int, evidence: bool, username: str) -> None:
    """One alert: reasons in Japanese and English, baseline, history (and evidence events)."""
    actor = _actor(state, username)
    with state.warehouse.connect() as con:
        a = store.get_alert(con, actor, alert_id)
        hist = store.history(con, actor, alert_id)
        events = store.evidence(con, actor, alert_id) if evidence else []
    click.echo(f"alert {a['alert_id']}: staff {a['staff_id']} ({a['org_code'] or '-'}), {a['first_seen']}..{a['last_seen']}, "
               f"severity {a['severity']}, score {a['score']:.2f}, status {a['status']}, "
               f"assignee {a['assignee'] or '-'}")
    for r in a["reasons"] or []:
        click.echo(f"  - [{r['code']}] {r.get('text_ja')}")
        click.echo(f"    {'':{len(r['code']) + 2}} {r.get('text_en')}")
    click.echo(f"  baseline: {json.dumps(a['baseline'], ensure_ascii=False, default=str)}")
    if a.get("n_events") is not None:
        click.echo(f"  evidence events: {a['n_events']}")
    for h in hist:
        change = f" {h['from_status']} -> {h['to_status']}" if h["to_status"] else ""
        click.echo(f"  {h['at_time']:%Y-%m-%d %H:%M} {h['actor']}: {h['action']}{change} {h['note'] or ''}".rstrip())
    for e in events:
        click.echo(f"  {e['occurred_at']} {e['event_id']} {e['action']:7} {e['subject_id']} case={e['case_id'] or '-'} "
                   f"records={e['record_count']} terminal={e['terminal_id']}")


@alerts.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--status", type=click.Choice(STATUSES + ("open", "closed")))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@USER_OPTION
@pass_state
def export_cmd(state: State, fmt: str, status: str | None, output: str | None, username: str) -> None:
    """Every alert as JSON lines or CSV (event ids for the security role only)."""
    actor = _actor(state, username)
    with state.warehouse.connect() as con:
        rows = store.export_rows(con, actor, status=status)
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if fmt == "jsonl":
            for r in rows:
                out.write(json.dumps({k: v for k, v in r.items() if k != "scenarios"}, ensure_ascii=False) + "\n")
        else:
            from observatory.cells import csv_safe

            w = csv.writer(out)
            w.writerow(["alert_id", "staff_id", "org_code", "first_seen", "last_seen", "score", "severity", "status",
                        "scenarios", "reasons", "event_ids"])
            for r in rows:
                w.writerow([csv_safe(c) for c in (  # ids come from the offices' logs as written
                    r["alert_id"], r["staff_id"], r["org_code"], r["first_seen"], r["last_seen"], f"{r['score']:.3f}",
                    r["severity"], r["status"], " ".join(r["scenarios"]),
                    " | ".join(f"{x['code']}: {x['text']}" for x in r["reasons"]), " ".join(r["event_ids"]))])
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"{len(rows)} alerts written to {output}", err=True)


@alerts.command("assign")
@click.argument("alert_id", type=int)
@click.argument("assignee")
@USER_OPTION
@pass_state
def assign_cmd(state: State, alert_id: int, assignee: str, username: str) -> None:
    """Give an alert to an analyst."""
    actor = _actor(state, username)
    with state.warehouse.connect() as con:
        store.assign(con, actor, alert_id, assignee)
        _recompute_kpis(state, con, alert_id)
    click.echo(f"alert {alert_id} assigned to {assignee}")


@alerts.command("status")
@click.argument("alert_id", type=int)
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--note", help="Why (kept in the alert's history).")
@USER_OPTION
@pass_state
def status_cmd(state: State, alert_id: int, status: str, note: str | None, username: str) -> None:
    """Move an alert: investigating, or closed as true_positive, benign or false_positive."""
    actor = _actor(state, username)
    with state.warehouse.connect() as con:
        a = store.set_status(con, actor, alert_id, status, note=note,
                             suppression_days=state.ws.config.alerts.benign_suppression_days)
        _recompute_kpis(state, con, alert_id)
    click.echo(f"alert {alert_id}: {a['status']}")


@alerts.command("note")
@click.argument("alert_id", type=int)
@click.argument("text")
@USER_OPTION
@pass_state
def note_cmd(state: State, alert_id: int, text: str, username: str) -> None:
    """Add a note to an alert's history."""
    actor = _actor(state, username)
    with state.warehouse.connect() as con:
        store.add_note(con, actor, alert_id, text)
    click.echo(f"alert {alert_id}: note added")


COMMANDS = [alerts]
