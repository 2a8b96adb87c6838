"""Demo data: the real publications shipped in realdata/ and, only where nothing is public, synthetic files.

`load` runs the demo: it stages and generates the files, feeds them through the real collectors, then computes
the KPIs, runs detection, submits the ministries' files and publishes the site (`observatory demo`).

Real: MIC's card issuance tables 2017-2022, the Digital Agency's procedure inventory (FY2023) and DX dashboards
(2024-07-12), staged byte-identical. Synthetic, and labelled so on every page (`synthetic_data`): monthly
online usage per procedure (anchored on the FY2015 rates: registration 66.3 %, social insurance 8.7 %,
employment insurance 11.9 %, labour insurance 3.1 %), procedure turnaround, access logs, rosters, cases and
ministry submissions. Nothing here writes to the warehouse itself: the files go to the demo HTTP feed and to
drop directories and the real collectors load them; submissions go through the real submission path.
"""

from __future__ import annotations

import csv
import functools
import http.server
import io
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from observatory import calendar, jobs, submissions
from observatory.config import User, shipped_realdata_dir
from observatory.errors import UserError
from observatory.kpis import load_catalogue
from observatory.reference import municipalities, prefectures
from observatory.security.users import hash_password
from observatory.workspace import SETTINGS, Workspace

JST = calendar.zone()  # the demo workspace's zone (demo_config writes the default)
USAGE_FIRST = date(2015, 4, 1)
TURNAROUND_FIRST = date(2021, 4, 1)

# (procedure_id, ministry, field, name, FY2015 monthly volume, online available since)
PROCEDURES: list[tuple[str, str, str, str, int, date | None]] = [
    ("MOJ-REG-001", "MOJ", "registration", "不動産登記申請", 900_000, USAGE_FIRST),
    ("MOJ-REG-002", "MOJ", "registration", "商業・法人登記申請", 250_000, USAGE_FIRST),
    ("MOJ-REG-003", "MOJ", "registration", "登記事項証明書交付請求", 1_600_000, USAGE_FIRST),
    ("MHLW-SI-001", "JPS", "social_insurance", "健康保険・厚生年金保険 被保険者資格取得届", 420_000, USAGE_FIRST),
    ("MHLW-SI-002", "JPS", "social_insurance", "被保険者報酬月額算定基礎届", 380_000, USAGE_FIRST),
    ("MHLW-SI-003", "JPS", "social_insurance", "被保険者賞与支払届", 300_000, USAGE_FIRST),
    ("MHLW-EI-001", "MHLW", "employment_insurance", "雇用保険被保険者資格取得届", 520_000, USAGE_FIRST),
    ("MHLW-EI-002", "MHLW", "employment_insurance", "雇用保険被保険者資格喪失届", 450_000, USAGE_FIRST),
    ("MHLW-LI-001", "MHLW", "labour_insurance", "労働保険年度更新申告", 160_000, USAGE_FIRST),
    ("MHLW-LI-002", "MHLW", "labour_insurance", "36協定届", 120_000, USAGE_FIRST),
    ("NTA-TAX-001", "NTA", "national_tax", "所得税確定申告", 1_800_000, USAGE_FIRST),
    ("NTA-TAX-002", "NTA", "national_tax", "法人税申告", 240_000, USAGE_FIRST),
    ("NTA-TAX-003", "NTA", "national_tax", "消費税申告", 260_000, USAGE_FIRST),
    ("MIC-LTX-001", "MIC", "local_tax", "給与支払報告書（特別徴収）", 700_000, USAGE_FIRST),
    ("MIC-LTX-002", "MIC", "local_tax", "法人住民税・事業税申告", 220_000, USAGE_FIRST),
    ("MLIT-OSS-001", "MLIT", "vehicle", "自動車保有関係手続（OSS）", 300_000, date(2017, 4, 1)),
    ("MOFA-PAS-001", "MOFA", "passport", "旅券切替申請", 200_000, date(2023, 3, 27)),
    ("METI-PRM-001", "METI", "permits", "補助金申請（jGrants）", 40_000, date(2020, 1, 1)),
    ("MAFF-PRM-001", "MAFF", "permits", "農業経営基盤強化関係申請", 30_000, date(2022, 4, 1)),
    ("CFA-LIF-001", "CFA", "life_events", "児童手当認定請求", 90_000, date(2019, 10, 1)),
    ("MIC-LIF-002", "MIC", "life_events", "転出届（引越しワンストップ）", 400_000, date(2023, 2, 6)),
    ("MOJ-LIF-003", "MOJ", "life_events", "死亡・相続関係手続", 110_000, None),
]
# FY2015 usage rates (published) and the level each field tends to by 2026
FIELD_RATES = {
    "registration": (0.663, 0.86), "social_insurance": (0.087, 0.68), "employment_insurance": (0.119, 0.62),
    "labour_insurance": (0.031, 0.48), "national_tax": (0.52, 0.86), "local_tax": (0.45, 0.90),
    "vehicle": (0.05, 0.55), "passport": (0.0, 0.40), "permits": (0.02, 0.60), "life_events": (0.0, 0.45),
}


