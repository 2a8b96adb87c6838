"""Detection at scale on both engines (issue 15): full detection of N events on DuckDB and on Spark local[2].

For each size the synthetic generator (anomaly.synthetic) writes a log of about N events (60 days, 33
events per staff-day, staff scaled to N), loads it into a workspace, then each engine runs a full detection
in a fresh process on its own copy of the workspace (the Parquet files hard-linked). Printed per run: wall
time, events/s, events/s per core, peak memory of the whole process tree (Python + JVM), and the load
average beside it (the machine is shared: figures are noisy). Goal: Spark local[2] within 3x of DuckDB at
20 M events, memory flat as events grow.

    .venv/bin/python benchmarks/scale.py [--sizes 5000000 20000000] [--engines duckdb spark] [--cores 2]
        [--spark-conf KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAYS = 60
EVENTS_PER_STAFF_DAY = 33.0

CHILD = """
import json, sys, time
from datetime import date
from pathlib import Path
import anomaly
from observatory.workspace import load_workspace
ws = load_workspace(Path(sys.argv[1]))
t = time.perf_counter()
r = anomaly.detect(ws, ws.config, since=date.fromisoformat(sys.argv[2]), engine=sys.argv[3])
print("RESULT " + json.dumps({"seconds": time.perf_counter() - t, "events": r.events, "staff_days": r.staff_days,
                              "alerts": len(r.created) + len(r.updated) + r.unchanged, "stages": r.stages}))
"""


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
    return total


def run_engine(home: Path, since: str, engine: str) -> dict:
    env = {**os.environ, "OBSERVATORY_SECRET": "b" * 40, "OBSERVATORY_PSEUDONYM_KEY": "p" * 40}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(home), since, engine], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    loads: list[float] = []

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            loads.append(os.getloadavg()[0])
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter()
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.join()
    if proc.returncode != 0:
        lines = [x for x in err.strip().splitlines() if "Error" in x or "error" in x] or err.strip().splitlines() or ["?"]
        return {"error": lines[-1][:400], "wall": wall}
    found = re.search(r"RESULT (\{.*\})", out)
    if found is None:  # finished without a result: say what it printed last
        tail = (err.strip() or out.strip() or "no output").splitlines()[-1]
        return {"error": f"exit {proc.returncode}, no result: {tail[:400]}", "wall": wall}
    result = json.loads(found.group(1))
    return {**result, "wall": wall, "peak_mb": peak[0] / 2**20,
            "load": sum(loads) / len(loads) if loads else os.getloadavg()[0]}


def linked_copy(src: Path, dest: Path) -> None:
    """A copy of a workspace whose Parquet files are hard links (the archive is append-only)."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.lock", "*.intent"),
                    copy_function=lambda s, d: os.link(s, d) if s.endswith(".parquet") else shutil.copy2(s, d))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5_000_000, 20_000_000])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    ap.add_argument("--cores", type=int, default=2, help="cores each engine uses (local[N], DuckDB threads)")
    ap.add_argument("--spark-memory", default="4g", help="spark.driver.memory of local mode")
    ap.add_argument("--keep", type=Path, help="keep workspaces here")
    ap.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a Spark setting for this run (repeatable), added to the engine's own (BASE_CONF)")
    args = ap.parse_args()
    if any("=" not in kv for kv in args.spark_conf):
        ap.error("--spark-conf takes KEY=VALUE")
    extra_conf = dict(kv.split("=", 1) for kv in args.spark_conf)
    if extra_conf:
        print(f"spark settings added: {extra_conf}")
    os.environ.setdefault("OBSERVATORY_SECRET", "b" * 40)
    os.environ.setdefault("OBSERVATORY_PSEUDONYM_KEY", "p" * 40)
    from anomaly.synthetic import generate, load_generated
    from observatory.warehouse import for_workspace
    from observatory.workspace import init_workspace

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="scale-"))
    rows = []
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"engines use {args.cores} cores")
    try:
        for n in args.sizes:
            staff = max(50, round(n / (DAYS * EVENTS_PER_STAFF_DAY)))
            t = time.perf_counter()
            log = generate(tmp / f"gen-{n}", n_staff=staff, days=DAYS, seed=7, events_per_staff_day=EVENTS_PER_STAFF_DAY)
            ws, _ = init_workspace(tmp / f"ws-{n}")
            with for_workspace(ws).connect() as con:
                load_generated(con, ws.events_dir, log)
            shutil.rmtree(tmp / f"gen-{n}", ignore_errors=True)
            print(f"\n{log.n_events:,} events ({staff:,} staff x {DAYS} days) generated and loaded in "
                  f"{time.perf_counter() - t:.0f} s")
            for engine in args.engines:
                home = tmp / f"ws-{n}-{engine}"
                linked_copy(ws.home, home)
                cfg = home / "observatory.yaml"
                conf = {"spark.driver.memory": args.spark_memory, "spark.local.dir": str(tmp / "spark-local"),
                        **extra_conf}
                cfg.write_text(cfg.read_text(encoding="utf-8") + (
                    f"\ndetection:\n  engine: {engine}\n  spark:\n    master: local[{args.cores}]\n    conf:\n"
                    + "".join(f"      {k}: {json.dumps(v)}\n" for k, v in conf.items())), encoding="utf-8")
                r = run_engine(home, log.start.isoformat(), engine)
                shutil.rmtree(home, ignore_errors=True)
                if "error" in r:
                    print(f"  {engine:6s}: FAILED after {r['wall']:.0f} s: {r['error']}")
                    continue
                rate = log.n_events / r["wall"]
                rows.append((n, engine, r))
                print(f"  {engine:6s}: {r['wall']:7.1f} s wall (detect {r['seconds']:.1f} s), {rate:,.0f} events/s, "
                      f"{rate / args.cores:,.0f} events/s per core, peak {r['peak_mb']:,.0f} MB, "
                      f"{r['staff_days']:,} staff-days, {r['alerts']} alerts; load average {r['load']:.2f}")
                print(f"          stages: {r['stages']}")
            shutil.rmtree(ws.home, ignore_errors=True)
        by = {(n, e): r for n, e, r in rows}
        for n in args.sizes:
            if (n, "duckdb") in by and (n, "spark") in by:
                ratio = by[(n, "spark")]["wall"] / by[(n, "duckdb")]["wall"]
                print(f"\n{n:,} events: Spark local[{args.cores}] / DuckDB = {ratio:.2f}x"
                      + (f" - goal at 20 M: within 3x: {'met' if ratio <= 3 else 'MISSED'}" if n >= 20_000_000 else ""))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
