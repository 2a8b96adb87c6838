"""Backup and restore round trip (taken while the server answers requests), refusals under other keys or from a
damaged backup, and `observatory verify` finding damage to the event archive, the raw archive and the audit log."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import duckdb
import httpx
import pytest

import collectors
from observatory import backup
from observatory.cli import main
from observatory.security import audit
from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace, load_workspace
from tests.collectors.conftest import csv_bytes, write
from tests.collectors.test_access_log import HEADER, events
from tests.dashboards import fixtures
from tests.dashboards.server import running

KEYS = {"OBSERVATORY_SECRET": "session-" + "s" * 40, "OBSERVATORY_PSEUDONYM_KEY": "pseudonym-" + "p" * 40,
        "OBSERVATORY_ARCHIVE_KEY": "archive-" + "a" * 40}


@pytest.fixture
def keys(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return KEYS


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A workspace with KPI values, alerts and their history, an ingested access log and audit entries."""
    mp = pytest.MonkeyPatch()
    for name, value in KEYS.items():
        mp.setenv(name, value)
    try:
        home = tmp_path_factory.mktemp("backup") / "ws"
        ws, _ = init_workspace(home)
        fixtures.build(ws)
        fixture_file = next(ws.events_dir.glob("month=*/part-0.parquet"))  # hand-written: give it a run of its own
        scratch = duckdb.connect()
        scratch.execute("CREATE TABLE e AS SELECT * REPLACE (777001 AS run_id) FROM read_parquet(?)",
                        [str(fixture_file)])
        n = scratch.execute("SELECT count(*) FROM e").fetchone()[0]
        scratch.execute(f"COPY e TO '{fixture_file}' (FORMAT parquet)")
        scratch.close()
        with for_workspace(ws).connect() as con:
            con.execute("INSERT INTO collector_runs (run_id, source, kind, started_at, finished_at, status, "
                        "rows_read, rows_loaded, triggered_by) VALUES (777001, 'fixture', 'access-log', now(), "
                        "now(), 'ok', ?, ?, 'test')", [n, n])
        src = write(home.parent, "access.csv", csv_bytes([HEADER, *events(12)], "utf-8"))
        [result] = collectors.ingest_files(ws, "access-log", [src])
        assert result.status == "ok", result.error
    finally:
        mp.undo()
    return home


@pytest.fixture
def ws(template, tmp_path, keys):
    home = tmp_path / "ws"
    shutil.copytree(template, home, ignore=shutil.ignore_patterns("*.lock", "*.intent"))
    return load_workspace(home)


def _state(home: Path) -> dict:
    ws = load_workspace(home)
    with for_workspace(ws).connect() as con:
        return {
            "tables": backup.table_counts(con),
            "kpi_values": con.execute("SELECT * FROM kpi_values ORDER BY ALL").fetchall(),
            "alerts": con.execute("SELECT * EXCLUDE (updated_at) FROM alerts ORDER BY alert_id").fetchall(),
            "alert_history": con.execute("SELECT * FROM alert_history ORDER BY ALL").fetchall(),
            "events": con.execute("SELECT * FROM access_events ORDER BY event_id").fetchall(),
            "audit": con.execute("SELECT * FROM audit_log ORDER BY audit_id").fetchall(),
        }


def _browse(base: str, stop: threading.Event, seen: list[int]) -> None:
    with httpx.Client(timeout=30) as client:
        import re

        page = client.get(f"{base}/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post(f"{base}/login", data={"csrf": token, "username": "cio1",
                                           "password": fixtures.password("cio1"), "next": "/"})
        while not stop.is_set():
            seen.append(client.get(f"{base}/overview").status_code)