def months(first: date, last: date) -> list[date]:
    """First days of every month from `first`'s to `last`'s, inclusive."""
    return calendar.periods_between(first, last, "monthly")


def _years_since(d: date, origin: date) -> float:
    return (d - origin).days / 365.25


def _logistic(t: np.ndarray, start: float, end: float, midpoint: float, steepness: float) -> np.ndarray:
    return start + (end - start) / (1 + np.exp(-steepness * (t - midpoint)))


def write_usage_rates(path: Path, last: date, seed: int = 2015) -> int:
    """Monthly online usage per procedure since FY2015 (UTF-8 CSV, English headers); returns rows."""
    rng = np.random.default_rng(seed)
    periods = months(USAGE_FIRST, last)
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ministry_code", "procedure_id", "procedure_name", "field", "period", "cases_total",
                    "cases_online", "online_available"])
        for pid, ministry, field, name, volume, since in PROCEDURES:
            r2015, r2026 = FIELD_RATES[field]
            mid = 5.0 + rng.uniform(-1.0, 2.0)
            for p in periods:
                season = 1.0 + (0.9 if field == "national_tax" and p.month in (2, 3) else 0.0)
                total = int(volume * season * rng.uniform(0.93, 1.07))
                available = since is not None and p >= since
                t = _years_since(p, USAGE_FIRST)
                if p < date(2016, 4, 1):
                    rate = r2015  # FY2015 figures are the published rates
                else:
                    rate = float(_logistic(np.array(t), r2015, r2026, mid, 0.9)) * rng.uniform(0.98, 1.02)
                online = int(round(total * min(rate, 0.99))) if available else 0
                w.writerow([ministry, pid, name, field, p.strftime("%Y-%m"), total, online,
                            "true" if available else "false"])
                rows += 1
    return rows


def write_turnaround(path: Path, last: date, seed: int = 2021, per_month: int = 700) -> int:
    """Individual procedure cases with submission/decision times and the standard processing period."""
    rng = np.random.default_rng(seed)
    procs = [("MLIT-PRM-010", "MLIT", 30), ("METI-PRM-020", "METI", 30), ("MHLW-PRM-030", "MHLW", 60),
             ("MAFF-PRM-040", "MAFF", 45), ("MOJ-REG-001", "MOJ", 10), ("MOE-PRM-050", "MOE", 60),
             ("MIC-PRM-060", "MIC", 20), ("CFA-LIF-001", "CFA", 14)]
    codes = [m.code for m in municipalities()]
    rows = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["case_ref", "procedure_id", "ministry_code", "municipality_code", "channel", "submitted_at",
                    "decided_at", "standard_days"])
        for p in months(TURNAROUND_FIRST, last):
            t = _years_since(p, TURNAROUND_FIRST)
            for k in range(per_month):
                pid, ministry, std = procs[k % len(procs)]
                online = rng.random() < 0.35 + 0.08 * t
                submitted = datetime(p.year, p.month, 1, 9, tzinfo=JST) + timedelta(
                    days=int(rng.integers(0, 28)), minutes=int(rng.integers(0, 480)))
                speed = 0.75 if online else 1.0
                days = rng.gamma(4.0, std * speed * (1.05 - 0.04 * t) / 4.0)
                decided = submitted + timedelta(days=float(days))
                decided_s = "" if decided.date() > last.replace(day=28) else decided.isoformat(timespec="seconds")
                w.writerow([f"{pid}-{p:%Y%m}-{k:05d}", pid, ministry, codes[int(rng.integers(0, len(codes)))],
                            "online" if online else ("counter" if rng.random() < 0.7 else "post"),
                            submitted.isoformat(timespec="seconds"), decided_s, std])
                rows += 1
    return rows


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        pass


