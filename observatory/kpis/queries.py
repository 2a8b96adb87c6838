"""Read-side helpers for dashboards, the public site and the CLI: latest values, history and rankings.

Pure functions of a DuckDB cursor returning pandas DataFrames; every value travels as a parameter.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from observatory.kpis.status import judge_kpi, today_jst

LATEST_COLUMNS = ["kpi_id", "version", "level", "entity_code", "period", "value", "target", "gap", "status",
                  "forecast_year", "forecast_target_date", "projected_value", "lower", "upper",
                  "attainment_date", "forecast_status", "n_points"]


def judgements(con: duckdb.DuckDBPyConnection, definitions: list, *, level: str = "national",
               entity_code: str = "JP", today: date | None = None) -> dict:
    """Per KPI definition: the one status model's judgement (observatory.kpis.status.judge_kpi) for one entity,
    from its current-version values and stored forecasts: what the dashboards and the public site show."""

    out = {}
    for d in definitions:  # the newest definition version with values, as every other reader takes it
        points = con.execute("SELECT period, value FROM kpi_values WHERE kpi_id = ? AND level = ? AND "
                             "entity_code = ? AND version = (SELECT max(version) FROM kpi_values WHERE kpi_id = ? "
                             "AND level = ? AND entity_code = ?) ORDER BY period",
                             [d.id, level, entity_code, d.id, level, entity_code]).fetchall()
        fc = {int(r[0]): {"target_date": r[1], "target_value": r[2], "projected_value": r[3],
                          "attainment_date": r[4], "status": r[5], "n_points": r[6]}
              for r in con.execute("SELECT target_year, target_date, target_value, projected_value, "
                                   "attainment_date, status, n_points FROM kpi_forecasts WHERE kpi_id = ? AND "
                                   "level = ? AND entity_code = ?", [d.id, level, entity_code]).fetchall()}
        out[d.id] = judge_kpi(direction=d.direction, unit=d.unit, frequency=d.frequency,
                              group=int(d.target_year_group) if d.target_year_group else None,
                              targets={int(y): float(t.value) for y, t in d.targets.items()},
                              dates={int(y): t.date for y, t in d.targets.items()},
                              target_levels=d.target_levels, level=level, forecasts=fc,
                              points=[(p, v) for p, v in points], today=today or today_jst())
    return out


def latest(con: duckdb.DuckDBPyConnection, *, level: str = "national", entity_code: str = "JP",
           kpi_ids: list[str] | None = None, catalogue=None, today: date | None = None) -> pd.DataFrame:
    """Per KPI: the latest period with a value for one entity, its status, and the forecast for the next
    target not yet passed (else the last target). Columns: LATEST_COLUMNS; with a catalogue, also
    judged_status / judged_year / reason_ja / reason_en from the one status model (`judgements`), judged on
    `today` (give the workspace's: calendar.today(config.timezone))."""
    frame = _latest(con, level=level, entity_code=entity_code, kpi_ids=kpi_ids)
    if catalogue is not None:
        defs = [d for d in catalogue.ordered() if kpi_ids is None or d.id in kpi_ids]
        judged = judgements(con, defs, level=level, entity_code=entity_code, today=today)
        for col, get in (("judged_status", lambda j: j.status), ("judged_year", lambda j: j.headline.target_year),
                         ("reason_ja", lambda j: j.headline.reason_ja), ("reason_en", lambda j: j.headline.reason_en)):
            frame[col] = [get(judged[k]) if k in judged else None for k in frame["kpi_id"]]
    return frame


def _latest(con: duckdb.DuckDBPyConnection, *, level: str, entity_code: str,
            kpi_ids: list[str] | None) -> pd.DataFrame:
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
