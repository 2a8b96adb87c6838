"""The scheduler: APScheduler runs each configured source on its cron schedule, one run at a time per source.

Thin on purpose: it only decides *when*; `observatory.jobs` decides *what*. A run that would overlap a
running one of the same source (in this process or another) is skipped and recorded as `skipped`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from observatory import crontab
from observatory.errors import UserError
from observatory.workspace import Workspace

log = logging.getLogger("observatory.scheduler")


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A trigger from a crontab expression (observatory.crontab); a bad one is the user's error."""
    try:
        return crontab.cron_trigger(expression, timezone)
    except ValueError as exc:
        raise UserError(f"observatory.yaml: 実行予定 {expression!r} が不正です / schedule {expression!r}: {exc}") from None


def build_scheduler(ws: Workspace, run_source: Callable[[str], object], *, blocking: bool = False,
                    extra: Iterable[tuple[str, str, Callable[[], object]]] = (),
                    on_skip: Callable[[str], None] | None = None):
    """A scheduler with one job per enabled source calling `run_source(source_name)` on its schedule, plus
    `extra` jobs given as (job id, crontab, function)."""
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=ws.config.timezone)
    source_names = {s.name for s in ws.config.sources}
    for source in ws.config.sources:
        if not source.enabled:
            continue
        scheduler.add_job(
            run_source, cron_trigger(source.schedule, ws.config.timezone), args=[source.name], id=source.name,
            name=f"collect {source.name}", max_instances=1, coalesce=True, misfire_grace_time=300,
        )
    for job_id, expression, func in extra:
        scheduler.add_job(func, cron_trigger(expression, ws.config.timezone), id=job_id, name=job_id,
                          max_instances=1, coalesce=True, misfire_grace_time=300)

    def _listener(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("source %s: previous run still going, this run skipped", event.job_id)
            if on_skip is not None and event.job_id in source_names:
                on_skip(event.job_id)
        elif event.exception is not None:
            log.error("source %s: job failed: %s", event.job_id, event.exception)

    scheduler.add_listener(_listener, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
    return scheduler
