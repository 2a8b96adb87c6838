"""Does analysts' feedback help? (issue 12, part 3)

For each world (drawn by `anomaly.worlds`, as in `anomaly_robustness.py`): load it into a workspace, run the
real `anomaly.detect` over the first part of the period, then copy the workspace. In one copy an analyst
closes every alert of that first part from the world's labels (`true_positive` when the alert overlaps an
injected incident of the same staff member, else `false_positive`); the other copy is left alone (the
control). Detection then runs over the rest of the period in both, and the alerts raised there are scored
against the labels. Printed per world and pooled: alerts, precision and incident recall on the following
days, without and with the feedback.

`benign` closures (a legitimate pattern to suppress) are tested separately
(tests/anomaly/test_alerts.py::test_benign_closure_suppresses_the_same_pattern).

    .venv/bin/python benchmarks/anomaly_feedback.py                      # held-out seeds 200-207
    .venv/bin/python benchmarks/anomaly_feedback.py --seeds 100,101 --first-share 0.5
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anomaly  # noqa: E402
from anomaly.worlds import generate_world  # noqa: E402
from benchmarks.anomaly_robustness import detector_flags, ingest, match, wilson  # noqa: E402
from observatory.security import alerts as store  # noqa: E402
from observatory.warehouse import for_workspace  # noqa: E402
from observatory.workspace import init_workspace  # noqa: E402

ANALYST = store.Actor("feedback-benchmark", ("security",))
HELD_OUT = list(range(200, 208))


@dataclass
class Part:
    """Alerts first raised in the following days and the incidents that start there."""

    alerts: int = 0
    true_alerts: int = 0
    incidents: int = 0
    found: int = 0

    def add(self, other: Part) -> None:
        self.alerts += other.alerts
        self.true_alerts += other.true_alerts
        self.incidents += other.incidents
        self.found += other.found

    def precision(self) -> str:
        lo, hi = wilson(self.true_alerts, self.alerts)
        p = self.true_alerts / self.alerts if self.alerts else float("nan")
        return f"{self.true_alerts}/{self.alerts} = {p:.2f} [{lo:.2f}, {hi:.2f}]"

    def recall(self) -> str:
        r = self.found / self.incidents if self.incidents else float("nan")
        return f"{self.found}/{self.incidents} = {r:.2f}"


def close_from_labels(con, labels: pd.DataFrame) -> tuple[int, int]:
    """The analyst's verdict on every open alert: true_positive when it overlaps an injected incident."""
    flags = con.execute("SELECT alert_id, staff_id, first_seen AS first, last_seen AS last FROM alerts "
                        "WHERE status IN ('new', 'investigating') ORDER BY alert_id").df()
    flags["first"] = pd.to_datetime(flags["first"]).dt.date
    flags["last"] = pd.to_datetime(flags["last"]).dt.date
    true_rows = _true_rows(flags, labels)
    for i, alert_id in enumerate(flags["alert_id"]):
        verdict = "true_positive" if i in true_rows else "false_positive"
        store.set_status(con, ANALYST, int(alert_id), verdict, note="benchmark: from the world's labels")
    return len(true_rows), len(flags) - len(true_rows)


def _true_rows(flags: pd.DataFrame, labels: pd.DataFrame) -> set[int]:
    rows: set[int] = set()
    for i, f in flags.iterrows():
        mine = labels[labels["staff_id"] == f["staff_id"]]
        for _, lab in mine.iterrows():
            s0 = date.fromisoformat(lab["start_date"]) - timedelta(days=1)
            s1 = date.fromisoformat(lab["end_date"]) + timedelta(days=1)
            if f["first"] <= s1 and f["last"] >= s0:
                rows.add(i)
                break
    return rows


def following(con, labels: pd.DataFrame, cut: date) -> Part:
    """Alerts first seen after `cut` (the following days) and incidents starting after it."""
    flags = detector_flags(con)
    flags = flags[flags["first"] > cut].reset_index(drop=True)
    later = labels[pd.to_datetime(labels["start_date"]).dt.date > cut]
    later = later[later["strength"].isin(["typical", "strong"])] if "strength" in later else later
    out = match(flags, later, 1)
    return Part(out.alerts, len(_true_rows(flags, labels)), len(later), int(out.incidents["found"].sum()))


def run_world(seed: int, first_share: float, per_1000: float | None) -> tuple[Part, Part, dict]:
    tmp = Path(tempfile.mkdtemp(prefix="anomaly_feedback_"))
    try:
        world = generate_world(tmp / "files", seed)
        ws, _ = init_workspace(tmp / "fb")
        if per_1000 is not None:
            ws.config.alerts.per_1000_staff_days = per_1000
        ingest(ws, world)
        labels = pd.read_csv(world.labels, dtype=str)
        first = world.start
        last = first + timedelta(days=world.days - 1)
        cut = first + timedelta(days=int(world.days * first_share) - 1)
        with for_workspace(ws).connect() as con:
            anomaly.detect(con, ws.config, since=first, until=cut)
        shutil.copytree(tmp / "fb", tmp / "control")
        control, _ = init_workspace(tmp / "control")
        control.config.alerts = ws.config.alerts
        with for_workspace(ws).connect() as con:
            tp, fp = close_from_labels(con, labels)
            anomaly.detect(con, ws.config, since=cut + timedelta(days=1), until=last)
            with_feedback = following(con, labels, cut)
        with for_workspace(control).connect() as con:
            anomaly.detect(con, control.config, since=cut + timedelta(days=1), until=last)
            without = following(con, labels, cut)
        return without, with_feedback, {"closed_tp": tp, "closed_fp": fp, "staff": world.n_staff,
                                        "days": world.days, "cut": cut.isoformat()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", help="comma-separated seeds (default: held-out 200-207)")
    ap.add_argument("--first-share", type=float, default=0.5,
                    help="share of the period whose alerts the analyst closes before the rest is detected")
    ap.add_argument("--per-1000", type=float, help="alert budget per 1,000 staff-days instead of the "
                    "workspace default (a looser budget lets more false alarms through for feedback to act on)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else HELD_OUT
    pooled_without, pooled_with = Part(), Part()
    t0 = time.perf_counter()
    print("world  staff days  closed (tp/fp)  following days: precision without -> with feedback"
          "          recall (typical+strong) without -> with")
    for seed in seeds:
        without, with_fb, info = run_world(seed, args.first_share, args.per_1000)
        pooled_without.add(without)
        pooled_with.add(with_fb)
        print(f"{seed:5d} {info['staff']:6d} {info['days']:4d}  {info['closed_tp']:3d}/{info['closed_fp']:<3d}"
              f"        {without.precision():>26} -> {with_fb.precision():<26}"
              f" {without.recall():>13} -> {with_fb.recall()}", flush=True)
    print(f"pooled over {len(seeds)} worlds: precision {pooled_without.precision()} -> {pooled_with.precision()}; "
          f"recall {pooled_without.recall()} -> {pooled_with.recall()}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
