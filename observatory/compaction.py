"""`observatory events compact`: merge the small Parquet files incremental loads leave in a month partition
of the access-event archive into one file, safely while the server runs.

The new file is written beside the archive (outside the lock), checked (same rows per run_id as the files
it replaces), then swapped in under the workspace lock: renamed into the partition and the replaced files
removed in the same hold, so no reader of the warehouse (which reads the archive under the lock) ever sees
both or neither; a journal (events.replace) lets the next opening finish a swap a killed process left
halfway. A detection run that listed the old files keeps reading them through its own hard links
(anomaly.engine.archive.pin). Files published after the listing are left for the next run, and so are the
files of a run that was never recorded (killed between publishing and recording: the next start removes them).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from observatory import events
from observatory.errors import UserError
from observatory.warehouse import for_workspace


@dataclass
class Compacted:
    month: str
    files_before: int
    rows: int
    bytes_before: int
    bytes_after: int

    def __str__(self) -> str:
        return (f"month={self.month}: {self.files_before} files -> 1, {self.rows:,} rows, "
                f"{self.bytes_before / 1e6:.1f} MB -> {self.bytes_after / 1e6:.1f} MB")


def _per_run(con: duckdb.DuckDBPyConnection, files: list[str]) -> dict:
    return dict(con.execute("SELECT run_id, count(*) FROM read_parquet(?, union_by_name = true) GROUP BY run_id",
                            [files]).fetchall())


def compact_month(warehouse, events_dir: Path, month: str, min_files: int = 2) -> Compacted | None:
    """Compact one month partition (None when it has fewer than `min_files` files)."""
    part = events_dir / f"month={month}"
    with warehouse.connect() as wcon:  # the recorded runs, then the files (a run publishes and records at once)
        recorded = {r[0] for r in wcon.execute("SELECT run_id FROM collector_runs WHERE status = 'ok'").fetchall()}
        files = sorted(str(f) for f in part.glob("*.parquet")) if part.is_dir() else []
    files = _of_recorded_runs(files, recorded)
    if len(files) < min_files:
        return None
    staging = events.staging_root(events_dir) / f"compact-{os.getpid()}-{time.time_ns()}"
    staging.mkdir(parents=True, mode=0o700)
    out = staging / f"part-compact-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**6:06d}.parquet"
    try:
        con = duckdb.connect()
        try:
            cols = ", ".join(name if name in _columns(con, files) else f"CAST(NULL AS {kind}) AS {name}"
                             for name, kind in events.COLUMNS)
            con.execute(f"COPY (SELECT {cols} FROM read_parquet(?, union_by_name = true) "
                        f"ORDER BY occurred_at, event_id) TO '{_quote(out)}' (FORMAT parquet, COMPRESSION zstd)",
                        [files])
            before, after = _per_run(con, files), _per_run(con, [str(out)])
        finally:
            con.close()
        if before != after:
            raise UserError(f"{part}: 圧縮後の行数が一致しません / rows per run_id differ after compaction "
                            f"({before} vs {after}); nothing was changed")
        bytes_before = sum(Path(f).stat().st_size for f in files)
        target = part / out.name
        with warehouse.connect():  # the swap: no reader of the archive runs while it happens
            if not all(Path(f).exists() for f in files):
                raise UserError(f"{part}: 別の圧縮が実行中です / another compaction changed the partition; "
                                "nothing was changed")
            os.chmod(out, 0o600)
            events.replace(events_dir, month, out, files)
        return Compacted(month, len(files), sum(after.values()), bytes_before, target.stat().st_size)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _of_recorded_runs(files: list[str], recorded: set[int]) -> list[str]:
    """The files all of whose events belong to recorded (ok) runs. A file of a run killed between publishing its
    events and recording them is left where it is, for the next start to remove (collectors.runs.reap_stale_runs):
    merged into the month's file, its events could no longer be told apart from the loaded ones."""
    if not files:
        return files
    con = duckdb.connect()
    try:
        runs = con.execute("SELECT filename, list(DISTINCT run_id) FILTER (WHERE run_id IS NOT NULL) "
                           "FROM read_parquet(?, filename = true, union_by_name = true) GROUP BY filename",
                           [files]).fetchall()
    finally:
        con.close()
    unrecorded = {f for f, ids in runs if not set(ids or ()) <= recorded}  # (events of no run: not a killed one's)
    return [f for f in files if f not in unrecorded]


def _columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> set[str]:
    return {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)",
                                      [files]).fetchall()}


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def compact(ws, months: list[str] | None = None, min_files: int = 2) -> list[Compacted]:
    """Compact the named months (default: every month partition with at least `min_files` files)."""
    events_dir = ws.events_dir
    _sweep(events.staging_root(events_dir))
    if months is None:
        months = sorted(p.name.split("=", 1)[1] for p in events_dir.glob("month=*") if p.is_dir()) \
            if events_dir.exists() else []
    done = []
    for month in months:
        result = compact_month(for_workspace(ws), events_dir, month, min_files)
        if result is not None:
            done.append(result)
    return done


def _sweep(staging: Path) -> None:
    """Remove the scratch directories of compactions whose process is gone (killed: a month's copy each)."""
    for d in staging.glob("compact-*"):
        pid = d.name.split("-")[1]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
