"""Tables holding a prefecture's own figures: municipal_dx keeps municipalities' rows and the prefectural
governments' own rows apart (entity_level), and a KPI reads one kind only."""

from __future__ import annotations

from datetime import date

from observatory.kpis.compile import entity_sql
from observatory.kpis.engine import recompute
from observatory.kpis.tables import TableInfo
from tests.kpis.conftest import values

ROW = ("INSERT INTO municipal_dx (indicator_id, group_ja, name_ja, name_en, entity_level, entity_code, released_on, "
       "value, text_value, unit, run_id) VALUES (?, NULL, ?, NULL, ?, ?, ?, ?, ?, ?, ?)")
RELEASE = date(2024, 7, 12)


def _dx(con, rows: list[tuple[str, str, str, float | None]], released_on: date = RELEASE, run_id: int = 1) -> None:
    """(indicator_id, entity_level, entity_code, value) rows; flags unless the indicator is a rate."""
    con.executemany(ROW, [
        (ind, ind, level, code, released_on, value, None if value is None else str(value),
         "percent" if ind == "card_holding_rate" else "flag", run_id)
        for ind, level, code, value in rows])


def test_municipal_and_prefectural_rows_stay_apart(warehouse, shipped):
    with warehouse.connect() as con:
        _dx(con, [
            ("cio_appointed", "municipality", "011002", 1.0),   # 札幌市
            ("cio_appointed", "municipality", "012025", 0.0),   # 函館市
            ("cio_appointed", "municipality", "012033", None),  # 小樽市: 調査無し, not in the denominator
            ("cio_appointed", "municipality", "131016", 1.0),   # 千代田区
            ("cio_appointed", "prefecture", "01", 0.0),         # 北海道庁 itself
            ("cio_appointed", "prefecture", "13", 1.0),         # 東京都庁 itself
        ])
        recompute(con, shipped, tables=["municipal_dx"], forecast=False)
        municipal = values(con, "dx_cio_appointed")
        own = values(con, "dx_pref_cio_appointed")
    fy = "2024-04-01"
    assert municipal[("municipality", "011002", fy)] == (1, 100.0, "no_target")
    assert municipal[("municipality", "012025", fy)] == (1, 0.0, "no_target")
    assert municipal[("municipality", "012033", fy)] == (1, None, "no_data")
    # the prefecture and the nation count their municipalities, never the prefectural governments' own rows
    assert municipal[("prefecture", "01", fy)] == (1, 50.0, "no_target")
    assert municipal[("prefecture", "13", fy)] == (1, 100.0, "no_target")
    assert municipal[("national", "JP", fy)] == (1, round(200 / 3, 6), "no_target")
    assert {k[0] for k in municipal} == {"municipality", "prefecture", "national"}
    # the prefectural governments' own figures: no municipality rows, no municipal level
    assert own == {("prefecture", "01", fy): (1, 0.0, "no_target"), ("prefecture", "13", fy): (1, 100.0, "no_target"),
                   ("national", "JP", fy): (1, 50.0, "no_target")}


def test_median_of_municipalities_and_latest_release_of_a_fiscal_year(warehouse, shipped):
    with warehouse.connect() as con:
        _dx(con, [("card_holding_rate", "municipality", c, v)
                  for c, v in (("011002", 72.0), ("012025", 71.0), ("012033", 68.0), ("131016", 80.0))])
        # a later release in the same fiscal year replaces the earlier one for the entity it covers
        _dx(con, [("card_holding_rate", "municipality", "012033", 75.0)], released_on=date(2024, 12, 1), run_id=2)
        recompute(con, shipped, tables=["municipal_dx"], forecast=False)
        got = values(con, "dx_card_holding_rate")
    fy = "2024-04-01"
    assert got[("prefecture", "01", fy)] == (1, 72.0, "no_target")  # median of 72, 71, 75
    assert got[("municipality", "012033", fy)] == (1, 75.0, "no_target")
    assert got[("national", "JP", fy)] == (1, 73.5, "no_target")  # median of 71, 72, 75, 80


def test_a_table_keyed_by_prefecture_code_feeds_the_prefecture_level_directly():
    own = TableInfo("x", ("period",), prefecture_column="prefecture_code", grain=("prefecture_code",))
    assert own.levels() == {"national", "prefecture"}
    assert entity_sql(own, "prefecture") == 't."prefecture_code"' and entity_sql(own, "municipality") is None
    both = TableInfo("y", ("period",), municipality_column="code", prefecture_column="code", level_column="lv")
    assert both.levels("prefecture") == {"national", "prefecture"}
    assert both.levels("municipality") == {"national", "prefecture", "municipality"}
    assert both.rows_level({"lv": "prefecture"}) == "prefecture" and both.rows_level({}) is None
    assert both.rows_level({"lv": ["prefecture", "municipality"]}) is None
    pref = entity_sql(both, "prefecture")
    assert "= 'prefecture' THEN t.\"code\"" in pref and "= 'municipality' THEN m.prefecture_code" in pref
