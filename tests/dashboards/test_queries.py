"""Pure query and view functions on the fixture warehouse, checked against independently known data."""

from __future__ import annotations

from datetime import date

import pytest

from dashboards import queries, views
from dashboards.catalogue import kpi_infos
from observatory.errors import PermissionDenied, UserError
from observatory.reference import municipalities
from observatory.warehouse import for_workspace
from observatory.workspace import load_workspace


@pytest.fixture(scope="module")
def ro(built_home):
    """(workspace, built) of the shared session warehouse, read only."""
    home, built = built_home
    return load_workspace(home), built


def test_latest_values_are_the_last_period(ro) -> None:
    ws, built = ro
    with for_workspace(ws).connect() as con:
        latest = queries.latest_values(con)
    for i, kpi_id in enumerate(built.kpi_ids):
        assert latest[kpi_id]["period"] == date(2026, 9, 1)
        assert latest[kpi_id]["value"] == pytest.approx(10.0 + i + 35 * 0.5)


def test_overview_cards_filter_by_ministry_and_year(ro) -> None:
    ws, built = ro
    infos = kpi_infos(ws)
    with for_workspace(ws).connect() as con:
        all_cards = queries.overview_cards(con, infos)
        mic = queries.overview_cards(con, infos, ministry="MIC")
        y2020 = queries.overview_cards(con, infos, year=2020)
    assert len(all_cards) == len(infos)
    assert {c["kpi_id"] for c in mic} == {k.id for k in infos if k.owner == "MIC"} and mic
    assert {c["kpi_id"] for c in y2020} == {k.id for k in infos if k.target_year_group == 2020}
    card = next(c for c in all_cards if c["kpi_id"] == built.area_kpi)
    group = next(k.target_year_group for k in infos if k.id == built.area_kpi)
    assert card["target_2026"] == 40.0  # the forecast's target wins over the definition's
    assert card["attainment_date"] == (date(2028, 6, 1) if group == 2026 else None)
    assert len(card["spark"]) == 24


def test_ranking_of_a_prefecture(ro) -> None:
    ws, built = ro
    tokyo = [m for m in municipalities() if m.prefecture_code == "13"]
    with for_workspace(ws).connect() as con:
        rows = queries.municipality_ranking(con, built.area_kpi, "13")
        asc = queries.municipality_ranking(con, built.area_kpi, "13", sort="value_asc")
        by_name = queries.municipality_ranking(con, built.area_kpi, None, search="千代田")
        by_code = queries.municipality_ranking(con, built.area_kpi, None, search="1310")
        by_en = queries.municipality_ranking(con, built.area_kpi, None, search="chiyoda")
    assert {r["code"] for r in rows} == {m.code for m in tokyo}
    values = [r["value"] for r in rows]
    assert values == sorted(values, reverse=True)
    assert rows[0]["rank"] == 1 and [r["value"] for r in asc] == sorted(values)
    assert "131016" in {r["code"] for r in by_name}
    assert by_code and all(r["code"].startswith("1310") for r in by_code)
    assert "131016" in {r["code"] for r in by_en}


def test_prefecture_values_cover_all_47(ro) -> None:
    ws, built = ro
    with for_workspace(ws).connect() as con:
        rows = queries.prefecture_values(con, built.area_kpi)
    assert len(rows) == 47 and all(r["value"] is not None for r in rows)
    assert rows[0]["code"] == "01" and rows[0]["value"] == 20.0


def test_source_freshness_flags_stale_and_missing(ro) -> None:
    ws, _ = ro
    with for_workspace(ws).connect() as con:
        rows = {r["source"]: r for r in queries.source_freshness(con, ws.config.sources)}
    assert rows["card-feed"]["state"] == "ok"
    assert rows["usage-feed"]["state"] == "stale" and rows["usage-feed"]["age_hours"] > 24 * 99
    assert rows["never-feed"]["state"] == "never"


def test_lineage_finds_runs_and_submissions(ro) -> None:
    ws, built = ro
    with for_workspace(ws).connect() as con:
        lin = queries.lineage(con, built.area_kpi)
    assert [r["run_id"] for r in lin["runs"]] == [900001]
    assert [r["submission_id"] for r in lin["submissions"]] == [800001]


