"""Generate a gen4 world, load it into a fresh observatory workspace, detect, export and score (issue 12).

    .venv/bin/python benchmarks/independent/run.py --seed 1 [--reuse] [--staff 1500] [--days 44] [--root DIR]

Files under --root (default /tmp/gen4-worlds): seedN/ (generated world, kept), seedN/ws (workspace, recreated each
run), seedN/alerts.jsonl, seedN/score.txt. The observatory run is the installed one beside this Python
(`observatory ingest`, `alerts detect` with the workspace defaults, `alerts export`), as a user would run it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
OBS = str(Path(sys.executable).with_name("observatory"))
ENV = dict(os.environ,
           OBSERVATORY_PSEUDONYM_KEY="gen4-test-pseudonym-key-0123456789abcdef",
           OBSERVATORY_SECRET="gen4-test-session-secret-0123456789abcdef",
           OBSERVATORY_ARCHIVE_KEY="00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
           GEN4_PW="gen4-analyst-password-xyz", OBSERVATORY_USER="gen4analyst")


def sh(args, log, timeout=3600):
    t = time.time()
    p = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=timeout)
    dt = time.time() - t
    log.write(f"$ {' '.join(map(str, args))}\n[{dt:.1f}s rc={p.returncode}]\n{p.stdout[-4000:]}\n{p.stderr[-6000:]}\n")
    log.flush()
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(map(str, args))}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p, dt


def alert_fields(a):
    """(staff_id, first day, last day, leading reason code, score) from one exported alert, whatever the names."""
    staff = a.get("staff_id") or a.get("staff") or a.get("subject_staff_id")
    lo = a.get("first_seen") or a.get("period_start") or a.get("first_day") or a.get("start") or a.get("episode_start") or a.get("day")
    hi = a.get("last_seen") or a.get("period_end") or a.get("last_day") or a.get("end") or a.get("episode_end") or lo
    reasons = a.get("reasons") or a.get("reason_codes") or []
    if isinstance(reasons, str):
        try:
            reasons = json.loads(reasons)
        except ValueError:
            reasons = [reasons]
    lead = None
    if reasons:
        r0 = reasons[0]
        lead = r0.get("code") if isinstance(r0, dict) else str(r0)
    lead = a.get("reason_code") or a.get("leading_reason") or lead
    score = a.get("score")
    return staff, str(lo)[:10], str(hi)[:10], lead, score


def score(world: Path, alerts_path: Path, out):
    labels = json.loads((world / "labels.json").read_text())
    meta = json.loads((world / "world.json").read_text())
    alerts = [json.loads(line) for line in alerts_path.read_text().splitlines() if line.strip()]
    parsed = [(a, *alert_fields(a)) for a in alerts]
    def D(s):
        return date.fromisoformat(s)

    def overlaps(lo, hi, a_lo, a_hi, slack=1):
        return D(a_lo) <= D(hi) + timedelta(slack) and D(a_hi) >= D(lo) - timedelta(slack)

    found = {}
    for lab in labels:
        hits = [p for p in parsed if p[1] == lab["staff_id"] and overlaps(lab["first_day"], lab["last_day"], p[2], p[3])]
        found[lab["incident"]] = hits
    true_alerts, false_alerts = [], []
    by_staff = defaultdict(list)
    for lab in labels:
        by_staff[lab["staff_id"]].append(lab)
    for p in parsed:
        if any(overlaps(lab["first_day"], lab["last_day"], p[2], p[3]) for lab in by_staff.get(p[1], [])):
            true_alerts.append(p)
        else:
            false_alerts.append(p)
    def pr(*x):
        return print(*x, file=out)
    n = len(labels)
    nf = sum(1 for v in found.values() if v)
    pr(f"world {world.name}: cluster {meta['cluster']}, {meta['staff']} staff, {meta['start']}..{meta['end']}, "
       f"{meta['events']:,} events, {meta['subjects']:,} subjects, {meta['cases']:,} cases, {n} incidents")
    pr(f"recall overall: {nf}/{n} = {nf / max(n, 1):.2f}")
    pr("recall per scenario:")
    sc = defaultdict(lambda: [0, 0])
    stg = defaultdict(lambda: [0, 0])
    for lab in labels:
        sc[lab["scenario"]][1] += 1
        stg[lab["strength"]][1] += 1
        if found[lab["incident"]]:
            sc[lab["scenario"]][0] += 1
            stg[lab["strength"]][0] += 1
    for k in sorted(sc):
        pr(f"  {k:22s} {sc[k][0]}/{sc[k][1]}")
    pr("recall per strength: " + ", ".join(f"{k} {stg[k][0]}/{stg[k][1]}" for k in ("weak", "typical", "strong")))
    na = len(parsed)
    pr(f"alerts: {na}; true {len(true_alerts)}, false {len(false_alerts)}; precision "
       f"{len(true_alerts) / na:.2f}" if na else "alerts: 0; precision n/a")
    sd = meta["staff_days_active"]
    pr(f"alerts per 1,000 staff-days: {1000 * na / sd:.2f} ({sd:,} active staff-days)")
    pr("false alerts (staff, days, leading reason, score):")
    notes = {"night_duty_staff": "night-duty rota", "transferred_staff": "moved unit 1 Apr", "lent_staff": "lent to counter"}
    for _a, s, lo, hi, lead, scv in sorted(false_alerts, key=lambda p: p[2]):
        tags = [v for k, v in notes.items() if s in meta.get(k, [])]
        pr(f"  {s:16s} {lo}..{hi}  {lead}  score={scv}  {'; '.join(tags)}")
    pr("missed incidents:")
    for lab in labels:
        if not found[lab["incident"]]:
            pr(f"  {lab['incident']} {lab['staff_id']:16s} {lab['scenario']:20s} {lab['strength']:8s} "
               f"{lab['first_day']}..{lab['last_day']} ({lab['n_events']} events; {lab['unit']}/{lab['role']})")
    pr("found incidents (leading reason of the matching alert):")
    for lab in labels:
        if found[lab["incident"]]:
            p = found[lab["incident"]][0]
            pr(f"  {lab['incident']} {lab['scenario']:20s} {lab['strength']:8s} -> {p[4]} score={p[5]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--reuse", action="store_true", help="skip generation, reuse worlds/seedN files")
    ap.add_argument("--score-only", action="store_true", help="only re-score the existing alerts.jsonl")
    ap.add_argument("--staff", type=int, default=1500)
    ap.add_argument("--days", type=int, default=44)
    ap.add_argument("--root", type=Path, default=Path("/tmp/gen4-worlds"), help="where the worlds are kept")
    a = ap.parse_args()
    world = a.root / f"seed{a.seed}"
    if a.score_only:
        score(world, world / "alerts.jsonl", sys.stdout)
        return
    world.mkdir(parents=True, exist_ok=True)
    log = open(world / "run.log", "a")
    timing = {}
    if not a.reuse:
        for sub in ("staff", "subjects", "cases", "access"):
            shutil.rmtree(world / sub, ignore_errors=True)
        _, timing["generate"] = sh([PY, str(HERE / "gen4.py"), "--seed", str(a.seed), "--out", str(world),
                                    "--staff", str(a.staff), "--days", str(a.days)], log)
    meta = json.loads((world / "world.json").read_text())
    ws = world / "ws"
    shutil.rmtree(ws, ignore_errors=True)
    sh([OBS, "--home", str(ws), "init"], log)
    sh([OBS, "--home", str(ws), "users", "add", "gen4analyst", "--role", "security", "--password-env", "GEN4_PW"], log)
    for kind, sub in (("staff", "staff"), ("subjects", "subjects"), ("cases", "cases"), ("access-log", "access")):
        _, timing[f"ingest {kind}"] = sh([OBS, "--home", str(ws), "ingest", kind, str(world / sub), "--user", "gen4analyst"], log)
    _, timing["detect"] = sh([OBS, "--home", str(ws), "alerts", "detect", "--since", meta["start"], "--until", meta["end"]], log)
    sh([OBS, "--home", str(ws), "alerts", "export", "--format", "jsonl", "--user", "gen4analyst", "-o",
        str(world / "alerts.jsonl")], log)
    with open(world / "score.txt", "w") as fh:
        score(world, world / "alerts.jsonl", fh)
        fh.write("timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in timing.items()) + "\n")
    print((world / "score.txt").read_text())


if __name__ == "__main__":
    main()
