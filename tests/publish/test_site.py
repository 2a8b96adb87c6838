"""The built static site: every page in both languages, charts with tables, downloads that match
datapackage.json, links that resolve, no external resources, freshness and gaps stated."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import posixpath
import re
import shutil
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dashboards.publish import build_site
from dashboards.publish.site import prune_snapshots
from observatory.reference import ministries, municipalities, prefectures
from tests.publish.fixture import DEFINITIONS, NOW

HREF = re.compile(r'(?:href|src)="([^"]*)"')


def _html_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html") if "data" not in p.relative_to(root).parts[:1])


def test_every_page_exists_in_both_languages(site) -> None:
    expected = ["index.html", "kpi/index.html", "ministry/index.html", "prefecture/index.html",
                "municipality/index.html", "how.html", "freshness.html", "security.html", "data.html"]
    expected += [f"kpi/{k.kpi_id}.html" for k in DEFINITIONS] + ["kpi/mystery_kpi.html"]
    expected += [f"ministry/{m.code.lower()}.html" for m in ministries()]
    expected += [f"prefecture/{p.code}.html" for p in prefectures()]
    expected += [f"municipality/{m.code}.html" for m in municipalities()]
    assert len(municipalities()) == 1741
    for lang in ("ja", "en"):
        for rel in expected:
            path = site.root / lang / rel
            assert path.is_file(), path
    assert site.result.pages == 2 * len(expected) + 1  # + the language chooser
    for lang, other in (("ja", "en"), ("en", "ja")):
        text = (site.root / lang / "municipality" / "131016.html").read_text(encoding="utf-8")
        assert f'<html lang="{lang}">' in text
        assert 'hreflang="ja" href="../../ja/municipality/131016.html"' in text
        assert 'hreflang="en" href="../../en/municipality/131016.html"' in text
        assert f'href="../../{other}/municipality/131016.html" hreflang="{other}" lang="{other}"' in text


class _Structure(HTMLParser):
    """Collects what the accessibility and chart checks need from one page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict] = []
        self.stack: list[str] = []
        self.th_without_scope = 0
        self.landmarks: set[str] = set()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if tag in ("main", "nav", "header", "footer"):
            self.landmarks.add(tag)
        if tag == "section" and "figure" in (a.get("class") or ""):
            self.sections.append({"svg": 0, "table": 0, "caption": 0, "summary": False, "labelledby": []})
        if not self.sections:
            return
        cur = self.sections[-1]
        if tag == "svg":
            cur["svg"] += 1
            cur["labelledby"].append(a.get("aria-labelledby") or "")
            assert a.get("role") == "img"
        elif tag == "table":
            cur["table"] += 1
        elif tag == "caption":
            cur["caption"] += 1
        elif tag == "th" and not a.get("scope"):
            self.th_without_scope += 1
        elif tag == "p" and "summary" in (a.get("class") or ""):
            cur["summary"] = True


def test_every_chart_has_summary_and_table(site) -> None:
    checked_charts = 0
    pages = [p for p in _html_files(site.root / "ja") if "municipality/" not in p.as_posix()]
    pages += [site.root / lang / "municipality" / "131016.html" for lang in ("ja", "en")]
    pages += [site.root / "en" / "index.html", site.root / "en" / "kpi" / "card_holding_rate.html"]
    for path in pages:
        s = _Structure()
        s.feed(path.read_text(encoding="utf-8"))
        assert {"main", "nav", "header", "footer"} <= s.landmarks, path
        assert s.th_without_scope == 0, path
        assert len(s.ids) == len(set(s.ids)), f"duplicate ids in {path}"
        for sec in s.sections:
            assert sec["summary"] and sec["table"] == 1 and sec["caption"] == 1, path
            for ref in sec["labelledby"]:
                assert all(i in s.ids for i in ref.split()), (path, ref)
            checked_charts += sec["svg"]
    assert checked_charts >= 10