def start_feed_server(directory: Path, port: int) -> http.server.ThreadingHTTPServer:
    """Serve `directory` on 127.0.0.1:`port` (loopback only) in a daemon thread; ETag-free, Last-Modified set."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="demo-feed", daemon=True).start()
    return server


# Real publications the demo loads (realdata/, byte-identical copies): which folder, which drop directory.
REAL_CARD_FEED_FILE = "all_localgovs_20221231.csv.gz"  # the newest MIC table, served by the loopback feed
REAL_INVENTORY = ("digital_agency", "procedures_inventory_fy2023.csv.gz")
REAL_DX_PREFIX = ("市区町村毎のDX進捗状況_", "都道府県のDX進捗状況_")
# Where nothing is public, the demo's data is generated; the pages label every KPI reading these as synthetic.
SYNTHETIC_TABLES = ("procedure_usage", "procedure_cases", "staff", "subjects", "cases", "access_events", "alerts",
                    "alert_history", "submission", "submission_values", "submissions")


def stage_real_files(realdata: Path, feeds: Path, drops: dict[str, Path]) -> dict[str, int]:
    """Copy the shipped real publications where the demo's sources read them: the newest MIC table to the
    loopback feed, the other MIC tables, the procedure inventory and the DX dashboards to drop directories.
    Copies are byte-identical; modification times follow name order, so drops load oldest first."""
    plan: list[tuple[Path, Path]] = []
    for f in sorted((realdata / "mic_card_issuance").glob("*.csv.gz")):
        target = feeds if f.name == REAL_CARD_FEED_FILE else drops["card_issuance"]
        plan.append((f, target / f.name))
    inventory = realdata.joinpath(*REAL_INVENTORY)
    if inventory.exists():
        plan.append((inventory, drops["procedure_inventory"] / inventory.name))
    for f in sorted((realdata / "digital_agency").glob("*.csv.gz")):
        if f.name.startswith(REAL_DX_PREFIX):
            plan.append((f, drops["municipal_dx"] / f.name))
    counts: dict[str, int] = {}
    stamp = time.time() - len(plan) - 60
    for i, (src, dst) in enumerate(plan):
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        os.utime(dst, (stamp + i, stamp + i))
        counts[dst.parent.name] = counts.get(dst.parent.name, 0) + 1
    return counts


def demo_config(feed_port: int) -> str:
    """observatory.yaml of a demo workspace: HTTP feeds on loopback and drop directories. Real publications
    where they exist (MIC card tables, the Digital Agency's inventory and DX dashboards); synthetic data,
    marked `synthetic_data`, only where nothing is public."""
    feed = f"http://127.0.0.1:{feed_port}"
    synthetic = "\n".join(f"  - {t}" for t in SYNTHETIC_TABLES)
    return f"""\
# Demo workspace: the sources below are fed by `observatory demo` (a local feed on loopback and drop folders).
# Real published files: card issuance (MIC 2017-2022), procedure inventory (Digital Agency, FY2023), DX
# dashboards (Digital Agency, 2024-07-12). Synthetic (nothing public): the tables under synthetic_data.
timezone: {calendar.DEFAULT_TIMEZONE}
demo_feed:
  directory: feeds
  port: {feed_port}
synthetic_data:
{synthetic}
sources:
  - name: usage_rates_feed
    kind: usage-rates
    url: {feed}/usage_rates.csv
    schedule: "*/15 * * * *"
    freshness_hours: 1080
  - name: card_issuance_feed
    kind: card-issuance
    url: {feed}/{REAL_CARD_FEED_FILE}
    schedule: "0 * * * *"
    freshness_hours: 1080
  - name: card_issuance_drop
    kind: card-issuance
    directory: drop/card_issuance
    schedule: "*/5 * * * *"
    freshness_hours: 1080
  - name: procedure_inventory_drop
    kind: procedure-inventory
    directory: drop/procedure_inventory
    fiscal_year: 2023
    schedule: "*/5 * * * *"
    freshness_hours: 1080
  - name: municipal_dx_drop
    kind: municipal-dx
    directory: drop/municipal_dx
    released_on: "2024-07-12"
    schedule: "*/5 * * * *"
    freshness_hours: 1080
  - name: turnaround_drop
    kind: turnaround
    directory: drop/turnaround
    schedule: "*/5 * * * *"
    freshness_hours: 1080
  - name: staff_drop
    kind: staff
    directory: drop/staff
    schedule: "*/5 * * * *"
    freshness_hours: 720
  - name: subjects_drop
    kind: subjects
    directory: drop/subjects
    schedule: "*/5 * * * *"
    freshness_hours: 720
  - name: cases_drop
    kind: cases
    directory: drop/cases
    schedule: "*/5 * * * *"
    freshness_hours: 720
  - name: access_log_drop
    kind: access-log
    directory: drop/access_log
    schedule: "*/5 * * * *"
    freshness_hours: 48
users: []
""" + SETTINGS


DEMO_SUBMITTING_MINISTRIES = ("MIC", "MHLW", "MOJ", "NTA", "METI", "MLIT", "MAFF", "MEXT", "DA", "CFA")


def submission_csv(spec, periods: list[str], entities: list[str], seed: int) -> bytes:
    """A ministry file for one KPI, built from its `submission` section (English headers, UTF-8 BOM).

    Values progress over the periods: a column bounded by another (a check `lte: [a, b]`) grows as a share of
    it, a yes/no column turns yes more often, other counts grow; each entity has its own pace.
    """
    rng = np.random.default_rng(seed)
    key = {"municipality": "municipality_code", "prefecture": "prefecture_code",
           "ministry": "ministry_code", "national": None}[spec.level]
    bounded = {c.lte[0]: c.lte[1] for c in spec.checks if c.lte}
    header = ([key] if key else []) + ["period"] + [c.name for c in spec.columns]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    pace = {e: rng.uniform(0.6, 1.4) for e in entities or ["JP"]}
    for i, period in enumerate(periods):
        progress = 1 / (1 + np.exp(-(i - len(periods) * 0.55) * 0.9))
        for entity in entities or ["JP"]:
            share = float(np.clip(progress * pace[entity] * 0.9 + 0.05, 0, 1))
            values: dict[str, object] = {}
            for col in sorted(spec.columns, key=lambda c: c.name in bounded):
                if col.type == "enum":
                    values[col.name] = col.allowed[0] if rng.random() < share else col.allowed[-1]
                elif col.name in bounded and bounded[col.name] in values:
                    values[col.name] = int(int(values[bounded[col.name]]) * share)
                elif col.type in ("integer", "number"):
                    base = 40 if spec.level != "municipality" else 800
                    values[col.name] = int(base * pace[entity] * (1 + 0.25 * i) * rng.uniform(0.8, 1.2))
                elif col.type == "percent":
                    values[col.name] = round(share * 100, 1)
                else:
                    values[col.name] = col.example or ""
            row = ([entity] if key else []) + [period] + [values[c.name] for c in spec.columns]
            w.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- the demo's run: stage and generate the files, feed them through the collectors, then the follow-ups -------

DEMO_USERS = (
    ("cio", "cio", [], None, "CIO office analyst / CIO室 分析担当"),
    ("security", "security", [], None, "Security officer / セキュリティ担当"),
    ("mic", "ministry", [], "MIC", "MIC submitter / 総務省 提出担当"),
    ("mhlw", "ministry", [], "MHLW", "MHLW submitter / 厚生労働省 提出担当"),
    ("admin", "admin", [], None, "Administrator / 管理者"),
)
ACCESS_LOG_SEED = 20261127
DROPS = ("card_issuance", "procedure_inventory", "municipal_dx", "turnaround", "staff", "subjects", "cases",
         "access_log")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def last_complete_month(today: date | None = None) -> date:
    """The month before the one `today` (default: now) is in."""
    return calendar.add_months(today or date.today(), -1)


def add_users(ws: Workspace) -> list[tuple[str, str]]:
    """The demo logins (added to observatory.yaml when missing); returns (user, password) pairs."""
    logins = []
    for username, role, roles, ministry, name in DEMO_USERS:
        password = f"{username}-demo-2026"
        logins.append((username, password))
        if ws.config.user(username) is None:
            ws.config.users.append(User(username=username, role=role, roles=roles, ministry=ministry,
                                        display_name=name, password_hash=hash_password(password)))
    ws.save_config()
    return logins


def start_workspace_feed(ws: Workspace, warn: Callable[[str], None] = _stderr) -> http.server.ThreadingHTTPServer | None:
    """Serve a demo workspace's feed directory (None elsewhere). When its port is taken, never fetch from whoever
    holds it: serve on a free port instead and point the workspace's feed sources at it (saved, so the
    scheduler uses it too)."""
    if ws.config.demo_feed is None:
        return None
    feed = ws.config.demo_feed
    try:
        return start_feed_server(ws.resolve(feed.directory), feed.port)
    except OSError as exc:
        server = start_feed_server(ws.resolve(feed.directory), 0)
        moved_to = server.server_address[1]
        old, new = f"http://127.0.0.1:{feed.port}/", f"http://127.0.0.1:{moved_to}/"
        for source in ws.config.sources:
            if source.url and source.url.startswith(old):
                source.url = new + source.url[len(old):]
        warn(f"note: 127.0.0.1:{feed.port} is in use ({exc.strerror or exc}); the demo feed serves on "
             f"127.0.0.1:{moved_to} instead / ポート {feed.port} は使用中のため {moved_to} を使います")
        feed.port = moved_to
        ws.save_config()
        return server


def generate_files(ws: Workspace, n_staff: int, days: int, access_log: Callable[..., Any],
                   say: Callable[[str], None]) -> None:
    """Stage the shipped real publications, then generate synthetic files only where nothing is public.

    `access_log(out_dir, n_staff=, days=, seed=, start=)` writes the synthetic access log, rosters, cases and
    incident labels (`anomaly.synthetic.generate`, passed in by the command)."""
    latest = last_complete_month()
    feeds = ws.resolve(ws.config.demo_feed.directory)
    feeds.mkdir(parents=True, exist_ok=True)
    drops = {k: ws.drop_dir / k for k in DROPS}
    for d in drops.values():
        d.mkdir(parents=True, exist_ok=True)
    staged = stage_real_files(shipped_realdata_dir(), feeds, drops)
    say("  real publications staged (byte-identical copies, realdata/PROVENANCE.md): "
        + ", ".join(f"{k} {n}" for k, n in staged.items()))
    steps = [
        ("usage rates feed (synthetic)", lambda: write_usage_rates(feeds / "usage_rates.csv", latest)),
        ("procedure cases (synthetic)", lambda: write_turnaround(drops["turnaround"] / "procedure_cases.csv",
                                                                  latest)),
    ]
    for label, step in steps:
        t0 = time.perf_counter()
        rows = step()
        say(f"  generated {label}: {rows:,} rows ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    tmp = ws.home / "tmp-demo-access"
    log = access_log(tmp, n_staff=n_staff, days=days, seed=ACCESS_LOG_SEED,
                     start=date.today() - timedelta(days=days))
    for name in ("staff", "subjects", "cases", "access_log"):
        src = getattr(log, name)
        src.replace(drops[name] / src.name)
    log.labels.replace(ws.home / "demo-incident-labels.csv")  # the ground truth, for judging the alerts
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"  generated synthetic access logs of {n_staff} staff over {days} days with labelled incidents "
        f"({time.perf_counter() - t0:.1f} s)")


def submit_files(ws: Workspace, say: Callable[[str], None], warn: Callable[[str], None]) -> int:
    """Ministries' files for every submittable KPI through the real submission path: MIC as itself, the
    other ministries' historical figures loaded by the CIO office on their behalf. Returns how many passed."""
    catalogue = load_catalogue(ws.kpi_dir)
    latest_fy = calendar.fiscal_year_of(last_complete_month())
    periods = [f"FY{y}" for y in range(2019, latest_fy + 1)]
    accepted = 0
    t0 = time.perf_counter()
    for n, kpi in enumerate(catalogue):
        spec = kpi.submission
        if spec is None:
            continue
        allowed = [kpi.owner, *spec.submitters]
        if spec.level == "ministry":
            senders = [(m, [m]) for m in DEMO_SUBMITTING_MINISTRIES if m in allowed]
        else:
            entities = {"municipality": [m.code for m in municipalities()],
                        "prefecture": [p.code for p in prefectures()]}.get(spec.level, [])
            senders = [(kpi.owner, entities)]
        for ministry, entities in senders:
            data = submission_csv(spec, periods, entities, seed=n * 100 + len(ministry))
            user = "mic" if ministry == "MIC" else "cio"
            outcome = submissions.submit(ws, data, filename=f"{kpi.id}_{ministry}.csv", kpi_id=kpi.id,
                                         ministry_code=ministry, user=user, origin="demo")
            accepted += outcome.status == "accepted"
            if outcome.status != "accepted":
                warn(f"  submission {kpi.id} / {ministry}: {outcome.message}")
    say(f"ministry submissions accepted: {accepted} ({time.perf_counter() - t0:.1f} s)")
    return accepted


