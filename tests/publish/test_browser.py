"""The built site in headless Chromium: axe-core finds no WCAG 2.1 AA violation on any page template in
either language; keyboard access works; the overview is screenshotted into test-artifacts/."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM, LAYOUT_JS

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TEMPLATES = ["index.html", "kpi/index.html", "kpi/online_rate_registration.html", "kpi/mystery_kpi.html", "ministry/index.html",
             "ministry/moj.html", "prefecture/index.html", "prefecture/13.html", "municipality/index.html",
             "municipality/131016.html", "how.html", "freshness.html", "security.html", "data.html",
             # the longest entities beside the representative ones: 北海道 (most municipalities), 札幌市 (wards)
             "prefecture/01.html", "municipality/011002.html"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(site) -> Iterator[str]:
    """The built site behind a plain static HTTP server on 127.0.0.1 (any static server must do)."""
    handler = functools.partial(_Quiet, directory=str(site.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("/usr/bin/chromium is not installed (.ci/test-deps installs it)")
    if not AXE.exists():
        pytest.skip("node_modules/axe-core is missing (.ci/test-deps runs npm install)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return result


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_axe_finds_no_violations(served: str, browser, lang: str) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    external: list[str] = []
    page.on("request", lambda req: external.append(req.url) if not req.url.startswith(served) else None)
    problems = {}
    for rel in TEMPLATES + (["../index.html"] if lang == "ja" else []):
        page.goto(f"{served}/{lang}/{rel}")
        page.wait_for_load_state("load")
        if rel == "kpi/online_rate_registration.html":  # the plotly upgrade has replaced the SVG before axe looks
            page.wait_for_selector(".plotly .main-svg", timeout=20000)
        violations = _axe(page)
        if violations:
            problems[rel] = violations
    page.close()
    assert problems == {}
    assert external == []  # no CDN, no font service, nothing but the site itself


def test_keyboard_skip_link_and_search(served: str, browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(f"{served}/en/municipality/index.html")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.textContent]")
    assert focused == ["skip", "Skip to main content"]
    box = page.evaluate("() => document.activeElement.getBoundingClientRect().left")
    assert box >= 0  # visible when focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.fill("#q", "chiyoda")
    page.wait_for_function("() => document.getElementById('q-count').textContent !== ''")
    visible = page.evaluate("() => [...document.querySelectorAll('#search-table tbody tr')].filter(r => !r.hidden)"
                            ".map(r => r.querySelector('th').textContent)")
    assert "131016" in visible and len(visible) < 10
    page.fill("#q", "ちよだ")  # hiragana finds the katakana reading
    page.wait_for_function("() => document.getElementById('q-count').textContent.startsWith('1')"
                           " || document.getElementById('q-count').textContent.startsWith('2')")
    page.fill("#q", "")  # an empty box folds the long list back to its first rows
    page.wait_for_function("() => document.getElementById('q-count').textContent === ''")
    shown = page.evaluate("() => [...document.querySelectorAll('#search-table tbody tr')].filter(r => !r.hidden)"
                          ".length")
    assert shown == 10 and page.locator("button.fold").first.is_visible()
    page.close()


def test_overview_screenshots(served: str, browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for lang in ("ja", "en"):
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(f"{served}/{lang}/index.html")
        out = ARTIFACTS / f"public-overview-{lang}.png"
        page.screenshot(path=str(out), full_page=True)
        page.close()
        assert out.stat().st_size > 10_000


def test_site_works_opened_from_disk(site, browser) -> None:
    page = browser.new_page()
    page.goto((site.root / "ja" / "kpi" / "online_rate_registration.html").as_uri())
    page.wait_for_selector(".plotly .main-svg", timeout=20000)  # local plotly loaded via a relative path
    page.click("nav a[href='../municipality/index.html']")
    assert page.url.endswith("/ja/municipality/index.html")
    page.close()




def _layout_problems(page, label: str) -> dict[str, object]:
    got = page.evaluate(LAYOUT_JS)
    out: dict[str, object] = {}
    if got["width"] > got["viewport"] + 1:
        out[f"{label} wider than the viewport"] = (got["width"], got["viewport"])
    if got["narrow"]:
        out[f"{label} narrow columns"] = got["narrow"][:5]
    return out


def test_every_template_at_desktop_and_phone_width(served: str, browser) -> None:
    """Full-page screenshots of every template in both languages at 1440 and 390 px; no page wider than its
    viewport, no column narrower than four characters; long tables fold after their first rows."""
    out_dir = ARTIFACTS / "public"
    out_dir.mkdir(parents=True, exist_ok=True)
    problems: dict[str, object] = {}
    for width in (1440, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        for lang in ("ja", "en"):
            for rel in TEMPLATES:
                response = page.goto(f"{served}/{lang}/{rel}")
                assert response is not None and response.ok, f"{lang}/{rel}: not built"
                page.wait_for_load_state("load")
                name = rel.replace("/", "-").removesuffix(".html")
                page.screenshot(path=str(out_dir / f"{lang}-{name}-{width}.png"), full_page=True)
                problems |= _layout_problems(page, f"{lang}/{rel}@{width}")
        page.close()
    assert problems == {}


def test_long_tables_fold_and_unfold(served: str, browser) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{served}/ja/index.html")
    folded = page.evaluate("() => [...document.querySelectorAll('.table-wrap[data-fold]')].map(w => "
                           "[w.querySelectorAll('tbody tr').length, "
                           "[...w.querySelectorAll('tbody tr')].filter(r => !r.hidden).length])")
    page.goto(f"{served}/ja/prefecture/index.html")
    wrap = page.locator(".table-wrap[data-fold]").first
    before = wrap.evaluate("w => [...w.querySelectorAll('tbody tr')].filter(r => !r.hidden).length")
    button = page.locator("button.fold").first
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    after = wrap.evaluate("w => [...w.querySelectorAll('tbody tr')].filter(r => !r.hidden).length")
    assert before == 10 and after == 47 and button.get_attribute("aria-expanded") == "true"
    assert all(shown == 10 for _total, shown in folded)
    page.close()


def test_a_sample_of_100_pages_fits_a_phone(site, served: str, browser) -> None:
    """DOM only (no screenshot): 100 pages spread over the whole site, at 390 px."""
    pages = sorted(p.relative_to(site.root).as_posix() for p in site.root.glob("*/**/*.html"))
    step = max(1, len(pages) // 100)
    sample = pages[::step][:100]
    page = browser.new_page(viewport={"width": 390, "height": 844})
    problems: dict[str, object] = {}
    for rel in sample:
        page.goto(f"{served}/{rel}")
        page.wait_for_load_state("domcontentloaded")
        problems |= _layout_problems(page, rel)
    page.close()
    assert len(sample) >= min(100, len(pages)) and problems == {}
