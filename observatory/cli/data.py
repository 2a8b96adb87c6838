"""CLI commands for the workspace and data in: init, collect, ingest, status, scheduler, serve, demo."""

from __future__ import annotations

import logging
import shutil
import sys
import time
import typing
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from observatory import calendar, jobs
from observatory.cli.common import State, pass_state
from observatory.config import SourceKind, Workspace
from observatory.errors import UserError
from observatory.freshness import source_freshness
from observatory.workspace import init_workspace

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
    line = (f"{result.source}: {result.status}, read {result.rows_read}, loaded {result.rows_loaded}, "
            f"rejected {result.rows_rejected}")
    replaced = (result.detail or {}).get("individual_numbers_replaced")
    if replaced:
        line += f", {replaced} Individual Numbers replaced by pseudonyms"
    click.echo(line)
    if result.error:
        click.echo(f"  {result.error}", err=True)
    warnings = (result.detail or {}).get("warnings") or []
    for w in warnings:
        click.echo(f"  warning: {w}", err=True)
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
        raise UserError(f"{ws.config_path}: no sources configured")
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


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _check_definitions(ws: Workspace) -> None:
    """Refuse to start on invalid KPI definitions (every problem is listed)."""
    from observatory.kpis import load_catalogue

    load_catalogue(ws.kpi_dir)


def _start_demo_feed(ws: Workspace):
    if ws.config.demo_feed is None:
        return None
    from observatory.demo import start_feed_server

    feed = ws.config.demo_feed
    try:
        return start_feed_server(ws.resolve(feed.directory), feed.port)
    except OSError as exc:
        # The port is taken (another demo, another program): never fetch from whoever holds it. Serve on a free
        # port instead and point this workspace's feed sources at it (saved, so the scheduler uses it too).
        server = start_feed_server(ws.resolve(feed.directory), 0)
        moved_to = server.server_address[1]
        old, new = f"http://127.0.0.1:{feed.port}/", f"http://127.0.0.1:{moved_to}/"
        for source in ws.config.sources:
            if source.url and source.url.startswith(old):
                source.url = new + source.url[len(old):]
        click.echo(f"note: 127.0.0.1:{feed.port} is in use ({exc.strerror or exc}); the demo feed serves on "
                   f"127.0.0.1:{moved_to} instead / ポート {feed.port} は使用中のため {moved_to} を使います", err=True)
        feed.port = moved_to
        ws.save_config()
        return server


def _scheduler(ws: Workspace, *, blocking: bool):
    from observatory.scheduler import build_scheduler

    extra = []
    if ws.config.publish.enabled:
        extra.append(("publish", ws.config.publish.schedule, lambda: jobs.republish_if_changed(ws)))
    return build_scheduler(
        ws, lambda name: jobs.run_source(ws, name), blocking=blocking, extra=extra,
        on_skip=lambda name: jobs.record_skipped(ws, name, "previous run of this source still going"),
    )


@click.command()
@pass_state
def scheduler(state: State) -> None:
    """Run the collectors on the cron schedules of observatory.yaml (foreground; Ctrl-C stops)."""
    ws = state.ws
    _check_definitions(ws)
    _logging()
    _start_demo_feed(ws)
    sched = _scheduler(ws, blocking=True)
    click.echo(f"scheduler: {len(sched.get_jobs())} jobs; Ctrl-C to stop")
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


def _serve(ws: Workspace, host: str, port: int) -> None:
    from dashboards.app import serve as serve_dashboard

    _check_definitions(ws)
    _logging()
    _start_demo_feed(ws)
    sched = _scheduler(ws, blocking=False)
    sched.start()
    click.echo(f"dashboard: http://{host}:{port}/   public page: http://{host}:{port}/public/ja/   "
               f"scheduler: {len(sched.get_jobs())} jobs")
    try:
        serve_dashboard(ws, host=host, port=port)
    finally:
        sched.shutdown(wait=False)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@pass_state
def serve(state: State, host: str, port: int) -> None:
    """Dashboard and scheduler in one process (production WSGI server)."""
    _serve(state.ws, host, port)


DEMO_USERS = (
    ("cio", "cio", [], None, "CIO office analyst / CIO室 分析担当"),
    ("security", "security", [], None, "Security officer / セキュリティ担当"),
    ("mic", "ministry", [], "MIC", "MIC submitter / 総務省 提出担当"),
    ("mhlw", "ministry", [], "MHLW", "MHLW submitter / 厚生労働省 提出担当"),
    ("admin", "admin", [], None, "Administrator / 管理者"),
)


def _add_demo_users(ws: Workspace) -> list[tuple[str, str]]:
    from observatory.config import User
    from observatory.security.users import hash_password

    logins = []
    for username, role, roles, ministry, name in DEMO_USERS:
        password = f"{username}-demo-2026"
        logins.append((username, password))
        if ws.config.user(username) is None:
            ws.config.users.append(User(username=username, role=role, roles=roles, ministry=ministry,
                                        display_name=name, password_hash=hash_password(password)))
    ws.save_config()
    return logins


def last_complete_month(today: date | None = None) -> date:
    """The month before the one `today` (default: now) is in."""
    return calendar.add_months(today or date.today(), -1)


