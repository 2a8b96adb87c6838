"""In headless Chromium: every page renders and its callbacks work under the Content-Security-Policy (no
violation reported), a note with a blank line and a Markdown image stays text, sign-out is a POST that
ends the session, and the app refuses to be framed."""

from __future__ import annotations

import os

import pytest

from observatory.security import alerts as alert_store
from observatory.warehouse import for_workspace
from tests.browser import CHROMIUM, chromium
from tests.dashboards.server import running
from tests.dashboards.test_browser import sign_in

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]

EVIL = "http://evil.invalid/pixel.png"


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def _watch(page) -> tuple[list[str], list[str]]:
    violations: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return violations, errors


def test_pages_and_callbacks_work_under_the_csp(workspace, built, browser) -> None:
    with running(workspace) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        violations, errors = _watch(page)
        sign_in(page, base, "admin1")
        for path, selector in (("/overview", ".card"), (f"/kpi/{built.mic_kpi}", ".js-plotly-plot"),
                               (f"/area?kpi={built.area_kpi}", "#area-map .scatterlayer .point"),
                               ("/sources", "table.data"), ("/ministry?ministry=MIC", "table.data"), ("/alerts", "#al-table"),
                               (f"/alert/{built.alert_ids[0]}", "table.data"), ("/audit", "table.data")):
            page.goto(base + path)
            try:
                page.wait_for_selector(selector, state="attached", timeout=20_000)
            except Exception as exc:  # noqa: BLE001 - name the page that did not render
                raise AssertionError(f"{path}: {selector} never appeared; {page.inner_text('body')[:300]}") from exc
        page.goto(f"{base}/area?kpi={built.area_kpi}")  # a callback: the search box rewrites the query string
        page.wait_for_selector("#area-search")
        page.fill("#area-search", "千代田")
        page.keyboard.press("Enter")
        page.wait_for_function("() => location.search.includes('q=')")
        page.goto(f"{base}/area?kpi={built.area_kpi}&pref=13&q=" + "千代田")
        page.wait_for_function("() => (document.querySelector('#area-ranking') || {innerText: ''})"
                               ".innerText.includes('千代田区')")
        page.goto(f"{base}/public/ja/")  # the public site under the same headers: its scripts and charts run
        page.wait_for_selector("main")
        page.locator("a[href*='kpi/']").first.click()
        page.wait_for_load_state("networkidle")
        assert not violations, violations
        assert not errors, errors


def test_blank_line_in_a_note_does_not_let_markdown_through(workspace, built, browser) -> None:
    alert_id = built.alert_ids[0]
    note = f"checked\n\n![tracking]({EVIL})\n\n[click me](https://evil.invalid/)\n\n<img src=\"{EVIL}\">"
    with for_workspace(workspace).connect() as con:
        alert_store.add_note(con, alert_store.Actor("sec1", ("security",)), alert_id, note)
    with running(workspace) as base:
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        sign_in(page, base, "sec1")
        page.goto(f"{base}/alert/{alert_id}")
        page.wait_for_selector("text=checked")
        assert page.locator("main img").count() == 0
        assert page.locator("main a[href^='https://evil.invalid']").count() == 0
        assert "![tracking]" in page.inner_text("main")  # shown as the text it is
        assert not [u for u in requested if "evil.invalid" in u]


def test_sign_out_is_a_post_that_ends_the_session(workspace, browser) -> None:
    with running(workspace) as base:
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, base, "cio1")
        cookies = context.cookies()
        page.click("#signout")
        page.wait_for_selector("#signin")
        thief = browser.new_context()
        thief.add_cookies(cookies)  # the cookie as it was before signing out
        other = thief.new_page()
        other.goto(f"{base}/overview")
        other.wait_for_selector("#signin")
        assert "/login" in other.url


def test_the_app_cannot_be_framed(workspace, browser) -> None:
    with running(workspace) as base:
        page = browser.new_page()
        violations, _ = _watch(page)
        page.set_content(f'<iframe id="f" src="{base}/login"></iframe>')
        page.wait_for_timeout(1500)
        frame = page.frame_locator("#f")
        assert frame.locator("#signin").count() == 0
