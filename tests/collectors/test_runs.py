"""Collector runs stopped by Ctrl-C: the run is recorded failed as interrupted, nothing of its file is loaded, a
drop file stays where it was (not sent to failed/), and the command stops with exit 130."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from collectors.runs import INTERRUPTED, _interrupted
from observatory.config import shipped_realdata_dir
from observatory.workspace import Workspace

INVENTORY = shipped_realdata_dir() / "digital_agency" / "procedures_inventory_fy2023.csv.gz"  # 75,071 rows


def _inventory(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "inventory.csv"
    with gzip.open(INVENTORY) as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    old = time.time() - 3600  # settled: a drop directory leaves younger files for the next run
    os.utime(path, (old, old))
    return path


def _interrupt_once_archived(ws: Workspace, *args: str) -> subprocess.CompletedProcess:
    """Run `observatory ARGS`, press Ctrl-C once the file is archived (its run started, its parse begun)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-m", "observatory", "--home", str(ws.home), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not any(p.is_file() for p in ws.archive_dir.rglob("*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the file was never archived"
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _runs_and_rows(ws: Workspace) -> tuple[list[tuple], int]:
    with duckdb.connect(str(ws.db_path), read_only=True) as con:
        runs = con.execute("SELECT source, status, rows_loaded, error FROM collector_runs ORDER BY run_id").fetchall()
        return runs, con.execute("SELECT count(*) FROM procedure_inventory").fetchone()[0]


def test_ctrl_c_during_ingest_marks_the_run_failed_and_loads_nothing(workspace: Workspace, tmp_path: Path):
    path = _inventory(tmp_path / "in")
    result = _interrupt_once_archived(workspace, "ingest", "procedure-inventory", str(path), "--fiscal-year", "2023")
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "中断しました / interrupted"
    assert "Traceback" not in result.stderr
    runs, rows = _runs_and_rows(workspace)
    assert runs == [("ingest:procedure-inventory", "failed", 0, INTERRUPTED)]
    assert rows == 0


def test_ctrl_c_during_collect_leaves_the_drop_file_in_place(workspace: Workspace, tmp_path: Path):
    drop = workspace.home / "drop" / "inventory"
    path = _inventory(drop)
    config = workspace.config_path
    config.write_text(config.read_text(encoding="utf-8").replace(
        "sources: []", "sources:\n  - {name: inventory_drop, kind: procedure-inventory, directory: drop/inventory, "
        "fiscal_year: 2023}"), encoding="utf-8")
    result = _interrupt_once_archived(workspace, "collect")
    assert result.returncode == 130, result.stderr
    runs, rows = _runs_and_rows(workspace)
    assert runs == [("inventory_drop", "failed", 0, INTERRUPTED)]
    assert rows == 0
    assert path.is_file() and not (drop / "failed").exists()  # a good file is not sent to failed/


def test_a_duckdb_query_stopped_by_ctrl_c_is_an_interrupt_not_a_failed_file():
    """DuckDB turns SIGINT during a query into RuntimeError('Query interrupted') and swallows the
    KeyboardInterrupt: the collectors must read it as Ctrl-C.

    A signal can be lost under a loaded test runner (seen once in CI: the query then ran to its end, 6 minutes), so
    the query is finite (2e9 rows, about 8 s on one of these cores) and a query that finishes uninterrupted is tried
    again with a new signal, at most three times; the assertion is on the first interrupted one.

    Python's own Ctrl-C handler is installed for the test, as the CLI has it, whatever an earlier test in the same
    worker left (pyspark installs its own in the main thread when a Spark session starts and leaves it there). In
    one CI run all three signals were lost and every query ran to its end; the cause was not found (with pyspark's
    handler and a live session the query is interrupted all the same), so the test now depends on no earlier one's
    handler, and a loss that remains shows as this failure, not a hang."""
    con = duckdb.connect()
    caught: BaseException | None = None
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        caught = _interrupt_a_query(con)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught is not None and _interrupted(caught)
    assert not _interrupted(RuntimeError("another failure"))


def _interrupt_a_query(con: duckdb.DuckDBPyConnection) -> BaseException | None:
    """What a query raises when SIGINT reaches the process 0.3 s into it (None if three tries all ran to their end)."""
    caught: BaseException | None = None
    for _attempt in range(3):
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        try:
            con.execute("SELECT count(*) FROM range(2000000000) t(x) WHERE x % 7 = 3").fetchall()
        except BaseException as exc:  # noqa: BLE001 - what DuckDB raises is the subject
            caught = exc
        finally:
            timer.cancel()
            timer.join()
        if caught is not None:
            break
    return caught
