"""One status per KPI everywhere: the overview card, the KPI page, the overview CSV, the public pages (HTML),
the public JSON API and the open-data CSV give the same status for the same KPI, level, entity and target."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from dashboards.publish.i18n import status_label as public_label
from dashboards.publish.views import _slug
from observatory.kpis.status import today_jst
from observatory.warehouse import for_workspace
from tests.dashboards.test_access import router_body


def _find(node: Any, ident: str) -> dict | None:
    """The Dash component with this id in a rendered layout (JSON)."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == ident:
            return node
        for v in node.values():
            hit = _find(v, ident)
            if hit is not None:
                return hit
    elif isinstance(node, list):
        for v in node:
            hit = _find(v, ident)
            if hit is not None:
                return hit
    return None


def _status_class(node: dict) -> str:
    classes = node["props"]["className"].split()
    return next(c for c in classes if c.startswith("status-"))[len("status-"):]


def _render(client, path: str) -> dict:
    resp = client.post("/_dash-update-component", json=router_body(path))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_json()


def test_one_status_per_kpi_across_dashboard_pages_public_pages_and_api(workspace, built, client_for) -> None:
    cio = client_for("cio1")
    overview = _render(cio, "/overview")
    rows = list(csv.DictReader(io.StringIO(cio.get("/download/overview.csv?lang=en").get_data(as_text=True)
                                           .lstrip("\ufeff"))))
    by_csv = {r[next(k for k in r if k.endswith("(kpi_id)"))]: r for r in rows}
    seen = set()
    for kpi_id in built.kpi_ids:
        card = _find(overview, f"card-{kpi_id}")
        assert card is not None, kpi_id
        status = _status_class(card)
        seen.add(status)
        csv_row = by_csv[kpi_id]
        assert csv_row[next(k for k in csv_row if k.endswith("(status)"))] == status
        page = _render(cio, f"/kpi/{kpi_id}")
        verdict = _find(page, "kpi-status")
        badge = verdict["props"]["children"][0]
        assert _status_class(badge) == status, kpi_id
        api = cio.get(f"/api/public/kpi/{_slug(kpi_id)}")
        assert api.status_code == 200
        model = api.get_json()
        assert model["status"]["status"] == status, (kpi_id, model["status"])
        html = cio.get(f"/public/ja/kpi/{_slug(kpi_id)}.html").get_data(as_text=True)
        assert public_label(status, "ja") in html
        # every target year: dashboard forecast table == public overview per year (API) == open-data CSV
        fc_csv = list(csv.DictReader(io.StringIO(
            cio.get(f"/download/kpi-forecast.csv?kpi={kpi_id}&lang=en").get_data(as_text=True).lstrip("\ufeff"))))
        per_year = {int(r[next(k for k in r if k.endswith("(target_year)"))]):
                    r[next(k for k in r if k.endswith("(status)"))] for r in fc_csv}
        forecast_fig = next(f for f in model["figures"] if f["id"].endswith("-forecast"))
        assert per_year == {int(r["target_year"]): r["status"] for r in forecast_fig["table"]["rows"]}
    overview_api = cio.get("/api/public/index").get_json()
    for fig in overview_api["figures"]:
        year = int(fig["id"].split("-")[1])
        for r in fig["table"]["rows"]:
            fc_csv = list(csv.DictReader(io.StringIO(
                cio.get(f"/download/kpi-forecast.csv?kpi={r['kpi_id']}&lang=en").get_data(as_text=True)
                .lstrip("\ufeff"))))
            mine = {int(x[next(k for k in x if k.endswith("(target_year)"))]): x for x in fc_csv}
            assert mine[year][next(k for k in mine[year] if k.endswith("(status)"))] == r["status"], (year, r)
    assert len(seen) >= 2  # the fixture has KPIs on both sides of their targets: the test can tell them apart


