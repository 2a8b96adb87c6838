"""The KPI engine against hand-computed values on small fixtures, at every level."""

from __future__ import annotations

import json
from datetime import date

import pytest

from observatory.errors import UserError
from observatory.kpis.catalogue import load_catalogue
from observatory.kpis.engine import recompute
from tests.kpis.conftest import FIXTURES, values

USAGE = ("INSERT INTO procedure_usage (ministry_code, procedure_id, procedure_name, field, period, cases_total, "
         "cases_online, online_available, run_id, submission_id) VALUES (?, ?, 'x', ?, ?, ?, ?, ?, ?, NULL)")
CASE_COLUMNS = ("(case_ref, procedure_id, ministry_code, municipality_code, channel, submitted_at, decided_at, "
                "standard_days, run_id, submission_id)")


def _usage(con, rows):
    con.executemany(USAGE, rows)


def test_fiscal_year_ratio_at_national_and_ministry_with_missing_period(warehouse, shipped):
    with warehouse.connect() as con:
        _usage(con, [
            ("MOJ", "p1", "registration", date(2016, 4, 1), 100, 60, True, 1),
            ("MOJ", "p1", "registration", date(2016, 10, 1), 100, 80, True, 1),
            ("MOJ", "p1", "registration", date(2017, 2, 1), 50, 40, True, 1),  # FY2016 (Feb 2017)
            ("MIC", "p3", "registration", date(2016, 6, 1), 100, 20, True, 2),
            ("MOJ", "p2", "registration", date(2018, 5, 1), 200, 150, True, 3),
            ("MHLW", "p4", "social_insurance", date(2016, 5, 1), 1000, 87, True, 4),
        ])
        result = recompute(con, shipped, kpi_ids=["online_rate_registration"], forecast=False)
        got = values(con, "online_rate_registration")
        lineage = con.execute("SELECT lineage FROM kpi_values WHERE kpi_id = 'online_rate_registration' AND "
                              "level = 'national' AND period = DATE '2016-04-01'").fetchall()[0][0]
        gap = con.execute("SELECT target, gap FROM kpi_values WHERE kpi_id = 'online_rate_registration' AND "
                          "entity_code = 'MOJ' AND period = DATE '2016-04-01'").fetchall()[0]
    assert got == {
        ("national", "JP", "2016-04-01"): (1, round(200 / 350 * 100, 6), "off_track"),
        ("national", "JP", "2017-04-01"): (1, None, "no_data"),  # a missing fiscal year is explicit, not zero
        ("national", "JP", "2018-04-01"): (1, 75.0, "achieved"),
        ("ministry", "MOJ", "2016-04-01"): (1, 72.0, "on_track"),
        ("ministry", "MOJ", "2017-04-01"): (1, None, "no_data"),
        ("ministry", "MOJ", "2018-04-01"): (1, 75.0, "achieved"),
        ("ministry", "MIC", "2016-04-01"): (1, 20.0, "off_track"),
        ("ministry", "MIC", "2017-04-01"): (1, None, "no_data"),
        ("ministry", "MIC", "2018-04-01"): (1, None, "no_data"),
    }
    assert json.loads(lineage) == {"runs": [1, 2], "submissions": []}
    assert gap == (75.0, 3.0)  # the 2020 target governs FY2016; 3 points still to go
    assert result.values == 9 and result.changed == 9


def test_status_thresholds_follow_the_baseline_to_target_trajectory(warehouse, simple):
    # simple_registration_rate: baseline 50 on 2016-04-01, target 80 on 2024-03-31; on FY2020 (2020-04-01)
    # the expected value is 50 + 30 * 1461 / 2921 = 65.005; progress = (value - 50) / 15.005
    with warehouse.connect() as con:
        _usage(con, [
            ("MOJ", "a", "registration", date(2020, 4, 1), 100, 65, True, 1),   # progress 0.9997 -> on track
            ("MIC", "b", "registration", date(2020, 4, 1), 100, 63, True, 1),   # 0.866 -> at risk (>= 0.80)
            ("MHLW", "c", "registration", date(2020, 4, 1), 100, 55, True, 1),  # 0.333 -> off track
            ("DA", "d", "registration", date(2020, 4, 1), 100, 81, True, 1),    # meets 80 -> achieved
        ])
        recompute(con, simple, forecast=False)
        got = values(con, "simple_registration_rate", "ministry")
        national = values(con, "simple_registration_rate", "national")
    assert {k[1]: v[2] for k, v in got.items()} == {"MOJ": "on_track", "MIC": "at_risk", "MHLW": "off_track",
                                                    "DA": "achieved"}
    assert national == {("national", "JP", "2020-04-01"): (1, 66.0, "on_track")}


