"""What the browser tests share: Debian's Chromium, its flags on this closed network, the DOM layout probe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# no background networking: this machine's network is closed, and Chromium would try Google's hosts at start
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@contextmanager
def chromium() -> Iterator:
    """Debian's Chromium, headless, through Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()

# the DOM check: page width against the viewport, and every visible header cell against the width of "0000"
# in its own font (a column narrower than that wraps names and dates one character per line)
LAYOUT_JS = """() => {
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;left:0;top:0';
  document.body.appendChild(probe);
  const narrow = [];
  for (const cell of document.querySelectorAll('table thead th, table tr > th:first-child, .dash-header')) {
    if (!cell.offsetParent || cell.getClientRects().length === 0) continue;
    if (!cell.textContent.trim()) continue;  // the row-selection column of the triage queue: a checkbox
    const cs = getComputedStyle(cell);
    probe.style.font = cs.font;
    probe.textContent = '0000';
    const min = probe.getBoundingClientRect().width;
    const w = cell.getBoundingClientRect().width - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)
      - parseFloat(cs.borderLeftWidth) - parseFloat(cs.borderRightWidth);
    if (w + 0.5 < min) narrow.push([cell.textContent.trim().slice(0, 24), Math.round(w), Math.round(min)]);
  }
  probe.remove();
  return {viewport: document.documentElement.clientWidth, width: document.documentElement.scrollWidth,
          narrow: narrow, height: document.documentElement.scrollHeight};
}"""