def test_links_resolve_and_nothing_is_external(site) -> None:
    files = _html_files(site.root)
    assert len(files) == site.result.pages
    existing = {p.relative_to(site.root).as_posix() for p in site.root.rglob("*")}
    for path in files:
        text = path.read_text(encoding="utf-8")
        here = path.parent.relative_to(site.root).as_posix()
        for target in set(HREF.findall(text)):
            assert not re.match(r"^[a-z]+:|^//", target), f"{path}: external reference {target}"
            clean = target.split("#")[0]
            if not clean:
                continue
            resolved = posixpath.normpath(posixpath.join(here, clean))
            assert resolved in existing, f"{path.relative_to(site.root)} -> {target}"


def _parse(value: str, ftype: str) -> object:
    if value in ("", "x"):
        return None
    if ftype == "integer":
        return int(value)
    if ftype == "number":
        return float(value)
    if ftype == "date":
        return date.fromisoformat(value)
    if ftype == "datetime":
        return datetime.fromisoformat(value)
    return value


def test_downloads_parse_and_match_datapackage(site) -> None:
    latest = site.root / "data" / "latest"
    package = json.loads((latest / "datapackage.json").read_text(encoding="utf-8"))
    assert package["licenses"] and package["resources"]
    listed = {r["path"] for r in package["resources"]}
    on_disk = {p.relative_to(latest).as_posix() for p in latest.rglob("*") if p.is_file()} - {
        "datapackage.json", "catalog.jsonld"}
    schemas = {r["schema"] for r in package["resources"]}
    assert listed | schemas == on_disk
    for r in package["resources"]:
        raw = (latest / r["path"]).read_bytes()
        if r["format"] == "csv":
            assert r["bytes"] == len(raw) and r["hash"] == "sha256:" + hashlib.sha256(raw).hexdigest()
        sch = json.loads((latest / r["schema"]).read_text(encoding="utf-8"))
        fields = sch["fields"]
        names = [f["name"] for f in fields]
        assert sch["primaryKey"] and set(sch["primaryKey"]) <= set(names)
        assert sch["missingValues"] == ["", "x"]
        if r["format"] == "csv":
            assert raw.startswith(b"\xef\xbb\xbf"), r["path"]
            rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
            assert rows[0] == names, r["path"]
            records = [dict(zip(names, row, strict=True)) for row in rows[1:]]
            parsed = [{f["name"]: _parse(rec[f["name"]], f["type"]) for f in fields} for rec in records]
        else:
            parsed = json.loads(raw)
            assert all(list(x) == names for x in parsed), r["path"]
        keys = [tuple(x[k] for k in sch["primaryKey"]) for x in parsed]
        assert len(keys) == len(set(keys)), f"duplicate primary key in {r['path']}"
    catalog = json.loads((latest / "catalog.jsonld").read_text(encoding="utf-8"))
    dists = catalog["dcat:dataset"][0]["dcat:distribution"]
    assert all((latest / d["dcat:downloadURL"]).is_file() for d in dists)


def test_figures_match_warehouse(site) -> None:
    """The overview's CSV carries the warehouse's latest national value, not a re-computed one."""
    from observatory.warehouse import for_workspace

    with for_workspace(site.ws).connect() as con:
        latest = con.execute("SELECT value FROM kpi_values WHERE kpi_id = 'online_rate_registration' AND level = 'national' "
                             "ORDER BY period DESC LIMIT 1").fetchone()[0]
    rows = list(csv.DictReader(io.StringIO(
        (site.root / "data/latest/overview/targets-2026.csv").read_text(encoding="utf-8-sig"))))
    row = next(r for r in rows if r["kpi_id"] == "online_rate_registration")
    assert abs(float(row["latest_value"]) - latest) < 1e-6
    html = (site.root / "ja/index.html").read_text(encoding="utf-8")
    assert f"{latest:,.1f}%" in html