def _feed_sources(ws: Workspace, on_run: Callable[[Any], None], warn: Callable[[str], None]) -> list:
    """Every configured source once through the real collectors, the demo feed up meanwhile."""
    server = start_workspace_feed(ws, warn)
    results = []
    try:
        for source in ws.config.sources:
            r = jobs.run_source(ws, source.name, triggered_by="demo", follow_up=False, settle_s=0)
            if r is not None:
                on_run(r)
                results.append(r)
    finally:
        if server is not None:  # `serve` starts its own feed for the scheduler
            server.shutdown()
            server.server_close()
    return results


def load(ws: Workspace, *, n_staff: int, days: int, access_log: Callable[..., Any], on_run: Callable[[Any], None],
         say: Callable[[str], None], warn: Callable[[str], None] = _stderr) -> None:
    """The whole demo chain on a demo workspace: files, collectors, KPIs, detection, submissions, public site.

    Raises UserError naming the sources that failed (after the rest has run, so the site still builds)."""
    say(f"demo workspace {ws.home}: real publications, plus synthetic data where nothing is public")
    generate_files(ws, n_staff, days, access_log, say)
    say("feeding it through the collectors:")
    results = _feed_sources(ws, on_run, warn)
    t0 = time.perf_counter()
    changed = jobs.recompute_kpis(ws)
    say(f"KPIs computed: {changed:,} values ({time.perf_counter() - t0:.1f} s)")
    say(f"detection: {jobs.detect_alerts(ws).summary()}")
    jobs.mark_followed_up(ws, results)  # recomputed and detected as a whole above
    submit_files(ws, say, warn)
    t0 = time.perf_counter()
    jobs.publish(ws)
    say(f"public site published to {ws.resolve(ws.config.publish.outdir)} ({time.perf_counter() - t0:.1f} s)")
    failed = [r.source for r in results if r.status == "failed"]
    if failed:
        raise UserError(f"デモの取得元が失敗しました / demo sources failed: {', '.join(failed)} (see `observatory status`)")
