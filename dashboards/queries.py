"""Pure read queries behind the dashboards and the public site: a DuckDB cursor in, plain rows out.

Every query is parameterised; no user value is ever spliced into SQL. Rows are dicts with plain Python
values so that pages, CSV downloads and the public site show exactly the same data.
Values come from the newest definition version of each KPI present in `kpi_values`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from dashboards.catalogue import KpiInfo
from observatory import calendar, freshness
from observatory.kpis.periods import add_periods, bucket_of
from observatory.kpis.status import SEVERITY, Judgement, judge_kpi, today_jst
from observatory.warehouse import dict_rows

LEVELS = ("national", "ministry", "prefecture", "municipality")
SORTS = ("value_desc", "value_asc", "code", "name")


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return dict_rows(cur)


def _current_version_cte() -> str:
    """The newest definition version per KPI among one entity's rows (two parameters: level, entity)."""
    return ("cur AS (SELECT kpi_id, max(version) AS version FROM kpi_values WHERE level = ? AND entity_code = ? "
            "GROUP BY kpi_id)")


def kpi_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every KPI id with at least one stored value."""
    return [r[0] for r in con.execute("SELECT DISTINCT kpi_id FROM kpi_values ORDER BY kpi_id").fetchall()]


def latest_values(con: duckdb.DuckDBPyConnection, level: str = "national", entity: str = "JP",
                  kpi_ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per KPI the latest period with a value (else the latest row) for one entity: value, status, target."""
    sql = (f"WITH {_current_version_cte()} SELECT v.kpi_id, any_value(v.version) AS version, "
           "coalesce(max(v.period) FILTER (WHERE v.value IS NOT NULL), max(v.period)) AS period, "
           "arg_max(v.value, v.period) FILTER (WHERE v.value IS NOT NULL) AS value, "
           "coalesce(arg_max(v.target, v.period) FILTER (WHERE v.value IS NOT NULL), arg_max(v.target, v.period)) "
           "AS target, arg_max(v.gap, v.period) FILTER (WHERE v.value IS NOT NULL) AS gap, "
           "coalesce(arg_max(v.status, v.period) FILTER (WHERE v.value IS NOT NULL), arg_max(v.status, v.period)) "
           "AS status FROM kpi_values v JOIN cur USING (kpi_id, version) WHERE v.level = ? AND v.entity_code = ?")
    params: list[Any] = [level, entity, level, entity]
    if kpi_ids is not None:
        sql += " AND list_contains(?, v.kpi_id)"
        params.append(list(kpi_ids))
    return {r["kpi_id"]: r for r in _rows(con.execute(sql + " GROUP BY v.kpi_id", params))}


def _latest_by_entity(level: str) -> str:
    """SQL (one parameter: kpi_id) for every entity's value of a KPI at one level in the KPI's latest period
    with data at that level: a ranking compares one period, and an entity without data there shows as such."""
    if level not in LEVELS:  # an identifier from the allow-list only
        raise ValueError(f"unknown level {level!r}")
    return ("WITH lp AS (SELECT max(period) AS period, max(version) AS version FROM kpi_values "
            f"WHERE kpi_id = $kpi AND level = '{level}' AND value IS NOT NULL) "
            "SELECT v.entity_code, v.period, v.value, v.status FROM kpi_values v, lp "
            f"WHERE v.kpi_id = $kpi AND v.level = '{level}' AND v.period = lp.period AND v.version = lp.version")


def forecasts(con: duckdb.DuckDBPyConnection, level: str = "national", entity: str = "JP",
              kpi_ids: Sequence[str] | None = None) -> dict[str, dict[int, dict[str, Any]]]:
    """Per KPI and target year: target, projected value with its band, attainment date and status."""
    sql = ("SELECT f.kpi_id, f.target_year, f.target_date, f.target_value, f.projected_value, f.lower, f.upper, "
           "f.attainment_date, f.status, f.method, f.n_points FROM kpi_forecasts f "
           "WHERE f.level = ? AND f.entity_code = ? "
           "AND f.version = (SELECT max(version) FROM kpi_forecasts g WHERE g.kpi_id = f.kpi_id)")
    params: list[Any] = [level, entity]
    if kpi_ids is not None:
        sql += " AND list_contains(?, f.kpi_id)"
        params.append(list(kpi_ids))
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for r in _rows(con.execute(sql + " ORDER BY f.kpi_id, f.target_year", params)):
        out.setdefault(r["kpi_id"], {})[int(r["target_year"])] = r
    return out


