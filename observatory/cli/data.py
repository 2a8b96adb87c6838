"""CLI commands for the workspace and data in: init, collect, ingest, status, scheduler, serve, demo.

Thin: the runtime of `scheduler` and `serve` is observatory/runtime.py, the demo's run observatory/demo.py."""

from __future__ import annotations

import sys
import typing
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from observatory import jobs
from observatory.cli.common import State, pass_state
from observatory.config import SourceKind
from observatory.errors import UserError
from observatory.freshness import source_freshness
from observatory.workspace import Workspace, init_workspace

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).

KINDS = typing.get_args(SourceKind)


@click.command()
@pass_state
def init(state: State) -> None:
    """Create or upgrade the workspace: observatory.yaml, warehouse schema, reference data."""
    ws, counts = init_workspace(state.home)
    click.echo(
        f"workspace {ws.home}: schema v{counts['schema_version']}, {counts['prefectures']} prefectures, "
        f"{counts['municipalities']} municipalities, {counts['ministries']} ministries"
    )


def _progress():
    """A rich progress callback on a terminal, None otherwise (logs and CI stay clean)."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import Progress

    bar = Progress(transient=True)
    bar.start()
    tasks: dict[str, int] = {}

    def update(label: str, done: float, total: float | None = None) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=total)
        bar.update(tasks[label], completed=done, total=total)
        if total is not None and done >= total:
            bar.stop_task(tasks[label])

    update.stop = bar.stop  # type: ignore[attr-defined]
    return update


def _echo_run(result) -> None:
    """One line per file run: the file named (a directory loads many), its counts, and the rows it did not load
    without refusing them (an access log's events whose ids were already stored: no row is dropped unsaid)."""
    from observatory import cells
    from observatory.security.pseudonym import mask_text

    detail = result.detail or {}
    line = (f"{result.source}: {result.status}, read {result.rows_read}, loaded {result.rows_loaded}, "
            f"rejected {result.rows_rejected}")
    if detail.get("file"):  # (the sender's text: masked as the run stores it)
        line += f" ({cells.shown(mask_text(str(detail['file'])))})"
    replaced = detail.get("individual_numbers_replaced")
    if replaced:
        line += f", {replaced} Individual Numbers replaced by pseudonyms"
    duplicates = detail.get("duplicates_dropped")
    if duplicates:
        line += (f", {duplicates} events not loaded: their event ids were already stored or repeated in the file / "
                 f"イベントIDが既存または重複の{duplicates}件は取り込みませんでした")
    click.echo(line)
    if result.error:
        click.echo(f"  {mask_text(result.error)}", err=True)
    warnings = (result.detail or {}).get("warnings") or []
    for w in warnings:
        click.echo(f"  warning: {mask_text(str(w))}", err=True)
    more = int((result.detail or {}).get("warnings_total", 0)) - len(warnings)
    if more > 0:
        click.echo(f"  ... and {more} more warning(s) (collector_runs.detail of run {result.run_id})", err=True)


@click.command()
@click.argument("sources", nargs=-1)
@pass_state
def collect(state: State, sources: tuple[str, ...]) -> None:
    """Run configured sources now (all enabled ones when none are named)."""
    ws = state.ws
    names = list(sources) or [s.name for s in ws.config.sources if s.enabled]
    if not names:
        raise UserError(f"{ws.config_path}: 取得元が設定されていません / no sources configured")
    for name in names:
        ws.config.source(name)  # unknown names fail before anything runs
    failed = 0
    for name in names:
        result = jobs.run_source(ws, name, triggered_by="cli")
        if result is None:
            click.echo(f"{name}: skipped, a run of this source is still going on")
            continue
        _echo_run(result)
        failed += result.status == "failed"
    if failed:
        sys.exit(1)


@click.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--period", help="YYYY-MM the figures cover, when the file does not say (card-issuance).")
@click.option("--fiscal-year", type=int, help="Fiscal year (April-March) the file covers (procedure-inventory).")
@click.option("--released-on", help="YYYY-MM-DD the publisher released the file (municipal-dx).")
@click.option("--sheet", help="XLSX sheet to read (default: 公表用 for card-issuance, else the first).")
@click.option("--user", help="Who is loading the files (recorded in the archive).")
@pass_state
def ingest(state: State, kind: str, files: tuple[Path, ...], period: str | None, fiscal_year: int | None,
           released_on: str | None, sheet: str | None, user: str | None) -> None:
    """Load FILE|DIR... of one KIND now (a directory: its files in name order), through the same code path as
    the scheduled collectors."""
    progress = _progress()
    try:
        results, follow = jobs.ingest(state.ws, kind, files, period=period, sheet=sheet, user=user,
                                      progress=progress, fiscal_year=fiscal_year, released_on=released_on)
    finally:
        if progress is not None:
            progress.stop()
    for r in results:
        _echo_run(r)
    if follow.kpi_values_changed:
        click.echo(f"KPI values changed: {follow.kpi_values_changed}")
    if follow.detection:
        click.echo(f"detection: {follow.detection}")
    for e in follow.errors:
        click.echo(f"warning: {e}", err=True)
    failed = [r for r in results if r.status == "failed"]
    if failed:  # 2: bad input (a file named, with row, column and reason); 1: a run failed otherwise
        sys.exit(2 if all((r.detail or {}).get("bad_input") for r in failed) else 1)


def _fmt_age(hours: float | None) -> str:
    if hours is None:
        return "never"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


@click.command()
@pass_state
def status(state: State) -> None:
    """Last run, rows and freshness of each source; stale sources are marked."""
    from rich.console import Console
    from rich.table import Table

    ws = state.ws
    with state.warehouse.connect() as con:
        rows = source_freshness(con, ws.config)
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - fixed names
                  for t in ("procedure_usage", "card_issuance", "card_issuance_prefecture", "procedure_inventory",
                            "municipal_dx", "procedure_cases", "staff", "subjects", "cases", "access_events",
                            "kpi_values", "alerts", "submissions")}
    table = Table(title=f"Sources of {ws.home}")
    for col in ("source", "kind", "last run", "status", "last good data", "rows", "age", "fresh?"):
        table.add_column(col)
    tz = ZoneInfo(ws.config.timezone)

    def local(t) -> str:
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if t is not None else "-"

    for r in rows:
        table.add_row(r.source, r.kind, local(r.last_run_at), r.last_status or "-",
                      local(r.last_good_at), str(r.rows_loaded if r.rows_loaded is not None else "-"),
                      _fmt_age(r.age_hours), "[red]STALE[/red]" if r.stale else "ok")
    console = Console()
    console.print(table)
    console.print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    stale = [r.source for r in rows if r.stale]
    if stale:
        console.print(f"stale sources: {', '.join(stale)}")
    waiting = jobs.pending(ws)
    if waiting:
        runs = ", ".join(f"{r.source} #{r.run_id}" for r in waiting[:5]) + (" ..." if len(waiting) > 5 else "")
        console.print(f"後続処理（KPI再計算・検知）が終わっていない取込み / loads not yet followed up (KPI recompute, "
                      f"detection): {len(waiting)} ({runs}); the next load follows them up", soft_wrap=True)