def test_freshness_gaps_and_build_time_are_stated(site) -> None:
    ja = (site.root / "ja" / "freshness.html").read_text(encoding="utf-8")
    en = (site.root / "en" / "freshness.html").read_text(encoding="utf-8")
    assert "usage-rates" in en and "No data submitted" in en  # the failed source never delivered
    assert "データ未提出" in ja
    assert "2026年11月20日 12:00" in ja  # build time in Japan time
    # a municipality without figures says so instead of showing zeros
    muni_without = (site.root / "en" / "municipality" / "473821.html").read_text(encoding="utf-8")
    assert "no data submitted" in muni_without.lower()
    kpi = (site.root / "en" / "kpi" / "mystery_kpi.html").read_text(encoding="utf-8")
    assert "definition has not been published" in kpi
    card = (site.root / "en" / "kpi" / "card_holding_rate.html").read_text(encoding="utf-8")
    assert "municipalities have submitted no data" in card


def test_a_kpi_without_targets_says_so_in_its_forecast_with_the_latest_value(site) -> None:
    """The forecast table of a KPI with figures but no target said "no data submitted"."""
    for lang, no_target, latest, wrong in (("en", "No target set", "51.9% (FY2023)", "No data submitted"),
                                           ("ja", "目標なし", "51.9%（2023年度）", "データ未提出")):
        html = (site.root / lang / "kpi" / "dx_ai_in_use.html").read_text(encoding="utf-8")
        start = html.index('id="kpi-dx_ai_in_use-forecast-h"')
        forecast = html[start:html.index("</section>", start)]
        assert no_target in forecast and latest in forecast, forecast[:2000]
        assert wrong not in forecast


def test_a_one_point_history_states_its_value_and_period(site) -> None:
    """One figure read "went from 51.9 % in FY2023 to 51.9 % in FY2023"."""
    en = (site.root / "en" / "kpi" / "inventory_online_usage_rate.html").read_text(encoding="utf-8")
    ja = (site.root / "ja" / "kpi" / "inventory_online_usage_rate.html").read_text(encoding="utf-8")
    assert "Online usage rate of national procedures was 51.9% in FY2023." in en and "went from" not in en
    assert "国の行政手続のオンライン利用率は2023年度に51.9%でした。" in ja and "になりました" not in ja


def test_every_judged_status_has_words_a_symbol_and_a_count_on_the_public_site() -> None:
    """The public overview counts statuses by their words (STATUS): insufficient_recent_data was left out."""
    from dashboards.publish.i18n import STATUS, status_label
    from dashboards.publish.views import _status_counts
    from observatory.kpis.status import JUDGED

    assert set(JUDGED) <= set(STATUS)
    assert status_label("insufficient_recent_data", "ja") == "？ 最新データ不足"
    assert _status_counts(["insufficient_recent_data", "on_track"]) == ("順調1、最新データ不足1",
                                                                        "1 on track, 1 insufficient recent data")


def test_overview_weight_under_two_megabytes(site) -> None:
    for lang in ("ja", "en"):
        page = site.root / lang / "index.html"
        text = page.read_text(encoding="utf-8")
        total = page.stat().st_size
        for ref in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', text):
            total += (page.parent / ref).resolve().stat().st_size
        assert total < 2_000_000, total


def test_republish_makes_a_new_snapshot_and_keeps_latest_stable(site, tmp_path: Path) -> None:
    out = tmp_path / "site"
    shutil.copytree(site.root, out)  # the previous publication
    second = build_site(site.ws, out, definitions=DEFINITIONS, now=datetime(2026, 11, 21, tzinfo=NOW.tzinfo))
    snaps = sorted(p.name for p in (out / "data" / "snapshots").iterdir())
    assert snaps == sorted([site.result.snapshot, second.snapshot])
    pkg = json.loads((out / "data/latest/datapackage.json").read_text(encoding="utf-8"))
    assert pkg["version"] == second.snapshot
    old = json.loads((out / "data/snapshots" / site.result.snapshot / "datapackage.json").read_text("utf-8"))
    assert old["version"] == site.result.snapshot  # earlier snapshots are never rewritten
    assert "2026年11月21日" in (out / "ja" / "index.html").read_text(encoding="utf-8")
    assert not list(out.glob(".staging-*")) and not list(out.glob(".old-*"))
    assert prune_snapshots(out, 1) == [site.result.snapshot]
    assert [p.name for p in (out / "data" / "snapshots").iterdir()] == [second.snapshot]


