"""Published checks: figures the publishers state (realdata/PROVENANCE.md, SOURCES.md), recomputed from the warehouse.

Each check is one fixed, parameterised query and the figure the publication gives. A check whose table has no
rows for it is `no_data` (e.g. a workspace that never loaded that publication), never a failure. The results
are printed by `observatory checks` and published on the public site's "how we measure" page, so that anyone
can see that the figures shown are the ones published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

import duckdb

CheckStatus = Literal["agrees", "differs", "no_data"]


@dataclass(frozen=True)
class PublishedCheck:
    """A figure a publication states and the query that recomputes it (one value, or NULL when absent)."""

    id: str
    publication: str  # the realdata/ folder or publication it checks
    ja: str
    en: str
    sql: str
    params: tuple = ()
    expected: float = 0.0
    decimals: int = 0  # the computed value is rounded to the publication's precision before comparing

    @property
    def tables(self) -> set[str]:
        """The warehouse tables its query reads (a check of an absent table is no_data)."""
        return set(_TABLE_NAMES.findall(self.sql))


_TABLE_NAMES = re.compile(r"\b(?:FROM|JOIN)\s+([a-z_]+)")
_ISSUED = "SELECT sum(issued) FROM card_issuance WHERE as_of = ?"
_INV = "FROM procedure_inventory WHERE fiscal_year = 2023"
CHECKS: tuple[PublishedCheck, ...] = (
    PublishedCheck("mic_issued_2017_03_08", "mic_card_issuance", "交付枚数（全国、2017年3月8日）",
                   "Cards issued, national, 2017-03-08", _ISSUED, (date(2017, 3, 8),),
                   10_717_919),
    PublishedCheck("mic_issued_2020_04_01", "mic_card_issuance", "交付枚数（全国、2020年4月1日）",
                   "Cards issued, national, 2020-04-01", _ISSUED, (date(2020, 4, 1),),
                   20_332_415),
    PublishedCheck("mic_issued_2022_12_31", "mic_card_issuance", "交付枚数（全国、2022年12月31日）",
                   "Cards issued, national, 2022-12-31", _ISSUED, (date(2022, 12, 31),),
                   71_905_789),
    PublishedCheck("mic_population_2022_12_31", "mic_card_issuance", "人口（全国、2022年12月31日の表）",
                   "Population, national, table of 2022-12-31",
                   "SELECT sum(population) FROM card_issuance WHERE as_of = ?", (date(2022, 12, 31),), 125_927_902),
    PublishedCheck("mic_rate_2022_12_31", "mic_card_issuance", "人口に対する交付枚数率（全国、2022年12月31日、%）",
                   "Cards issued per population, national, 2022-12-31 (%)",
                   "SELECT 100.0 * sum(issued) / sum(population) FROM card_issuance WHERE as_of = ?",
                   (date(2022, 12, 31),), 57.1, decimals=1),
    PublishedCheck("mic_prefectures_reconcile", "mic_card_issuance",
                   "都道府県の表と市区町村の合計が一致しない都道府県・日付の数",
                   "Prefecture table rows that differ from the sum of their municipalities",
                   """SELECT CASE WHEN count(*) = 0 THEN NULL ELSE count(*) FILTER (WHERE NOT agrees) END FROM (
                        SELECT p.population = sum(c.population)
                               AND coalesce(p.held, p.issued) IS NOT DISTINCT FROM
                                   CASE WHEN p.held IS NULL THEN sum(c.issued) ELSE sum(c.held) END AS agrees
                        FROM card_issuance_prefecture p
                        JOIN municipalities m ON m.prefecture_code = p.prefecture_code
                        JOIN card_issuance c ON c.municipality_code = m.code AND c.as_of = p.as_of
                        GROUP BY p.prefecture_code, p.as_of, p.population, p.issued, p.held)""", (), 0),
    PublishedCheck("inventory_procedures_fy2023", "digital_agency", "棚卸調査の手続数（2023年度）",
                   "Procedures in the inventory, FY2023",
                   f"SELECT CASE WHEN count(*) > 0 THEN count(*) END {_INV}", (), 75_071),
    PublishedCheck("inventory_cases_online_fy2023", "digital_agency", "オンライン手続件数（2023年度）",
                   "Cases done online, FY2023", f"SELECT sum(cases_online) {_INV}", (), 3_422_908_418),
    PublishedCheck("inventory_cases_total_fy2023", "digital_agency", "総手続件数（2023年度）",
                   "Cases in all, FY2023", f"SELECT sum(cases_total) {_INV}", (), 4_307_176_937),
    PublishedCheck("inventory_online_rate_fy2023", "digital_agency", "オンライン利用率（2023年度、%）",
                   "Online usage rate, FY2023 (%)",
                   f"SELECT 100.0 * sum(cases_online) / sum(cases_total) {_INV}", (), 79.5, decimals=1),
    PublishedCheck("inventory_implemented_fy2023", "digital_agency", "オンライン化「1 実施済」の手続数（2023年度）",
                   "Procedures with online filing '1 実施済', FY2023",
                   f"SELECT CASE WHEN count(*) > 0 THEN count(*) FILTER (WHERE online_status = '1 実施済') END {_INV}",
                   (), 36_315),
    PublishedCheck("dx_municipalities_2024", "digital_agency", "DXダッシュボードの市区町村数（2024年7月12日公表）",
                   "Municipalities in the DX dashboard, release of 2024-07-12",
                   "SELECT CASE WHEN count(*) > 0 THEN count(DISTINCT entity_code) END FROM municipal_dx "
                   "WHERE entity_level = 'municipality' AND released_on = ?", (date(2024, 7, 12),), 1741),
    PublishedCheck("dx_cio_not_surveyed_2024", "digital_agency", "CIOの任命が「調査無し」の市区町村数（2024年7月12日公表）",
                   "Municipalities not surveyed on CIO appointment, release of 2024-07-12",
                   "SELECT CASE WHEN count(*) > 0 THEN count(*) FILTER (WHERE text_value = '調査無し') END FROM "
                   "municipal_dx WHERE indicator_id = 'cio_appointed' AND entity_level = 'municipality' "
                   "AND released_on = ?", (date(2024, 7, 12),), 8),
)


@dataclass(frozen=True)
class CheckResult:
    check: PublishedCheck
    computed: float | None
    status: CheckStatus


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def run_checks(con: duckdb.DuckDBPyConnection, checks: tuple[PublishedCheck, ...] = CHECKS) -> list[CheckResult]:
    """Every check against the warehouse: agrees, differs, or no_data (its publication not loaded)."""
    present = _tables(con)
    out = []
    for c in checks:
        if not c.tables <= present:
            out.append(CheckResult(c, None, "no_data"))
            continue
        value = con.execute(c.sql, list(c.params)).fetchone()[0]
        if value is None:
            out.append(CheckResult(c, None, "no_data"))
            continue
        computed = round(float(value), c.decimals)
        out.append(CheckResult(c, computed, "agrees" if computed == round(c.expected, c.decimals) else "differs"))
    return out
