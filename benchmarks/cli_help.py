"""Benchmark: `observatory --help` answers in under 0.3 s (issue 13): the CLI imports a command's module only
when that command runs.

Runs the installed console script (and `--version`, and `python -c pass` for the interpreter's own start-up
on this machine) several times each in fresh processes; prints min and median wall time. Also prints the
heavy packages a `--help` run imported (there should be none).

    .venv/bin/python benchmarks/cli_help.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.3
HEAVY = ("pandas", "numpy", "duckdb", "pyarrow", "pydantic", "dash", "sklearn", "scipy", "httpx", "openpyxl", "yaml")


def timed(cmd: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of each run; CPU time says less about the other load on the machine."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def heavy_imports() -> list[str]:
    """Heavy top-level packages present after the CLI printed its help."""
    code = ("import sys\nfrom observatory.cli import cli\ntry:\n    cli.main(['--help'], standalone_mode=False)\n"
            "except SystemExit:\n    pass\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return [m for m in HEAVY if m in loaded]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    script = Path(sys.executable).with_name("observatory")
    if not script.exists():
        sys.exit(f"{script} not found: install the project first (make test)")
    rows = [("observatory --help", [str(script), "--help"]), ("observatory --version", [str(script), "--version"]),
            ("python -c pass", [sys.executable, "-c", "pass"])]
    result = {}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, cmd in rows:
        wall, cpu = timed(cmd, args.runs)
        result[label] = wall
        print(f"{label:<24} wall min {min(wall):.3f} s  median {statistics.median(wall):.3f} s  "
              f"cpu median {statistics.median(cpu):.3f} s  ({args.runs} runs)")
    heavy = heavy_imports()
    print(f"heavy packages imported by --help: {', '.join(heavy) if heavy else 'none'}")
    best = statistics.median(result["observatory --help"])
    print(f"goal: --help under {GOAL_S} s (median): {'met' if best < GOAL_S else 'NOT met'}")


if __name__ == "__main__":
    main()
