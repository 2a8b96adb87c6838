"""The access-event archive as every engine reads it: `events/access/month=YYYY-MM/*.parquet` (Hive-style
month partitions, append-only; docs/SCALE.md states the layout and its schema evolution rules).

A run lists the files of the months it needs once, under the workspace lock, and reads exactly those:
files published later are not half-seen, and compaction (`observatory events compact`) keeps a replaced
file's rows readable until no run can still be using the old list (see observatory/cli for the command)."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb

_MONTH = re.compile(r"^month=(\d{4}-\d{2})$")


def events_root(uri: str | None, events_dir: Path | None, con: duckdb.DuckDBPyConnection | None = None) -> Path | None:
    """The archive's root directory: `detection.events_uri` when set (a local path or file:// URI), else the
    workspace's events/access, else the directory the warehouse's access_events view reads."""
    if uri:
        return Path(uri.removeprefix("file://"))
    if events_dir is not None:
        return events_dir
    if con is not None:
        row = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'access_events'").fetchone()
        found = re.search(r"read_parquet\('(.*?)/month=\*/\*\.parquet'", row[0] if row else "")
        if found:
            return Path(found.group(1).replace("''", "'"))
    return None


def time_range(root: Path | None, con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime] | None:
    """The archive's first and last instants (occurred_at): the least in its first month partition and the
    greatest in its last (an event is filed under its own month), read from those two months' files, from their
    Parquet statistics where they hold them (a few ms, against 50 ms for the whole archive's two months at 5 M
    events). None when there are no files, or when either month's files hold no events."""
    parts = [files for _, files in _partitions(root) if files]
    if not parts:
        return None
    read = "FROM read_parquet($files, hive_partitioning = false, union_by_name = true)"
    first = con.execute(f"SELECT min(occurred_at) {read}", {"files": parts[0]}).fetchone()[0]
    last = con.execute(f"SELECT max(occurred_at) {read}", {"files": parts[-1]}).fetchone()[0]
    return None if first is None or last is None else (first, last)


def months(first: date, last: date) -> list[str]:
    """YYYY-MM of every month from first to last."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_files(root: Path | None, first: date, last: date) -> list[str]:
    """The Parquet files of the month partitions from first to last, in name order."""
    wanted = set(months(first, last))
    return [f for month, files in _partitions(root) if month in wanted for f in files]


def _partitions(root: Path | None) -> list[tuple[str, list[str]]]:
    """(YYYY-MM, its Parquet files in name order) of every month partition under `root`, in month order."""
    if root is None or not root.is_dir():
        return []
    out = []
    for part in sorted(root.iterdir()):
        found = _MONTH.match(part.name)
        if found and part.is_dir():
            out.append((found.group(1), [str(f) for f in sorted(part.glob("*.parquet"))]))
    return out


def pin(files: list[str], root: Path, into: Path) -> list[str]:
    """Hard links to `files` (under `root`) in the run's own directory `into`, made while the lock is held:
    the run then reads exactly the rows it listed even if `observatory events compact` swaps files
    meanwhile (a link keeps a replaced file's data until the run lets go). Where links cannot be made
    (another file system), the files are read in place."""
    out = []
    for f in files:
        src = Path(f)
        dest = into / src.relative_to(root)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.link(src, dest)
            out.append(str(dest))
        except (OSError, ValueError):
            out.append(f)
    return out


def unpin(into: Path) -> None:
    """Remove a run's links (the data of a compacted file goes with the last link)."""
    shutil.rmtree(into, ignore_errors=True)
