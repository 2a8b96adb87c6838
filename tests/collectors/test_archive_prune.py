"""`observatory archive prune`: files past the retention period go (rows stay, marked); plain leftovers are sealed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import collectors
from observatory.security import sealed
from tests.collectors.conftest import csv_bytes, query, write
from tests.collectors.test_usage_rates import HEADER, ROWS


def _obs(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "observatory", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=300)


def test_prune_removes_old_files_keeps_new_ones_and_seals_plain_leftovers(workspace, tmp_path: Path) -> None:
    old, new = (write(tmp_path, f"{n}.csv", csv_bytes([HEADER, *ROWS[i:i + 1]])) for i, n in enumerate(("old", "new")))
    r_old, r_new = collectors.ingest_files(workspace, "usage-rates", [old, new])
    assert r_old.status == r_new.status == "ok"
    from observatory.warehouse import for_workspace

    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE archived_files SET first_seen_at = first_seen_at - INTERVAL 500 DAY WHERE sha256 = ?",
                    [r_old.file_hashes[0]])
    paths = dict(query(workspace, "SELECT sha256, path FROM archived_files"))
    # a plain file from before encryption, and an old plain failed/ file
    legacy = workspace.archive_dir / "ab" / "cd" / ("abcd" + "0" * 60)
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"legacy,plain\n")
    failed = workspace.drop_dir / "x" / "failed"
    failed.mkdir(parents=True)
    stale = failed / "stale.csv"
    stale.write_bytes(b"old")
    os.utime(stale, (time.time() - 500 * 86400,) * 2)

    dry = _obs(workspace.home, "archive", "prune", "--dry-run")
    assert dry.returncode == 0 and "would remove 1 archived file(s)" in dry.stdout, dry.stdout + dry.stderr
    assert (workspace.home / paths[r_old.file_hashes[0]]).exists()

    done = _obs(workspace.home, "archive", "prune")
    assert done.returncode == 0, done.stderr
    assert "removed 1 archived file(s) older than 400 days" in done.stdout and "1 failed/ file(s)" in done.stdout
    assert not (workspace.home / paths[r_old.file_hashes[0]]).exists()
    assert (workspace.home / paths[r_new.file_hashes[0]]).exists()
    pruned = dict(query(workspace, "SELECT sha256, pruned_at IS NOT NULL FROM archived_files"))
    assert pruned == {r_old.file_hashes[0]: True, r_new.file_hashes[0]: False}
    assert sealed.is_sealed(legacy) and sealed.read_plain(legacy, sealed.workspace_key(workspace)) == b"legacy,plain\n"
    assert not stale.exists()
    out = tmp_path / "plain.csv"
    dec = _obs(workspace.home, "archive", "decrypt", str(workspace.home / paths[r_new.file_hashes[0]]), str(out))
    assert dec.returncode == 0 and out.read_bytes() == new.read_bytes()
