"""The public site names its sources (CC BY), marks synthetic data and shows the publishers' checks."""

from __future__ import annotations

import json
from pathlib import Path

import collectors
from dashboards.publish.site import build_site
from observatory.config import shipped_realdata_dir
from observatory.kpis import load_catalogue
from observatory.kpis.engine import recompute
from observatory.warehouse import for_workspace
from observatory.workspace import load_workspace

MIC = shipped_realdata_dir() / "mic_card_issuance"


def test_kpi_pages_cite_sources_mark_synthetic_data_and_checks_are_published(workspace, tmp_path: Path) -> None:
    workspace.config.synthetic_data = ["procedure_cases"]
    workspace.save_config()
    ws = load_workspace(workspace.home)
    files = [MIC / f"all_{kind}_20221231.csv.gz" for kind in ("localgovs", "prefectures")]
    assert all(r.status == "ok" for r in collectors.ingest_files(ws, "card-issuance", files))
    with for_workspace(ws).connect() as con:
        recompute(con, load_catalogue(ws.kpi_dir))
    build_site(ws, tmp_path / "site")
    site = tmp_path / "site"
    card = (site / "ja" / "kpi" / "card_issuance_rate.html").read_text(encoding="utf-8")
    assert "総務省" in card and "政府標準利用規約" in card and "codeforjapan/mynumbercard_statistics" in card
    assert "デジタル・ガバメント実行計画" in card and "例示" in card  # official 2023 target cited, others illustrative
    assert "合成データ" not in card
    assert 'href="../kpi/card_holding_rate.html"' in card and "測定対象の変更" in card  # issued and held, linked
    turnaround = (site / "en" / "kpi" / "decided_within_standard_rate.html").read_text(encoding="utf-8")
    assert "synthetic demo data" in turnaround
    overview = (site / "ja" / "index.html").read_text(encoding="utf-8")
    assert "（合成データ）" in overview
    how = (site / "en" / "how.html").read_text(encoding="utf-8")
    assert "Checks against published figures" in how and "agrees" in how and "not loaded" in how
    package = json.loads((site / "data" / "latest" / "datapackage.json").read_text(encoding="utf-8"))
    assert any("総務省" in s["title"] for s in package["sources"])
    history = next(r for r in package["resources"] if r["name"] == "kpi-card_issuance_rate-history")
    assert history["sources"][0]["path"].startswith("https://www.soumu.go.jp/")


def test_every_table_marks_synthetic_figures_and_names_fiscal_years_as_fiscal_years(workspace, tmp_path: Path) -> None:
    """The indicator list, ministry and prefecture pages showed synthetic figures unmarked (only the overview and
    the indicator's own page said so), and a fiscal year's value as a month ('Apr 2016' for FY2016)."""
    from datetime import date

    from tests.kpis.test_engine import USAGE

    workspace.config.synthetic_data = ["procedure_usage"]
    workspace.save_config()
    ws = load_workspace(workspace.home)
    with for_workspace(ws).connect() as con:
        con.executemany(USAGE, [("MOJ", "p1", "registration", date(2016, 4, 1), 100, 60, True, None),
                                ("MOJ", "p1", "registration", date(2017, 2, 1), 50, 40, True, None)])
        recompute(con, load_catalogue(ws.kpi_dir))
    build_site(ws, tmp_path / "site")
    site = tmp_path / "site"
    for page in ("kpi/index.html", "ministry/moj.html", "index.html"):
        en = (site / "en" / page).read_text(encoding="utf-8")
        ja = (site / "ja" / page).read_text(encoding="utf-8")
        assert "Online usage rate: registration (synthetic data)" in en, page
        assert "オンライン利用率（登記）（合成データ）" in ja, page
        assert "FY2016" in en and "Apr 2016" not in en, page
        assert "2016年度" in ja and "2016年4月" not in ja, page


def test_every_download_of_a_synthetic_kpi_says_so_in_its_title(published_ws) -> None:
    """The indicator's history, forecast and prefecture files were titled by its bare name in datapackage.json
    and in the download links, so a journalist taking the CSV took synthetic figures as published ones."""
    from dataclasses import replace

    from dashboards.publish import opendata
    from dashboards.publish.site import read_site_data, site_pages, unique_tables
    from tests.publish.fixture import CARD, DEFINITIONS, NOW

    data = replace(read_site_data(published_ws, DEFINITIONS, NOW), synthetic_tables=frozenset({"card_issuance"}))
    files = opendata.package_files(unique_tables(site_pages(data)), data.built_at, "s")
    package = json.loads(files["datapackage.json"])
    own = [r for r in package["resources"] if r["name"].startswith(f"kpi-{CARD}-")]
    assert {r["path"] for r in own} >= {f"kpi/{CARD}-{x}.{f}" for x in ("history", "forecast", "prefectures")
                                        for f in ("csv", "json")}
    for r in own:
        assert "(synthetic data)" in r["title"] and "（合成データ）" in r["description"], r["path"]
    online = next(r for r in package["resources"] if r["name"] == "kpi-online_rate_registration-history")
    assert "synthetic" not in online["title"]  # a KPI reading none of the synthetic tables stays unmarked
