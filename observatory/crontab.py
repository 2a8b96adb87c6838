"""Crontab expressions: the one reading of a schedule in observatory.yaml, for the configuration's check when
it loads and for the scheduler's triggers (five fields, or six with seconds first for short test schedules)."""

from __future__ import annotations

from typing import Any


def cron_trigger(expression: str, timezone: str) -> Any:
    """An APScheduler CronTrigger for the expression; ValueError naming what is wrong with it."""
    from apscheduler.triggers.cron import CronTrigger  # (apscheduler only where a schedule is read)

    fields = expression.split()
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=day_of_week, timezone=timezone)
    return CronTrigger.from_crontab(expression, timezone=timezone)


def check(expression: str) -> str:
    """The expression when it is a valid crontab (checked against UTC: the zone does not change what is valid)."""
    try:
        cron_trigger(expression, "UTC")
    except ValueError as exc:
        raise ValueError(f"実行予定 {expression!r} が不正です / schedule {expression!r} is not a valid crontab "
                         f"(minute hour day month day_of_week): {exc}") from None
    return expression