def sparklines(con: duckdb.DuckDBPyConnection, level: str = "national", entity: str = "JP",
               last_n: int = 24) -> dict[str, list[tuple[date, float | None]]]:
    """The last `last_n` periods of every KPI for one entity, oldest first (for card sparklines)."""
    rows = con.execute(
        f"WITH {_current_version_cte()} SELECT kpi_id, period, value FROM ("
        "SELECT v.kpi_id, v.period, v.value, row_number() OVER (PARTITION BY v.kpi_id ORDER BY v.period DESC) AS rn "
        "FROM kpi_values v JOIN cur USING (kpi_id, version) WHERE v.level = ? AND v.entity_code = ?) "
        "WHERE rn <= ? ORDER BY kpi_id, period", [level, entity, level, entity, int(last_n)]).fetchall()
    out: dict[str, list[tuple[date, float | None]]] = {}
    for kpi_id, period, value in rows:
        out.setdefault(kpi_id, []).append((period, value))
    return out


def series(con: duckdb.DuckDBPyConnection, level: str = "national", entity: str = "JP",
           kpi_ids: Sequence[str] | None = None) -> dict[str, list[tuple[date, float | None]]]:
    """Every period of the current definition version of each KPI for one entity, oldest first."""
    sql = (f"WITH {_current_version_cte()} SELECT v.kpi_id, v.period, v.value FROM kpi_values v "
           "JOIN cur USING (kpi_id, version) WHERE v.level = ? AND v.entity_code = ?")
    params: list[Any] = [level, entity, level, entity]
    if kpi_ids is not None:
        sql += " AND list_contains(?, v.kpi_id)"
        params.append(list(kpi_ids))
    out: dict[str, list[tuple[date, float | None]]] = {}
    for kpi_id, period, value in con.execute(sql + " ORDER BY v.kpi_id, v.period", params).fetchall():
        out.setdefault(kpi_id, []).append((period, value))
    return out


def judge_info(k: KpiInfo, points: list[tuple[date, float | None]], fc: dict[int, dict[str, Any]],
               level: str = "national", today: date | None = None) -> Judgement:
    """The one status model (observatory.kpis.status.judge_kpi) for a dashboard KpiInfo."""
    return judge_kpi(direction=k.direction, unit=k.unit, frequency=k.frequency, group=k.target_year_group,
                     targets=k.targets, dates=k.target_dates, target_levels=k.target_levels, level=level,
                     forecasts=fc, points=points, today=today or today_jst())


def judgements(con: duckdb.DuckDBPyConnection, infos: Iterable[KpiInfo], level: str = "national",
               entity: str = "JP", today: date | None = None, *,
               points: dict[str, list[tuple[date, float | None]]] | None = None,
               fc: dict[str, dict[int, dict[str, Any]]] | None = None) -> dict[str, Judgement]:
    """Per KPI the judgement of every target and the headline status, for one entity (two queries, or none for
    the series and forecasts the caller already read for this entity: `points`, `fc`)."""
    chosen = list(infos)
    ids = [k.id for k in chosen]
    points = series(con, level, entity, ids) if points is None else points
    fc = forecasts(con, level, entity, ids) if fc is None else fc
    return {k.id: judge_info(k, points.get(k.id, []), fc.get(k.id, {}), level, today) for k in chosen}


def level_judgements(con: duckdb.DuckDBPyConnection, k: KpiInfo, level: str,
                     entities: Sequence[str] | None = None, today: date | None = None) -> dict[str, Judgement]:
    """The judgement of one KPI for every entity of a level (or the ones named), in two queries: the same
    status the KPI page gives each entity."""
    sql = ("SELECT entity_code, period, value FROM kpi_values WHERE kpi_id = ? AND level = ? AND version = "
           "(SELECT max(version) FROM kpi_values WHERE kpi_id = ? AND level = ?)")
    params: list[Any] = [k.id, level, k.id, level]
    fsql = ("SELECT f.entity_code, f.target_year, f.target_date, f.target_value, f.projected_value, "
            "f.attainment_date, f.status, f.n_points FROM kpi_forecasts f WHERE f.kpi_id = ? AND f.level = ? "
            "AND f.version = (SELECT max(version) FROM kpi_forecasts g WHERE g.kpi_id = f.kpi_id)")
    fparams: list[Any] = [k.id, level]
    if entities is not None:
        sql += " AND list_contains(?, entity_code)"
        fsql += " AND list_contains(?, f.entity_code)"
        params.append(list(entities))
        fparams.append(list(entities))
    points: dict[str, list[tuple[date, float | None]]] = {}
    for code, period, value in con.execute(sql + " ORDER BY entity_code, period", params).fetchall():
        points.setdefault(code, []).append((period, value))
    fc: dict[str, dict[int, dict[str, Any]]] = {}
    for r in _rows(con.execute(fsql, fparams)):
        fc.setdefault(r["entity_code"], {})[int(r["target_year"])] = r
    day = today or today_jst()
    return {code: judge_info(k, points.get(code, []), fc.get(code, {}), level, day)
            for code in (entities if entities is not None else sorted(set(points) | set(fc)))}


