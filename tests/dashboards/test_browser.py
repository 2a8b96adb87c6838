"""End to end in headless Chromium against waitress: sign in, overview, drill down to a municipality,
upload a submission, triage an alert. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from observatory.warehouse import for_workspace
from tests.browser import CHROMIUM, chromium
from tests.dashboards import fixtures
from tests.dashboards.server import running

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]


@pytest.fixture
def browser():
    with chromium() as b:
        yield b


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", fixtures.password(username))
    page.click("#signin")
    page.wait_for_selector("#shell-nav")


def test_cio_overview_and_drill_down(workspace, built, browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with running(workspace) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, base, "cio1")
        page.click("text=概要")
        page.wait_for_selector(".card")
        assert page.locator(".card").count() == len(built.kpi_ids)
        page.screenshot(path=str(ARTIFACTS / "dashboard-overview-ja.png"), full_page=True)
        page.goto(f"{base}/overview?ministry=MIC")  # deep link with a filter
        page.wait_for_selector(".card")
        mic_cards = page.locator(".card").count()
        assert 0 < mic_cards < len(built.kpi_ids)
        page.goto(f"{base}/area?kpi={built.area_kpi}")
        page.wait_for_selector("#area-map .scatterlayer .point")
        box = page.locator("#area-map .scatterlayer .point").nth(12).bounding_box()  # the Tokyo tile
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # through plotly's drag layer
        page.wait_for_selector("#area-ranking")
        assert "pref=13" in page.url
        page.fill("#area-search", "千代田")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelectorAll('#area-ranking td.dash-cell').length === 6")  # one row
        assert "q=" in page.url and "千代田区" in page.inner_text("#area-ranking")
        page.screenshot(path=str(ARTIFACTS / "dashboard-area-tokyo.png"), full_page=True)
        page.click("#area-ranking >> text=千代田区")
        page.wait_for_selector("#muni-title")
        assert "131016" in page.inner_text("#muni-title")
        page.click("#lang-switch")
        page.wait_for_selector("#muni-title")
        assert "Chiyoda" in page.inner_text("#muni-title")
        page.screenshot(path=str(ARTIFACTS / "dashboard-municipality-en.png"), full_page=True)
        assert not errors, errors


def test_ministry_uploads_and_security_triages(workspace, built, browser, tmp_path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    upload = tmp_path / "tax-notices.csv"
    upload.write_bytes(fixtures.valid_submission(workspace, built.mic_kpi))
    with for_workspace(workspace).connect() as con:  # the roster names the first alert's staff member
        staff_id = con.execute("SELECT staff_id FROM alerts WHERE alert_id = ?", [built.alert_ids[0]]).fetchone()[0]
        con.execute("UPDATE staff SET display_name = '山田 太郎' WHERE staff_id = ?", [staff_id])
    with running(workspace) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "mic1")
        page.goto(f"{base}/ministry?kpi={built.mic_kpi}")
        page.wait_for_selector("#min-upload")
        page.set_input_files("#min-upload input[type=file]", str(upload))
        page.wait_for_selector("#min-receipt", timeout=20000)
        result = page.inner_text("#min-result")
        assert "tax-notices.csv" in result and built.mic_kpi in result and "accepted" in result
        page.screenshot(path=str(ARTIFACTS / "dashboard-ministry-upload.png"), full_page=True)
        page.goto(f"{base}/ministry")  # the history links each submission to its own page
        page.click("a[href='/submission/800002']")
        page.wait_for_selector("#sub-history-table")
        assert "mic2.csv" in page.inner_text("main") and page.locator("a[href='/submission/800001']").count() >= 1
        assert f"({built.mic_kpi})" in page.inner_text("#sub-versions-of") and "(MIC)" in page.inner_text("#sub-versions-of")
        page.screenshot(path=str(ARTIFACTS / "dashboard-submission.png"), full_page=True)
        page.goto(f"{base}/alerts")  # not for a ministry user
        page.wait_for_selector("h1")
        assert "アクセス権がありません" in page.content()

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "sec1")
        page.goto(f"{base}/alerts")
        page.wait_for_selector(f"#al-table >> text=#{built.alert_ids[0]}")
        page.click(f"#al-table >> text=#{built.alert_ids[0]}")
        page.wait_for_selector("#alx-note")
        assert f"山田 太郎 ({staff_id})" in page.inner_text("#alx-who")  # the security role sees the name
        page.fill("#alx-note", "called the unit head")
        page.click("#alx-add-note")
        page.wait_for_selector("#alx-result >> text=保存しました")
        page.click("#alx-decide-investigating")  # one click (issue 14), the note field is shared
        page.wait_for_selector("#alx-history-table >> text=調査中")
        assert "called the unit head" in page.inner_text("#alx-history-table")
        page.screenshot(path=str(ARTIFACTS / "dashboard-alert-triage.png"), full_page=True)


def test_admin_reads_the_audit_log(workspace, built, browser) -> None:
    from observatory.security import audit
    from observatory.warehouse import for_workspace

    with for_workspace(workspace).connect() as con:  # braces once made dcc.Markdown drop the whole table
        audit.record(con, actor="odd{actor}", action="test.braces", detail={"q": '{"a": 1}'})
    with running(workspace) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, "admin1")
        page.goto(f"{base}/audit?lang=en")
        page.wait_for_selector("table.data >> text=odd{actor}")
        text = page.inner_text("table.data")
        assert 'q: {"a": 1}' in text and "Sign-in" in text  # actions in words (issue 14)
        page.screenshot(path=str(ARTIFACTS / "dashboard-audit-en.png"), full_page=True)
