"""`observatory events compact`: a month's small files become one, rows per run_id kept, `verify` still
passes, and a reader in another process never sees duplicates or missing rows during the swap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import collectors
from observatory.backup import verify
from observatory.cli import main
from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace
from tests.collectors.conftest import ingest_killed_after_publish
from tests.collectors.test_access_log import HEADER, events

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _snapshot(ws) -> tuple[list, dict]:
    with for_workspace(ws).connect() as con:
        ids = [r[0] for r in con.execute("SELECT event_id FROM access_events ORDER BY event_id").fetchall()]
        runs = dict(con.execute("SELECT run_id, count(*) FROM access_events GROUP BY run_id").fetchall())
    return ids, runs


def _log(tmp_path, name: str, start: int):
    """An access-log file of 40 events (ids from `start`) over two months."""
    src = tmp_path / name
    src.write_text("\n".join(",".join(map(str, r)) for r in [HEADER, *events(40, start=start)]) + "\n", encoding="utf-8")
    return src


def _ingest(ws, tmp_path, n: int) -> None:
    """n incremental loads of 40 events each: n small files in each of two months."""
    for k in range(n):
        [result] = collectors.ingest_files(ws, "access-log", [_log(tmp_path, f"access-{k}.csv", start=100 * k)])
        assert result.status == "ok", result.error


def test_compact_keeps_rows_and_runs_and_readers_see_no_gap(tmp_path, capsys):
    ws, _ = init_workspace(tmp_path / "ws")
    _ingest(ws, tmp_path, 4)  # four incremental loads: four small files in each of two months
    months = sorted(p.name for p in ws.events_dir.glob("month=*"))
    assert months == ["month=2026-04", "month=2026-05"]
    assert all(len(list((ws.events_dir / m).glob("*.parquet"))) == 4 for m in months)
    ids, runs = _snapshot(ws)
    assert len(ids) == 160 and len(set(ids)) == 160 and len(runs) == 4

    # a reader in another process, counting rows under the workspace lock as the server's pages do
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from observatory.warehouse import for_workspace
        from observatory.workspace import load_workspace
        ws = load_workspace(__import__("pathlib").Path({str(ws.home)!r}))
        end = time.time() + 6
        while time.time() < end:
            with for_workspace(ws).connect() as con:
                print(*con.execute("SELECT count(*), count(DISTINCT event_id) FROM access_events").fetchone(),
                      flush=True)
    """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    with pytest.raises(SystemExit) as done:
        main(["--home", str(ws.home), "events", "compact"])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert "month=2026-04: 4 files -> 1" in out and "month=2026-05: 4 files -> 1" in out
    seen = reader.communicate(timeout=60)[0].split("\n")
    counts = {line for line in seen if line.strip()}
    assert counts == {"160 160"}, counts

    assert all(len(list((ws.events_dir / m).glob("*.parquet"))) == 1 for m in months)
    assert _snapshot(ws) == (ids, runs)
    report = verify(ws)
    assert not [p for p in report.problems if "events" in p], report.problems
    # nothing left to do: a second run changes nothing
    with pytest.raises(SystemExit):
        main(["--home", str(ws.home), "events", "compact"])
    assert "nothing to compact" in capsys.readouterr().out


def test_compaction_killed_during_the_swap_never_shows_events_twice(tmp_path, capsys):
    """SIGKILL after the compacted file is renamed in and one replaced file removed: the next opening of the
    warehouse finishes the swap (the events were shown twice, and the next compaction merged the copies)."""
    ws, _ = init_workspace(tmp_path / "ws")
    _ingest(ws, tmp_path, 3)
    ids, runs = _snapshot(ws)
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from observatory.compaction import compact
        from observatory.workspace import load_workspace
        unlink, seen = os.unlink, []
        def unlink_then_die(path, *args, **kwargs):
            unlink(path, *args, **kwargs)
            if str(path).endswith(".parquet"):
                seen.append(path)
                if len(seen) == 1:
                    os.kill(os.getpid(), signal.SIGKILL)
        os.unlink = unlink_then_die
        compact(load_workspace(Path({str(ws.home)!r})))
    """)], cwd=ROOT)
    assert killed.returncode == -9
    assert len(list(ws.events_dir.glob("month=*/*.parquet"))) > 2  # left halfway: the new file and old ones
    assert list((ws.events_dir.parent / ".staging").glob("compact-*"))  # and its scratch directory
    assert _snapshot(ws) == (ids, runs)
    assert verify(ws).ok, verify(ws).problems
    with pytest.raises(SystemExit):
        main(["--home", str(ws.home), "events", "compact"])
    assert all(len(list(p.glob("*.parquet"))) == 1 for p in ws.events_dir.glob("month=*"))
    assert _snapshot(ws) == (ids, runs)
    assert not list((ws.events_dir.parent / ".staging").glob("compact-*"))  # the killed one's swept


def test_compact_refuses_a_bad_month(tmp_path, capsys):
    ws, _ = init_workspace(tmp_path / "ws")
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(ws.home), "events", "compact", "--month", "2026-13"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "YYYY-MM" in err and len(err.strip().splitlines()) == 1


def test_compaction_leaves_the_files_of_a_run_killed_before_it_was_recorded(tmp_path, capsys):
    """An ingest killed between publishing its events and recording its run leaves files that the next start
    removes (reap_stale_runs). A compaction before that start merged them into the month's file, where they
    could no longer be told apart: the events of a run marked failed stayed for good, verify failed and the
    file would not load again. They are left out of the compaction now."""
    from pathlib import Path

    ws, _ = init_workspace(tmp_path / "ws")
    _ingest(ws, tmp_path, 2)
    ids, runs = _snapshot(ws)
    src = _log(tmp_path, "access-killed.csv", start=300)
    killed = ingest_killed_after_publish(ws.home, src)
    assert killed == -9
    assert all(len(list(p.glob("*.parquet"))) == 3 for p in ws.events_dir.glob("month=*"))
    with pytest.raises(SystemExit):
        main(["--home", str(ws.home), "events", "compact"])
    assert "2 files -> 1" in capsys.readouterr().out  # the recorded runs' files only
    [again] = collectors.ingest_files(ws, "access-log", [Path(src)])  # the next start removes the killed run's files
    assert again.status == "ok" and again.rows_loaded == 40, again.error
    assert verify(ws).ok, verify(ws).problems
    now_ids, now_runs = _snapshot(ws)
    assert len(now_ids) == len(set(now_ids)) == 120
    assert {k: v for k, v in now_runs.items() if k != again.run_id} == runs and now_runs[again.run_id] == 40


def test_files_of_events_without_a_run_are_compacted(built):
    """Events written with no run id (an archive laid out by another writer, the scenario world) belong to no
    run that was killed: their files are compacted as before (a NULL run id read as an unrecorded run left them)."""
    from observatory.compaction import compact
    from tests.anomaly import world as w

    built.event("CW1", w.TEST_DAY, 10.0, w.rid(1))
    built.flush()  # a second part in the test day's month
    month = f"month={w.TEST_DAY:%Y-%m}"
    assert len(list((built.ws.events_dir / month).glob("*.parquet"))) == 2
    done = compact(built.ws)
    assert [c.month for c in done] == [w.TEST_DAY.strftime("%Y-%m")]
    assert len(list((built.ws.events_dir / month).glob("*.parquet"))) == 1