def test_frictionless_validates_the_package(site, tmp_path: Path) -> None:
    """The reference implementation agrees (frictionless is optional: installed in dev, skipped elsewhere)."""
    frictionless = pytest.importorskip("frictionless")
    latest = site.root / "data" / "latest"
    package = json.loads((latest / "datapackage.json").read_text(encoding="utf-8"))
    chosen = [r for r in package["resources"] if r["path"].count("/") <= 1 and not r["path"].startswith(
        ("municipality/", "prefecture/", "ministry/"))]
    chosen += [r for r in package["resources"] if r["path"].startswith(("municipality/", "prefecture/13"))][:6]
    subset = latest / f"subset-{tmp_path.name}.json"  # beside the files: resource paths are relative
    subset.write_text(json.dumps({**package, "resources": chosen}, ensure_ascii=False), encoding="utf-8")
    try:
        with frictionless.system.use_context(trusted=True):
            report = frictionless.validate(str(subset))
    finally:
        subset.unlink()
    problems = [(task.name, e.type, e.message) for task in report.tasks for e in task.errors]
    assert report.valid, problems[:5]
    assert len(report.tasks) == len(chosen) > 20


def test_a_kpi_name_a_spreadsheet_would_run_is_inert_in_the_csv_and_as_written_elsewhere(published_ws) -> None:
    """A KPI's names come from a ministry's YAML; the public CSVs (kpis.csv, the overview, the ministry's files)
    wrote '=HYPERLINK(...)' and '@SUM(...)' as they were, and Excel runs such a cell as a formula."""
    from dataclasses import replace

    from dashboards.publish import opendata
    from dashboards.publish.site import read_site_data, site_pages, unique_tables

    name_ja, name_en = '=HYPERLINK("http://example.invalid/","詳細")', "@SUM(1+1)"
    defs = [replace(k, name_ja=name_ja, name_en=name_en) if k.kpi_id == "online_rate_registration" else k
            for k in DEFINITIONS]
    data = read_site_data(published_ws, defs, NOW)
    files = opendata.package_files(unique_tables(site_pages(data)), data.built_at, "s")
    named = {}
    for path, raw in files.items():
        if path.endswith(".csv"):
            for row in csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))):
                if row.get("kpi_id") == "online_rate_registration" and "name_ja" in row:
                    named[path] = (row["name_ja"], row["name_en"])
    assert {"kpis.csv", "overview/targets-2026.csv", "ministry/moj-kpis.csv"} <= set(named)
    assert set(named.values()) == {("'" + name_ja, "'" + name_en)}
    listed = json.loads(files["kpis.json"])
    assert next(r for r in listed if r["kpi_id"] == "online_rate_registration")["name_ja"] == name_ja


def _tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in root.rglob("*") if p.name != ".publish.lock"}


