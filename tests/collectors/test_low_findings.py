"""The probe's low findings (issue 11): exit codes and counters of bad files, no recompute traceback after an
access-log load, runs left `running` by a killed ingest, and the demo feed when its port is taken."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import collectors
from collectors import runs
from observatory.config import Source
from observatory.warehouse import for_workspace
from tests.collectors.conftest import csv_bytes, query, run_row, write
from tests.collectors.test_access_log import HEADER, events
from tests.collectors.test_usage_rates import HEADER as USAGE_HEADER
from tests.collectors.test_usage_rates import ROWS as USAGE_ROWS

OBS = [sys.executable, "-m", "observatory"]


def _obs(home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*OBS, "--home", str(home), *args], capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.parametrize("name,data,kind", [
    ("broken.xlsx", b"PK\x03\x04" + os.urandom(3000), "card-issuance"),
    ("notzip.xlsx", b"\x00\x01garbage\n" * 392, "card-issuance"),
    ("mixed.csv", b"a,b\n" + b"\x81\x20" * 100, "usage-rates"),
])
def test_bad_files_exit_2_and_count_no_rows_read(workspace, tmp_path: Path, name: str, data: bytes,
                                                 kind: str) -> None:
    path = write(tmp_path, name, data)
    got = _obs(workspace.home, "ingest", kind, str(path), "--period", "2026-04")
    assert got.returncode == 2, got.stdout + got.stderr
    assert "read 0, loaded 0, rejected 0" in got.stdout and name in got.stderr
    assert "Traceback" not in got.stderr


def test_a_header_error_counts_the_rows_under_it(workspace, tmp_path: Path) -> None:
    rows = [["wrong", "header"], ["1", "2"], [], ["3", "4"]]
    [r] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "h.csv", csv_bytes(rows))])
    assert r.status == "failed" and (r.rows_read, r.rows_rejected) == (2, 2)


def test_access_log_ingest_prints_no_recompute_traceback(workspace, tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", csv_bytes([HEADER, *events()]))
    got = _obs(workspace.home, "ingest", "access-log", str(path))
    assert got.returncode == 0, got.stderr
    assert "KPI recompute" not in got.stderr and "unknown table" not in got.stderr
    assert "Traceback" not in got.stderr


def test_a_killed_ingest_is_marked_failed_at_the_next_start(workspace, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="utf-8") as fh:
        fh.write(",".join(HEADER) + "\n")
        for i in range(400_000):
            fh.write(f"E{i:08d},2026-04-01T09:{i % 60:02d}:00+09:00,ST001,132063,S{i % 97},view,resident,,1,T1\n")
    proc = subprocess.Popen([*OBS, "--home", str(workspace.home), "ingest", "access-log", str(big)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = workspace.events_dir.parent / ".staging"
    deadline = time.time() + 300
    while time.time() < deadline and not (staging.is_dir() and any(staging.glob("run-*"))):
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [(run_id, status, pid)] = query(workspace, "SELECT run_id, status, pid FROM collector_runs")
    assert status == "running" and pid == proc.pid
    left = [*staging.glob(f"run-{run_id}-*"), *(workspace.home / ".work").glob(f"plain-{proc.pid}-*")]
    assert left  # what the killed run left on disk holds the file in clear
    # a live run of another process is left alone
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        with for_workspace(workspace).connect() as con:
            other = runs.start_run(con, "other", "access-log", "cli")
            con.execute("UPDATE collector_runs SET pid = ?, process_started = ? WHERE run_id = ?",
                        [sleeper.pid, runs._process_started(sleeper.pid), other.run_id])
        [r] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "a.csv",
                                                                      csv_bytes([HEADER, *events()]))])
        assert r.status == "ok", r.error
        killed = run_row(workspace, run_id)
        assert killed["status"] == "failed" and "interrupted" in killed["error"] and killed["finished_at"]
        assert not any(p.exists() for p in left)  # removed at the next start
        assert run_row(workspace, other.run_id)["status"] == "running"
    finally:
        sleeper.kill()
        sleeper.wait()
    with for_workspace(workspace).connect() as con:
        assert runs.reap_stale_runs(con) == [other.run_id]  # gone now: marked at the next start


class _Other(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"not,the,demo\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_demo_feed_never_reads_another_process_on_its_port(tmp_path: Path) -> None:
    from observatory.demo import demo_config, start_workspace_feed
    from observatory.workspace import init_workspace, load_workspace

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Other)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    taken = other.server_address[1]
    try:
        init_workspace(tmp_path / "demo", demo_config(taken))
        ws = load_workspace(tmp_path / "demo")
        feeds = ws.resolve(ws.config.demo_feed.directory)
        feeds.mkdir(parents=True, exist_ok=True)
        (feeds / "usage_rates.csv").write_bytes(csv_bytes([USAGE_HEADER, *USAGE_ROWS]))
        server = start_workspace_feed(ws)
        try:
            port = server.server_address[1]
            assert port != taken and ws.config.demo_feed.port == port
            assert load_workspace(ws.home).config.demo_feed.port == port  # saved for the scheduler
            source = ws.config.source("usage_rates_feed")
            assert source.url == f"http://127.0.0.1:{port}/usage_rates.csv"
            result = collectors.run_source(ws, Source(**{**source.model_dump(), "url": source.url}))
            assert result.status == "ok" and result.rows_loaded == 3, result.error
        finally:
            server.shutdown()
            server.server_close()
    finally:
        other.shutdown()
        other.server_close()