def _wait_for(condition, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_round_trip_while_the_server_runs(ws, tmp_path, capsys) -> None:
    target = tmp_path / "backup"
    stop, seen = threading.Event(), []
    with running(ws) as base:
        browser = threading.Thread(target=_browse, args=(base, stop, seen))
        browser.start()
        try:
            _wait_for(lambda: len(seen) >= 3)
            with pytest.raises(SystemExit) as done:
                main(["--home", str(ws.home), "backup", str(target)])
            assert done.value.code == 0
            after_backup = len(seen)
            _wait_for(lambda: len(seen) >= after_backup + 3)  # and go on answering afterwards
        finally:
            stop.set()
            browser.join(timeout=30)
    assert seen and set(seen) == {200}  # the pages kept answering
    assert "backup written to" in capsys.readouterr().out
    assert not (target / ".secrets").exists() and not list(target.rglob("OBSERVATORY_*"))
    for value in KEYS.values():  # no secret in any backed-up file
        assert not any(value.encode() in p.read_bytes() for p in target.rglob("*") if p.is_file())
    before = _state(ws.home)
    restored = tmp_path / "restored"
    with pytest.raises(SystemExit) as done:
        main(["--home", str(restored), "restore", str(target)])
    assert done.value.code == 0, capsys.readouterr()
    after = _state(restored)
    assert after["tables"] == {**before["tables"], "audit_log": after["tables"]["audit_log"]}
    for key in ("kpi_values", "alerts", "alert_history", "events"):
        assert after[key] == before[key] and after[key], key
    # the audit log as it was when the backup was taken (the server and the backup itself wrote on after it)
    assert after["audit"] and after["audit"] == before["audit"][:len(after["audit"])]
    with pytest.raises(SystemExit) as done:
        main(["--home", str(restored), "verify"])
    assert done.value.code == 0, capsys.readouterr()


@pytest.mark.parametrize("change", ["other", "missing"])
def test_restore_refuses_another_pseudonym_or_archive_key(ws, tmp_path, monkeypatch, change) -> None:
    target = tmp_path / "backup"
    backup.backup(ws, target)
    for name in ("OBSERVATORY_PSEUDONYM_KEY", "OBSERVATORY_ARCHIVE_KEY"):
        with monkeypatch.context() as mp:
            if change == "other":
                mp.setenv(name, "a-different-key-" + "z" * 40)
            else:
                mp.delenv(name)
            with pytest.raises(backup.BackupError, match=name):
                backup.restore(target, tmp_path / f"r-{name}")
            assert not (tmp_path / f"r-{name}" / "observatory.duckdb").exists()


def test_restore_under_another_session_secret_signs_everybody_out(ws, tmp_path, monkeypatch) -> None:
    target = tmp_path / "backup"
    backup.backup(ws, target)
    monkeypatch.setenv("OBSERVATORY_SECRET", "another-session-secret-" + "q" * 30)
    result = backup.restore(target, tmp_path / "r")
    assert any("OBSERVATORY_SECRET" in n for n in result.notes)


def test_restore_upgrades_a_backup_of_an_older_schema(tmp_path, keys, monkeypatch) -> None:
    """A backup taken by an older version (schema v11) restores, and is upgraded as `init` upgrades a workspace:
    the row counts are checked on the copy as backed up (the migrations add rows to schema_migrations, and the
    restore was refused after everything had been copied)."""
    from observatory import warehouse

    every = warehouse.migrations()
    with monkeypatch.context() as mp:
        mp.setattr(warehouse, "migrations", lambda: [m for m in every if m[0] <= 11])
        old, _ = init_workspace(tmp_path / "old")
        target = tmp_path / "backup"
        backup.backup(old, target)
    assert backup.read_manifest(target)["schema_version"] == 11
    result = backup.restore(target, tmp_path / "r")
    assert any("v11" in n and f"v{every[-1][0]}" in n for n in result.notes), result.notes
    with for_workspace(load_workspace(tmp_path / "r")).connect() as con:
        assert warehouse.schema_version(con) == every[-1][0]
        assert con.execute("SELECT count(*) FROM municipalities").fetchone()[0] == 1741


def test_a_restore_killed_halfway_is_refused_until_run_again(ws, tmp_path) -> None:
    """SIGKILL while restore copies: the half-restored workspace (a warehouse, no events, no archive) opened as
    if whole ('status' showed 0 events, exit 0) and a second restore was refused as 'already exists'. Now every
    command refuses it, naming the unfinished restore, and restore runs again without --force."""
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "backup"
    backup.backup(ws, target)
    home = tmp_path / "r"
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from observatory import backup
        copy, calls = backup._copy, []
        def copy_then_die(src, dst):
            copy(src, dst)
            calls.append(dst)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        backup._copy = copy_then_die
        backup.restore(Path({str(target)!r}), Path({str(home)!r}))
    """)], cwd=Path(__file__).resolve().parents[1])
    assert killed.returncode == -9 and (home / "observatory.duckdb").exists()
    with pytest.raises(SystemExit) as done:
        main(["--home", str(home), "status"])
    assert done.value.code == 2
    backup.restore(target, home)
    with pytest.raises(SystemExit) as done:
        main(["--home", str(home), "verify"])
    assert done.value.code == 0


def test_restore_refuses_a_damaged_or_incomplete_backup(ws, tmp_path) -> None:
    target = tmp_path / "backup"
    backup.backup(ws, target)
    parquet = next(target.glob("events/access/month=*/*.parquet"))
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    with pytest.raises(backup.BackupError, match="content differs"):
        backup.restore(target, tmp_path / "r1")
    (target / "manifest.json").unlink()
    with pytest.raises(backup.BackupError, match="not a complete backup"):
        backup.restore(target, tmp_path / "r2")


def _tamper(target: Path, edit) -> None:
    import json

    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _listed(path: Path) -> dict:
    import hashlib

    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "size": path.stat().st_size}


@pytest.mark.parametrize("name", ["../outside.txt", "events/../../outside.txt", "/tmp/outside.txt", "notes.txt",
                                  "events/access/./x", "archive\\..\\x"])
def test_restore_refuses_a_manifest_naming_a_file_outside_the_workspace(ws, tmp_path, name) -> None:
    """A hostile backup listing ../outside.txt with its right hash was restored to beside the workspace (any
    file the operator may write, with more '..'). Now the manifest is refused, naming the file, and nothing is
    written."""
    target = tmp_path / "backup"
    backup.backup(ws, target)
    payload = tmp_path / "payload"
    payload.write_text("planted")
    (target / "outside.txt").write_text("planted")
    _tamper(target, lambda m: m["files"].__setitem__(name, _listed(payload)))
    home = tmp_path / "deep" / "r"
    with pytest.raises(backup.BackupError, match="not a workspace file"):
        backup.restore(target, home)
    assert not home.exists() and not (home.parent / "outside.txt").exists()


def test_restore_refuses_a_link_out_of_the_backup(ws, tmp_path) -> None:
    """A link in the backup (archive/aa/link -> a file elsewhere, listed with that file's hash) was copied as
    the file it points to: any file the operator may read was pulled into the workspace."""
    target = tmp_path / "backup"
    backup.backup(ws, target)
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("not the backup's")
    (target / "archive" / "aa").mkdir(parents=True)
    (target / "archive" / "aa" / "link").symlink_to(secret)
    _tamper(target, lambda m: m["files"].__setitem__("archive/aa/link", _listed(secret)))
    with pytest.raises(backup.BackupError, match="not a regular file"):
        backup.restore(target, tmp_path / "r")
    assert not (tmp_path / "r" / "archive" / "aa" / "link").exists()


def _garbage_db(target: Path, m: dict) -> None:
    (target / "observatory.duckdb").write_bytes(b"garbage" * 100)
    m["files"]["observatory.duckdb"] = _listed(target / "observatory.duckdb")


@pytest.mark.parametrize(("edit", "says"), [
    (lambda t, m: m["files"].__setitem__(next(iter(m["files"])), 5), "expected {sha256"),
    (lambda t, m: m.pop("tables"), "'tables' must map"),
    (lambda t, m: m.__setitem__("tables", [1]), "'tables' must map"),
    (lambda t, m: m.__setitem__("secrets", ["x"]), "'secrets' must map"),
    (lambda t, m: m["files"].pop("observatory.duckdb"), "must both be listed"),
    (_garbage_db, "not a readable warehouse"),
])
def test_restore_names_what_is_wrong_with_a_tampered_manifest(ws, tmp_path, capsys, edit, says) -> None:
    """Each of these was 'internal error' (exit 70), some after the files were copied (the target left marked
    unfinished); now exit 2 naming the manifest or the file and the reason, and nothing copied."""
    target = tmp_path / "backup"
    backup.backup(ws, target)
    _tamper(target, lambda m: edit(target, m))
    home = tmp_path / "r"
    with pytest.raises(SystemExit) as done:
        main(["--home", str(home), "restore", str(target)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and says in err and "internal error" not in err, err
    assert not (home / "observatory.duckdb").exists()


def test_backup_on_a_full_disk_says_so_and_leaves_no_half_backup(ws, tmp_path, monkeypatch, capsys) -> None:
    """No space left: one line naming the file and the reason, exit 1, and the target as it was (a half backup
    was left, and the next attempt was refused as 'not empty'; the message was 'internal error OSError')."""
    import errno

    copy, calls = backup._copy, []

    def fill_up(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        copy(src, dst)

    for target in (tmp_path / "new", tmp_path / "empty"):
        if target.name == "empty":
            target.mkdir()
        calls.clear()
        monkeypatch.setattr(backup, "_copy", fill_up)
        with pytest.raises(SystemExit) as done:
            main(["--home", str(ws.home), "backup", str(target)])
        err = capsys.readouterr().err
        assert done.value.code == 1 and "ディスクの空きがありません / no space left" in err, err
        assert len(err.strip().splitlines()) == 1 and "internal error" not in err
        assert not target.exists() or not any(target.iterdir())
        monkeypatch.setattr(backup, "_copy", copy)
        backup.backup(ws, target)  # freed space: the same target is taken
        assert (target / "manifest.json").is_file()


def test_backup_refuses_a_target_that_is_not_empty(ws, tmp_path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.backup(ws, tmp_path / "full")
    with pytest.raises(backup.BackupError, match="inside the workspace"):
        backup.backup(ws, ws.home / "b")


def test_restore_refuses_to_overwrite_a_workspace(ws, tmp_path) -> None:
    target = tmp_path / "backup"
    backup.backup(ws, target)
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.restore(target, ws.home)


def _verify(ws, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(["--home", str(ws.home), "verify"])
    captured = capsys.readouterr()
    return done.value.code, captured.out + captured.err


def test_verify_passes_on_an_intact_workspace(ws, capsys) -> None:
    code, out = _verify(ws, capsys)
    assert code == 0 and "verify: ok" in out and "parquet files" in out


def test_verify_finds_a_parquet_file_gone(ws, capsys) -> None:
    ingested = [p for p in ws.events_dir.glob("month=*/*.parquet") if "part-0" not in p.name]
    ingested[0].unlink()
    code, out = _verify(ws, capsys)
    assert code == 1 and ("collector_runs says" in out or "none are in Parquet" in out)


def test_verify_finds_rows_added_to_the_event_archive(ws, capsys) -> None:
    src = next(ws.events_dir.glob("month=*/*.parquet"))
    extra = src.with_name("part-forged.parquet")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * REPLACE (999999 AS run_id) FROM read_parquet('{src}')) TO '{extra}' "
                "(FORMAT parquet)")
    con.close()
    code, out = _verify(ws, capsys)
    assert code == 1 and "run 999999" in out and "more than once" in out
    # which month holds the duplicates, and which file the unrecorded run's rows are in
    month = src.parent.name
    assert f"{month}: 重複したイベントがあります" in out and "more than once in this month" in out, out
    assert f"(in {month}/part-forged.parquet)" in out, out


def test_verify_finds_an_unreadable_parquet_file(ws, capsys) -> None:
    src = next(ws.events_dir.glob("month=*/*.parquet"))
    src.write_bytes(b"PAR1 not really parquet")
    code, out = _verify(ws, capsys)
    assert code == 1 and "unreadable Parquet" in out


def test_verify_finds_an_altered_archive_file(ws, capsys) -> None:
    with for_workspace(ws).connect() as con:
        rel = con.execute("SELECT path FROM archived_files LIMIT 1").fetchone()[0]
    path = ws.home / rel
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    code, out = _verify(ws, capsys)
    assert code == 1 and str(path) in out


def test_verify_accepts_archive_files_removed_by_retention_but_not_others(ws, capsys) -> None:
    from datetime import UTC, datetime

    with for_workspace(ws).connect() as con:
        rel = con.execute("SELECT path FROM archived_files LIMIT 1").fetchone()[0]
    (ws.home / rel).unlink()
    code, out = _verify(ws, capsys)
    assert code == 1 and "archived file missing" in out  # gone without a prune: a problem
    with for_workspace(ws).connect() as con:  # what `observatory archive prune` records
        con.execute("UPDATE archived_files SET pruned_at = ? WHERE path = ?", [datetime.now(UTC), rel])
    code, out = _verify(ws, capsys)
    assert code == 0 and "verify: ok" in out


def test_verify_finds_an_edited_or_deleted_audit_entry(ws, capsys) -> None:
    with for_workspace(ws).connect() as con:
        for i in range(5):
            audit.record(con, actor=f"analyst{i}", action="alerts.get", target=str(i))
    with for_workspace(ws).connect() as con:
        ids = [r[0] for r in con.execute("SELECT audit_id FROM audit_log ORDER BY chain_seq").fetchall()]
        con.execute("UPDATE audit_log SET actor = 'nobody' WHERE audit_id = ?", [ids[1]])
    code, out = _verify(ws, capsys)
    assert code == 1 and f"entry {ids[1]} " in out and "edited" in out
    with for_workspace(ws).connect() as con:
        con.execute("DELETE FROM audit_log WHERE audit_id = ?", [ids[3]])
        assert audit.verify_chain(con, ws.home)
    code, out = _verify(ws, capsys)
    assert code == 1 and "deleted" in out
