"""The live public site and JSON API over a real HTTP server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import csv
import io
import re
from html import escape as html_escape

import httpx


def _cells(html: str, caption_contains: str) -> list[list[str]]:
    """Text of the body cells of the table whose caption contains the given text."""
    for table in re.findall(r"<table.*?</table>", html, flags=re.S):
        cap = re.search(r"<caption[^>]*>(.*?)</caption>", table, flags=re.S)
        if cap and caption_contains in cap.group(1):
            body = re.search(r"<tbody>(.*)</tbody>", table, flags=re.S).group(1)
            return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr)]
                    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]
    raise AssertionError(f"no table captioned {caption_contains!r}")


def test_pages_served_without_sign_in_in_both_languages(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        for lang in ("ja", "en"):
            for path in ("index.html", "kpi/online_rate_registration.html", "ministry/moj.html", "prefecture/13.html",
                         "municipality/131016.html", "municipality/index.html", "freshness.html", "security.html",
                         "data.html", "how.html"):
                r = c.get(f"/public/{lang}/{path}")
                assert r.status_code == 200, (lang, path)
                assert f'<html lang="{lang}">' in r.text
        assert c.get("/public/").status_code == 200
        assert c.get("/public/assets/plotly-basic.min.js").status_code == 200
        assert c.get("/public/ja/").status_code in (301, 302, 308)


def test_unknown_paths_are_404_not_files(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        for path in ("/public/de/index.html", "/public/ja/kpi/nope.html", "/public/ja/municipality/999999.html",
                     "/public/assets/site.py", "/public/assets/..%2Fsite.py", "/public/data/latest/%2E%2E/%2E%2E/observatory.yaml",
                     "/public/data/latest/kpis.txt", "/api/public/kpi/nope"):
            assert c.get(path).status_code == 404, (path, c.get(path).status_code)


def test_api_returns_exactly_what_the_page_shows(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        api = c.get("/api/public/kpi/online_rate_registration").json()
        html = c.get("/public/en/kpi/online_rate_registration.html").text
    history = next(f for f in api["figures"] if f["id"] == "kpi-online_rate_registration-history")
    assert history["summary"]["en"] in html.replace("&#x27;", "'")
    cells = _cells(html, "history")
    assert len(cells) == len(history["table"]["rows"])
    for row, shown in zip(history["table"]["rows"], cells, strict=True):
        assert f"{row['value']:,.1f}%" == shown[1]
    for fact in api["facts"]:
        assert html_escape(fact["value"]["en"]) in html


def test_api_index_and_municipality(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        index = c.get("/api/public/").json()
        assert "online_rate_registration" in index["kpis"]
        muni = c.get("/api/public/municipality/131016").json()
        assert muni["title"] == {"ja": "千代田区（東京都）", "en": "Chiyoda-ku, Tokyo"}
        overview = c.get("/api/public/index").json()
        assert [f["id"] for f in overview["figures"]] == ["overview-2020", "overview-2023", "overview-2026"]


def test_live_downloads_parse(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        r = c.get("/public/data/latest/overview/targets-2026.csv")
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert {row["kpi_id"] for row in rows} >= {"online_rate_registration", "card_holding_rate"}
        pkg = c.get("/public/data/latest/datapackage.json").json()
        assert any(res["path"] == "overview/targets-2026.csv" for res in pkg["resources"])


def test_mounted_in_the_dashboard_without_sign_in(published_ws) -> None:
    """The signed-in dashboard app serves /public and /api/public to anonymous visitors."""
    from dashboards.app import create_app

    app = create_app(published_ws)
    assert app.server.config.get("OBSERVATORY_PUBLIC") is True
    client = app.server.test_client()
    r = client.get("/public/en/index.html")
    assert r.status_code == 200 and b'<html lang="en">' in r.data
    assert client.get("/api/public/index").get_json()["kind"] == "overview"


def test_every_link_of_the_live_data_page_resolves(base_url: str) -> None:
    """The live page named and linked a dated snapshot (the time of its reading) that was never stored or served:
    the live site has no snapshots, the published one does."""
    import posixpath

    with httpx.Client(base_url=base_url, timeout=60) as c:
        for lang in ("ja", "en"):
            html = c.get(f"/public/{lang}/data.html").text
            assert "snapshots/" not in html
            for href in sorted(set(re.findall(r'href="([^"#]+)"', html))):
                url = posixpath.normpath(posixpath.join(f"/public/{lang}/", href))
                assert c.get(url).status_code == 200, href