CARD_COLUMNS = "(municipality_code, as_of, period, population, applications, issued, held, run_id)"


def _insert_cards(con, rows) -> None:
    """(code, as_of, population, applications, issued, held, run_id); period = as_of's month."""
    con.executemany(f"INSERT INTO card_issuance {CARD_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(c, d, d.replace(day=1), *rest) for c, d, *rest in rows])


def _cards(con):
    _insert_cards(con, [
        ("011002", date(2020, 3, 31), 1000, 300, 200, 190, 10),
        ("012025", date(2020, 3, 31), 500, 120, 100, 90, 10),
        ("131016", date(2020, 3, 31), 2000, 1100, 1000, 950, 11),
        ("011002", date(2020, 4, 30), 1000, 320, 250, 240, 12),
        ("012025", date(2020, 4, 30), 500, 130, 110, 100, 12),
        # 131016 (Chiyoda) did not report for April 2020
    ])


def test_monthly_levels_of_issued_and_held_as_two_kpis(warehouse, shipped):
    with warehouse.connect() as con:
        _cards(con)
        recompute(con, shipped, tables=["card_issuance"], forecast=False)
        issued = values(con, "card_issuance_rate")
        held = values(con, "card_holding_rate")
        backlog = values(con, "card_application_backlog", "national")
    march = {k: v[1] for k, v in issued.items() if k[2] == "2020-03-01"}
    assert march == {
        ("municipality", "011002", "2020-03-01"): 20.0,
        ("municipality", "012025", "2020-03-01"): 20.0,
        ("municipality", "131016", "2020-03-01"): 50.0,
        ("prefecture", "01", "2020-03-01"): 20.0,
        ("prefecture", "13", "2020-03-01"): 50.0,
        ("national", "JP", "2020-03-01"): round(1300 / 3500 * 100, 6),
    }
    april = {k: v[1] for k, v in held.items() if k[2] == "2020-04-01"}
    # cards held / population; Chiyoda is no data, not zero
    assert april == {
        ("municipality", "011002", "2020-04-01"): 24.0,
        ("municipality", "012025", "2020-04-01"): 20.0,
        ("municipality", "131016", "2020-04-01"): None,
        ("prefecture", "01", "2020-04-01"): round(340 / 1500 * 100, 6),
        ("prefecture", "13", "2020-04-01"): None,
        ("national", "JP", "2020-04-01"): round(340 / 1500 * 100, 6),
    }
    assert held[("municipality", "131016", "2020-04-01")][2] == "no_data"
    assert backlog[("national", "JP", "2020-03-01")][1] == 220.0  # (300+120+1100) - (200+100+1000)
    assert backlog[("national", "JP", "2020-04-01")][1] == 90.0  # (320+130) - (250+110)


def test_two_publications_in_one_month_the_later_counts_and_measures_never_mix(warehouse, shipped):
    """MIC published on 2022-06-01 and 2022-06-30: June is the 30th; a month of the issued era has no holding rate."""
    with warehouse.connect() as con:
        _insert_cards(con, [
            ("011002", date(2022, 6, 1), 1000, None, 500, None, 1),
            ("011002", date(2022, 6, 30), 1000, None, 520, None, 2),
            ("131016", date(2022, 6, 1), 2000, None, 900, None, 1),
            ("131016", date(2022, 6, 30), 2000, None, 960, None, 2),
        ])
        recompute(con, shipped, tables=["card_issuance"], forecast=False)
        issued = values(con, "card_issuance_rate", "national")
        held = values(con, "card_holding_rate", "national")
    assert issued[("national", "JP", "2022-06-01")][1] == round(1480 / 3000 * 100, 6)
    assert held.get(("national", "JP", "2022-06-01"), (None, None, "no_data"))[1] is None


def test_a_column_missing_from_a_whole_file_is_no_data_not_zero(warehouse, shipped):
    """The ministry's published layout has no 交付枚数 (issued): the backlog of that month is unknown."""
    with warehouse.connect() as con:
        _insert_cards(con, [
            ("011002", date(2026, 9, 30), 1000, 800, 780, 770, 20),
            ("131016", date(2026, 9, 30), 2000, 1700, 1650, 1640, 20),
            ("011002", date(2026, 10, 31), 1000, 810, None, 780, 21),
            ("131016", date(2026, 10, 31), 2000, 1710, None, 1660, 21),
        ])
        recompute(con, shipped, tables=["card_issuance"], forecast=False)
        backlog = values(con, "card_application_backlog")
        rate = values(con, "card_holding_rate", "national")
    assert backlog[("national", "JP", "2026-09-01")][1] == 70.0
    for key in (("national", "JP", "2026-10-01"), ("prefecture", "13", "2026-10-01"),
                ("municipality", "131016", "2026-10-01")):
        assert backlog[key][1:] == (None, "no_data"), key
    assert rate[("national", "JP", "2026-10-01")][1] == round(2440 / 3000 * 100, 6)  # held is there


def test_quarterly_stock_takes_the_last_month_of_each_procedure(warehouse, shipped):
    with warehouse.connect() as con:
        _usage(con, [
            ("MOJ", "p1", "registration", date(2019, 4, 1), 10, 1, True, 1),
            ("MOJ", "p1", "registration", date(2019, 5, 1), 10, 1, True, 1),
            ("MOJ", "p1", "registration", date(2019, 6, 1), 10, 1, False, 1),
            ("MOJ", "p2", "registration", date(2019, 4, 1), 10, 1, False, 1),
            ("MOJ", "p2", "registration", date(2019, 6, 1), 10, 1, False, 1),
            ("MIC", "p3", "local_tax", date(2019, 4, 1), 10, 1, True, 1),
        ])
        recompute(con, shipped, kpi_ids=["online_availability_rate"], forecast=False)
        got = {k: v[1] for k, v in values(con, "online_availability_rate").items()}
    assert got == {("national", "JP", "2019-04-01"): round(100 / 3, 6),
                   ("ministry", "MOJ", "2019-04-01"): 0.0,
                   ("ministry", "MIC", "2019-04-01"): 100.0}


def _submission(con, sid, status, rows):
    con.execute("INSERT INTO submissions (submission_id, kpi_id, ministry_code, submitted_by, submitted_at, "
                "file_sha256, status, periods) VALUES (?, 'special_collection_electronic_rate', 'MIC', 'mic1', "
                "now(), ?, ?, [DATE '2020-04-01'])", [sid, f"sha{sid}", status])
    con.executemany("INSERT INTO submission_values (submission_id, kpi_id, ministry_code, period, entity_code, "
                    "column_name, value, text_value) VALUES (?, 'special_collection_electronic_rate', 'MIC', "
                    "DATE '2020-04-01', ?, 'sends_electronically', NULL, ?)", [(sid, e, v) for e, v in rows])


def test_submission_kpi_uses_the_latest_accepted_submission(warehouse, shipped):
    with warehouse.connect() as con:
        _submission(con, 101, "superseded", [("011002", "yes"), ("012025", "no"), ("131016", "yes")])
        _submission(con, 102, "accepted", [("011002", "no"), ("012025", "no"), ("131016", "yes")])
        _submission(con, 103, "rejected", [("011002", "yes"), ("012025", "yes"), ("131016", "yes")])
        recompute(con, shipped, tables=["submission_values"], forecast=False)
        got = {k: v[1] for k, v in values(con, "special_collection_electronic_rate").items()}
        lineage = con.execute("SELECT DISTINCT CAST(lineage AS VARCHAR) FROM kpi_values WHERE "
                              "kpi_id = 'special_collection_electronic_rate' AND level = 'national'").fetchall()
    assert got == {("national", "JP", "2020-04-01"): round(100 / 3, 6),
                   ("prefecture", "01", "2020-04-01"): 0.0,
                   ("prefecture", "13", "2020-04-01"): 100.0}
    assert json.loads(lineage[0][0]) == {"runs": [], "submissions": [102]}


def test_formula_over_other_kpis(warehouse, shipped):
    with warehouse.connect() as con:
        _usage(con, [
            ("MHLW", "s", "social_insurance", date(2016, 4, 1), 100, 10, True, 1),
            ("MHLW", "e", "employment_insurance", date(2016, 4, 1), 100, 20, True, 1),
            ("MHLW", "l", "labour_insurance", date(2016, 4, 1), 100, 30, True, 1),
        ])
        recompute(con, shipped, tables=["procedure_usage"], forecast=False)
        got = values(con, "online_rate_social_labour_mean")
    assert got == {("national", "JP", "2016-04-01"): (1, 20.0, "on_track")}


def test_security_kpis_snapshot_denominator_and_missing_zero(warehouse, shipped):
    with warehouse.connect() as con:
        con.execute("INSERT INTO staff (staff_id, org_code, unit, role, subject_id, status, terminated_on, run_id) "
                    "SELECT 'S' || i, 'DA', NULL, NULL, NULL, "
                    "CASE WHEN i < 2000 THEN 'active' ELSE 'terminated' END, NULL, NULL FROM range(2010) r(i)")
        alerts = [(1, "2021-01-05", "true_positive"), (2, "2021-01-06", "benign"), (3, "2021-01-07", "new"),
                  (4, "2021-02-03", "benign"), (5, "2021-02-04", "false_positive")]
        for aid, day, status in alerts:
            con.execute("INSERT INTO alerts (alert_id, staff_id, first_seen, last_seen, score, severity, status, "
                        "created_at, updated_at) VALUES (?, 'S1', ?, ?, 1.0, 'high', ?, ?, ?)",
                        [aid, day, day, status, f"{day} 09:00:00+09", f"{day} 09:00:00+09"])
        con.executemany("INSERT INTO alert_history (alert_id, at_time, actor, action, from_status, to_status, note) "
                        "VALUES (?, CAST(? AS TIMESTAMPTZ), 'officer', ?, NULL, NULL, NULL)",
                        [(1, "2021-01-05 19:00:00+09", "assigned"), (2, "2021-01-10 13:00:00+09", "status"),
                         (4, "2021-02-03 10:00:00+09", "status"), (5, "2021-02-05 09:00:00+09", "assigned")])
        recompute(con, shipped, tables=["alerts"], forecast=False)
        per_staff = {k[2]: v[1] for k, v in values(con, "confirmed_unauthorised_viewings_per_1000_staff").items()}
        triage = {k[2]: v[1] for k, v in values(con, "alert_triage_within_sla_rate").items()}
    assert per_staff == {"2021-01-01": 0.5, "2021-02-01": 0.0}  # 1 confirmed * 1000 / 2000 active; then zero
    assert triage == {"2021-01-01": round(100 / 3, 6), "2021-02-01": 100.0}  # 10 h ok, 100 h late, never


def test_turnaround_median_and_share_within_standard(warehouse, shipped):
    with warehouse.connect() as con:
        for ref, days, std in [("c1", 5, 14), ("c2", 10, 14), ("c3", 30, 14), ("c4", None, 14)]:
            decided = None if days is None else f"2021-01-{1 + days:02d} 10:00:00+09"
            con.execute(f"INSERT INTO procedure_cases {CASE_COLUMNS} VALUES (?, 'p', 'MOJ', NULL, 'online', "
                        "TIMESTAMPTZ '2021-01-01 10:00:00+09', CAST(? AS TIMESTAMPTZ), ?, 1, NULL)",
                        [ref, decided, std])
        recompute(con, shipped, tables=["procedure_cases"], forecast=False)
        median = values(con, "turnaround_median_days", "ministry")
        within = values(con, "decided_within_standard_rate", "ministry")
    assert {k[2]: v[1] for k, v in median.items()} == {"2021-01-01": 10.0}
    assert {k[2]: v[1] for k, v in within.items()} == {"2021-01-01": round(200 / 3, 6)}


def test_incremental_recompute_touches_only_the_new_period(warehouse, shipped):
    with warehouse.connect() as con:
        _usage(con, [("MOJ", "p1", "registration", date(2016, 4, 1), 100, 60, True, 1),
                     ("MOJ", "p2", "registration", date(2018, 5, 1), 200, 150, True, 3),
                     ("MIC", "p3", "registration", date(2016, 6, 1), 100, 20, True, 2)])
        recompute(con, shipped, kpi_ids=["online_rate_registration"], forecast=False)
        before = con.execute("SELECT period, computed_at FROM kpi_values WHERE kpi_id = 'online_rate_registration' "
                             "AND period = DATE '2016-04-01'").fetchall()
        again = recompute(con, shipped, tables=["procedure_usage"], periods=[date(2018, 6, 1)], forecast=False)
        assert again.changed == 0 and again.removed == 0
        _usage(con, [("MIC", "p3", "registration", date(2018, 6, 1), 100, 50, True, 4)])
        result = recompute(con, shipped, tables=["procedure_usage"], periods=[date(2018, 6, 1)], forecast=False)
        got = values(con, "online_rate_registration")
        after = con.execute("SELECT period, computed_at FROM kpi_values WHERE kpi_id = 'online_rate_registration' "
                            "AND period = DATE '2016-04-01'").fetchall()
    changes = result.changes
    changed = changes[changes.kpi_id == "online_rate_registration"]
    assert sorted(zip(changed.level, changed.entity_code, strict=True)) == [("ministry", "MIC"), ("national", "JP")]
    assert set(changed.period.astype(str)) == {"2018-04-01"}
    assert got[("ministry", "MIC", "2018-04-01")][1] == 50.0
    assert got[("national", "JP", "2018-04-01")][1] == round(200 / 300 * 100, 6)
    assert before == after  # other periods untouched


def test_rewriting_a_version_in_place_is_refused(warehouse, tmp_path):
    text = (FIXTURES / "good" / "simple.yaml").read_text(encoding="utf-8")
    (tmp_path / "k.yaml").write_text(text, encoding="utf-8")
    with warehouse.connect() as con:
        _usage(con, [("MOJ", "a", "registration", date(2020, 4, 1), 100, 65, True, 1)])
        recompute(con, load_catalogue(tmp_path), forecast=False)
        (tmp_path / "k.yaml").write_text(text.replace("scale: 100", "scale: 1000"), encoding="utf-8")
        changed = load_catalogue(tmp_path)
        with pytest.raises(UserError, match="simple_registration_rate version 1: its measure changed"):
            recompute(con, changed, forecast=False)
        result = recompute(con, changed, forecast=False, allow_redefine=True)
        assert result.changed == 2
        redefined = con.execute("SELECT redefined_at IS NOT NULL FROM kpi_definition_versions").fetchall()
    assert redefined == [(True,)]


def test_unknown_table_or_kpi_is_a_user_error(warehouse, shipped):
    with warehouse.connect() as con:
        with pytest.raises(UserError, match="unknown table"):
            recompute(con, shipped, tables=["procedure_usages"])
        with pytest.raises(UserError, match="unknown KPI id 'nope'"):
            recompute(con, shipped, kpi_ids=["nope"])


@pytest.mark.parametrize(("timezone", "period"), [(None, "2021-02-01"), ("Asia/Tokyo", "2021-02-01"),
                                                  ("UTC", "2021-01-01")])
def test_a_timestamp_counts_in_the_month_of_the_workspace_time_zone(warehouse, shipped, timezone, period):
    """Decided at 05:00 on 1 February in Japan, which is still 31 January in UTC (config.timezone decides)."""
    with warehouse.connect() as con:
        con.execute(f"INSERT INTO procedure_cases {CASE_COLUMNS} VALUES ('c1', 'p', 'MOJ', NULL, 'online', "
                    "TIMESTAMPTZ '2021-01-21 10:00:00+09', TIMESTAMPTZ '2021-02-01 05:00:00+09', 14, 1, NULL)")
        recompute(con, shipped, tables=["procedure_cases"], forecast=False,
                  **({"timezone": timezone} if timezone else {}))
        median = values(con, "turnaround_median_days", "ministry")
    assert [k[2] for k in median] == [period]


def test_loads_one_month_at_a_time_leave_the_months_between_as_no_data(warehouse, shipped):
    """Each load recomputes only its months; a month no publication covers (MIC published on 2017-03-08 and
    2017-05-15, nothing in April) is still an explicit no_data row, as a full compute gives: incremental and full
    computes agree, whatever order the files came in."""
    with warehouse.connect() as con:
        for day, issued, run in ((date(2017, 3, 8), 100, 1), (date(2017, 8, 31), 300, 3), (date(2017, 5, 15), 200, 2)):
            _insert_cards(con, [("011002", day, 1000, None, issued, None, run)])
            recompute(con, shipped, tables=["card_issuance"], periods=[day], forecast=False)
        incremental = values(con, "card_issuance_rate")
        full = recompute(con, shipped, tables=["card_issuance"], forecast=False)
        assert values(con, "card_issuance_rate") == incremental
    assert full.changed == 0 and full.removed == 0
    months = sorted(k[2] for k in incremental if k[0] == "national")
    assert months == ["2017-03-01", "2017-04-01", "2017-05-01", "2017-06-01", "2017-07-01", "2017-08-01"]
    assert incremental[("municipality", "011002", "2017-04-01")] == (1, None, "no_data")
    assert incremental[("prefecture", "01", "2017-06-01")] == (1, None, "no_data")
