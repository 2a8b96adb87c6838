"""run_source over a drop directory: loaded files move into the archive, failed ones to failed/, nothing lost."""

from __future__ import annotations

import os
from pathlib import Path

import collectors
from observatory.config import Source
from observatory.security import sealed
from tests.collectors.conftest import csv_bytes, query, run_row, write
from tests.collectors.test_usage_rates import HEADER, ROWS


def _source(directory: Path) -> Source:
    return Source(name="drop-usage", kind="usage-rates", directory=str(directory))


def test_empty_directory_is_no_input(workspace, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    result = collectors.run_source(workspace, _source(drop), settle_s=0)
    assert result.status == "no_input" and run_row(workspace, result.run_id)["status"] == "no_input"


def test_good_file_is_archived_and_removed_bad_file_goes_to_failed(workspace, tmp_path: Path) -> None:
    drop = workspace.drop_dir / "usage"
    drop.mkdir(parents=True)
    good = write(drop, "good.csv", csv_bytes([HEADER, *ROWS], "cp932"))
    good_bytes = good.read_bytes()
    bad = write(drop, "bad.csv", csv_bytes([HEADER, ROWS[0], ["MOJ", "Y", "y", "f", "2026-13", "1", "1", "1"]]))
    os.utime(bad, (1, 1))  # oldest first
    write(drop, "~$good.xlsx", b"lock")  # an Excel lock file is left alone
    result = collectors.run_source(workspace, Source(name="drop-usage", kind="usage-rates", directory="drop/usage"),
                                   settle_s=0)
    # the good file loaded: the run is ok (follow-up happens); the bad file has a failed run of its own
    assert result.status == "ok" and result.rows_loaded == 3 and len(result.file_hashes) == 1
    [failed_id] = result.detail["failed_runs"]
    failed = run_row(workspace, failed_id)
    assert failed["status"] == "failed" and failed["error"].startswith("bad.csv: row 3, column period")
    assert (failed["rows_read"], failed["rows_loaded"], failed["rows_rejected"]) == (2, 0, 2)
    assert failed["source"] == "drop-usage" and len(failed["file_hashes"]) == 1
    assert "bad.csv: row 3" in result.error and str(failed_id) in result.error
    assert sorted(p.name for p in drop.iterdir()) == ["failed", "~$good.xlsx"]
    # failed/ and the archive hold the files encrypted (issue 11): they read back only with the archive key
    key = sealed.workspace_key(workspace)
    failed_copy = drop / "failed" / "bad.csv.sealed"
    assert failed_copy.exists() and b"MOJ" not in failed_copy.read_bytes()
    archived = dict(query(workspace, "SELECT original_name, path FROM archived_files"))
    assert (workspace.home / archived["good.csv"]).read_bytes() != good_bytes
    assert sealed.read_plain(workspace.home / archived["good.csv"], key) == good_bytes
    assert sealed.read_plain(workspace.home / archived["bad.csv"], key) == sealed.read_plain(failed_copy, key)
    assert {r[0] for r in query(workspace, "SELECT run_id FROM procedure_usage")} == {result.run_id}
    assert result.detail["failed_files"] == ["failed/bad.csv.sealed"]


def test_only_bad_files_fail_the_run(workspace, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    write(drop, "bad.csv", csv_bytes([["wrong", "header"], ["1", "2"]]))
    write(drop, "bad.csv.1", b"")
    result = collectors.run_source(workspace, _source(drop), settle_s=0)
    assert result.status == "failed" and "bad.csv: row 1" in result.error
    assert sorted(p.name for p in (drop / "failed").iterdir()) == ["bad.csv.1.sealed", "bad.csv.sealed"]
    assert query(workspace, "SELECT count(*) FROM collector_runs") == [(1,)]


def test_all_good_files_load_in_one_run(workspace, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    write(drop, "a.csv", csv_bytes([HEADER, ROWS[0]]))
    write(drop, "b.csv", csv_bytes([HEADER, *ROWS[1:]], "utf-8-sig"))
    result = collectors.run_source(workspace, _source(drop), settle_s=0)
    assert result.status == "ok" and result.rows_loaded == 3 and result.error is None
    assert list(drop.iterdir()) == []
    assert {r[0] for r in query(workspace, "SELECT run_id FROM procedure_usage")} == {result.run_id}


def test_files_still_being_written_wait_for_the_next_run(workspace, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    write(drop, "fresh.csv", csv_bytes([HEADER, *ROWS]))
    waiting = collectors.run_source(workspace, _source(drop), settle_s=60)
    assert waiting.status == "no_input" and waiting.detail["files_settling"] == ["fresh.csv"]
    assert (drop / "fresh.csv").exists()
    assert collectors.run_source(workspace, _source(drop), settle_s=0).status == "ok"


def test_a_link_to_a_file_outside_the_drop_directory_is_not_read(workspace, tmp_path: Path) -> None:
    """Whoever may drop files could link to anything the observatory may read (its own secrets, the YAML holding
    password hashes): such a file was read, archived, sealed into failed/ and quoted in the run's error. The link
    is refused unread and removed; a good file beside it loads."""
    drop = workspace.drop_dir / "usage"
    drop.mkdir(parents=True)
    outside = write(tmp_path, "outside.csv", csv_bytes([HEADER, *ROWS]))
    write(drop, "good.csv", csv_bytes([HEADER, *ROWS]))
    (drop / "secret.csv").symlink_to(workspace.config_path)
    (drop / "other.csv").symlink_to(outside)
    result = collectors.run_source(workspace, Source(name="drop-usage", kind="usage-rates", directory="drop/usage"),
                                   settle_s=0)
    assert result.status == "ok" and result.rows_loaded == 3
    errors = [run_row(workspace, i)["error"] for i in result.detail["failed_runs"]]
    assert sorted(e.split(":")[0] for e in errors) == ["other.csv", "secret.csv"]
    assert all("シンボリックリンク" in e and "outside the drop directory" in e for e in errors)
    assert sorted(p.name for p in drop.iterdir()) == []  # links removed; nothing sealed into failed/
    assert outside.exists() and workspace.config_path.exists()
    assert {r[0] for r in query(workspace, "SELECT original_name FROM archived_files")} == {"good.csv"}


def test_a_file_with_a_header_alone_loads_with_a_warning_and_every_files_warnings_are_kept(workspace,
                                                                                            tmp_path: Path) -> None:
    """A file of a header alone (an export of nothing) loaded as ok with 0 rows and no word; now each such file
    has a warning naming it. A run of several files kept only the last file's warnings (each replaced the ones
    before): both are kept."""
    from collectors.runs import NO_ROWS

    drop = tmp_path / "drop"
    drop.mkdir()
    write(drop, "a.csv", csv_bytes([HEADER]))
    write(drop, "b.csv", csv_bytes([HEADER], "cp932"))
    result = collectors.run_source(workspace, _source(drop), settle_s=0)
    assert result.status == "ok" and result.rows_loaded == 0
    assert result.detail["warnings"] == [f"a.csv: {NO_ROWS}", f"b.csv: {NO_ROWS}"]
    assert result.detail["warnings_total"] == 2
    [single] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "c.csv", csv_bytes([HEADER]))])
    assert single.status == "ok" and single.detail["warnings"] == [f"c.csv: {NO_ROWS}"]
