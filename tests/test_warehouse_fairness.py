"""The workspace lock is fair: a process that asks for it while another process serves overlapping requests
gets it once the requests already running finish, not when the traffic stops."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from observatory.warehouse import Warehouse

WRITER = """
import json, sys, time
from pathlib import Path
from observatory.warehouse import Warehouse
wh = Warehouse(Path(sys.argv[1]), wait_message=False, timeout_s=float(sys.argv[2]))
t0 = time.monotonic()
with wh.connect() as con:
    con.execute("INSERT INTO marks VALUES (?)", [time.time()])
print(json.dumps({"waits": wh.waits, "total": time.monotonic() - t0}))
"""


def _busy_readers(wh: Warehouse, stop: threading.Event, n: int = 6, hold_s: float = 0.05) -> list[threading.Thread]:
    """n threads, each always inside a request: the connection never has zero users."""
    def work(offset: float) -> None:
        time.sleep(offset)
        while not stop.is_set():
            with wh.connect() as con:
                con.execute("SELECT count(*) FROM marks").fetchall()
                with wh.connect() as inner:  # a nested use in the same thread never waits for the queue
                    inner.execute("SELECT 1").fetchall()
                time.sleep(hold_s)
    threads = [threading.Thread(target=work, args=(i * hold_s / n,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def test_a_waiting_process_gets_the_lock_while_traffic_continues(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    wh = Warehouse(db, wait_message=False)
    with wh.connect() as con:
        con.execute("CREATE TABLE marks (stamp DOUBLE)")
    stop = threading.Event()
    threads = _busy_readers(wh, stop)
    try:
        time.sleep(0.5)  # the traffic is established
        out = subprocess.run([sys.executable, "-c", WRITER, str(db), "20"], capture_output=True, text=True,
                             timeout=60)
        still_running = all(t.is_alive() for t in threads)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert out.returncode == 0, out.stderr  # without a fair lock: LockTimeout after 20 s of steady traffic
    report = json.loads(out.stdout)
    assert still_running  # it did not have to wait for the readers to stop
    with wh.connect() as con:
        assert con.execute("SELECT count(*) FROM marks").fetchone()[0] == 1
    assert report["waits"] and report["waits"][0] < 20


def test_readers_resume_after_the_writer(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    wh = Warehouse(db, wait_message=False)
    with wh.connect() as con:
        con.execute("CREATE TABLE marks (stamp DOUBLE)")
    stop = threading.Event()
    threads = _busy_readers(wh, stop, n=3)
    try:
        time.sleep(0.3)
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", WRITER, str(db), "20"], capture_output=True, text=True,
                                 timeout=60)
            assert out.returncode == 0, out.stderr
        served = []
        with wh.connect() as con:  # this process still gets its turn after the writers
            served.append(con.execute("SELECT count(*) FROM marks").fetchone()[0])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert served == [3]
