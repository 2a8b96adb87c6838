"""Where a detection run spends its time, statement by statement (issue 15): runs `anomaly.detect` on an existing
workspace with one engine and prints every relation the engine materialises, every small result it hands back
and every reference table it is given, with its seconds, then the slowest ones and the total.

The per-stage seconds of `benchmarks/scale.py` say which stage is slow; this says which statement in it. It
wraps the engine's own methods (create, frame, arrow, put, read_events) for this process only and changes
nothing in the workspace but what a detection run writes (its alerts and stored state), so run it on a copy.

    .venv/bin/python benchmarks/detect_profile.py HOME --since 2026-09-01 [--engine spark] [--top 25]

The Spark settings are the workspace's (`detection.spark` in its observatory.yaml). Measured at 20 M events
(benchmarks/scale.py's workspace, kept with a generator run) in the session of 2026-12-04 16:13 UTC: Spark
395.8 s, of which `_x_flags` (the explanation's one pass over the events with their people) 93.0 s and
`window_staff_days` 41.0 s; DuckDB 74.9 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anomaly  # noqa: E402
from anomaly.engine import Engine  # noqa: E402
from anomaly.engine.duckdb_engine import DuckDBEngine  # noqa: E402
from observatory.workspace import load_workspace  # noqa: E402

TIMED = ("create", "frame", "arrow", "put", "read_events")


def timed(cls: type[Engine], into: list[tuple[float, str, str]]) -> None:
    """Wrap the engine class's methods so that each call appends (seconds, method, what) to `into`."""
    for name in TIMED:
        original = getattr(cls, name)

        def wrapper(self, *args, _original=original, _name=name, **kwargs):
            t = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                first = args[0] if args and isinstance(args[0], str) else ""
                what = first if len(first) < 40 else " ".join(first.split())[:70]
                into.append((time.perf_counter() - t, _name, what))
                print(f"  {into[-1][0]:8.2f} {_name:11s} {what}", file=sys.stderr, flush=True)

        setattr(cls, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("home", type=Path, help="the workspace (a copy: the run writes its alerts)")
    ap.add_argument("--since", type=date.fromisoformat, required=True, help="first day of the full detection")
    ap.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    calls: list[tuple[float, str, str]] = []
    if args.engine == "spark":
        from anomaly.engine.spark_engine import SparkEngine  # pyspark only when asked for

        timed(SparkEngine, calls)
    else:
        timed(DuckDBEngine, calls)
    ws = load_workspace(args.home)
    t = time.perf_counter()
    result = anomaly.detect(ws, ws.config, since=args.since, engine=args.engine)
    total = time.perf_counter() - t
    print(f"\n{args.engine}: {total:.1f} s in all, {sum(c[0] for c in calls):.1f} s in {len(calls)} engine calls; "
          f"stages: {result.stages}")
    print(f"slowest {args.top}:")
    for seconds, method, what in sorted(calls, reverse=True)[:args.top]:
        print(f"  {seconds:8.2f} {method:11s} {what}")


if __name__ == "__main__":
    main()