def test_a_publish_that_fails_midway_leaves_the_previous_site_and_its_files_as_they_were(
        site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new snapshot was written into data/snapshots/ before the pages, so a failed publish left a snapshot
    that was never published (half written when the disk filled) and its staging copy; and a publish in the
    same second as the last rewrote that snapshot's files in place, which are latest/'s own (hard links), so
    the live downloads changed under the old pages even when the publish then failed."""
    from dataclasses import replace

    from dashboards.publish import pages

    out = tmp_path / "site"
    shutil.copytree(site.root, out)
    before = _tree(out)
    renamed = [replace(k, name_en=k.name_en + " (renamed)") for k in DEFINITIONS]
    render, calls = pages.render, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 50:
            raise OSError(28, "No space left on device")
        return render(*args, **kwargs)

    monkeypatch.setattr(pages, "render", failing)
    for now in (NOW, datetime(2026, 11, 22, tzinfo=NOW.tzinfo)):  # the same second as the last publish, a later one
        calls.clear()
        with pytest.raises(OSError):
            build_site(site.ws, out, definitions=renamed, now=now)
        after = _tree(out)
        assert sorted(after) == sorted(before), sorted(set(after) ^ set(before))[:5]
        assert [p for p in before if after[p] != before[p]] == []
    monkeypatch.setattr(pages, "render", render)
    build_site(site.ws, out, definitions=renamed, now=NOW)  # the same second again, and it succeeds
    assert "(renamed)" in (out / "data/latest/kpis.csv").read_text(encoding="utf-8-sig")
    assert "(renamed)" in (out / "data/snapshots" / site.result.snapshot / "kpis.csv").read_text(encoding="utf-8-sig")
    assert not list(out.glob(".staging-*")) and not list(out.glob(".old-*"))


def test_every_download_that_points_to_a_unit_carries_it(site) -> None:
    """kpis.csv, a ministry's and a prefecture's files mix percentages, counts and days, and their schemas say
    the unit is 'given in the column `unit` of the same row', or in kpis.csv: none of them had that column, so a
    reader of the files alone could not tell 57.1 % from 57 cards (nor a fiscal year's 2023-04-01 from April)."""
    latest = site.root / "data" / "latest"
    package = json.loads((latest / "datapackage.json").read_text(encoding="utf-8"))
    pointing = 0
    for r in package["resources"]:
        fields = json.loads((latest / r["schema"]).read_text(encoding="utf-8"))["fields"]
        names = {f["name"] for f in fields}
        for f in fields:
            if "column `unit`" in f["description"]:
                pointing += 1
                assert "unit" in names, (r["path"], f["name"])
            if "see kpis.csv" in f["description"]:
                assert "kpi_id" in names, (r["path"], f["name"])
    assert pointing
    kpis = {r["kpi_id"]: r for r in csv.DictReader(io.StringIO((latest / "kpis.csv").read_text(encoding="utf-8-sig")))}
    by_id = {k.kpi_id: k for k in DEFINITIONS}
    assert {(i, r["unit"], r["frequency"]) for i, r in kpis.items() if i in by_id} == {
        (k.kpi_id, k.unit, k.frequency) for k in DEFINITIONS}


def test_the_search_box_shows_only_with_the_script_that_searches(site) -> None:
    """Without JavaScript the municipality list offered a search box that did nothing (every row shows anyway)."""
    html = (site.root / "en" / "municipality" / "index.html").read_text(encoding="utf-8")
    box = re.search(r'<div class="search"[^>]*>', html).group(0)
    assert " hidden" in box
    script = (site.root / "assets" / "site.js").read_text(encoding="utf-8")
    assert 'q.closest(".search").hidden = false' in script


def test_a_latest_value_older_than_the_others_says_its_period(site) -> None:
    """The municipality and prefecture lists show each one's latest value: a late submitter's value of three
    months before stood beside the others' without its period (in the page, the API and municipalities.csv),
    so a ranking compared September with December unawares."""
    latest = site.root / "data" / "latest"
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(
        (latest / "municipalities.csv").read_text(encoding="utf-8-sig")))}
    periods = {code: r["card_holding_rate_period"] for code, r in rows.items() if r["card_holding_rate"]}
    late = sorted(code for code, p in periods.items() if p == "2025-09-01")  # the fixture's late submitters
    assert late and set(periods.values()) == {"2025-09-01", "2025-12-01"}
    current = next(code for code, p in periods.items() if p == "2025-12-01")
    for lang, said in (("ja", "（2025年9月）"), ("en", " (Sep 2025)")):
        html = (site.root / lang / "municipality" / "index.html").read_text(encoding="utf-8")
        row = re.search(rf'<tr data-q="{late[0]}[^"]*">(.*?)</tr>', html).group(1)
        assert said in row, row
        assert "2025" not in re.search(rf'<tr data-q="{current}[^"]*">(.*?)</tr>', html).group(1)