def overview_cards(con: duckdb.DuckDBPyConnection, infos: Iterable[KpiInfo], *, ministry: str | None = None,
                   year: int | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """One row per KPI card (national figures), filtered by owner ministry and target-year group, the most
    off-track first. The status is the headline judgement (the card's target-year group)."""
    chosen = [k for k in infos if (not ministry or k.owner == ministry)
              and (not year or k.target_year_group == year)]
    ids = [k.id for k in chosen]
    latest = latest_values(con, kpi_ids=ids)
    judged = judgements(con, chosen, today=today)
    spark = sparklines(con)
    cards = []
    for k in chosen:
        lv = latest.get(k.id, {})
        j = judged[k.id]
        head = j.headline
        row: dict[str, Any] = {
            "kpi_id": k.id, "name_ja": k.name_ja, "name_en": k.name_en, "owner": k.owner, "unit": k.unit,
            "target_year_group": k.target_year_group, "frequency": k.frequency, "direction": k.direction,
            "period": lv.get("period"), "value": lv.get("value"), "status": head.status,
            "status_year": head.target_year, "progress_pct": head.progress_pct, "met_on": head.met_on,
            "late": head.late, "reason_ja": head.reason_ja, "reason_en": head.reason_en,
            "attainment_date": head.attainment_date, "spark": spark.get(k.id, []),
            "statuses": {y: s.status for y, s in j.by_year.items()},
        }
        for y in (2020, 2023, 2026):
            ts = j.by_year.get(y)
            row[f"target_{y}"] = ts.target_value if ts else k.targets.get(y)
            row[f"status_{y}"] = ts.status if ts else None
        cards.append(row)
    cards.sort(key=lambda r: (SEVERITY.get(r["status"], 9), r["progress_pct"] if r["progress_pct"] is not None
                              else 1e9, r["kpi_id"]))
    return cards


CARD_CSV_COLUMNS = ("kpi_id", "name_ja", "name_en", "owner", "unit", "target_year_group", "period", "value",
                    "status", "status_year", "progress_pct", "target_2020", "target_2023", "target_2026",
                    "attainment_date")


def history(con: duckdb.DuckDBPyConnection, kpi_id: str, level: str = "national",
            entity: str = "JP") -> list[dict[str, Any]]:
    """Every stored period of a KPI for one entity (all definition versions, oldest first)."""
    return _rows(con.execute(
        "SELECT period, version, value, numerator, denominator, target, gap, status FROM kpi_values "
        "WHERE kpi_id = ? AND level = ? AND entity_code = ? ORDER BY period, version",
        [kpi_id, level, entity]))


def forecast_rows(con: duckdb.DuckDBPyConnection, kpi_id: str, level: str = "national",
                  entity: str = "JP") -> list[dict[str, Any]]:
    """The forecast of a KPI for one entity, one row per target year."""
    return list(forecasts(con, level, entity, [kpi_id]).get(kpi_id, {}).values())


def lineage(con: duckdb.DuckDBPyConnection, kpi_id: str, level: str = "national", entity: str = "JP",
            limit: int = 50) -> dict[str, list[dict[str, Any]]]:
    """The collector runs and submissions that fed the KPI's values for one entity (kpi_values.lineage)."""
    raw = con.execute("SELECT DISTINCT CAST(lineage AS VARCHAR) FROM kpi_values WHERE kpi_id = ? AND level = ? "
                      "AND entity_code = ? AND lineage IS NOT NULL", [kpi_id, level, entity]).fetchall()
    runs: set[int] = set()
    subs: set[int] = set()
    for (text,) in raw:
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            runs.update(int(x) for x in data.get("runs") or [] if str(x).lstrip("-").isdigit())
            subs.update(int(x) for x in data.get("submissions") or [] if str(x).lstrip("-").isdigit())
    run_rows = _rows(con.execute(
        "SELECT run_id, source, kind, started_at, finished_at, status, rows_loaded FROM collector_runs "
        "WHERE list_contains(?, run_id) ORDER BY started_at DESC LIMIT ?", [sorted(runs), int(limit)]))
    sub_rows = _rows(con.execute(
        "SELECT submission_id, kpi_id, ministry_code, submitted_by, submitted_at, file_name, status, rows_accepted "
        "FROM submissions WHERE list_contains(?, submission_id) ORDER BY submitted_at DESC LIMIT ?",
        [sorted(subs), int(limit)]))
    return {"runs": run_rows, "submissions": sub_rows}


def area_kpi_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """KPIs with values by prefecture or municipality (the ones the map can show)."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT kpi_id FROM kpi_values WHERE level IN ('prefecture', 'municipality') ORDER BY kpi_id"
    ).fetchall()]


def prefecture_values(con: duckdb.DuckDBPyConnection, kpi_id: str) -> list[dict[str, Any]]:
    """Every prefecture with the KPI's value in its latest period (None where there is no data), in code order."""
    return _rows(con.execute(
        f"WITH v AS ({_latest_by_entity('prefecture')}) SELECT p.code, p.name_ja, p.name_en, v.period, v.value, "
        "coalesce(v.status, 'no_data') AS status FROM prefectures p LEFT JOIN v ON v.entity_code = p.code "
        "ORDER BY p.code", {"kpi": kpi_id}))


def municipality_ranking(con: duckdb.DuckDBPyConnection, kpi_id: str, prefecture: str | None = None, *,
                         search: str | None = None, sort: str = "value_desc",
                         direction: str = "higher_is_better") -> list[dict[str, Any]]:
    """Municipalities (of one prefecture, or all) with the KPI's latest value and their rank (1 = best).

    `search` matches the code prefix or part of the Japanese, kana or English name; `sort` is one of SORTS.
    """
    if sort not in SORTS:
        sort = "value_desc"
    order_best = "DESC" if direction != "lower_is_better" else "ASC"
    order_sql = {"value_desc": "value DESC NULLS LAST, code", "value_asc": "value ASC NULLS LAST, code",
                 "code": "code", "name": "name_kana, code"}[sort]
    sql = (f"WITH v AS ({_latest_by_entity('municipality')}), m AS (SELECT m.code, m.prefecture_code, m.name_ja, "
           "m.name_kana, m.name_en, v.period, v.value, "
           "coalesce(v.status, 'no_data') AS status FROM municipalities m LEFT JOIN v ON v.entity_code = m.code "
           "WHERE ($pref IS NULL OR m.prefecture_code = $pref)), "
           f"r AS (SELECT *, CASE WHEN value IS NULL THEN NULL ELSE rank() OVER (ORDER BY value {order_best}) END "
           "AS rank FROM m) SELECT code, prefecture_code, name_ja, name_kana, name_en, period, value, status, rank "
           "FROM r WHERE ($q IS NULL OR starts_with(code, $q) OR contains(name_ja, $q) OR contains(name_kana, $q) "
           f"OR contains(lower(name_en), lower($q))) ORDER BY {order_sql}")
    s = (search or "").strip() or None
    return _rows(con.execute(sql, {"kpi": kpi_id, "pref": prefecture, "q": s}))


def municipality(con: duckdb.DuckDBPyConnection, code: str) -> dict[str, Any] | None:
    """One municipality with its prefecture's names, or None."""
    rows = _rows(con.execute(
        "SELECT m.code, m.prefecture_code, m.name_ja, m.name_kana, m.name_en, p.name_ja AS prefecture_ja, "
        "p.name_en AS prefecture_en FROM municipalities m JOIN prefectures p ON p.code = m.prefecture_code "
        "WHERE m.code = ?", [code]))
    return rows[0] if rows else None


def prefecture(con: duckdb.DuckDBPyConnection, code: str) -> dict[str, Any] | None:
    """One prefecture, or None."""
    rows = _rows(con.execute("SELECT code, name_ja, name_en FROM prefectures WHERE code = ?", [code]))
    return rows[0] if rows else None


def entity_values(con: duckdb.DuckDBPyConnection, level: str, entity: str) -> list[dict[str, Any]]:
    """The latest value and status of every KPI for one entity (a municipality or prefecture page)."""
    return sorted(latest_values(con, level, entity).values(), key=lambda r: r["kpi_id"])


def prefectures_list(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The 47 prefectures in code order."""
    return _rows(con.execute("SELECT code, name_ja, name_en FROM prefectures ORDER BY code"))


def ministries_list(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The ministries and agencies of the reference data."""
    return _rows(con.execute("SELECT code, name_ja, name_en, kind FROM ministries ORDER BY code"))


def source_freshness(con: duckdb.DuckDBPyConnection, sources: Iterable[Any],
                     now: datetime | None = None) -> list[dict[str, Any]]:
    """Per configured source: last good contact, its age and its state, from the one read model
    (observatory.freshness, shared with `observatory status` and the public site), as rows for the page."""
    return [{"source": f.source, "kind": f.kind, "last_ok": f.last_good_at, "age_hours": f.age_hours,
             "freshness_hours": f.freshness_hours, "state": f.state, "last_status": f.last_status,
             "last_error": f.last_error, "last_run": f.last_run_at, "enabled": f.enabled}
            for f in freshness.source_freshness(con, sources, now)]


def alert_deadlines(con: duckdb.DuckDBPyConnection, service_level_hours: float,
                    now: datetime | None = None) -> dict[str, Any]:
    """Open alerts and how many are past their triage deadline (created_at + service level), the oldest first.

    The one definition of "overdue" used by the CIO banner, the queue's age column and the time-to-triage
    panel (no audit entry: counts only, no person)."""
    now = now or datetime.now(UTC)
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE created_at + to_microseconds(CAST(? * 3600e6 AS BIGINT)) < ?), "
        "min(created_at) FROM alerts WHERE status IN ('new', 'investigating')",
        [float(service_level_hours), now]).fetchone()
    return {"open": int(row[0]), "overdue": int(row[1]), "oldest": row[2], "service_level_hours": service_level_hours}


