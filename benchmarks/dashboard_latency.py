"""Dashboard latency on the real-data demo workspace (goals of issue 14).

The workspace is the one `observatory --home DIR demo --no-serve` builds (MIC's card tables, the Digital
Agency's inventory and DX dashboards, synthetic data only where nothing is public): pass it with --home, or
let the script build one in a temporary directory (a few minutes). It is copied first (the benchmark adds its
own users), then served by waitress on an ephemeral 127.0.0.1 port, and measured:
  1. callback latency, sequential (page router and filter callbacks) - goal p95 < 100 ms;
  2. first overview page fully rendered in headless Chromium (cold cache) - goal < 1500 ms;
  3. 50 concurrent signed-in users browsing for --seconds (default 60): callback p95 < 100 ms, no error.

    .venv/bin/observatory --home /tmp/demo demo --no-serve
    .venv/bin/python benchmarks/dashboard_latency.py --home /tmp/demo [--seconds 60] [--users 50] [--requests 330]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboards.app import make_server  # noqa: E402
from dashboards.catalogue import kpi_infos  # noqa: E402
from observatory.config import User  # noqa: E402
from observatory.security.users import hash_password  # noqa: E402
from observatory.warehouse import for_workspace  # noqa: E402
from observatory.workspace import load_workspace  # noqa: E402

PASSWORD = "benchmark-password"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
GOAL_CALLBACK_P95_MS = 100.0
GOAL_FIRST_OVERVIEW_MS = 1500.0
# what the dashboards do not read: the raw archive, the drop and feed directories, the public site
NOT_SERVED = ("archive", "drop", "feeds", "site", "*.lock", "*.lock.intent")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_workspace(home: Path | None, tmp: Path) -> Path:
    """A copy of the demo workspace at `home`, or a demo workspace built here by the real CLI."""
    if home is None:
        built = tmp / "demo"
        print("building the demo workspace (observatory demo --no-serve) ...", flush=True)
        subprocess.run([sys.executable, "-c", "from observatory.cli import main; main()", "--home", str(built),
                        "demo", "--no-serve", "--feed-port", str(free_port())], check=True, stdout=subprocess.DEVNULL)
        home = built
    if not (home / "observatory.duckdb").exists():
        raise SystemExit(f"{home}: no demo workspace (build one: observatory --home {home} demo --no-serve)")
    copy = tmp / "ws"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns(*NOT_SERVED))
    return copy


def describe(ws) -> dict:
    """What the workspace holds, and the ids the requests use (a KPI, an area KPI, an alert)."""
    infos = kpi_infos(ws)
    area = [k for k in infos if "municipality" in k.levels]
    with for_workspace(ws).connect() as con:
        values = con.execute("SELECT count(*) FROM kpi_values").fetchone()[0]
        alerts = con.execute("SELECT count(*), min(alert_id) FROM alerts").fetchone()
        events = con.execute("SELECT count(*) FROM access_events").fetchone()[0]
        munis = con.execute("SELECT count(DISTINCT municipality_code) FROM card_issuance").fetchone()[0]
    return {"kpi_values": values, "kpis": len(infos), "area_kpi": area[0].id if area else infos[0].id,
            "kpi": infos[0].id, "alerts": alerts[0], "alert": alerts[1], "events": events, "munis": munis}


def add_users(ws, n: int) -> None:
    """The benchmark's users beside the demo's: a CIO for the browser, n users with the CIO and security roles."""
    h = hash_password(PASSWORD)
    ws.config.users = [u for u in ws.config.users if not u.username.startswith("bench-")] + [
        User(username="bench-cio", role="cio", password_hash=h)] + [
        User(username=f"bench-{i}", role="cio", roles=["security"], password_hash=h) for i in range(n)]
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
        (f"router /alert/{data['alert']}", router(f"/alert/{data['alert']}")),
        ("router / (home)", router("/")),
        ("callback overview filters", simple("ov-url.search", [("ov-ministry", "value", "MIC"),
                                                                 ("ov-year", "value", "2026")],
                                          [("ov-url", "search", "")])),
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
        sign_in(client, base, "bench-0")
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
            page.fill("#username", "bench-cio")
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
    stats = {"requests": 0, "errors": 0, "times": [], "callback_times": [], "error_samples": []}
    stop = time.monotonic() + seconds

    def user(i: int) -> None:
        rnd = random.Random(i)
        with httpx.Client(timeout=30) as client:
            sign_in(client, base, f"bench-{i}")
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
                    if kind >= 0.3:
                        stats["callback_times"].append(ms)
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


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="a demo workspace (observatory --home DIR demo --no-serve); "
                        "default: build one in a temporary directory")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the concurrent-users run")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=330, help="sequential callback requests to time")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OBSERVATORY_SECRET", "benchmark-" + "s" * 40)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ws = load_workspace(demo_workspace(args.home, Path(tmp)))
        add_users(ws, args.users)
        data = describe(ws)
        print(f"demo workspace ready in {time.perf_counter() - t:.1f} s ({args.home or 'built here'}): "
              f"{data['kpis']} KPIs, {data['kpi_values']:,} kpi_values rows, card issuance of {data['munis']:,} "
              f"municipalities, {data['events']:,} access events, {data['alerts']} alerts")
        server = make_server(ws, host="127.0.0.1", port=0, threads=8)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.effective_port}"
        try:
            times = measure_callbacks(base, data, args.requests)
            every = [x for v in times.values() for x in v]
            p95 = pct(every, 0.95)
            print(f"\n1. callback latency, one user, over {len(every)} requests (ms): p50 {statistics.median(every):.1f}  "
                  f"p95 {p95:.1f}  max {max(every):.1f}  goal p95 < {GOAL_CALLBACK_P95_MS:.0f} -> "
                  f"{verdict(p95 < GOAL_CALLBACK_P95_MS)}")
            for name, v in times.items():
                print(f"   {name:45s} p50 {statistics.median(v):7.1f}  p95 {pct(v, 0.95):7.1f}")
            if not args.no_browser and os.path.exists(CHROMIUM):
                runs = measure_browser(base)
                print(f"\n2. first overview page fully rendered in Chromium (cold cache, ms): "
                      f"{', '.join(f'{x:.0f}' for x in runs)}  best {min(runs):.0f}  worst {max(runs):.0f}  "
                      f"goal < {GOAL_FIRST_OVERVIEW_MS:.0f} -> {verdict(max(runs) < GOAL_FIRST_OVERVIEW_MS)}")
            stats = concurrent_users(base, data, args.users, args.seconds)
            cb = stats["callback_times"]
            cb95 = pct(cb, 0.95)
            print(f"\n3. {args.users} concurrent signed-in users for {args.seconds:.0f} s: {stats['requests']} requests "
                  f"({len(cb)} callbacks, {stats['requests'] / args.seconds:.0f} requests/s), {stats['errors']} errors; all requests p50 "
                  f"{statistics.median(stats['times']):.1f} ms p95 {pct(stats['times'], 0.95):.1f} ms; callbacks p50 "
                  f"{statistics.median(cb):.1f} ms p95 {cb95:.1f} ms; goal callback p95 < {GOAL_CALLBACK_P95_MS:.0f} "
                  f"and no error -> {verdict(cb95 < GOAL_CALLBACK_P95_MS and stats['errors'] == 0)}"
                  + (f" samples {stats['error_samples']}" if stats["error_samples"] else ""))
        finally:
            server.close()


if __name__ == "__main__":
    main()