def _warn(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@pass_state
def scheduler(state: State) -> None:
    """Run the collectors on the cron schedules of observatory.yaml (foreground; Ctrl-C stops)."""
    from observatory import runtime

    runtime.run_scheduler(state.ws, click.echo, _warn)


def _serve(ws: Workspace, host: str, port: int) -> None:
    from dashboards.app import serve as serve_dashboard
    from observatory import runtime

    runtime.serve(ws, host, port, dashboard=serve_dashboard, say=click.echo, warn=_warn)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@pass_state
def serve(state: State, host: str, port: int) -> None:
    """Dashboard and scheduler in one process (production WSGI server)."""
    _serve(state.ws, host, port)


@click.command()
@click.option("--no-serve", is_flag=True, help="Load the demo data and stop, without starting the dashboard.")
@click.option("--fresh", is_flag=True, help="Generate and load the demo data again even if already loaded.")
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--feed-port", default=8765, show_default=True, type=int)
@click.option("--staff", "n_staff", default=400, show_default=True, help="Staff in the demo access log.")
@click.option("--days", default=35, show_default=True, help="Days of demo access log.")
@pass_state
def demo(state: State, no_serve: bool, fresh: bool, port: int, feed_port: int, n_staff: int, days: int) -> None:
    """Create a demo workspace, feed national sample data through the real collectors, then serve."""
    import anomaly.synthetic
    from observatory import demo as demo_run

    home = state.home
    marker = home / ".demo-loaded"
    init_workspace(home, demo_run.demo_config(feed_port) if not (home / "observatory.yaml").exists() else None)
    ws = state.ws
    if ws.config.demo_feed is None:
        raise UserError(f"{ws.config_path}: デモ用のワークスペースではありません / not a demo workspace (no demo_feed); use another --home")
    logins = demo_run.add_users(ws)
    if fresh or not marker.exists():
        demo_run.load(ws, n_staff=n_staff, days=days, access_log=anomaly.synthetic.generate, on_run=_echo_run,
                      say=click.echo, warn=_warn)
        marker.write_text(date.today().isoformat(), encoding="utf-8")
    click.echo("")
    click.echo(f"Open http://127.0.0.1:{port}/ and sign in with one of the demo logins (user / password):")
    for username, password in logins:
        click.echo(f"  {username:<9} {password}")
    click.echo(f"Public progress page (no sign-in): http://127.0.0.1:{port}/public/ja/")
    if not no_serve:
        _serve(ws, "127.0.0.1", port)


COMMANDS = [init, collect, ingest, status, scheduler, serve, demo]