def test_usual_pattern_and_evidence_hours(ro) -> None:
    ws, _ = ro
    with for_workspace(ws).connect() as con:
        usual = queries.usual_hourly_pattern(con, "S001", date(2026, 10, 29), days=28)
        events = con.execute("SELECT occurred_at FROM access_events WHERE starts_with(event_id, 'x-')").fetchall()
    means = {r["hour"]: r["mean_events"] for r in usual}
    assert {h for h, v in means.items() if v > 0} == {9, 10, 11, 14, 15}
    assert means[9] == pytest.approx(1.0)
    counts = queries.hourly_counts([{"occurred_at": e[0]} for e in events])
    assert {r["hour"] for r in counts if r["events"]} == {22, 23}


def test_views_validate_parameters_and_scope(ro) -> None:
    ws, built = ro
    cio, mic = ws.config.user("cio1"), ws.config.user("mic1")
    with for_workspace(ws).connect() as con:
        with pytest.raises(UserError, match="sort='bogus'"):
            views.area_municipalities(con, ws, cio, {"kpi": built.area_kpi, "pref": "13", "sort": "bogus"})
        with pytest.raises(UserError, match="pref='99'"):
            views.area_municipalities(con, ws, cio, {"kpi": built.area_kpi, "pref": "99"})
        with pytest.raises(UserError, match="ministry"):
            views.overview(con, ws, cio, {"ministry": "'; DROP TABLE kpi_values; --"})
        with pytest.raises(PermissionDenied):
            views.overview(con, ws, mic, {})
        with pytest.raises(PermissionDenied):
            views.kpi_history(con, ws, mic, {"kpi": built.other_kpi})
        assert views.kpi_history(con, ws, mic, {"kpi": built.mic_kpi}).rows


def test_csv_has_bom_and_defuses_formulas(ro) -> None:
    data = views.ViewData([views.Column("name", "col.name"), views.Column("value", "col.value", "value"),
                           views.Column("note", "col.note")],
                          [{"name_ja": "東京都", "name_en": "Tokyo", "value": -1.5, "note": "=HYPERLINK(1)"}])
    text = views.csv_bytes(data, "ja").decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0] == "名称 (name_ja),名称 (name_en),値 (value),メモ (note)"
    assert lines[1] == "東京都,Tokyo,-1.5,'=HYPERLINK(1)"


def test_catalogue_adapter_reads_the_shipped_definitions(ro) -> None:
    ws, _ = ro
    infos = kpi_infos(ws)
    assert len(infos) >= 14 and len({k.id for k in infos}) == len(infos)
    assert all(k.name_ja and k.name_en and k.owner and k.target_year_group in (2020, 2023, 2026) for k in infos)
    assert all(k.versions and k.versions[0][0] == 1 and k.versions[0][2] for k in infos)  # history is read
    card = next(k for k in infos if k.id == "card_holding_rate")
    assert "card_issuance_rate" in card.shown_with  # issued and held: two measures on one chart
    assert any(k.targets for k in infos) and any(k.submittable for k in infos)


def test_the_audit_filter_offers_the_users_and_the_latest_other_actors_only(tmp_path) -> None:
    from observatory.security import audit
    from observatory.workspace import init_workspace

    ws, _ = init_workspace(tmp_path / "ws")
    with for_workspace(ws).connect() as con:
        audit.record(con, actor="sec1", action="signin")
        for i in range(300):  # names typed at failed sign-ins: anyone can add them
            audit.record(con, actor=f"guess{i:03d}", action="signin", outcome="denied")
        choices = queries.audit_choices(con, ["sec1", "admin1"], limit=50)
    assert "sec1" in choices["actors"] and "admin1" not in choices["actors"]  # a user with no entry is no choice
    assert len(choices["actors"]) == 51
    assert {f"guess{i:03d}" for i in range(250, 300)} <= set(choices["actors"])  # the most recent ones
    assert choices["actors"] == sorted(choices["actors"]) and choices["actions"] == ["signin"]


def test_csv_defuses_a_list_cell_and_a_tab_led_formula(ro) -> None:
    data = views.ViewData([views.Column("note", "col.note"), views.Column("target", "col.target_obj")],
                          [{"note": ["=HYPERLINK(1)", "b"], "target": "\t=1+1"}])
    rows = list(__import__("csv").reader(views.csv_bytes(data, "en").decode("utf-8-sig").splitlines()))
    assert rows[1] == ["'=HYPERLINK(1);b", "'\t=1+1"]
