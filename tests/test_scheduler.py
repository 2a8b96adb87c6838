"""The scheduler fires configured sources on their cron schedule, records runs and skips overlaps."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from observatory import jobs
from observatory.config import Source
from observatory.errors import UserError
from observatory.scheduler import build_scheduler, cron_trigger
from observatory.warehouse import for_workspace

USAGE_CSV = (
    "ministry_code,procedure_id,procedure_name,field,period,cases_total,cases_online,online_available\n"
    "MOJ,MOJ-REG-001,不動産登記申請,registration,2026-09,1000,700,true\n"
)


def _runs(ws, source):
    with for_workspace(ws).connect() as con:
        return con.execute(
            "SELECT status, rows_loaded FROM collector_runs WHERE source = ? ORDER BY run_id", [source]
        ).fetchall()


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_bad_schedule_is_a_clear_error():
    with pytest.raises(UserError, match="schedule 'every now and then'"):
        cron_trigger("every now and then", "Asia/Tokyo")


def test_scheduler_fires_a_source_and_records_the_run(workspace):
    drop = workspace.drop_dir / "usage"
    drop.mkdir(parents=True)
    (drop / "usage.csv").write_text(USAGE_CSV, encoding="utf-8")
    old = time.time() - 60  # a file still being copied in (younger than the settle time) waits a run
    os.utime(drop / "usage.csv", (old, old))
    workspace.config.sources.append(
        Source(name="usage_drop", kind="usage-rates", directory=str(drop), schedule="*/1 * * * * *")
    )
    sched = build_scheduler(workspace, lambda name: jobs.run_source(workspace, name, follow_up=False))
    sched.start()
    try:
        assert _wait_for(lambda: any(s == "ok" for s, _ in _runs(workspace, "usage_drop")))
    finally:
        sched.shutdown(wait=True)
    statuses = [s for s, _ in _runs(workspace, "usage_drop")]
    assert statuses[0] == "ok"
    assert set(statuses[1:]) <= {"no_input", "ok"}  # later firings find the drop directory empty
    with for_workspace(workspace).connect() as con:
        assert con.execute("SELECT count(*) FROM procedure_usage").fetchone()[0] == 1
    assert not (drop / "usage.csv").exists()  # moved into the archive once loaded


def test_overlapping_run_is_skipped_and_recorded(workspace):
    workspace.config.sources.append(
        Source(name="slow", kind="usage-rates", directory="drop/slow", schedule="*/1 * * * * *")
    )
    started = threading.Event()
    release = threading.Event()
    calls = []

    def slow_run(name):
        calls.append(name)
        started.set()
        release.wait(10)

    skipped = []
    sched = build_scheduler(
        workspace, slow_run, on_skip=lambda name: (skipped.append(name),
                                                   jobs.record_skipped(workspace, name, "still going")),
    )
    sched.start()
    try:
        assert started.wait(10)
        assert _wait_for(lambda: skipped, timeout=10)
    finally:
        release.set()
        sched.shutdown(wait=True)
    assert len(calls) >= 1
    assert ("skipped", 0) in [(s, r or 0) for s, r in _runs(workspace, "slow")]


def test_run_of_a_source_already_running_in_another_process_is_skipped(workspace, tmp_path: Path):
    workspace.config.sources.append(Source(name="busy", kind="usage-rates", directory="drop/busy"))
    with jobs.source_lock(workspace, "busy") as acquired:
        assert acquired
        assert jobs.run_source(workspace, "busy") is None
    assert [s for s, _ in _runs(workspace, "busy")] == ["skipped"]
