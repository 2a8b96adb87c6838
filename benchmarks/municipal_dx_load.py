"""Benchmark: `ingest municipal-dx` of the four Digital Agency DX dashboard files of 2024-07-12.

Goal: memory and time grow linearly with the cells of a file (1,741 columns x indicator rows), nothing quadratic.
Loads the four shipped copies into a fresh workspace (first load, then again: nothing changes), then parses the
largest file with its indicator rows repeated 1x, 2x and 4x (as unknown indicators) and reports seconds and peak
traced memory per 1,000 cells: the figures stay flat when the work is linear.
Usage: .venv/bin/python benchmarks/municipal_dx_load.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REAL = ROOT / "realdata" / "digital_agency"
FILES = sorted(REAL.glob("*DX進捗状況_*.csv.gz"))
LARGEST = REAL / "市区町村毎のDX進捗状況_行政手続のオンライン申請率.csv.gz"
RELEASED = "2024-07-12"


def _load(home: Path) -> None:
    import collectors
    from observatory.warehouse import for_workspace
    from observatory.workspace import init_workspace

    ws, _ = init_workspace(home)
    for label in ("first", "again"):
        t0 = time.perf_counter()
        results = collectors.ingest_files(ws, "municipal-dx", FILES, released_on=RELEASED, triggered_by="benchmark")
        seconds = time.perf_counter() - t0
        loaded = sum(r.rows_loaded for r in results)
        rejected = sum(r.rows_rejected for r in results)
        status = ",".join(sorted({r.status for r in results}))
        print(f"{label:5s} load of {len(FILES)} files: {seconds:6.2f} s, {loaded:,} values, {rejected} rejected, "
              f"status {status}")
    with for_workspace(ws).connect() as con:
        rows, runs = con.execute("SELECT count(*), count(DISTINCT run_id) FROM municipal_dx").fetchone()
    print(f"warehouse: {rows:,} rows in municipal_dx from {runs} run(s) (a second load rewrites none)")


def _scaled(times: int) -> bytes:
    grid = list(csv.reader(io.StringIO(gzip.decompress(LARGEST.read_bytes()).decode("utf-8-sig"), newline="")))
    body = [[g, f"{n} ({k})" if k else n, *rest] for k in range(times) for g, n, *rest in grid[1:]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([grid[0], *body])
    return buf.getvalue().encode("utf-8")


def _scaling() -> None:
    from collectors.base import ParseContext
    from collectors.municipal_dx import COLLECTOR
    from collectors.runs import parse_rows

    def parse(data: bytes) -> list:
        return parse_rows(COLLECTOR, "scaled.csv", data, ParseContext(file="scaled.csv", released_on=RELEASED))[0]

    for times in (1, 2, 4):
        data = _scaled(times)
        t0 = time.perf_counter()
        rows = parse(data)
        seconds = time.perf_counter() - t0  # timed without tracing (tracemalloc slows Python several times)
        del rows
        tracemalloc.start()
        rows = parse(data)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        per = len(rows) / 1000
        print(f"parse x{times}: {len(rows):,} cells in {seconds:6.2f} s ({seconds / per * 1000:5.1f} ms per 1,000), "
              f"peak {peak / 2**20:6.1f} MiB ({peak / per / 1024:5.1f} KiB per 1,000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="workspace directory to keep (default: a temporary one)")
    args = parser.parse_args()
    if args.keep:
        _load(args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            _load(Path(tmp) / "ws")
    _scaling()


if __name__ == "__main__":
    main()
