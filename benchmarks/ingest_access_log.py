"""Benchmark: `ingest access-log` of N events against DuckDB's own CREATE TABLE AS SELECT * FROM read_csv.

Goal: the ingest path (archive, validate, pseudonymise, anti-join, month-partitioned Parquet) runs at >= 0.5x the
rows/s of the bare DuckDB load of the same file measured in the same run, with a peak RSS under 4 GB.
Usage: .venv/bin/python benchmarks/ingest_access_log.py [--events 5000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observatory.reference import municipalities  # noqa: E402
from observatory.reference.codes import my_number_check_digit  # noqa: E402


def individual_numbers(n: int, seed: int = 7) -> list[str]:
    """n raw Individual Numbers with valid check digits (they must be replaced at ingest)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        body = "".join(rng.choice("0123456789") for _ in range(11))
        out.append(body + str(my_number_check_digit(body)))
    return out


def generate(path: Path, events: int) -> None:
    """Write `events` access events as CSV with DuckDB (fast), 0.5% of subjects raw Individual Numbers."""
    con = duckdb.connect()
    codes = [m.code for m in municipalities()[:300]]
    con.execute("CREATE TABLE orgs AS SELECT unnest(?) AS code, generate_subscripts(?, 1) - 1 AS i", [codes, codes])
    nums = individual_numbers(500)
    con.execute("CREATE TABLE nums AS SELECT unnest(?) AS num, generate_subscripts(?, 1) - 1 AS i", [nums, nums])
    target = str(path).replace("'", "''")
    con.execute(f"""
        COPY (
            SELECT 'E' || lpad(r.range::VARCHAR, 10, '0') AS event_id,
                   strftime(TIMESTAMP '2026-04-01 00:00:00' + to_seconds((r.range * 7919) % (183 * 86400)),
                            '%Y-%m-%dT%H:%M:%S') || '+09:00' AS occurred_at,
                   'ST' || lpad(((r.range * 31) % 20000)::VARCHAR, 6, '0') AS staff_id,
                   o.code AS org_code,
                   CASE WHEN r.range % 200 = 0 THEN n.num
                        ELSE 'S' || lpad(((r.range * 7) % 400000)::VARCHAR, 8, '0') END AS subject_id,
                   ['view', 'search', 'print', 'export', 'update'][1 + (r.range % 5)::INTEGER] AS action,
                   ['resident', 'tax', 'welfare', 'pension'][1 + (r.range % 4)::INTEGER] AS record_type,
                   CASE WHEN r.range % 3 = 0 THEN 'C' || (r.range % 90000)::VARCHAR ELSE '' END AS case_id,
                   1 + (r.range % 3) AS record_count,
                   'T' || lpad((r.range % 5000)::VARCHAR, 5, '0') AS terminal_id
            FROM range({int(events)}) r
            JOIN orgs o ON o.i = r.range % 300
            JOIN nums n ON n.i = r.range % 500
            ORDER BY r.range
        ) TO '{target}' (HEADER, DELIMITER ',')""")
    con.close()


def raw_duckdb(path: Path, tmp: Path) -> tuple[float, int]:
    """Seconds and rows of DuckDB's own CREATE TABLE AS SELECT * FROM read_csv into a file database."""
    con = duckdb.connect(str(tmp / "raw.duckdb"))
    t0 = time.perf_counter()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
    seconds = time.perf_counter() - t0
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    return seconds, int(rows)


CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from observatory.workspace import init_workspace
import collectors
ws, _ = init_workspace(Path({home!r}))
t0 = time.perf_counter()
results = collectors.ingest_files(ws, "access-log", [Path({csv!r})], triggered_by="benchmark")
seconds = time.perf_counter() - t0
r = results[0]
print(json.dumps({{"seconds": seconds, "status": r.status, "error": r.error, "rows_loaded": r.rows_loaded,
                  "detail": r.detail, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def ingest(path: Path, tmp: Path) -> dict:
    """Run ingest_files on a fresh workspace in a subprocess (its own peak RSS)."""
    code = CHILD.format(root=str(ROOT), home=str(tmp / "ws"), csv=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"ingest failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-access-"))
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "access.csv"
    t0 = time.perf_counter()
    generate(path, args.events)
    print(f"events:              {args.events:,}")
    print(f"file size:           {path.stat().st_size / 1e6:,.1f} MB (generated in {time.perf_counter() - t0:.1f} s)")
    raw_s, raw_rows = raw_duckdb(path, tmp)
    print(f"raw DuckDB CTAS:     {raw_s:.2f} s, {raw_rows / raw_s:,.0f} rows/s")
    res = ingest(path, tmp)
    if res["status"] != "ok":
        raise SystemExit(f"ingest status {res['status']}: {res['error']}")
    rate = res["rows_loaded"] / res["seconds"]
    ratio = rate / (raw_rows / raw_s)
    peak_gb = res["maxrss_kb"] / 1024 / 1024
    print(f"ingest access-log:   {res['seconds']:.2f} s, {rate:,.0f} rows/s "
          f"(loaded {res['rows_loaded']:,}, Individual Numbers replaced "
          f"{res['detail'].get('individual_numbers_replaced', 0):,})")
    print(f"ratio:               {ratio:.2f}x of raw DuckDB (goal >= 0.5x) {'PASS' if ratio >= 0.5 else 'FAIL'}")
    print(f"peak memory (RSS):   {peak_gb:.2f} GB of the ingest process (goal < 4 GB) "
          f"{'PASS' if peak_gb < 4 else 'FAIL'}")
    print(f"within a minute:     {'PASS' if res['seconds'] < 60 else 'FAIL'}")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    _ = resource  # the child reads its own getrusage


if __name__ == "__main__":
    main()
