"""Fair sharing of the warehouse (issue 11): an ingest run while 20 users browse the dashboards.

Builds the demo workspace (benchmarks/dashboard_latency.demo_workspace, or --home) and an access-log file of
--events events, then:
  1. the ingest alone (`observatory ingest access-log FILE` in a copy of the workspace);
  2. the same ingest while --users signed-in users browse over real HTTP (waitress on 127.0.0.1, the
     page router and filter callbacks, a short think time between requests).
Reports, against the goals: the ingest's wait for the workspace lock (longest single wait; goal < 1 s),
page p95 while the ingest runs (goal < 2 s), and the ingest's total time under load beside its time alone.

    .venv/bin/python benchmarks/warehouse_fairness.py [--events 300000] [--users 20] [--warmup 20]

The default size is the probe's case (an ingest of 10-16 s alone, 27 MB: within the 50 MB upload limit); larger
logs (--events 1000000, 91 MB) show how the longest hold grows with the log (detection's write).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dashboard_latency import add_users, callbacks, demo_workspace, describe, pct, sign_in  # noqa: E402
from benchmarks.ingest_access_log import generate as generate_events  # noqa: E402
from dashboards.app import make_server  # noqa: E402
from observatory.workspace import load_workspace  # noqa: E402

# Runs the real CLI and reports the workspace-lock waits and holds of that process on stderr at exit.
INGEST = """
import atexit, json, sys
from observatory import warehouse
def report():
    whs = list(warehouse._warehouses.values())
    print("LOCKSTATS " + json.dumps({"waits": [w for wh in whs for w in wh.waits],
                                     "holds": [h for wh in whs for h in wh.holds],
                                     "spans": [s for wh in whs for s in wh.spans]}), file=sys.stderr)
