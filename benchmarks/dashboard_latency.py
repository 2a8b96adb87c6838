"""Dashboard latency with national demo-size data (goals of issue 6).

Generates into a fresh workspace: every shipped KPI monthly for 10 years at national level, the area KPIs
for all 47 prefectures and 1,741 municipalities, ministry-level values, forecasts, and a few alerts.
Then, against waitress on an ephemeral 127.0.0.1 port:
  1. p95 callback latency (page router and filter callbacks) - goal < 150 ms;
  2. first overview page fully rendered in headless Chromium - goal < 2 s;
  3. 20 concurrent signed-in users browsing for --seconds (default 60) without an error.

    .venv/bin/python benchmarks/dashboard_latency.py [--seconds 60] [--users 20] [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboards.app import make_server  # noqa: E402
from dashboards.catalogue import kpi_infos  # noqa: E402
from observatory.config import User  # noqa: E402
from observatory.security.users import hash_password  # noqa: E402
from observatory.warehouse import for_workspace  # noqa: E402
from observatory.workspace import init_workspace  # noqa: E402

PASSWORD = "benchmark-password"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def generate(ws) -> dict:
    """Fill kpi_values / kpi_forecasts set-based in DuckDB; returns sizes and ids."""
    infos = kpi_infos(ws)
    area = [k for k in infos if "municipality" in k.levels]
    ministry_level = [k for k in infos if "ministry" in k.levels]
    t0 = time.perf_counter()
    with for_workspace(ws).connect() as con:
        con.execute("CREATE TEMP TABLE months AS SELECT (DATE '2016-10-01' + INTERVAL (i) MONTH)::DATE AS period, i "
                    "FROM range(120) t(i)")
        for n, k in enumerate(infos):
            con.execute("INSERT INTO kpi_values SELECT ?, 1, 'national', 'JP', period, 10 + ? + i * 0.4, NULL, NULL, "
                        "60, 60 - (10 + ? + i * 0.4), CASE WHEN i % 3 = 0 THEN 'on_track' ELSE 'at_risk' END, now(), "
                        "'{\"runs\": [], \"submissions\": []}' FROM months", [k.id, n, n])
        for k in area:
            con.execute("INSERT INTO kpi_values SELECT ?, 1, 'prefecture', p.code, m.period, "
                        "20 + (hash(p.code) % 20) + m.i * 0.3, NULL, NULL, 60, NULL, 'at_risk', now(), NULL "
                        "FROM prefectures p, months m", [k.id])
            con.execute("INSERT INTO kpi_values SELECT ?, 1, 'municipality', c.code, m.period, "
                        "10 + (hash(c.code) % 40) + m.i * 0.3, NULL, NULL, 60, NULL, "
                        "CASE WHEN hash(c.code) % 3 = 0 THEN 'off_track' ELSE 'on_track' END, now(), NULL "
                        "FROM municipalities c, months m", [k.id])
        for k in ministry_level:
            con.execute("INSERT INTO kpi_values SELECT ?, 1, 'ministry', x.code, m.period, 30 + m.i * 0.2, NULL, NULL, "
                        "60, NULL, 'on_track', now(), NULL FROM ministries x, months m", [k.id])
        con.execute("INSERT INTO kpi_forecasts SELECT DISTINCT kpi_id, version, level, entity_code, y, "
                    "make_date(y + 1, 3, 31), 60, 55, 50, 62, NULL, 'at_risk', 'theil_sen', 120, now() "
                    "FROM kpi_values, (VALUES (2020), (2023), (2026)) t(y) WHERE level IN ('national', 'prefecture')")
        for a in range(50):
            now = datetime.now(UTC)
            con.execute("INSERT INTO alerts VALUES (?, ?, '131016', current_date - ?, current_date, ?, ?, 'new', NULL, "
                        "['night_access'], '[]', [], '{}', ?, ?, NULL)",
                        [10_000_000 + a, f"S{a:04d}", a % 20, float(a % 7), ["low", "medium", "high", "critical"][a % 4],
                         now, now])
        rows = con.execute("SELECT count(*) FROM kpi_values").fetchone()[0]
    return {"kpi_values": rows, "kpis": len(infos), "area_kpi": area[0].id if area else infos[0].id,
            "kpi": infos[0].id, "seconds": time.perf_counter() - t0}


def add_users(ws, n: int) -> None:
    h = hash_password(PASSWORD)
    ws.config.users = [User(username="cio0", role="cio", password_hash=h),
                       User(username="sec0", role="security", password_hash=h)] + [
        User(username=f"user{i}", role="cio", roles=["security"], password_hash=h) for i in range(n)]
    ws.save_config()


def sign_in(client: httpx.Client, base: str, username: str) -> None:
    page = client.get(f"{base}/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    resp = client.post(f"{base}/login", data={"csrf": token, "username": username, "password": PASSWORD, "next": "/"})
    if resp.status_code != 302:
        raise SystemExit(f"sign-in of {username} failed: {resp.status_code}")


def router(path: str, search: str = "") -> dict:
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


def simple(output: str, inputs: list[tuple[str, str, object]], state: list[tuple[str, str, object]] = ()) -> dict:
    oid, prop = output.split(".")
    return {"output": output, "outputs": {"id": oid, "property": prop},
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]}


def callbacks(data: dict) -> list[tuple[str, dict]]:
    area, kpi = data["area_kpi"], data["kpi"]
    return [
        ("router /overview", router("/overview")),
        ("router /overview?ministry=MIC&year=2020", router("/overview", "?ministry=MIC&year=2020")),
        (f"router /kpi/{kpi}", router(f"/kpi/{kpi}")),
        (f"router /kpi/{area}?prefecture=13", router(f"/kpi/{area}", "?level=prefecture&entity=13")),
        ("router /area", router("/area", f"?kpi={area}")),
        ("router /area?pref=13", router("/area", f"?kpi={area}&pref=13")),
        ("router /area?q=市", router("/area", f"?kpi={area}&q=%E5%B8%82&sort=name")),
        ("router /municipality/131016", router("/municipality/131016")),
        ("router /alerts", router("/alerts")),
        ("callback overview filters", simple("ov-url.search", [("ov-ministry", "value", "MIC"),
                                                                 ("ov-year", "value", "2026")])),
        ("callback area controls", simple("area-url.search", [("area-kpi", "value", area),
                                                                ("area-search", "value", "千代田"),
                                                                ("area-sort", "value", "value_desc"),
                                                                ("area-map", "clickData", None)],
                                          [("area-url", "search", "?pref=13")])),
    ]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure_callbacks(base: str, data: dict, total: int) -> dict[str, list[float]]:
    cases = callbacks(data)
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    with httpx.Client(timeout=30) as client:
        sign_in(client, base, "user0")
        for name, body in cases:  # warm-up
            r = client.post(f"{base}/_dash-update-component", json=body)
            if r.status_code not in (200, 204):
                raise SystemExit(f"{name}: HTTP {r.status_code} {r.text[:300]}")
        for n in range(total):
            name, body = cases[n % len(cases)]
            t = time.perf_counter()
            r = client.post(f"{base}/_dash-update-component", json=body)
            times[name].append((time.perf_counter() - t) * 1000)
            if r.status_code not in (200, 204):
                raise SystemExit(f"{name}: HTTP {r.status_code}")
    return times


def measure_browser(base: str, runs: int = 3) -> list[float]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(runs):
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})  # cold cache each run
            page = ctx.new_page()
            page.goto(f"{base}/login")
            page.fill("#username", "cio0")
            page.fill("#password", PASSWORD)
            page.click("#signin")
            page.wait_for_selector("#shell-nav")
            t = time.perf_counter()
            page.goto(f"{base}/overview")
            page.wait_for_selector(".card")
            page.wait_for_load_state("networkidle")
            out.append((time.perf_counter() - t) * 1000)
            ctx.close()
        browser.close()
    return out


def concurrent_users(base: str, data: dict, users: int, seconds: float) -> dict:
    cases = callbacks(data)
    area = data["area_kpi"]
    pages = ["/overview", f"/kpi/{data['kpi']}", f"/area?kpi={area}&pref=13", "/alerts", "/municipality/131016"]
    downloads = ["/download/overview.csv", f"/download/area-municipalities.csv?kpi={area}&pref=27"]
    lock = threading.Lock()
    stats = {"requests": 0, "errors": 0, "times": [], "error_samples": []}
    stop = time.monotonic() + seconds

    def user(i: int) -> None:
        rnd = random.Random(i)
        with httpx.Client(timeout=30) as client:
            sign_in(client, base, f"user{i}")
            while time.monotonic() < stop:
                kind = rnd.random()
                t = time.perf_counter()
                try:
                    if kind < 0.2:
                        r = client.get(base + rnd.choice(pages))
                    elif kind < 0.3:
                        r = client.get(base + rnd.choice(downloads))
                    else:
                        r = client.post(f"{base}/_dash-update-component", json=rnd.choice(cases)[1])
                    ok = r.status_code in (200, 204)
                    code = r.status_code
                except httpx.HTTPError as exc:
                    ok, code = False, repr(exc)
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    stats["requests"] += 1
                    stats["times"].append(ms)
                    if not ok:
                        stats["errors"] += 1
                        if len(stats["error_samples"]) < 5:
                            stats["error_samples"].append(code)
                time.sleep(rnd.uniform(0.2, 1.0))  # think time

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the concurrent-users run")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=330, help="sequential callback requests to time")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OBSERVATORY_SECRET", "benchmark-" + "s" * 40)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ws, _ = init_workspace(Path(tmp) / "ws")
        add_users(ws, args.users)
        data = generate(ws)
        print(f"workspace ready in {time.perf_counter() - t:.1f} s: {data['kpis']} KPIs, "
              f"{data['kpi_values']:,} kpi_values rows (generated in {data['seconds']:.1f} s)")
        server = make_server(ws, host="127.0.0.1", port=0, threads=8)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            times = measure_callbacks(base, data, args.requests)
            every = [x for v in times.values() for x in v]
            print(f"\n1. callback latency over {len(every)} requests (ms): p50 {statistics.median(every):.1f}  "
                  f"p95 {pct(every, 0.95):.1f}  max {max(every):.1f}  goal p95 < 150 -> "
                  f"{'PASS' if pct(every, 0.95) < 150 else 'FAIL'}")
            for name, v in times.items():
                print(f"   {name:45s} p50 {statistics.median(v):7.1f}  p95 {pct(v, 0.95):7.1f}")
            if not args.no_browser and os.path.exists(CHROMIUM):
                runs = measure_browser(base)
                print(f"\n2. first overview page fully rendered in Chromium (cold cache, ms): "
                      f"{', '.join(f'{x:.0f}' for x in runs)}  best {min(runs):.0f}  worst {max(runs):.0f}  "
                      f"goal < 2000 -> {'PASS' if max(runs) < 2000 else 'FAIL'}")
            stats = concurrent_users(base, data, args.users, args.seconds)
            print(f"\n3. {args.users} concurrent signed-in users for {args.seconds:.0f} s: {stats['requests']} requests, "
                  f"{stats['errors']} errors, p50 {statistics.median(stats['times']):.1f} ms, "
                  f"p95 {pct(stats['times'], 0.95):.1f} ms -> {'PASS' if stats['errors'] == 0 else 'FAIL'}"
                  + (f" samples {stats['error_samples']}" if stats["error_samples"] else ""))
        finally:
            server.close()


if __name__ == "__main__":
    main()
