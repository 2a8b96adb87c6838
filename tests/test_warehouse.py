"""The warehouse: migrations upgrade in place, the workspace lock serialises processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from observatory.warehouse import LockTimeout, Warehouse, migrations, transaction


def test_migrations_are_numbered_and_contiguous():
    versions = [v for v, _, _ in migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


def test_older_workspace_is_upgraded_in_place(tmp_path: Path):
    db = tmp_path / "old.duckdb"
    first_version, name, sql = migrations()[0]
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    con.execute(sql)
    con.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, now())", [first_version, name])
    con.execute("INSERT INTO ministries (code, name_ja, name_en, kind) VALUES ('MIC', '総務省', 'MIC', 'ministry')")
    con.close()
    wh = Warehouse(db)
    with wh.connect() as c:
        applied = [r[0] for r in c.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        assert applied == [v for v, _, _ in migrations()]
        assert c.execute("SELECT name_ja FROM ministries").fetchall() == [("総務省",)]
    with wh.connect() as c:  # a second open applies nothing twice
        assert c.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(migrations())


def test_transaction_rolls_back_on_error(warehouse):
    with pytest.raises(RuntimeError), warehouse.connect() as con, transaction(con):
        con.execute("INSERT INTO ministries (code, name_ja, name_en, kind) VALUES ('ZZZ', 'x', 'x', 'x')")
        raise RuntimeError("crash between parse and commit")
    with warehouse.connect() as con:
        assert con.execute("SELECT count(*) FROM ministries WHERE code = 'ZZZ'").fetchone()[0] == 0


def _hold_lock(lock_path: Path, seconds: float) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(lock_path)!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"pid test-holder observatory serve")
        print("locked", flush=True)
        time.sleep({seconds})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_waits_for_the_lock_with_a_message(workspace, capsys):
    holder = _hold_lock(workspace.lock_path, 1.0)
    wh = Warehouse(workspace.db_path, workspace.lock_path, timeout_s=30)
    start = time.monotonic()
    with wh.connect() as con:
        assert con.execute("SELECT count(*) FROM municipalities").fetchone()[0] == 1741
    assert time.monotonic() - start >= 0.5
    assert "waiting for the workspace lock held by pid test-holder" in capsys.readouterr().err
    holder.wait()


def test_lock_timeout_is_a_clear_error(workspace):
    holder = _hold_lock(workspace.lock_path, 3.0)
    wh = Warehouse(workspace.db_path, workspace.lock_path, timeout_s=0.3, wait_message=False)
    with pytest.raises(LockTimeout, match="workspace is busy"), wh.connect():
        pass
    holder.kill()
    holder.wait()


def test_threads_share_one_connection(warehouse):
    import threading

    errors = []

    def work():
        try:
            for _ in range(20):
                with warehouse.connect() as con:
                    con.execute("SELECT count(*) FROM municipalities").fetchone()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_access_view_follows_the_parquet_archive(warehouse, workspace):
    with warehouse.connect() as con:
        assert con.execute("SELECT count(*) FROM access_events").fetchone()[0] == 0
        month = workspace.events_dir / "month=2026-10"
        month.mkdir(parents=True)
        con.execute(
            "COPY (SELECT 'e1' AS event_id, TIMESTAMPTZ '2026-10-01 09:00:00+09' AS occurred_at, 'S1' AS staff_id, "
            "'131016' AS org_code, 'p:1' AS subject_id, 'view' AS action, 'resident' AS record_type, "
            "NULL::VARCHAR AS case_id, 1 AS record_count, 'T1' AS terminal_id, 7::BIGINT AS run_id) "
            f"TO '{month / 'part-7.parquet'}' (FORMAT parquet)")
    with warehouse.connect() as con:  # the next connect sees the first file
        assert con.execute("SELECT event_id, run_id FROM access_events").fetchall() == [("e1", 7)]
        before = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'access_events'").fetchone()
    with warehouse.connect() as con:  # and leaves a fitting view alone
        assert con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'access_events'").fetchone() == before
