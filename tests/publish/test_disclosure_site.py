"""Disclosure control end to end: the built site and the API carry no staff or subject identifier and
no count below 10 derived from access logs or alerts."""

from __future__ import annotations

import csv
import io

import httpx

from tests.publish.fixture import STAFF_MARKER, STAFF_NAME_MARKER, SUBJECT_MARKER

FORBIDDEN = [STAFF_MARKER, STAFF_NAME_MARKER, SUBJECT_MARKER, "moj-officer-kato", "127.0.0.1", "131016', 'tax'"]


def test_built_site_has_no_identifiers(site) -> None:
    scanned = 0
    for path in site.root.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".csv", ".json", ".jsonld"):
            text = path.read_text(encoding="utf-8-sig")
            for marker in FORBIDDEN:
                assert marker not in text, f"{marker} in {path}"
            scanned += 1
    assert scanned > 4000  # pages in both languages and every data file


def test_api_has_no_identifiers(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        paths = ["", "index", "security", "freshness", "how", "kpi/index", "kpi/online_rate_registration", "ministry/moj",
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


def test_alert_derived_kpi_hides_small_months(site) -> None:
    """The triage rate of a month with 6 alerts would give its counts away: value and counts are "x"."""
    rows = list(csv.DictReader(io.StringIO(
        (site.root / "data/latest/kpi/alert_triage_within_sla_rate-history.csv").read_text(encoding="utf-8-sig"))))
    small = [r for r in rows if r["period"].endswith(("-01-01", "-05-01", "-09-01"))]
    assert small and all(r["value"] == "x" and r["numerator"] == "x" and r["denominator"] == "x" for r in small)
    large = [r for r in rows if r not in small]
    assert large and all(float(r["value"]) > 0 and float(r["denominator"]) >= 10 for r in large)
    # a per-1,000-staff rate whose counts are not known cannot be checked, so it is not published
    rates = list(csv.DictReader(io.StringIO((site.root / "data/latest/kpi/"
                                             "confirmed_unauthorised_viewings_per_1000_staff-history.csv")
                                            .read_text(encoding="utf-8-sig"))))
    assert rates and all(r["value"] == "x" for r in rates)
    html = (site.root / "en/kpi/alert_triage_within_sla_rate.html").read_text(encoding="utf-8")
    assert "suppressed" in html


def test_figures_whose_definition_is_gone_are_published_under_disclosure_control(published_ws) -> None:
    """Values stay in the warehouse when a KPI's YAML is removed or its id renamed (compute touches only the
    KPIs it knows), and the site publishes them as a KPI without a definition: the triage rate's months of 6
    alerts went out with their counts (5 of 6) once security.yaml was gone, as nothing said they were alerts'."""
    from dashboards.publish import opendata
    from dashboards.publish.site import read_site_data, site_pages, unique_tables
    from tests.publish.fixture import DEFINITIONS, NOW, TRIAGE

    defs = [k for k in DEFINITIONS if k.source_table != "alerts"]
    data = read_site_data(published_ws, defs, NOW)
    files = opendata.package_files(unique_tables(site_pages(data)), data.built_at, "s")
    rows = list(csv.DictReader(io.StringIO(files[f"kpi/{TRIAGE}-history.csv"].decode("utf-8-sig"))))
    assert rows
    for r in rows:
        assert r["value"] == "x" or float(r["denominator"]) >= 10, r
        assert r["numerator"] == "x" or float(r["numerator"]) >= 10, r


def test_the_monitoring_feeds_are_not_listed_among_the_sources(workspace) -> None:
    """The freshness page listed every source run, the access log and the rosters too: when the access-log feed
    last delivered, that its last attempt failed and that it was overdue told an insider when nobody was looking."""
    from datetime import timedelta
    from typing import get_args

    from dashboards.publish import opendata, views
    from dashboards.publish.data import MONITORING_KINDS
    from dashboards.publish.site import read_site_data
    from observatory.config import SourceKind
    from observatory.warehouse import for_workspace
    from tests.publish.fixture import DEFINITIONS, NOW

    runs = [(900001 + i, name, kind, NOW - timedelta(days=3), NOW - timedelta(days=3), status, 10)
            for i, (name, kind, status) in enumerate([("card_drop", "card-issuance", "ok"),
                                                      ("access_log_drop", "access-log", "failed"),
                                                      ("staff_drop", "staff", "ok"), ("subjects_drop", "subjects", "ok"),
                                                      ("cases_drop", "cases", "ok")])]
    with for_workspace(workspace).connect() as con:
        con.executemany("INSERT INTO collector_runs (run_id, source, kind, started_at, finished_at, status, "
                        "rows_loaded) VALUES (?, ?, ?, ?, ?, ?, ?)", runs)
    page = views.freshness(read_site_data(workspace, DEFINITIONS, NOW))
    sources = next(f.table for f in page.figures if f.table.name == "freshness-sources")
    assert [r["source"] for r in sources.rows] == ["card_drop"]
    text = opendata.csv_bytes(sources).decode("utf-8-sig") + str(page.to_dict())
    assert not any(word in text for word in ("access_log_drop", "access-log", "staff_drop", "subjects", "cases"))
    assert MONITORING_KINDS <= set(get_args(SourceKind))  # named as the declared list of source kinds names them


def test_a_judgement_never_states_a_suppressed_figure(workspace) -> None:
    """Statuses are judged on the figures before disclosure control, and their reasons state the figure judged:
    with the triage rate's latest month one of 6 alerts, the overview showed its value as x and its reason
    'Latest 83.3%' (5 of 6) beside it, in the CSV, the JSON and the API."""
    from dashboards.publish import opendata, views
    from dashboards.publish.site import read_site_data, site_pages, unique_tables
    from observatory.warehouse import for_workspace
    from tests.publish.fixture import DEFINITIONS, NOW, TRIAGE, populate

    populate(workspace, municipalities=3)
    with for_workspace(workspace).connect() as con:  # the fixture's month of 6 alerts becomes the latest
        con.execute("DELETE FROM kpi_values WHERE kpi_id = ? AND period > DATE '2025-09-01'", [TRIAGE])
    data = read_site_data(workspace, DEFINITIONS, NOW)
    page_list = site_pages(data)
    files = opendata.package_files(unique_tables(page_list), data.built_at, "s")
    texts = [raw.decode("utf-8-sig") for path, raw in files.items() if path.endswith((".csv", ".json"))]
    texts += [str(p.to_dict()) for p in page_list]
    assert not [t for t in texts if "83.3" in t]
    rows = list(csv.DictReader(io.StringIO(files["overview/targets-2026.csv"].decode("utf-8-sig"))))
    triage = next(r for r in rows if r["kpi_id"] == TRIAGE)
    assert triage["latest_value"] == "x" and triage["progress_pct"] == "" and triage["status"]
    assert "(x)" in triage["reason_en"] and "（x）" in triage["reason_ja"]
    assert views.kpi_page(data, data.kpi(TRIAGE)).status["status"]  # the status is still judged and shown
