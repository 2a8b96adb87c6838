"""An access-log load holds the workspace lock only to publish and commit: reading, validation,
pseudonymisation and the Parquet writing run while other processes (the dashboards) can use the warehouse."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import collectors
from tests.collectors.conftest import csv_bytes, query, write
from tests.collectors.test_access_log import HEADER, events


def _lock_is_free(lock_path: Path) -> bool:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases a lock taken here
    return True


def test_staging_runs_outside_the_workspace_lock(workspace, tmp_path: Path) -> None:
    seen: dict[str, bool] = {}

    def progress(label: str, done: int, total: int | None = None) -> None:
        step = label.rsplit(": ", 1)[-1]
        if step in ("read", "validate", "pseudonymise", "write", "commit"):
            seen[step] = _lock_is_free(workspace.lock_path)

    src = write(tmp_path, "a.csv", csv_bytes([HEADER, *events(30)], "utf-8"))
    [result] = collectors.ingest_files(workspace, "access-log", [src], progress=progress)
    assert result.status == "ok", result.error
    assert seen == {"read": True, "validate": True, "pseudonymise": True, "write": True, "commit": True}
    assert query(workspace, "SELECT count(*) FROM access_events")[0][0] == 30
    run = query(workspace, "SELECT status, rows_loaded FROM collector_runs WHERE run_id = ?", [result.run_id])
    assert run == [("ok", 30)]


def test_a_second_load_of_the_same_events_adds_nothing(workspace, tmp_path: Path) -> None:
    src = write(tmp_path, "a.csv", csv_bytes([HEADER, *events(10)], "utf-8"))
    [first] = collectors.ingest_files(workspace, "access-log", [src])
    other = write(tmp_path, "b.csv", csv_bytes([HEADER, *events(10), *events(5, start=10)], "utf-8"))
    [second] = collectors.ingest_files(workspace, "access-log", [other])
    assert (first.rows_loaded, second.rows_loaded) == (10, 5)
    assert query(workspace, "SELECT count(*), count(DISTINCT event_id) FROM access_events")[0] == (15, 15)
