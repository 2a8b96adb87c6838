"""Benchmark: `build_site` for all 1,741 municipalities in both languages (issue 7).

Goals: the full site builds in under 60 s on the 2-core machine, and the overview page weighs under 2 MB
uncompressed including its scripts and style sheet. Also reported: where the time goes (warehouse read,
page models, HTML, data files), pages per second, the heaviest pages, and the size of a republish
(a second build into the same directory, which swaps in the new pages and adds a snapshot).

    .venv/bin/python benchmarks/publish_site.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards.publish import build_site, pages, site  # noqa: E402
from dashboards.publish.i18n import LANGS  # noqa: E402
from observatory.workspace import init_workspace  # noqa: E402
from tests.publish.fixture import DEFINITIONS, NOW, populate  # noqa: E402

BUILD_GOAL_S = 60.0
OVERVIEW_GOAL_BYTES = 2_000_000


def page_weight(page: Path) -> int:
    """The page plus every script and style sheet it loads (all local)."""
    text = page.read_text(encoding="utf-8")
    total = page.stat().st_size
    for ref in set(re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', text)):
        total += (page.parent / ref).resolve().stat().st_size
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build here and keep the result")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    work = args.keep or tmp
    try:
        t0 = time.perf_counter()
        ws, _ = init_workspace(work / "ws")
        populate(ws, municipalities=None)
        with site.for_workspace(ws).connect() as con:
            n_values = con.execute("SELECT count(*) FROM kpi_values").fetchone()[0]
            n_munis = con.execute("SELECT count(DISTINCT entity_code) FROM kpi_values "
                                  "WHERE level = 'municipality'").fetchone()[0]
        print(f"fixture warehouse: {n_values:,} kpi_values rows, {n_munis:,} municipalities with figures "
              f"({time.perf_counter() - t0:.1f} s to prepare)")

        # where the time goes, measured separately (the build itself is timed as a whole below)
        t = time.perf_counter()
        data = site.read_site_data(ws, DEFINITIONS, NOW)
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        models = site.site_pages(data)
        t_models = time.perf_counter() - t
        units = site.kpi_units(data)
        t = time.perf_counter()
        html_bytes = sum(len(pages.render(p, lang, data.built_at, units)) for lang in LANGS for p in models)
        t_html = time.perf_counter() - t
        print(f"phases (in memory): warehouse read {t_read:.2f} s, page models {t_models:.2f} s "
              f"({len(models):,}), HTML render {t_html:.2f} s ({2 * len(models):,} pages, "
              f"{html_bytes / 1e6:.1f} MB)")

        out = work / "site"
        result = build_site(ws, out, definitions=DEFINITIONS, now=NOW)
        print(f"full build: {result}")
        print(f"  {result.pages / result.seconds:,.0f} pages/s")
        again = build_site(ws, out, definitions=DEFINITIONS)
        print(f"republish:  {again}")

        weights = {lang: page_weight(out / lang / "index.html") for lang in LANGS}
        heaviest = sorted(((page_weight(p) if p.name == "index.html" else p.stat().st_size, p)
                           for p in (out / "en").rglob("*.html")), reverse=True)[:3]
        for lang, w in weights.items():
            print(f"overview /{lang}/index.html incl. scripts and CSS: {w / 1e3:,.1f} kB")
        for size, p in heaviest:
            print(f"  heaviest en page: {p.relative_to(out)} {size / 1e3:,.1f} kB (with its scripts)")
        kpi_w = page_weight(out / "en" / "kpi" / "online_rate_registration.html")
        print(f"KPI page with the plotly basic bundle: {kpi_w / 1e6:.2f} MB (full plotly.js alone: 4.8 MB)")

        ok_time = result.seconds < BUILD_GOAL_S
        ok_weight = max(weights.values()) < OVERVIEW_GOAL_BYTES
        print(f"GOAL build < {BUILD_GOAL_S:.0f} s: {'PASS' if ok_time else 'FAIL'} ({result.seconds:.1f} s)")
        print(f"GOAL overview < 2 MB: {'PASS' if ok_weight else 'FAIL'} ({max(weights.values()) / 1e6:.3f} MB)")
        return 0 if ok_time and ok_weight else 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
