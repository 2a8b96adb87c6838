"""Demo data: a realistic national sample, written as the files ministries publish, for the real collectors.

Anchored on published figures: FY2015 online usage rates (registration 66.3 %, social insurance 8.7 %,
employment insurance 11.9 %, labour insurance 3.1 %) and My Number Card 11.82 million applications and
9.09 million cards issued as of 2016-11-09; then plausible growth to 2026 by municipality. Nothing here
inserts into the warehouse: the files go to the demo HTTP feed and to drop directories.
"""

from __future__ import annotations

import csv
import functools
import http.server
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from observatory import calendar
from observatory.reference import municipalities, prefectures
from observatory.workspace import SETTINGS

JST = timezone(timedelta(hours=9))
CARD_FIRST = date(2016, 11, 1)
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


@dataclass
class CardModel:
    codes: list[str]
    populations: np.ndarray
    uptake: np.ndarray  # municipality factor around 1.0


def card_model(seed: int = 2016) -> CardModel:
    rng = np.random.default_rng(seed)
    munis = municipalities()
    # cities are larger than towns, towns than villages; Tokyo's special wards are large
    mean = np.array([12.3 if m.name_ja.endswith("区") else 11.1 if m.name_ja.endswith("市")
                     else 8.3 if m.name_ja.endswith("村") else 9.5 for m in munis])
    pops = rng.lognormal(mean=mean, sigma=0.8)
    pops = np.round(pops / pops.sum() * 124_300_000).astype(np.int64)
    pops = np.maximum(pops, 160)
    uptake = np.clip(rng.normal(1.0, 0.09, size=len(munis)), 0.7, 1.25)
    return CardModel([m.code for m in munis], pops, uptake)


def card_series(model: CardModel, period: date) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(population, applications, issued, held) of every municipality at the end of `period`."""
    t = _years_since(period, CARD_FIRST)
    growth = 1.0 + 0.0002 * t
    pop = np.round(model.populations * (1 - 0.004 * t) * growth).astype(np.int64)
    # national holding rate: 7.3 % in Nov 2016 -> ~80 % by 2026, fastest in 2022 (points campaign)
    held_rate = float(_logistic(np.array(t), 0.0, 0.82, 5.4, 1.5)) + 0.073 * (1 - t / 10)
    held_rate = max(held_rate, 0.073)
    held = np.round(pop * np.clip(held_rate * model.uptake, 0, 0.97)).astype(np.int64)
    backlog_share = 0.30 * np.exp(-t / 2.2) + 0.015
    issued = np.round(held * (1.0 + 0.01 * t / 10)).astype(np.int64)
    applications = np.round(issued * (1 + backlog_share)).astype(np.int64)
    if period == CARD_FIRST:  # as of 2016-11-09: 11.82 M applications, 9.09 M issued (published)
        applications = _scale_to(applications, 11_820_000)
        issued = _scale_to(issued, 9_090_000)
        held = np.minimum(held, issued)
    return pop, applications, issued, held


def _scale_to(values: np.ndarray, total: int) -> np.ndarray:
    scaled = np.floor(values / values.sum() * total).astype(np.int64)
    scaled[np.argmax(scaled)] += total - int(scaled.sum())
    return scaled


def write_card_history(path: Path, model: CardModel, last: date) -> int:
    """Coded layout (municipality_code, period, population, applications, issued, held), UTF-8."""
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["municipality_code", "period", "population", "applications", "issued", "held"])
        for p in months(CARD_FIRST, last):
            pop, app, iss, held = card_series(model, p)
            key = p.strftime("%Y-%m")
            for code, a, b, c, d in zip(model.codes, pop, app, iss, held, strict=True):
                w.writerow([code, key, int(a), int(b), int(c), int(d)])
                rows += 1
    return rows


def reiwa_title(period: date) -> str:
    year = period.year - 2018
    return f"マイナンバーカード交付状況（令和{'元' if year == 1 else year}年{period.month}月末時点）"


def write_card_ministry_layout(path: Path, model: CardModel, period: date) -> int:
    """The layout the ministry publishes: title line, blank row, Japanese headers, names not codes, thousands
    separators and % signs, prefecture subtotals (計) and a grand total (合計); CP932."""
    pop, app, _iss, held = card_series(model, period)
    by_code = {m.code: m for m in municipalities()}
    pref_names = {p.code: p.name_ja for p in prefectures()}
    rows = [[reiwa_title(period)], [], ["都道府県名", "市区町村名", "人口", "申請数", "保有枚数", "保有枚数率"]]
    fmt = "{:,}".format
    totals = np.zeros(3, dtype=np.int64)
    current_pref, sub = None, np.zeros(3, dtype=np.int64)
    for i, code in enumerate(model.codes):
        m = by_code[code]
        if current_pref is not None and m.prefecture_code != current_pref:
            rows.append([pref_names[current_pref], "計", fmt(sub[0]), fmt(sub[1]), fmt(sub[2]),
                         f"{sub[2] / sub[0] * 100:.1f}%"])
            sub = np.zeros(3, dtype=np.int64)
        current_pref = m.prefecture_code
        vals = np.array([pop[i], app[i], held[i]])
        sub += vals
        totals += vals
        rows.append([pref_names[m.prefecture_code], m.name_ja, fmt(vals[0]), fmt(vals[1]), fmt(vals[2]),
                     f"{vals[2] / vals[0] * 100:.1f}%"])
    rows.append([pref_names[current_pref], "計", fmt(sub[0]), fmt(sub[1]), fmt(sub[2]),
                 f"{sub[2] / sub[0] * 100:.1f}%"])
    rows.append(["合計", "", fmt(totals[0]), fmt(totals[1]), fmt(totals[2]), f"{totals[2] / totals[0] * 100:.1f}%"])
    with open(path, "w", newline="", encoding="cp932") as fh:
        csv.writer(fh).writerows(rows)
    return len(model.codes)


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


def demo_config(feed_port: int) -> str:
    """observatory.yaml of a demo workspace: HTTP feeds on loopback and drop directories."""
    feed = f"http://127.0.0.1:{feed_port}"
    return f"""\
# Demo workspace: the sources below are fed by `observatory demo` (a local feed on loopback and drop folders).
timezone: Asia/Tokyo
demo_feed:
  directory: feeds
  port: {feed_port}
sources:
  - name: usage_rates_feed
    kind: usage-rates
    url: {feed}/usage_rates.csv
    schedule: "*/15 * * * *"
    freshness_hours: 1080
  - name: card_issuance_feed
    kind: card-issuance
    url: {feed}/card_issuance_latest.csv
    schedule: "0 * * * *"
    freshness_hours: 1080
  - name: card_issuance_drop
    kind: card-issuance
    directory: drop/card_issuance
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
    import io

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