atexit.register(report)
from observatory.cli import main
main(sys.argv[1:])
"""


def run_ingest(home: Path, csv: Path) -> dict:
    env = {**os.environ, "OBSERVATORY_SECRET": "b" * 40, "OBSERVATORY_PSEUDONYM_KEY": "p" * 40}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", INGEST, "--home", str(home), "ingest", "access-log", str(csv)],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - t0
    stats = next((json.loads(line.split(" ", 1)[1]) for line in out.stderr.splitlines()
                  if line.startswith("LOCKSTATS ")), {"waits": [], "holds": [], "spans": []})
    if out.returncode != 0:
        raise SystemExit(f"ingest failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return {"seconds": seconds, **stats, "stdout": out.stdout.strip().splitlines()[-1:] or [""]}


class Browsing:
    """Signed-in users requesting pages and callbacks until stopped; every request's start and latency."""

    def __init__(self, base: str, data: dict, users: int) -> None:
        self.base, self.bodies, self.users = base, [b for _, b in callbacks(data)], users
        self.samples: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._user, args=(i,), daemon=True) for i in range(users)]

    def _user(self, i: int) -> None:
        rng = random.Random(i)
        with httpx.Client(timeout=120) as client:
            sign_in(client, self.base, f"bench-{i}")
            while not self.stop.is_set():
                body = rng.choice(self.bodies)
                t0 = time.time()
                try:
                    r = client.post(f"{self.base}/_dash-update-component", json=body)
                    ok = r.status_code in (200, 204)
                except httpx.HTTPError as exc:
                    ok, r = False, exc
                dt = time.time() - t0
                with self._lock:
                    self.samples.append((t0, dt))
                    if not ok:
                        self.errors.append(str(getattr(r, "status_code", r)))
                self.stop.wait(rng.uniform(0.2, 0.8))  # reading the page

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=150)

    def latencies(self, start: float, end: float) -> list[float]:
        with self._lock:
            return [dt for t0, dt in self.samples if start <= t0 <= end]

    def split(self, start: float, end: float, spans: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
        """Requests of [start, end] that overlapped one of the spans, and the others."""
        inside, outside = [], []
        with self._lock:
            for t0, dt in self.samples:
                if start <= t0 <= end:
                    hit = any(t0 < b and t0 + dt > a for a, b in spans)
                    (inside if hit else outside).append(dt)
        return inside, outside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--home", type=Path, help="a demo workspace to copy (default: build one with the CLI)")
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N": the load it measures
    os.environ.setdefault("OBSERVATORY_SECRET", "b" * 40)
    os.environ.setdefault("OBSERVATORY_PSEUDONYM_KEY", "p" * 40)
    with tempfile.TemporaryDirectory(prefix="fairness-") as tmp:
        tmp_path = Path(tmp)
        ws = load_workspace(demo_workspace(args.home, tmp_path))
        add_users(ws, args.users)
        data = describe(ws)
        csv = tmp_path / "events.csv"
        generate_events(csv, args.events)
        alone_home = tmp_path / "ws-alone"
        shutil.copytree(ws.home, alone_home, ignore=shutil.ignore_patterns("*.lock", "*.intent"))
        print(f"workspace: {data['kpi_values']:,} KPI values; access log: {args.events:,} events "
              f"({csv.stat().st_size / 1e6:.0f} MB)")

        alone = run_ingest(alone_home, csv)
        print(f"ingest alone: {alone['seconds']:.1f} s (lock waits max {max(alone['waits'], default=0):.3f} s, "
              f"longest hold {max(alone['holds'], default=0):.2f} s)")

        server = make_server(ws, host="127.0.0.1", port=0, threads=8)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"
        browsing = Browsing(base, data, args.users)
        try:
            browsing.start()
            time.sleep(args.warmup)
            before = browsing.latencies(time.time() - args.warmup / 2, time.time())
            t_start = time.time()
            loaded = run_ingest(ws.home, csv)
            t_end = time.time()
            time.sleep(2)
        finally:
            browsing.finish()
            server.close()
            time.sleep(1.5)  # the server's connection keeper lets go of the warehouse before the process exits
        during = browsing.latencies(t_start, t_end)
        wait_max = max(loaded["waits"], default=0.0)
        p95 = pct(during, 0.95) if during else float("nan")
        print(f"pages before the ingest: {len(before)} requests, p95 {pct(before, 0.95):.3f} s" if before else
              "pages before the ingest: none")
        print(f"ingest under load: {loaded['seconds']:.1f} s (alone {alone['seconds']:.1f} s, "
              f"x{loaded['seconds'] / alone['seconds']:.2f}); {loaded['stdout'][0]}")
        print(f"ingest's wait for the lock: longest {wait_max:.3f} s, total {sum(loaded['waits']):.3f} s over "
              f"{len(loaded['waits'])} acquisitions - goal < 1 s: {'met' if wait_max < 1 else 'MISSED'}")
        long_holds = sorted((h for h in loaded["holds"] if h >= 0.2), reverse=True)
        print(f"ingest's holds of the lock >= 0.2 s: {', '.join(f'{h:.2f}' for h in long_holds) or 'none'} "
              f"(alone: {', '.join(f'{h:.2f}' for h in sorted(alone['holds'], reverse=True) if h >= 0.2)})")
        print(f"pages during the ingest: {len(during)} requests, p50 {pct(during, 0.5):.3f} s, p95 {p95:.3f} s, "
              f"max {max(during, default=0):.3f} s - goal p95 < 2 s: {'met' if p95 < 2 else 'MISSED'}")
        longest = max(loaded["spans"], key=lambda s: s[1] - s[0], default=None)
        if longest is not None:
            inside, outside = browsing.split(t_start, t_end, [tuple(longest)])
            print(f"  of which overlapping the ingest's longest hold ({longest[1] - longest[0]:.1f} s): "
                  f"{len(inside)} requests, p95 {pct(inside, 0.95) if inside else float('nan'):.3f} s; "
                  f"the rest of the ingest: {len(outside)} requests, "
                  f"p95 {pct(outside, 0.95) if outside else float('nan'):.3f} s")
        print(f"request errors: {len(browsing.errors)}" + (f" ({browsing.errors[:5]})" if browsing.errors else ""))


if __name__ == "__main__":
    main()