def test_a_target_exceeded_after_its_date_is_achieved_not_behind(workspace, built, client_for) -> None:
    """The fixture's higher-is-better KPIs pass 40 after the 2020 and 2023 target dates: achieved, late."""
    with for_workspace(workspace).connect() as con:
        rows = con.execute(
            "SELECT kpi_id, max(value) FROM kpi_values WHERE level = 'national' GROUP BY kpi_id").fetchall()
    from dashboards.catalogue import kpi_infos

    up = {k.id for k in kpi_infos(workspace) if k.direction == "higher_is_better"}
    exceeded = sorted(k for k, v in rows if k in up and v >= 40.0)
    assert exceeded
    cio = client_for("cio1")
    api = {r["kpi_id"]: r for f in cio.get("/api/public/index").get_json()["figures"] if f["id"] == "overview-2020"
           for r in f["table"]["rows"]}
    for kpi_id in exceeded:
        r = api[kpi_id]
        assert r["status"] == "achieved", r
        assert "期日後" in r["reason_ja"]
        assert r["progress_pct"] is None or r["progress_pct"] <= 100.0  # not latest / target (which is > 100)


def test_no_projected_attainment_date_in_the_past_on_any_card(workspace, built, client_for) -> None:
    """A stored projection already past (the forecast ran long ago) never shows as '達成見込み'."""
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE kpi_forecasts SET attainment_date = DATE '2025-01-01', target_date = DATE '2027-03-31' "
                    "WHERE level = 'national' AND target_year = 2026")
    cio = client_for("cio1")
    rows = list(csv.DictReader(io.StringIO(cio.get("/download/overview.csv?lang=en").get_data(as_text=True)
                                           .lstrip("\ufeff"))))
    today = today_jst()
    behind = 0
    for r in rows:
        raw = r[next(k for k in r if k.endswith("(attainment_date)"))]
        status = r[next(k for k in r if k.endswith("(status)"))]
        if status in ("on_track", "at_risk", "off_track"):
            behind += 1
            assert not raw or date.fromisoformat(raw) >= today, r
    assert behind  # some cards are not met: the stale date would have shown on them
    overview = json.dumps(_render(cio, "/overview"), ensure_ascii=False)
    assert "2025年1月" not in overview


def test_areas_and_municipality_pages_agree_with_the_kpi_page(workspace, built, client_for) -> None:
    cio = client_for("cio1")
    prefs = list(csv.DictReader(io.StringIO(cio.get(f"/download/area-prefectures.csv?kpi={built.area_kpi}&lang=en")
                                            .get_data(as_text=True).lstrip("\ufeff"))))
    by_code = {r[next(k for k in r if k.endswith("(code)"))]: r[next(k for k in r if k.endswith("(status)"))]
               for r in prefs}
    for code in ("01", "13", "47"):
        page = _render_search(cio, f"/kpi/{built.area_kpi}", f"?level=prefecture&entity={code}")
        assert _status_class(_find(page, "kpi-status")["props"]["children"][0]) == by_code[code], code
    munis = list(csv.DictReader(io.StringIO(cio.get("/download/municipality.csv?code=011002&lang=en")
                                            .get_data(as_text=True).lstrip("\ufeff"))))
    row = next(r for r in munis if r[next(k for k in r if k.endswith("(kpi_id)"))] == built.area_kpi)
    page = _render_search(cio, f"/kpi/{built.area_kpi}", "?level=municipality&entity=011002")
    assert _status_class(_find(page, "kpi-status")["props"]["children"][0]) == \
        row[next(k for k in row if k.endswith("(status)"))]


def _render_search(client, path: str, search: str) -> dict:
    resp = client.post("/_dash-update-component", json=router_body(path, search))
    assert resp.status_code == 200
    return resp.get_json()


def test_the_cli_report_gives_the_same_status(workspace, built, client_for) -> None:
    from click.testing import CliRunner

    from observatory.cli import cli

    out = CliRunner().invoke(cli, ["--home", str(workspace.home), "kpi", "report", "--format", "json"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    report = {r["kpi_id"]: r for r in json.loads(out.output)}
    rows = list(csv.DictReader(io.StringIO(client_for("cio1").get("/download/overview.csv?lang=en")
                                           .get_data(as_text=True).lstrip("\ufeff"))))
    cards = {r[next(k for k in r if k.endswith("(kpi_id)"))]: r[next(k for k in r if k.endswith("(status)"))]
             for r in rows}
    assert cards and {k: report[k]["status"] for k in cards} == cards
