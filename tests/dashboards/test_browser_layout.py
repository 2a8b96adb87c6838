"""Every page template for every role in headless Chromium at 1440 and 390 px: a full-page screenshot into
test-artifacts/dashboards/, no page wider than its viewport, no table column narrower than four characters,
and one status per KPI on the overview cards, the KPI pages and the public API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboards import access
from dashboards.publish.views import _slug
from tests.browser import CHROMIUM, LAYOUT_JS, chromium
from tests.dashboards.server import running
from tests.dashboards.test_browser import sign_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboards"
WIDTHS = (1440, 390)
ROLES = ("cio1", "mic1", "sec1", "admin1")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]



def _pages(built) -> dict[str, str]:
    """Each page template once, on a representative entity and on the longest (北海道, 札幌市)."""
    return {"home": "/", "overview": "/overview", "kpi": f"/kpi/{built.mic_kpi}",
            "kpi-hokkaido": f"/kpi/{built.area_kpi}?level=prefecture&entity=01",
            "area-hokkaido": f"/area?kpi={built.area_kpi}&pref=01", "municipality": "/municipality/131016",
            "municipality-sapporo": "/municipality/011002", "sources": "/sources", "ministry": "/ministry?ministry=MIC",
            "submission": "/submission/800002", "alerts": "/alerts", "alert": "/alert/700001", "audit": "/audit"}


def _page_name(key: str) -> str:
    return key.split("-")[0]


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _settle(page) -> None:
    page.wait_for_selector("#_pages_content h1", timeout=20000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # plotly's resize after the last response


@pytest.mark.parametrize("role", ROLES)
def test_every_page_at_desktop_and_phone_width(workspace, built, browser, role: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    user = next(u for u in workspace.config.users if u.username == role)
    problems: dict[str, object] = {}
    shots = 0
    with running(workspace) as base:
        for width in WIDTHS:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            sign_in(page, base, role)
            for key, path in _pages(built).items():
                if not access.allowed(user, _page_name(key)):
                    continue
                if role == "mic1" and key == "ministry":
                    path = "/ministry"
                page.goto(base + path)
                _settle(page)
                out = ARTIFACTS / f"{role}-{key}-{width}.png"
                page.screenshot(path=str(out), full_page=True)
                shots += 1
                got = page.evaluate(LAYOUT_JS)
                if got["width"] > got["viewport"] + 1:
                    problems[f"{key}@{width} wider than the viewport"] = (got["width"], got["viewport"])
                if got["narrow"]:
                    problems[f"{key}@{width} narrow columns"] = got["narrow"][:5]
            page.close()
            assert not errors, errors
    assert shots >= 4
    assert problems == {}


def test_one_status_per_kpi_in_the_browser(workspace, built, browser) -> None:
    with running(workspace) as base:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        sign_in(page, base, "cio1")
        page.goto(f"{base}/overview")
        page.wait_for_selector(".card")
        cards = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('article.card')].map(
            c => [c.id.slice(5), [...c.classList].find(x => x.startsWith('status-')).slice(7)]))""")
        assert set(cards) == set(built.kpi_ids)
        for kpi_id, status in cards.items():
            page.goto(f"{base}/kpi/{kpi_id}")
            page.wait_for_selector("#kpi-status .badge")
            shown = page.evaluate("() => [...document.querySelector('#kpi-status .badge').classList]"
                                  ".find(x => x.startsWith('status-')).slice(7)")
            api = page.request.get(f"{base}/api/public/kpi/{_slug(kpi_id)}").json()
            assert shown == status == api["status"]["status"], (kpi_id, shown, status, api["status"])
        page.close()


PHONE_OVERVIEW_MAX_PX = 7000  # the overview with every card open was 23,425 px tall at 390 px (issue 14)


def test_overview_fits_a_phone(workspace, built, browser) -> None:
    """At 390 px the CIO overview is a few screens, not 23,000 px: compact cards with their detail behind one tap,
    each target year's furthest-behind cards first and the rest behind one button; nothing is lost."""
    with running(workspace) as base:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        sign_in(page, base, "cio1")
        page.goto(f"{base}/overview")
        _settle(page)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        print(f"overview at 390 px: {height} px")
        assert height < PHONE_OVERVIEW_MAX_PX, height
        assert page.locator("article.card").count() == len(built.kpi_ids)
        more = page.locator("details.group-more > summary")
        for i in range(more.count()):
            more.nth(i).click()
        shown = page.evaluate("() => [...document.querySelectorAll('article.card')].filter(c => c.offsetParent).length")
        assert shown == len(built.kpi_ids)  # every KPI one tap away
        first = page.locator("article.card").first
        assert not first.locator("ul.targets").is_visible()
        first.locator("summary").click()
        assert first.locator("ul.targets").is_visible() and first.locator(".owner").is_visible()
        page.close()
