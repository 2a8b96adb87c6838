"""Benchmark: `ingest procedure-inventory` of the Digital Agency's full inventory (75,071 procedures, 38 columns).

Goal: the full file loads in under 10 s (archive, parse, validate, upsert into a fresh workspace), and the
publication's own check reproduces from the warehouse: 3,422,908,418 of 4,307,176,937 procedures done online
(79.5 %). Also times a second load of the same file (nothing changes) and reports the peak RSS of the process.
Usage: .venv/bin/python benchmarks/procedure_inventory_load.py [FILE] [--fiscal-year 2023] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT.parent / "shared" / "realdata" / "digital_agency" / "procedures_inventory_fy2023.csv"
SHIPPED_COPY = ROOT / "realdata" / "digital_agency" / "procedures_inventory_fy2023.csv.gz"
GOAL_SECONDS = 10.0
EXPECTED = {"rows": 75_071, "online": 3_422_908_418, "total": 4_307_176_937}

CHILD = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from observatory.workspace import init_workspace
from observatory.warehouse import for_workspace
import collectors
ws, _ = init_workspace(Path({home!r}))
out = {{}}
for label in ("first", "again"):
    t0 = time.perf_counter()
    r = collectors.ingest_files(ws, "procedure-inventory", [Path({file!r})], fiscal_year={fy},
                                triggered_by="benchmark")[0]
    out[label] = {{"seconds": time.perf_counter() - t0, "status": r.status, "error": r.error, "run_id": r.run_id,
                  "rows_read": r.rows_read, "rows_loaded": r.rows_loaded, "rows_rejected": r.rows_rejected,
                  "warnings": r.detail.get("warnings_total", 0)}}
with for_workspace(ws).connect() as con:
    out["check"] = con.execute(
        "SELECT count(*), sum(cases_online), sum(cases_total), count(*) FILTER (WHERE run_id = ?) "
        "FROM procedure_inventory WHERE fiscal_year = ?", [out["again"]["run_id"], {fy}]).fetchone()
out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


def ingest(path: Path, home: Path, fiscal_year: int) -> dict:
    """Two ingests of `path` into a fresh workspace, in a subprocess (its own peak RSS)."""
    code = CHILD.format(root=str(ROOT), home=str(home), file=str(path), fy=int(fiscal_year))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"ingest failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path,
                        default=DEFAULT_FILE if DEFAULT_FILE.exists() else SHIPPED_COPY)
    parser.add_argument("--fiscal-year", type=int, default=2023)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    tmp.mkdir(parents=True, exist_ok=True)
    res = ingest(args.file, tmp / "ws", args.fiscal_year)
    first, again = res["first"], res["again"]
    if first["status"] != "ok":
        raise SystemExit(f"ingest status {first['status']}: {first['error']}")
    rows, online, total, moved = res["check"]
    print(f"file:                {args.file} ({args.file.stat().st_size / 1e6:,.1f} MB)")
    print(f"load:                {first['seconds']:.2f} s, rows read {first['rows_read']:,}, loaded "
          f"{first['rows_loaded']:,}, rejected {first['rows_rejected']:,}, warnings {first['warnings']}")
    print(f"goal < {GOAL_SECONDS:g} s:          {'PASS' if first['seconds'] < GOAL_SECONDS else 'FAIL'}")
    print(f"load again:          {again['seconds']:.2f} s, status {again['status']}, rows rewritten {moved:,} "
          f"(goal 0) {'PASS' if moved == 0 else 'FAIL'}")
    print(f"peak memory (RSS):   {res['maxrss_kb'] / 1024:,.0f} MB of the ingest process")
    rate = 100.0 * online / total if total else float("nan")
    ok = (rows, online, total) == (EXPECTED["rows"], EXPECTED["online"], EXPECTED["total"]) and round(rate, 1) == 79.5
    print(f"check:               {rows:,} procedures, {online:,} of {total:,} online = {rate:.1f} % "
          f"(SOURCES.md: 75,071, 3,422,908,418 of 4,307,176,937 = 79.5 %) {'PASS' if ok else 'FAIL'}")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
