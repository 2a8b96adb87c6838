"""The long-running observatory: the scheduler's jobs, the demo feed beside them, and the dashboard server.

`observatory scheduler` and `observatory serve` (and `demo` after loading) are thin commands over these. The
dashboard server is passed in (`dashboards.app.serve`), so this module joins nothing: only observatory/cli/
and observatory/jobs.py import the other packages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from observatory import jobs
from observatory.demo import start_workspace_feed
from observatory.kpis import load_catalogue
from observatory.scheduler import build_scheduler
from observatory.workspace import Workspace


def check_definitions(ws: Workspace) -> None:
    """Refuse to start on invalid KPI definitions (every problem is listed)."""
    load_catalogue(ws.kpi_dir)


def configure_logging() -> None:
    """INFO lines with time and logger name; APScheduler's own chatter only from WARNING up."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def scheduler_for(ws: Workspace, *, blocking: bool):
    """The workspace's scheduler: every enabled source on its cron schedule, and republishing when enabled."""
    extra = []
    if ws.config.publish.enabled:
        extra.append(("publish", ws.config.publish.schedule, lambda: jobs.republish_if_changed(ws)))
    return build_scheduler(
        ws, lambda name: jobs.run_source(ws, name), blocking=blocking, extra=extra,
        on_skip=lambda name: jobs.record_skipped(ws, name, "previous run of this source still going"),
    )


def _start(ws: Workspace, warn: Callable[[str], None]) -> None:
    check_definitions(ws)
    configure_logging()
    start_workspace_feed(ws, warn)


def run_scheduler(ws: Workspace, say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """Run the schedules in the foreground until Ctrl-C (the demo feed too, in a demo workspace)."""
    _start(ws, warn)
    sched = scheduler_for(ws, blocking=True)
    say(f"scheduler: {len(sched.get_jobs())} jobs; Ctrl-C to stop")
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


def serve(ws: Workspace, host: str, port: int, *, dashboard: Callable[..., None], say: Callable[[str], None],
          warn: Callable[[str], None]) -> None:
    """The scheduler in the background and `dashboard(ws, host=, port=)` in the foreground, in one process."""
    _start(ws, warn)
    sched = scheduler_for(ws, blocking=False)
    sched.start()
    say(f"dashboard: http://{host}:{port}/   public page: http://{host}:{port}/public/ja/   "
        f"scheduler: {len(sched.get_jobs())} jobs")
    try:
        dashboard(ws, host=host, port=port)
    finally:
        sched.shutdown(wait=False)
