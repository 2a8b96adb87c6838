"""Disclosure control end to end: the built site and the API carry no staff or subject identifier and
no count below 10 derived from access logs or alerts."""

from __future__ import annotations

import csv
import io

import httpx

from tests.publish.fixture import STAFF_MARKER, SUBJECT_MARKER

FORBIDDEN = [STAFF_MARKER, SUBJECT_MARKER, "da-officer-kato", "127.0.0.1", "131016', 'tax'"]


def test_built_site_has_no_identifiers(site) -> None:
    scanned = 0
    for path in site.root.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".csv", ".json", ".jsonld"):
            text = path.read_text(encoding="utf-8-sig")
            for marker in FORBIDDEN:
                assert marker not in text, f"{marker} in {path}"
            scanned += 1
    assert scanned > 5000


def test_api_has_no_identifiers(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        paths = ["", "index", "security", "freshness", "how", "kpi/index", "kpi/online_rate", "ministry/da",
                 "prefecture/13", "municipality/131016", "municipality/index", "data"]
        for p in paths:
            r = c.get(f"/api/public/{p}")
            assert r.status_code == 200, p
            for marker in FORBIDDEN:
                assert marker not in r.text, (p, marker)
        pkg = c.get("/public/data/latest/datapackage.json").text
        assert not any(m in pkg for m in FORBIDDEN)


def _alert_table(raw: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw)))


def test_alert_counts_below_ten_are_suppressed_with_secondary_suppression(site) -> None:
    rows = _alert_table((site.root / "data/latest/security/alerts.csv").read_text(encoding="utf-8-sig"))
    values = [v for r in rows for k, v in r.items() if k != "month"]
    assert "x" in values  # the fixture has 3 confirmed alerts in total: primary suppression applies
    for v in values:
        assert v == "x" or int(v) >= 10, v
    body, total = rows[:-1], rows[-1]
    assert total["month"] == "total"
    cols = ["confirmed", "cleared", "open", "total"]
    for r in rows:  # each row: cells + total, never exactly one unknown
        assert [r[c] for c in cols].count("x") != 1, r
    for c in cols:  # each column: months + total
        assert [r[c] for r in body + [total]].count("x") != 1, c
    html = (site.root / "en/security.html").read_text(encoding="utf-8")
    assert "suppressed count" in html
    ja = (site.root / "ja/security.html").read_text(encoding="utf-8")
    assert "秘匿" in ja


def test_monitored_records_are_aggregate_only(site) -> None:
    rows = list(csv.DictReader(io.StringIO(
        (site.root / "data/latest/security/monitored.csv").read_text(encoding="utf-8-sig"))))
    assert list(rows[0]) == ["month", "records"]
    for r in rows:
        assert r["records"] == "x" or int(r["records"]) >= 10
