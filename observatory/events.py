"""The access-event archive: its one layout and its one writer.

Layout: `<workspace>/events/access/month=YYYY-MM/part-<tag>[-n].parquet`, the month being the event's month in
the workspace time zone and `<tag>` the loading run's id. Every file holds COLUMNS, in that order; the view
`access_events` (observatory.warehouse) reads them in place and `observatory verify` checks them.
A writer stages month-partitioned files beside the archive (`write_staged`), then renames them into place
(`publish`), so a crash never leaves a partial file visible. Writers: the access-log collector and the
synthetic-log loader of the tests and benchmarks (anomaly.synthetic.load_generated).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb

from observatory.files import write_private

COLUMNS = (("event_id", "VARCHAR"), ("occurred_at", "TIMESTAMPTZ"), ("staff_id", "VARCHAR"),
           ("org_code", "VARCHAR"), ("subject_id", "VARCHAR"), ("action", "VARCHAR"), ("record_type", "VARCHAR"),
           ("case_id", "VARCHAR"), ("record_count", "INTEGER"), ("terminal_id", "VARCHAR"), ("run_id", "BIGINT"))
PARTITION_GLOB = "month=*/*.parquet"


def pattern(events_dir: Path) -> str:
    """The glob read_parquet reads the whole archive with."""
    return str(events_dir / "month=*" / "*.parquet")


def files(events_dir: Path) -> list[Path]:
    """Every file of the archive, in path order (none when the directory does not exist yet)."""
    return sorted(events_dir.glob(PARTITION_GLOB)) if events_dir.exists() else []


def has_files(events_dir: Path) -> bool:
    return events_dir.exists() and next(events_dir.glob(PARTITION_GLOB), None) is not None


def staging_root(events_dir: Path) -> Path:
    """Where writers stage their files before `publish` (beside the archive, so renames stay on one disk)."""
    return events_dir.parent / ".staging"


def month_sql(ts: str) -> str:
    """SQL of the partition month of timestamp expression `ts`; takes one parameter, the time zone name."""
    return f"strftime(timezone(?, {ts}), '%Y-%m')"


def write_staged(con: duckdb.DuckDBPyConnection, select: str, params: list, out_dir: Path) -> int:
    """Write `select` (COLUMNS then `month`, see `month_sql`) as month-partitioned Parquet under `out_dir`;
    returns the rows written. zstd: as fast as snappy here and ~4x smaller."""
    target = str(out_dir).replace("'", "''")  # the writer's own staging directory, not a user value
    return int(con.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet, PARTITION_BY (month), "
                           "COMPRESSION zstd)", params).fetchall()[0][0])


def publish(staged: Path, events_dir: Path, tag: str) -> list[str]:
    """Rename the files `write_staged` wrote under `staged` into place as month=YYYY-MM/part-<tag>[-n].parquet
    (never over an existing file); returns the months, in order."""
    months = []
    for part_dir in sorted(staged.glob("month=*")):
        target_dir = events_dir / part_dir.name
        target_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        for f in sorted(part_dir.glob("*.parquet")):
            while (target := target_dir / (f"part-{tag}.parquet" if n == 0 else f"part-{tag}-{n}.parquet")).exists():
                n += 1
            os.replace(f, target)
            n += 1
        months.append(part_dir.name.split("=", 1)[1])
    return months


def unpublish(events_dir: Path, tag: str) -> int:
    """Remove the files `publish` put in place for `tag` (a run whose commit never happened); returns how many."""
    own = re.compile(rf"part-{re.escape(tag)}(-\d+)?\.parquet")
    gone = 0
    for f in files(events_dir):
        if own.fullmatch(f.name):
            f.unlink(missing_ok=True)
            gone += 1
    return gone


def _journal(events_dir: Path, month: str) -> Path:
    return events_dir.parent / f".compacting-{month}.json"


def replace(events_dir: Path, month: str, new: Path, replaced: list[str]) -> Path:
    """Put `new` into month=`month` in place of the files `replaced` (call under the workspace lock). A journal
    beside the archive names them first, so a process killed between the rename and the last removal is finished
    by the next opening of the warehouse (`finish_replacements`) instead of leaving every event twice."""
    target = events_dir / f"month={month}" / new.name
    journal = _journal(events_dir, month)
    write_private(journal, json.dumps({"target": target.name, "replaced": [Path(f).name for f in replaced]}))
    os.replace(new, target)
    for f in replaced:
        os.unlink(f)
    journal.unlink()
    return target


def finish_replacements(events_dir: Path) -> int:
    """Complete the replacements a killed process left halfway (under the workspace lock): when the new file is
    in place the files it replaced go, otherwise nothing had changed. Returns how many were finished."""
    done = 0
    for journal in sorted(events_dir.parent.glob(".compacting-*.json")):
        part = events_dir / f"month={journal.name[len('.compacting-'):-len('.json')]}"
        entry = json.loads(journal.read_text(encoding="utf-8"))
        if (part / entry["target"]).exists():
            for name in entry["replaced"]:
                (part / name).unlink(missing_ok=True)
            done += 1
        journal.unlink()
    return done
