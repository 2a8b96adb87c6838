"""Read-side helpers for dashboards, the public site and the CLI: latest values, history and rankings.

Pure functions of a DuckDB cursor returning pandas DataFrames; every value travels as a parameter.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

LATEST_COLUMNS = ["kpi_id", "version", "level", "entity_code", "period", "value", "target", "gap", "status",
                  "forecast_year", "forecast_target_date", "projected_value", "lower", "upper",
                  "attainment_date", "forecast_status", "n_points"]


def latest(con: duckdb.DuckDBPyConnection, *, level: str = "national", entity_code: str = "JP",
           kpi_ids: list[str] | None = None) -> pd.DataFrame:
    """Per KPI: the latest period with a value for one entity, its status, and the forecast for the next
    target not yet passed (else the last target). Columns: LATEST_COLUMNS."""
    where, params = "v.level = ? AND v.entity_code = ? AND v.value IS NOT NULL", [level, entity_code]
    if kpi_ids is not None:
        where += " AND v.kpi_id IN (SELECT unnest(CAST(? AS VARCHAR[])))"
        params.append(list(kpi_ids))
    sql = f"""
        WITH lv AS (
            SELECT v.kpi_id, v.version, v.level, v.entity_code, v.period, v.value, v.target, v.gap, v.status
            FROM kpi_values v WHERE {where}
            QUALIFY row_number() OVER (PARTITION BY v.kpi_id ORDER BY v.period DESC, v.version DESC) = 1
        ), fc AS (
            SELECT f.*, lv.period AS lv_period FROM kpi_forecasts f JOIN lv
              ON f.kpi_id = lv.kpi_id AND f.level = lv.level AND f.entity_code = lv.entity_code
            QUALIFY row_number() OVER (PARTITION BY f.kpi_id
                ORDER BY (f.target_date >= lv.period) DESC,
                         CASE WHEN f.target_date >= lv.period THEN f.target_date END ASC,
                         f.target_date DESC) = 1
        )
        SELECT lv.*, fc.target_year AS forecast_year, fc.target_date AS forecast_target_date,
               fc.projected_value, fc.lower, fc.upper, fc.attainment_date, fc.status AS forecast_status,
               fc.n_points
        FROM lv LEFT JOIN fc ON fc.kpi_id = lv.kpi_id ORDER BY lv.kpi_id
    """
    return con.execute(sql, params).df()


def history(con: duckdb.DuckDBPyConnection, kpi_id: str, *, level: str = "national",
            entity_code: str = "JP") -> pd.DataFrame:
    """Every period of one KPI for one entity, oldest first, with the definition version of each point."""
    return con.execute(
        "SELECT period, version, value, numerator, denominator, target, gap, status, "
        "CAST(lineage AS VARCHAR) AS lineage FROM kpi_values WHERE kpi_id = ? AND level = ? AND entity_code = ? "
        "ORDER BY period, version", [kpi_id, level, entity_code]).df()


def forecasts(con: duckdb.DuckDBPyConnection, kpi_id: str, *, level: str = "national",
              entity_code: str = "JP") -> pd.DataFrame:
    """The forecast rows (one per target year) of one KPI and entity."""
    return con.execute(
        "SELECT target_year, target_date, target_value, projected_value, lower, upper, attainment_date, status, "
        "method, n_points FROM kpi_forecasts WHERE kpi_id = ? AND level = ? AND entity_code = ? "
        "ORDER BY target_year", [kpi_id, level, entity_code]).df()


def ranking(con: duckdb.DuckDBPyConnection, kpi_id: str, prefecture_code: str, *, period: date | None = None,
            direction: str = "higher_is_better") -> pd.DataFrame:
    """Municipalities of a prefecture ranked on a KPI at a period (default: the latest with any value).

    rank 1 is best in the KPI's direction; municipalities without a value come last with rank NULL.
    """
    if period is None:
        row = con.execute(
            "SELECT max(v.period) FROM kpi_values v JOIN municipalities m ON m.code = v.entity_code "
            "WHERE v.kpi_id = ? AND v.level = 'municipality' AND m.prefecture_code = ? AND v.value IS NOT NULL",
            [kpi_id, prefecture_code]).fetchall()[0]
        period = row[0]
        if period is None:
            return pd.DataFrame(columns=["rank", "entity_code", "name_ja", "name_en", "period", "value", "target",
                                         "status"])
    order = "DESC" if direction == "higher_is_better" else "ASC"
    return con.execute(
        f"""SELECT CASE WHEN v.value IS NULL THEN NULL
                       ELSE rank() OVER (PARTITION BY v.value IS NULL ORDER BY v.value {order}) END AS rank,
                  m.code AS entity_code, m.name_ja, m.name_en, CAST(? AS DATE) AS period, v.value, v.target,
                  coalesce(v.status, 'no_data') AS status
            FROM municipalities m LEFT JOIN (
                SELECT * FROM kpi_values WHERE kpi_id = ? AND level = 'municipality' AND period = ?
                QUALIFY row_number() OVER (PARTITION BY entity_code ORDER BY version DESC) = 1
            ) v ON v.entity_code = m.code
            WHERE m.prefecture_code = ?
            ORDER BY v.value IS NULL, rank, m.code""",
        [period, kpi_id, period, prefecture_code]).df()


def versions(con: duckdb.DuckDBPyConnection, kpi_id: str) -> pd.DataFrame:
    """The definition versions of a KPI as first computed, with their change notes."""
    return con.execute(
        "SELECT version, valid_from, change_note_ja, change_note_en, first_computed_at, redefined_at "
        "FROM kpi_definition_versions WHERE kpi_id = ? ORDER BY version", [kpi_id]).df()


def snapshot(con: duckdb.DuckDBPyConnection, kpi_id: str, level: str, *, period: date | None = None) -> pd.DataFrame:
    """Every entity of a level at one period (default: the latest with any value), for maps and tables."""
    if period is None:
        period = con.execute("SELECT max(period) FROM kpi_values WHERE kpi_id = ? AND level = ? AND value IS NOT NULL",
                             [kpi_id, level]).fetchall()[0][0]
    return con.execute(
        "SELECT entity_code, period, version, value, target, gap, status FROM kpi_values "
        "WHERE kpi_id = ? AND level = ? AND period = ? "
        "QUALIFY row_number() OVER (PARTITION BY entity_code ORDER BY version DESC) = 1 ORDER BY entity_code",
        [kpi_id, level, period]).df()
