"""axe-core on every dashboard page template for every role, as tests/publish does for the public site: no
serious or critical WCAG 2.1 A/AA (or best-practice) violation, with no rule switched off. Also the sign-in page
and the access-denied page a direct URL gets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dashboards import access
from tests.browser import CHROMIUM, chromium
from tests.dashboards.server import running
from tests.dashboards.test_browser import sign_in
from tests.dashboards.test_browser_layout import ROLES, _page_name, _pages, _settle

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BAR = ("serious", "critical")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium"),
              pytest.mark.skipif(not AXE.exists(), reason="node_modules/axe-core is missing (.ci/test-deps)")]


def axe(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now (the script is added to the page; the
    context bypasses the app's CSP for that script only, the page's own scripts are unchanged)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async (tags) => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""", TAGS)
    return [v for v in found if v["impact"] in BAR]


def _check(problems: dict[str, list[dict]], label: str, page) -> None:
    found = axe(page)
    if found:
        problems[label] = found


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.mark.parametrize("role", ROLES)
def test_axe_finds_no_serious_violation_on_any_page(workspace, built, browser, role: str) -> None:
    user = next(u for u in workspace.config.users if u.username == role)
    problems: dict[str, list[dict]] = {}
    with running(workspace) as base:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{base}/login")
        _check(problems, "login", page)
        sign_in(page, base, role)
        checked = 0
        for key, path in _pages(built).items():
            if not access.allowed(user, _page_name(key)):
                continue
            if role == "mic1" and key == "ministry":
                path = "/ministry"
            for lang in ("ja", "en"):
                page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
                _settle(page)
                _check(problems, f"{key} ({lang})", page)
                checked += 1
        denied = next((p for k, p in _pages(built).items() if not access.allowed(user, _page_name(k))), None)
        if denied:  # the guard's own 403 page for a direct URL
            page.goto(base + denied)
            _check(problems, f"denied {denied}", page)
        context.close()
    assert checked >= 4
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


def test_dropdowns_and_table_pages_work_from_the_keyboard(workspace, built, browser) -> None:
    """The fixes keep the controls usable: Tab reaches a dropdown's own button, named by its label; the arrow
    keys and Enter choose an option (the filter becomes the URL); a table's page buttons carry their names."""
    import re

    with running(workspace) as base:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        sign_in(page, base, "cio1")
        page.goto(f"{base}/overview")
        _settle(page)
        for _ in range(80):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "ov-year":
                break
        assert page.evaluate("() => document.activeElement.id") == "ov-year"
        assert page.get_by_role("button", name=re.compile("目標年")).count() == 1
        page.keyboard.press("ArrowDown")
        page.wait_for_selector("[role=option]")
        # the open menu takes the focus into its search box; keys pressed before that are lost
        page.wait_for_function("() => document.activeElement?.classList.contains('dash-dropdown-search')")
        page.keyboard.press("ArrowDown")
        # ArrowDown moves the focus onto the first option (a radio input); Enter before that selects nothing
        page.wait_for_function("() => document.activeElement?.classList.contains('dash-options-list-option-checkbox')")
        page.keyboard.press("Enter")
        # the filter callback changes the URL through the history API: watch the location, not navigations
        page.wait_for_function("() => /[?&]year=20\\d\\d/.test(window.location.search)")
        page.goto(f"{base}/area?kpi={built.area_kpi}&pref=01")
        page.wait_for_selector(".previous-next-container .next-page")
        assert page.get_by_role("button", name="次のページ").count() >= 1
        page.close()