def last_detection_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The latest detection run's diagnostics (anomaly_runs): window, engine, share explained by path, the floor
    and the chance share behind it, findings at the floor per scenario against chance, shifted peer groups, the
    batch corrections, the night desks and what was raised. Counts only (no person), so no audit entry."""
    cur = con.execute("SELECT * FROM anomaly_runs ORDER BY run_id DESC LIMIT 1")
    row = cur.fetchone()
    if row is None:
        return None
    run = dict(zip([d[0] for d in cur.description], row, strict=True))
    for key in ("explained", "by_scenario", "calibration", "batch_corrections", "night_desks"):
        run[key] = json.loads(run[key]) if isinstance(run[key], str) else (run[key] or {})
    return run


def alert_filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Distinct scenarios, organisations and assignees for the triage filters."""
    scen = [r[0] for r in con.execute(
        "SELECT DISTINCT unnest(scenarios) AS s FROM alerts ORDER BY s").fetchall() if r[0]]
    orgs = [r[0] for r in con.execute(
        "SELECT DISTINCT org_code FROM alerts WHERE org_code IS NOT NULL ORDER BY 1").fetchall()]
    who = [r[0] for r in con.execute(
        "SELECT DISTINCT assignee FROM alerts WHERE assignee IS NOT NULL ORDER BY 1").fetchall()]
    return {"scenarios": scen, "orgs": orgs, "assignees": who}


