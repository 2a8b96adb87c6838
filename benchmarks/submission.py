"""Benchmark: validate and load municipal submission files of growing size; time and peak memory per size.

Goals (issue 4): a 1,741-row municipal file validates and loads in under 1 s; a 500,000-row file in under
15 s; memory stays flat with file size (rows are streamed and staged in batches, never held as dicts).

Each size runs in a fresh subprocess so that its peak RSS is its own; the baseline RSS is measured in the same
child just before the submission (after imports and workspace set-up), and the growth over it is printed.

    .venv/bin/python benchmarks/submission.py            # sizes 1741, 50000, 200000, 500000
    .venv/bin/python benchmarks/submission.py 1741 20000  # chosen sizes
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SIZES = [1741, 50_000, 200_000, 500_000]
GOALS = {1741: 1.0, 500_000: 15.0}
KPI_ID = "bench_tax_notice"


def _kpi():
    from types import SimpleNamespace

    from observatory.kpis.submission_spec import SubmissionSpec

    spec = SubmissionSpec.model_validate({
        "level": "municipality",
        "columns": [
            {"name": "employers_total", "label_ja": "特別徴収義務者数", "type": "integer"},
            {"name": "employers_electronic", "label_ja": "電子的送付件数", "type": "integer"},
            {"name": "electronic_rate", "label_ja": "電子化率", "type": "percent", "required": False},
        ],
        "checks": [{"lte": ["employers_electronic", "employers_total"]}],
    })
    # the fields submissions read (observatory.submissions.catalogue.SubmittableKpi)
    return SimpleNamespace(id=KPI_ID, name={"ja": "ベンチマーク", "en": "Benchmark"}, owner="MIC",
                           frequency="monthly", submission=spec)


def write_file(path: Path, n_rows: int, bump: int = 0) -> None:
    """n_rows of (code, month, counts): every municipality for consecutive months back from 2025-03."""
    from observatory.reference import municipalities

    codes = [m.code for m in municipalities()]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子化率\r\n")
        written, month_index = 0, 0
        while written < n_rows:
            y, m = divmod(2025 * 12 + 2 - month_index, 12)
            period = f"{y}-{m + 1:02d}"
            for i, code in enumerate(codes):
                if written == n_rows:
                    break
                total = 100 + (i * 37 + month_index) % 5000 + (bump if i % 10 == 0 else 0)
                electronic = (total * (month_index % 97)) // 100
                fh.write(f'{code},{period},"{total:,}",{electronic},{100 * electronic / total:.1f}\r\n')
                written += 1
            month_index += 1


def run_one(n_rows: int) -> dict:
    """In this process: set up a workspace, write the file, submit it; time and RSS."""
    from observatory.submissions import submit
    from observatory.workspace import init_workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-submission-"))
    ws, _ = init_workspace(tmp / "ws", "users:\n  - {username: mic1, role: ministry, ministry: MIC}\n")
    path = tmp / f"rows_{n_rows}.csv"
    write_file(path, n_rows)
    kpis = {KPI_ID: _kpi()}
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    outcome = submit(ws, path, filename=path.name, kpi_id=KPI_ID, ministry_code="MIC", user="mic1",
                     role="ministry", origin="benchmark", kpis=kpis, today=date(2026, 1, 15))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # of the first load, before the correction
    if outcome.status != "accepted":
        raise SystemExit("\n".join(outcome.report.lines()[:10]))
    # a correction of every period: 10 % of the rows change, so the per-row diff against the first version runs
    fix = tmp / f"rows_{n_rows}_fix.csv"
    write_file(fix, n_rows, bump=1)
    start = time.perf_counter()
    corrected = submit(ws, fix, filename=fix.name, kpi_id=KPI_ID, ministry_code="MIC", user="mic1",
                       role="ministry", origin="benchmark", kpis=kpis, today=date(2026, 1, 15))
    correction_s = time.perf_counter() - start
    changed = sum(p["changed"] for p in corrected.receipt["periods"])
    if corrected.status != "accepted" or changed != sum(1 for i in range(n_rows) if (i % 1741) % 10 == 0):
        raise SystemExit(f"correction: {corrected.status}, {changed} rows changed")
    return {"correction_seconds": correction_s, "rows_changed": changed,"rows": n_rows, "bytes": path.stat().st_size, "seconds": elapsed, "cpu_seconds": cpu,
            "rows_accepted": outcome.receipt["rows_accepted"], "baseline_mb": baseline_kb / 1024,
            "peak_mb": peak_kb / 1024}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(run_one(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or DEFAULT_SIZES
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time suffers when the machine is busy)")
    print(f"{'rows':>9} {'file MB':>8} {'seconds':>8} {'cpu s':>7} {'rows/s':>9} {'baseline MB':>12} {'peak MB':>8} "
          f"{'growth MB':>10} {'correction s':>12}  goal")
    failed = False
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"{n:>9} failed: {out.stderr.strip()[-500:]}")
            failed = True
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        goal = GOALS.get(n)
        verdict = "" if goal is None else (f"< {goal:g} s {'ok' if r['seconds'] < goal else 'MISSED'}")
        failed |= goal is not None and r["seconds"] >= goal
        assert r["rows_accepted"] == n
        print(f"{n:>9} {r['bytes'] / 1e6:>8.1f} {r['seconds']:>8.2f} {r['cpu_seconds']:>7.2f} {n / r['seconds']:>9,.0f} "
              f"{r['baseline_mb']:>12.0f} {r['peak_mb']:>8.0f} {r['peak_mb'] - r['baseline_mb']:>10.0f} "
              f"{r['correction_seconds']:>12.2f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