def _generate_demo_files(ws: Workspace, n_staff: int, days: int) -> None:
    """Stage the shipped real publications, then generate synthetic files only where nothing is public."""
    import anomaly.synthetic
    from observatory import demo
    from observatory.config import shipped_realdata_dir

    latest = last_complete_month()
    feeds = ws.resolve(ws.config.demo_feed.directory)
    feeds.mkdir(parents=True, exist_ok=True)
    drops = {k: ws.drop_dir / k for k in ("card_issuance", "procedure_inventory", "municipal_dx", "turnaround",
                                          "staff", "subjects", "cases", "access_log")}
    for d in drops.values():
        d.mkdir(parents=True, exist_ok=True)
    staged = demo.stage_real_files(shipped_realdata_dir(), feeds, drops)
    click.echo("  real publications staged (byte-identical copies, realdata/PROVENANCE.md): "
               + ", ".join(f"{k} {n}" for k, n in staged.items()))
    steps = [
        ("usage rates feed (synthetic)", lambda: demo.write_usage_rates(feeds / "usage_rates.csv", latest)),
        ("procedure cases (synthetic)", lambda: demo.write_turnaround(drops["turnaround"] / "procedure_cases.csv",
                                                                       latest)),
    ]
    for label, step in steps:
        t0 = time.perf_counter()
        rows = step()
        click.echo(f"  generated {label}: {rows:,} rows ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    tmp = ws.home / "tmp-demo-access"
    log = anomaly.synthetic.generate(tmp, n_staff=n_staff, days=days, seed=20261127,
                                     start=date.today() - timedelta(days=days))
    for name in ("staff", "subjects", "cases", "access_log"):
        src = getattr(log, name)
        src.replace(drops[name] / src.name)
    log.labels.replace(ws.home / "demo-incident-labels.csv")  # the ground truth, for judging the alerts
    shutil.rmtree(tmp, ignore_errors=True)
    click.echo(f"  generated synthetic access logs of {n_staff} staff over {days} days with labelled incidents "
               f"({time.perf_counter() - t0:.1f} s)")


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
    from observatory.demo import demo_config

    home = state.home
    marker = home / ".demo-loaded"
    if not (home / "observatory.yaml").exists():
        init_workspace(home, demo_config(feed_port))
    else:
        init_workspace(home)
    ws = state.ws
    if ws.config.demo_feed is None:
        raise UserError(f"{ws.config_path}: not a demo workspace (no demo_feed); use another --home")
    logins = _add_demo_users(ws)
    if fresh or not marker.exists():
        click.echo(f"demo workspace {home}: real publications, plus synthetic data where nothing is public")
        _generate_demo_files(ws, n_staff, days)
        server = _start_demo_feed(ws)
        click.echo("feeding it through the collectors:")
        results = []
        for source in ws.config.sources:
            r = jobs.run_source(ws, source.name, triggered_by="demo", follow_up=False, settle_s=0)
            if r is not None:
                _echo_run(r)
                results.append(r)
        if server is not None:  # `serve` below starts its own feed for the scheduler
            server.shutdown()
            server.server_close()
        t0 = time.perf_counter()
        changed = jobs.recompute_kpis(ws)
        click.echo(f"KPIs computed: {changed:,} values ({time.perf_counter() - t0:.1f} s)")
        click.echo(f"detection: {jobs.detect_alerts(ws)}")
        _demo_submissions(ws)
        t0 = time.perf_counter()
        jobs.publish(ws)
        click.echo(f"public site published to {ws.resolve(ws.config.publish.outdir)} "
                   f"({time.perf_counter() - t0:.1f} s)")
        failed = [r.source for r in results if r.status == "failed"]
        if failed:
            raise UserError(f"demo sources failed: {', '.join(failed)} (see `observatory status`)")
        marker.write_text(date.today().isoformat(), encoding="utf-8")
    click.echo("")
    click.echo(f"Open http://127.0.0.1:{port}/ and sign in with one of the demo logins (user / password):")
    for username, password in logins:
        click.echo(f"  {username:<9} {password}")
    click.echo(f"Public progress page (no sign-in): http://127.0.0.1:{port}/public/ja/")
    if not no_serve:
        _serve(ws, "127.0.0.1", port)


def _demo_submissions(ws: Workspace) -> None:
    """Ministries' files for every submittable KPI through the real submission path: MIC as itself, the
    other ministries' historical figures loaded by the CIO office on their behalf."""
    from observatory import demo, submissions
    from observatory.kpis import load_catalogue
    from observatory.reference import municipalities, prefectures

    catalogue = load_catalogue(ws.kpi_dir)
    latest = last_complete_month()
    latest_fy = calendar.fiscal_year_of(latest)
    periods = [f"FY{y}" for y in range(2019, latest_fy + 1)]
    accepted = 0
    t0 = time.perf_counter()
    for n, kpi in enumerate(catalogue):
        spec = kpi.submission
        if spec is None:
            continue
        allowed = [kpi.owner, *spec.submitters]
        if spec.level == "ministry":
            senders = [(m, [m]) for m in demo.DEMO_SUBMITTING_MINISTRIES if m in allowed]
        else:
            entities = {"municipality": [m.code for m in municipalities()],
                        "prefecture": [p.code for p in prefectures()]}.get(spec.level, [])
            senders = [(kpi.owner, entities)]
        for ministry, entities in senders:
            data = demo.submission_csv(spec, periods, entities, seed=n * 100 + len(ministry))
            user = "mic" if ministry == "MIC" else "cio"
            outcome = submissions.submit(ws, data, filename=f"{kpi.id}_{ministry}.csv", kpi_id=kpi.id,
                                         ministry_code=ministry, user=user, origin="demo")
            accepted += outcome.status == "accepted"
            if outcome.status != "accepted":
                click.echo(f"  submission {kpi.id} / {ministry}: {outcome.message}", err=True)
    click.echo(f"ministry submissions accepted: {accepted} ({time.perf_counter() - t0:.1f} s)")


COMMANDS = [init, collect, ingest, status, scheduler, serve, demo]