def hourly_patterns(con: duckdb.DuckDBPyConnection, staff_id: str, before: date, days: int = 28,
                    tz: str = calendar.DEFAULT_TIMEZONE
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the person and their peers (same organisation and role, the person excluded) usually do, hour by
    hour over the `days` before an alert: mean events per local hour of day for the person, and per peer
    (24 rows each; the peer rows say how many peers). One scan of the event archive for both."""
    peers = con.execute("SELECT count(*) FROM staff p JOIN staff s ON s.staff_id = ? AND p.org_code = s.org_code "
                        "AND p.role IS NOT DISTINCT FROM s.role AND p.staff_id <> s.staff_id", [staff_id]).fetchone()[0]
    rows = {r[0]: (r[1], r[2]) for r in con.execute(
        "WITH peers AS (SELECT p.staff_id FROM staff p JOIN staff s ON s.staff_id = ? AND p.org_code = s.org_code "
        "AND p.role IS NOT DISTINCT FROM s.role AND p.staff_id <> s.staff_id) "
        "SELECT hour(timezone(?, e.occurred_at)) AS h, count(*) FILTER (WHERE e.staff_id = ?), "
        "count(*) FILTER (WHERE e.staff_id <> ?) FROM access_events e "
        "WHERE e.occurred_at >= ?::DATE - ?::INTEGER AND e.occurred_at < ?::DATE "
        "AND (e.staff_id = ? OR e.staff_id IN (SELECT staff_id FROM peers)) GROUP BY h",
        [staff_id, tz, staff_id, staff_id, before, int(days), before, staff_id]).fetchall()}
    scale = float(days) * max(int(peers), 1)
    own = [{"hour": h, "mean_events": float(rows.get(h, (0, 0))[0]) / float(days)} for h in range(24)]
    others = [{"hour": h, "mean_events": float(rows.get(h, (0, 0))[1]) / scale, "peers": int(peers)}
              for h in range(24)]
    return own, others


def usual_hourly_pattern(con: duckdb.DuckDBPyConnection, staff_id: str, before: date, days: int = 28,
                         tz: str = calendar.DEFAULT_TIMEZONE) -> list[dict[str, Any]]:
    """Mean access events per local hour of day of one staff member over the `days` before an alert (24 rows)."""
    return hourly_patterns(con, staff_id, before, days, tz)[0]


def hourly_counts(events: Iterable[dict[str, Any]],
                  tz: str = calendar.DEFAULT_TIMEZONE) -> list[dict[str, Any]]:
    """Evidence events per local hour of day (24 rows), to draw against the usual pattern."""
    zone = calendar.zone(tz)
    counts = [0] * 24
    for e in events:
        at = e.get("occurred_at")
        if isinstance(at, datetime):
            counts[(at.astimezone(zone) if at.tzinfo else at).hour] += 1
    return [{"hour": h, "events": counts[h]} for h in range(24)]


RELATIONS = ("household", "surname", "neighbour", "coworker", "sensitive", "self", "none")


def evidence_facts(con: duckdb.DuckDBPyConnection, staff_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deciding facts of each evidence event: how the person viewed relates to the staff member (own
    record, same household, same surname in the same municipality, neighbour, co-worker, public figure,
    none found), and whether a case for that person existed at the time in the staff member's organisation.

    Read only from the rosters (staff, subjects, cases); the caller has already passed the evidence gate."""
    if not events:
        return []
    subjects = sorted({str(e["subject_id"]) for e in events if e.get("subject_id")})
    me = con.execute("SELECT s.org_code, s.subject_id, p.household_key, p.surname_key, p.neighbourhood_key, "
                     "p.municipality_code FROM staff s LEFT JOIN subjects p ON p.subject_id = s.subject_id "
                     "WHERE s.staff_id = ?", [staff_id]).fetchone()
    people = {r[0]: r[1:] for r in con.execute(
        "SELECT subject_id, household_key, surname_key, neighbourhood_key, municipality_code, sensitive "
        "FROM subjects WHERE list_contains(?, subject_id)", [subjects]).fetchall()}
    colleagues = {r[0] for r in con.execute(
        "SELECT subject_id FROM staff WHERE org_code = ? AND subject_id IS NOT NULL AND staff_id <> ? "
        "AND list_contains(?, subject_id)", [me[0] if me else None, staff_id, subjects]).fetchall()}
    cases: dict[str, list[tuple[Any, Any, str]]] = {}
    for sid, opened, closed, case_id in con.execute(
            "SELECT subject_id, opened_at, closed_at, case_id FROM cases WHERE list_contains(?, subject_id) "
            "AND (? IS NULL OR org_code = ?)", [subjects, me[0] if me else None, me[0] if me else None]).fetchall():
        cases.setdefault(sid, []).append((opened, closed, case_id))
    out = []
    for e in events:
        sid = str(e.get("subject_id") or "")
        p = people.get(sid)
        rel = "none"
        # surnames and neighbourhoods are compared within the staff member's municipality, as detection does
        # (a missing municipality is no one's: NULL = NULL is not a match there either)
        same_muni = bool(p and me and p[3] is not None and p[3] == me[5])
        if me and me[1] and sid == me[1]:
            rel = "self"
        elif p and me and p[0] and p[0] == me[2]:
            rel = "household"
        elif same_muni and p[1] and p[1] == me[3]:
            rel = "surname"
        elif same_muni and p[2] and p[2] == me[4]:
            rel = "neighbour"
        elif sid in colleagues:
            rel = "coworker"
        elif p and p[4]:
            rel = "sensitive"
        at = e.get("occurred_at")
        case = e.get("case_id") or next(
            (c for o, cl, c in cases.get(sid, []) if at is None or (o <= at and (cl is None or cl >= at))), None)
        out.append({**e, "relation": rel, "case": case})
    return out


def peer_hourly_pattern(con: duckdb.DuckDBPyConnection, staff_id: str, before: date, days: int = 28,
                        tz: str = calendar.DEFAULT_TIMEZONE) -> list[dict[str, Any]]:
    """Mean access events per local hour of day per peer (same organisation and role, the person excluded)
    over the `days` before an alert (24 rows): what the person's peers usually do, hour by hour."""
    return hourly_patterns(con, staff_id, before, days, tz)[1]


def usual_hours(pattern: list[dict[str, Any]], share: float = 0.9) -> tuple[int, int] | None:
    """The shortest run of hours holding `share` of a pattern's activity, as (first hour, last hour)."""
    total = sum(r["mean_events"] for r in pattern)
    if total <= 0:
        return None
    active = [r["hour"] for r in pattern if r["mean_events"] > 0]
    best = None
    for a in active:
        for b in active:
            if b < a:
                continue
            s = sum(r["mean_events"] for r in pattern if a <= r["hour"] <= b)
            if s >= share * total and (best is None or b - a < best[1] - best[0]):
                best = (a, b)
    return best


def org_name(con: duckdb.DuckDBPyConnection, code: str | None) -> dict[str, Any] | None:
    """An organisation code as names: a municipality (with its prefecture), a prefecture or a ministry."""
    if not code:
        return None
    for sql in ("SELECT m.name_ja || '（' || p.name_ja || '）', m.name_en || ', ' || p.name_en FROM municipalities m "
                "JOIN prefectures p ON p.code = m.prefecture_code WHERE m.code = ?",
                "SELECT name_ja, name_en FROM prefectures WHERE code = ?",
                "SELECT name_ja, name_en FROM ministries WHERE upper(code) = upper(?)"):
        row = con.execute(sql, [code]).fetchone()
        if row:
            return {"code": code, "name_ja": row[0], "name_en": row[1]}
    return None


def user_names(users: Iterable[Any]) -> dict[str, str]:
    """Display names of the configured users (observatory.yaml `display_name`), by user name."""
    return {u.username: u.display_name for u in users if getattr(u, "display_name", None)}


def staff_names(con: duckdb.DuckDBPyConnection, staff_ids: Iterable[str], lang: str = "ja") -> dict[str, str]:
    """The roster's display names (staff.display_name / display_name_en, optional roster columns) by staff id, in
    `lang` where the roster gives it, else in the other language; callers show them only to the roles that see
    alert evidence (the security role), never on public pages."""
    wanted = sorted({s for s in staff_ids if s})
    if not wanted:
        return {}
    rows = con.execute("SELECT staff_id, nullif(trim(display_name), ''), nullif(trim(display_name_en), '') FROM staff "
                       "WHERE staff_id IN (SELECT unnest(?::VARCHAR[]))", [wanted]).fetchall()
    english = lang == "en"
    return {sid: (en or ja) if english else (ja or en) for sid, ja, en in rows if ja or en}


def name_people(rows: Iterable[dict[str, Any]], key: str, names: dict[str, str]) -> None:
    """Add `<key>_name` (the display name, or None) beside each row's code in `key`."""
    for r in rows:
        r[f"{key}_name"] = names.get(r.get(key) or "")


def staff_profile(con: duckdb.DuckDBPyConnection, staff_id: str) -> dict[str, Any] | None:
    """A staff member's role, unit, organisation and status from the roster (no personal record)."""
    rows = _rows(con.execute("SELECT staff_id, org_code, unit, role, status, terminated_on FROM staff "
                             "WHERE staff_id = ?", [staff_id]))
    return rows[0] if rows else None


def audit_rows(con: duckdb.DuckDBPyConnection, *, actor: str | None = None, action: str | None = None,
               since: date | None = None, until: date | None = None, tz: str = calendar.DEFAULT_TIMEZONE,
               limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of the audit log, newest first, filtered by actor, action and a date range (days in `tz`,
    both ends included), and how many entries match in all."""
    where = ("(? IS NULL OR actor = ?) AND (? IS NULL OR action = ?) "
             "AND (CAST(? AS DATE) IS NULL OR CAST(timezone(?, at_time) AS DATE) >= ?) "
             "AND (CAST(? AS DATE) IS NULL OR CAST(timezone(?, at_time) AS DATE) <= ?)")
    params = [actor, actor, action, action, since, tz, since, until, tz, until]
    total = con.execute(f"SELECT count(*) FROM audit_log WHERE {where}", params).fetchone()[0]
    rows = _rows(con.execute(
        "SELECT audit_id, at_time, actor, role, action, target, outcome, detail, client FROM audit_log "
        f"WHERE {where} ORDER BY audit_id DESC LIMIT ? OFFSET ?", [*params, int(limit), int(offset)]))
    return rows, int(total)


AUDIT_ACTOR_CHOICES = 200  # other actors offered by the audit page's filter, the most recent first


def audit_choices(con: duckdb.DuckDBPyConnection, users: Iterable[str] = (),
                  limit: int = AUDIT_ACTOR_CHOICES) -> dict[str, list[str]]:
    """The filters' choices: the actions in the audit log, and as actors the workspace's `users` with an entry
    and the `limit` other actors seen most recently. Anyone can add an actor (the name typed at a failed
    sign-in is one), so all of them would make the page grow without bound; any actor can still be filtered
    by the URL (?actor=)."""
    known = sorted(set(users))
    actors = [r[0] for r in con.execute(
        "SELECT actor FROM (SELECT actor, list_contains(?, actor) AS known, max(audit_id) AS last FROM audit_log "
        "                   WHERE actor IS NOT NULL GROUP BY actor) "
        "QUALIFY known OR row_number() OVER (PARTITION BY known ORDER BY last DESC) <= ?",
        [known, int(limit)]).fetchall()]
    return {"actors": sorted(actors),
            "actions": [r[0] for r in con.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1").fetchall()]}


DUE_DAYS = 60  # a period is due once it ended this many days ago without an accepted file (issue 14)


def due_submissions(con: duckdb.DuckDBPyConnection, infos: Iterable[KpiInfo], ministry: str, today: date,
                    due_days: int = DUE_DAYS) -> list[dict[str, Any]]:
    """The ministry's submittable KPIs with the last period already due and whether a file was accepted
    for it (the ministry's home: what it owes)."""
    out = []
    for k in infos:
        if not k.submittable or k.owner != ministry:
            continue
        freq = k.frequency if k.frequency in ("monthly", "quarterly", "fiscal_year") else "monthly"
        period = bucket_of(today, freq)
        while add_periods(period, freq) + timedelta(days=due_days) > today:  # period end + due_days not yet past
            period = add_periods(period, freq, -1)
        got = con.execute(
            "SELECT max(s.submitted_at) FROM submission_periods p JOIN submissions s USING (submission_id) "
            "WHERE p.kpi_id = ? AND p.ministry_code = ? AND p.period = ? AND s.status IN ('accepted', 'superseded')",
            [k.id, ministry, period]).fetchone()[0]
        out.append({"kpi_id": k.id, "name_ja": k.name_ja, "name_en": k.name_en, "period": period,
                    "frequency": freq, "due_on": add_periods(period, freq) + timedelta(days=due_days - 1),
                    "submitted_at": got, "due": got is None})
    return sorted(out, key=lambda r: (not r["due"], r["kpi_id"]))


def queue_neighbours(con: duckdb.DuckDBPyConnection, alert_id: int) -> dict[str, int | None]:
    """The open alerts before and after this one in the triage queue's order (most severe, then oldest):
    the alert page's previous / next links, so an analyst can work through the queue from the keyboard."""
    rows = [r[0] for r in con.execute(
        "SELECT alert_id FROM alerts WHERE status IN ('new', 'investigating') OR alert_id = ? ORDER BY "
        "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END DESC, "
        "created_at ASC, alert_id ASC", [int(alert_id)]).fetchall()]
    if int(alert_id) not in rows:
        return {"previous": None, "next": None}
    i = rows.index(int(alert_id))
    return {"previous": rows[i - 1] if i > 0 else None, "next": rows[i + 1] if i + 1 < len(rows) else None}
