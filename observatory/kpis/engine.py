"""The KPI engine: compute every KPI at every level and period into kpi_values, fully or incrementally.

Set-based: the aggregates of a KPI over one table are one DuckDB query (all levels at once), terms are
joined on a grid of entity x period so that missing inputs become explicit no_data rows (never zero),
targets and statuses are one SQL expression (status.py), and only rows whose content changed are written
(rows for periods with nothing stored yet are inserted directly).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb
import pandas as pd
import pyarrow as pa

from observatory.calendar import DEFAULT_TIMEZONE
from observatory.errors import UserError
from observatory.kpis.catalogue import Catalogue
from observatory.kpis.compile import Sql, aggregate_sql, expression_sql, kpi_ref_sql, q, scan_key
from observatory.kpis.forecast import refresh_forecasts
from observatory.kpis.model import Aggregate, KpiDefinition, KpiRef, Version
from observatory.kpis.periods import add_periods, bucket_of, periods_between
from observatory.kpis.status import status_select
from observatory.kpis.tables import TABLES
from observatory.warehouse import transaction

CHANGE_COLUMNS = ["kpi_id", "version", "level", "entity_code", "period", "change"]
# kpi_values by name: a migration adding or reordering a column cannot shift what these inserts write
VALUE_COLUMNS = ("kpi_id, version, level, entity_code, period, value, numerator, denominator, target, gap, "
                 "status, computed_at, lineage")


@dataclass
class ComputeResult:
    """What a (re)computation did: KPIs computed, rows computed, rows changed or removed, and which.

    `changes` has one row per written or removed value: kpi_id, version, level, entity_code, period,
    change ('written' | 'removed').
    """

    kpis: list[str] = field(default_factory=list)
    values: int = 0
    changed: int = 0
    removed: int = 0
    forecasts: int = 0
    seconds: float = 0.0
    change_tables: list[pa.Table] = field(default_factory=list, repr=False)

    @property
    def changes(self) -> pd.DataFrame:
        """Keys of the written/removed values (built on demand: a full compute writes many)."""
        if not self.change_tables:
            return pd.DataFrame(columns=CHANGE_COLUMNS)
        return pa.concat_tables(self.change_tables).to_pandas()

    @property
    def values_changed(self) -> int:
        """Values written or removed (the number the scheduler and receipts report)."""
        return self.changed + self.removed

    def changed_kpis(self) -> list[str]:
        """Ids of the KPIs with at least one written or removed value."""
        return sorted({t.column("kpi_id")[0].as_py() for t in self.change_tables if t.num_rows})

    def summary(self) -> str:
        return (f"{len(self.kpis)} KPI(s), {self.values} value(s) computed, {self.changed} changed, "
                f"{self.removed} removed, {self.forecasts} forecast(s) in {self.seconds:.2f} s")


def measure_hash(version: Version) -> tuple[str, str]:
    """(canonical JSON, sha256) of a version's measure."""
    text = json.dumps(version.measure.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True,
                      ensure_ascii=False)
    return text, hashlib.sha256(text.encode()).hexdigest()


def check_versions(con: duckdb.DuckDBPyConnection, definitions: Iterable[KpiDefinition], *,
                   allow_redefine: bool = False, now: datetime | None = None) -> None:
    """Record each version's measure; refuse a version whose measure changed since it was first computed."""
    now = now or datetime.now(UTC)
    known = {(k, v): (h, at) for k, v, h, at in con.execute(
        "SELECT kpi_id, version, measure_sha256, first_computed_at FROM kpi_definition_versions").fetchall()}
    problems = []
    for d in definitions:
        for v in d.versions:
            text, sha = measure_hash(v)
            old = known.get((d.id, v.version))
            if old is None:
                con.execute("INSERT INTO kpi_definition_versions (kpi_id, version, valid_from, change_note_ja, "
                            "change_note_en, measure, measure_sha256, first_computed_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [d.id, v.version, v.valid_from, v.change_note.ja, v.change_note.en, text, sha, now])
            elif old[0] != sha:
                if not allow_redefine:
                    problems.append(f"{d.id} version {v.version}: its measure changed since it was first computed "
                                    f"({old[1]:%Y-%m-%d}); add version {max(x.version for x in d.versions) + 1} "
                                    "with a change_note instead of rewriting past values")
                    continue
                con.execute("UPDATE kpi_definition_versions SET measure = ?, measure_sha256 = ?, redefined_at = ?, "
                            "valid_from = ?, change_note_ja = ?, change_note_en = ? WHERE kpi_id = ? AND version = ?",
                            [text, sha, now, v.valid_from, v.change_note.ja, v.change_note.en, d.id, v.version])
    if problems:
        raise UserError("KPI定義が書き換えられています / KPI definitions rewritten in place:\n" + "\n".join(problems))


def _terms(version: Version) -> list[tuple[str, Aggregate | KpiRef]]:
    m = version.measure
    if m.aggregate:
        return [("value", m.aggregate)]
    if m.ratio:
        return [("numerator", m.ratio.numerator), ("denominator", m.ratio.denominator)]
    return list(m.formula.terms.items())


def _compute_version(con: duckdb.DuckDBPyConnection, d: KpiDefinition, version: Version, start: date,
                     until: date | None, buckets: list[date] | None,
                     timezone: str = DEFAULT_TIMEZONE) -> tuple[Sql, int] | None:
    """Values of one version of one KPI over its valid periods (or just `buckets`) on the full entity x
    period grid: (the SELECT over temp tables _kgrid and _kt0.._kt{n-1}, n); None: nothing to compute."""
    if buckets is not None:
        buckets = [b for b in buckets if b >= start and (until is None or b < until)]
        if not buckets:
            return None
        start, until = min(buckets), add_periods(max(buckets), d.frequency)
    terms = _terms(version)
    where, snapshot = _scan_terms(con, d, terms, start, until, timezone)
    timed = [g for g, snap in enumerate(snapshot) if not snap] or list(range(len(snapshot)))
    union = " UNION ALL ".join(f"SELECT level, entity_code, period FROM _kt{i} WHERE n_rows > 0" for i in timed)
    grid_periods = _grid_periods(con, d, version, union, buckets)
    if grid_periods is None:
        return None
    _build_grid(con, d, union, grid_periods)
    return _value_select(version, terms, where, snapshot), len(snapshot)


def _scan_terms(con: duckdb.DuckDBPyConnection, d: KpiDefinition, terms: list[tuple[str, Aggregate | KpiRef]],
                start: date, until: date | None, timezone: str) -> tuple[dict[int, tuple[int, int]], list[bool]]:
    """One scan per group of aggregates sharing a table, period column and time rule, one per KPI ref, each
    into temp table _kt{g}; returns term index -> (scan index, value column index) and which scans are
    snapshots (no period)."""
    groups: dict[tuple, list[int]] = {}
    for i, (_name, term) in enumerate(terms):
        key = ("kpi", term.kpi, i) if isinstance(term, KpiRef) else scan_key(d, term)
        groups.setdefault(key, []).append(i)
    where: dict[int, tuple[int, int]] = {}
    snapshot: list[bool] = []
    for g, (key, members) in enumerate(groups.items()):
        if key[0] == "kpi":
            sql, snap = kpi_ref_sql(key[1], list(d.levels), start, until), False
        else:
            sql, snap = aggregate_sql(d, [terms[i][1] for i in members], list(d.levels), d.frequency, start, until,
                                      timezone)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {q(f'_kt{g}')} AS {sql.text}", sql.params)
        snapshot.append(snap)
        for j, i in enumerate(members):
            where[i] = (g, j)
    return where, snapshot


def _grid_periods(con: duckdb.DuckDBPyConnection, d: KpiDefinition, version: Version, union: str,
                  buckets: list[date] | None) -> list[date] | None:
    """The periods of the grid: every one from the first to the last with inputs, or the asked `buckets`
    within the span of the inputs and the values already stored; None: nothing to compute."""
    first, last = con.execute(f"SELECT min(period), max(period) FROM ({union})").fetchall()[0]
    if buckets is None:
        return None if first is None else periods_between(first, last, d.frequency)
    existing = con.execute("SELECT min(first), max(last) FROM _kstate WHERE kpi_id = ? AND version = ?",
                           [d.id, version.version]).fetchall()[0]
    lo = min(x for x in (first, existing[0]) if x is not None) if (first or existing[0]) else None
    hi = max(x for x in (last, existing[1]) if x is not None) if (last or existing[1]) else None
    if lo is None:
        return None
    return [b for b in buckets if lo <= b <= hi] or None


def _build_grid(con: duckdb.DuckDBPyConnection, d: KpiDefinition, union: str, grid_periods: list[date]) -> None:
    """Temp table _kgrid: entity x period. Entities: those with inputs in this version's periods, plus those
    the KPI already has values for (earlier versions in this run, or stored): an entity that stops reporting
    shows as no data."""
    entity_sql = (f"SELECT DISTINCT level, entity_code FROM ({union}) UNION SELECT 'national', 'JP' "
                  "UNION SELECT level, entity_code FROM _kents "
                  "UNION SELECT DISTINCT level, entity_code FROM _kstate WHERE kpi_id = ?")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _kgrid AS SELECT e.level, e.entity_code, p.period FROM ({entity_sql}) e "
        "CROSS JOIN (SELECT unnest(CAST(? AS DATE[])) AS period) p WHERE e.level IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        [d.id, grid_periods, list(d.levels)],
    )


def _value_select(version: Version, terms: list[tuple[str, Aggregate | KpiRef]], where: dict[int, tuple[int, int]],
                  snapshot: list[bool]) -> Sql:
    """The SELECT of value, numerator, denominator and lineage over _kgrid joined to the scans."""
    joins, cols = [], {}
    for g, snap in enumerate(snapshot):
        on = f"_kt{g}.level = g.level AND _kt{g}.entity_code = g.entity_code"
        if not snap:
            on += f" AND _kt{g}.period = g.period"
        joins.append(f"LEFT JOIN _kt{g} ON {on}")
    for i, (name, term) in enumerate(terms):
        g, j = where[i]
        zero = isinstance(term, Aggregate) and term.missing == "zero"
        cols[name] = f"coalesce(_kt{g}.val_{j}, 0)" if zero else f"_kt{g}.val_{j}"
    m = version.measure
    params: list = []
    if m.aggregate:
        value, num, den = cols["value"], "NULL", "NULL"
    elif m.ratio:
        value = f"({cols['numerator']} / NULLIF({cols['denominator']}, 0) * CAST(? AS DOUBLE))"
        params.append(float(m.ratio.scale))
        num, den = cols["numerator"], cols["denominator"]
    else:
        expr: Sql = expression_sql(m.formula.expression, cols)
        value, num, den = expr.text, "NULL", "NULL"
        params += expr.params
    if len(snapshot) == 1:
        runs, subs = "coalesce(_kt0.runs, [])", "coalesce(_kt0.subs, [])"
    else:
        runs = "list_sort(list_distinct(flatten([" + ", ".join(
            f"coalesce(_kt{g}.runs, [])" for g in range(len(snapshot))) + "])))"
        subs = "list_sort(list_distinct(flatten([" + ", ".join(
            f"coalesce(_kt{g}.subs, [])" for g in range(len(snapshot))) + "])))"
    sql = (
        f"SELECT g.level, g.entity_code, g.period, "
        f"CASE WHEN isfinite(CAST({value} AS DOUBLE)) THEN CAST({value} AS DOUBLE) END AS value, "
        f"CAST({num} AS DOUBLE) AS numerator, CAST({den} AS DOUBLE) AS denominator, "
        f"CAST(to_json({{'runs': {runs}, 'submissions': {subs}}}) AS JSON) AS lineage "
        f"FROM _kgrid g {' '.join(joins)}"
    )
    return Sql(sql, params + params)  # the value expression appears twice


def _finish_version(con: duckdb.DuckDBPyConnection, d: KpiDefinition, version: Version, now: datetime,
                    values: tuple[Sql, int], into: str = "_knew") -> None:
    """Insert the version's values with targets, gaps and statuses (set-based, status.py) into _knew
    (or straight into kpi_values)."""
    value_sql, _n_scans = values
    sql, params, prof_rows = status_select(d, f"({value_sql.text})")
    if prof_rows:
        con.execute("CREATE OR REPLACE TEMP TABLE _kprof (level VARCHAR, entity_code VARCHAR, prof INTEGER)")
        con.execute("INSERT INTO _kprof SELECT unnest(CAST(? AS VARCHAR[])), unnest(CAST(? AS VARCHAR[])), "
                    "unnest(CAST(? AS INTEGER[]))", [list(c) for c in zip(*prof_rows, strict=True)])
    con.execute(
        f"INSERT INTO {into} ({VALUE_COLUMNS}) SELECT CAST(? AS VARCHAR), CAST(? AS INTEGER), level, entity_code, "
        "period, value, "
        f"numerator, denominator, target, gap, status, CAST(? AS TIMESTAMPTZ), lineage FROM ({sql})",
        [d.id, version.version, now, *params, *value_sql.params])
    con.execute("INSERT INTO _kents SELECT DISTINCT level, entity_code FROM _kgrid")


def _with_gaps(con: duckdb.DuckDBPyConnection, d: KpiDefinition, wanted: list[date]) -> list[date]:
    """The periods holding `wanted`, plus every period between them and the KPI's stored span that has no stored
    value: a load of May after one of March also computes April (no data), as a full compute would. Without it,
    a month no publication covered had no row at all after loads, and a no_data row after a full compute."""
    buckets = {bucket_of(p, d.frequency) for p in wanted}
    first, last = con.execute("SELECT min(period), max(period) FROM kpi_values WHERE kpi_id = ?", [d.id]).fetchall()[0]
    lo = min(buckets if first is None else buckets | {first})
    hi = max(buckets if last is None else buckets | {last})
    stored = {r[0] for r in con.execute("SELECT DISTINCT period FROM kpi_values WHERE kpi_id = ? AND period BETWEEN ? "
                                        "AND ?", [d.id, lo, hi]).fetchall()}
    return sorted(buckets | {p for p in periods_between(lo, hi, d.frequency) if p not in stored})


def _has_stored(con: duckdb.DuckDBPyConnection, d: KpiDefinition, buckets: list[date] | None) -> bool:
    """Whether kpi_values may hold rows of this KPI in scope (else new rows are inserted without a diff)."""
    if buckets is None:
        return con.execute("SELECT count(*) FROM _kstate WHERE kpi_id = ?", [d.id]).fetchall()[0][0] > 0
    return con.execute("SELECT count(*) FROM _kstate WHERE kpi_id = ? AND last >= ?",
                       [d.id, min(buckets)]).fetchall()[0][0] > 0


def _inserted(con: duckdb.DuckDBPyConnection, d: KpiDefinition, buckets: list[date] | None, now: datetime
              ) -> tuple[int, int, int, pa.Table]:
    """Result of a direct insert: every row of this KPI written now is a change."""
    changes = con.sql(
        "SELECT kpi_id, version, level, entity_code, period, 'written' AS change FROM kpi_values "
        "WHERE kpi_id = ? AND computed_at = ?", params=[d.id, now]).to_arrow_table()
    return changes.num_rows, changes.num_rows, 0, changes


def _write(con: duckdb.DuckDBPyConnection, d: KpiDefinition, buckets: list[date] | None
           ) -> tuple[int, int, int, pa.Table]:
    """Write the changed rows of _knew and remove stale ones for one KPI.

    Returns (values computed, changed, removed, changes: keys with `change` written | removed).
    """
    computed = con.execute("SELECT count(*) FROM _knew").fetchall()[0][0]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _kchg AS SELECT n.* FROM _knew n LEFT JOIN kpi_values o "
        "ON o.kpi_id = n.kpi_id AND o.version = n.version AND o.level = n.level AND o.entity_code = n.entity_code "
        "AND o.period = n.period WHERE o.kpi_id IS NULL OR n.value IS DISTINCT FROM o.value "
        "OR n.numerator IS DISTINCT FROM o.numerator OR n.denominator IS DISTINCT FROM o.denominator "
        "OR n.target IS DISTINCT FROM o.target OR n.status IS DISTINCT FROM o.status "
        "OR CAST(n.lineage AS VARCHAR) IS DISTINCT FROM CAST(o.lineage AS VARCHAR)")
    scope, params = "o.kpi_id = ?", [d.id]
    if buckets is not None:
        scope += " AND o.period IN (SELECT unnest(CAST(? AS DATE[])))"
        params.append(buckets)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _kstale AS SELECT o.kpi_id, o.version, o.level, o.entity_code, o.period "
        f"FROM kpi_values o WHERE {scope} AND NOT EXISTS (SELECT 1 FROM _knew n WHERE n.version = o.version "
        "AND n.level = o.level AND n.entity_code = o.entity_code AND n.period = o.period)", params)
    changes = con.sql(
        "SELECT kpi_id, version, level, entity_code, period, 'written' AS change FROM _kchg UNION ALL "
        "SELECT kpi_id, version, level, entity_code, period, 'removed' FROM _kstale").to_arrow_table()
    removed = con.execute("SELECT count(*) FROM _kstale").fetchall()[0][0]
    if removed:
        con.execute(
            "DELETE FROM kpi_values USING _kstale s WHERE kpi_values.kpi_id = s.kpi_id AND "
            "kpi_values.version = s.version AND kpi_values.level = s.level AND "
            "kpi_values.entity_code = s.entity_code AND kpi_values.period = s.period")
    if changes.num_rows > removed:
        con.execute(f"INSERT OR REPLACE INTO kpi_values ({VALUE_COLUMNS}) SELECT {VALUE_COLUMNS} FROM _kchg")
    for t in ("_knew", "_kchg", "_kstale"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return computed, changes.num_rows - removed, removed, changes


def readable_tables() -> set[str]:
    """Every table a KPI may read (a load touching none of them needs no recompute)."""
    return set(TABLES) | {"submission", "submission_values", "submissions", "alert_history"}


def select_kpis(catalogue: Catalogue, tables: Iterable[str] | None = None,
                kpi_ids: Iterable[str] | None = None) -> list[KpiDefinition]:
    """KPIs to compute: those named or reading the tables, plus every derived KPI depending on them."""
    if tables is None and kpi_ids is None:
        return catalogue.ordered()
    chosen: set[str] = set()
    if kpi_ids is not None:
        for k in kpi_ids:
            if k not in catalogue:
                raise UserError(f"KPI {k!r} はありません / unknown KPI id '{k}' (see `observatory kpi report`)")
            chosen.add(k)
    if tables is not None:
        tables = list(tables)
        known = readable_tables()
        unknown = sorted(set(tables) - known)
        if unknown:
            raise UserError(f"不明なテーブルです / unknown table(s) {', '.join(unknown)} (KPIs read: {', '.join(sorted(known))})")
        chosen |= {d.id for d in catalogue.reading(tables)}
    grew = True
    while grew:
        extra = {d.id for d in catalogue.ordered() if d.kpi_refs() & chosen} - chosen
        chosen |= extra
        grew = bool(extra)
    return [d for d in catalogue.ordered() if d.id in chosen]


def recompute(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, *, tables: Iterable[str] | None = None,
              kpi_ids: Iterable[str] | None = None, periods: Iterable[date] | None = None,
              forecast: bool = True, allow_redefine: bool = False,
              timezone: str = DEFAULT_TIMEZONE) -> ComputeResult:
    """(Re)compute KPI values: all, or only KPIs reading `tables` / named in `kpi_ids`, for `periods`.

    A timestamp counts in the period of the date it falls on in `timezone` (the workspace's config.timezone).

    `periods` are dates (any day) whose containing month/quarter/fiscal year is recomputed; None means
    every period with data. Returns how many values changed and which. Forecasts of the KPIs whose values
    changed are refreshed when `forecast` is true.
    """
    started = time.perf_counter()
    now = datetime.now(UTC)
    definitions = select_kpis(catalogue, tables, kpi_ids)
    with transaction(con):  # all or nothing, and one commit (one WAL flush) for the whole run
        result = _recompute(con, definitions, periods, allow_redefine, now, timezone)
    if forecast and result.changed_kpis():
        result.forecasts = refresh_forecasts(con, catalogue, kpi_ids=result.changed_kpis())
    result.seconds = time.perf_counter() - started
    return result


def recompute_alert_kpis(con: duckdb.DuckDBPyConnection, catalogue: Catalogue,
                         alert_ids: Iterable[int] | None = None, *,
                         timezone: str = DEFAULT_TIMEZONE) -> ComputeResult:
    """Recompute the KPIs that read the alerts table after alerts were raised, assigned or decided: only the
    periods the named alerts count in (the day each was raised, in `timezone`), every period when none are
    named. Without it the security KPIs kept the values of the last load while the queue moved on."""
    periods = None
    if alert_ids is not None:
        wanted = sorted({int(a) for a in alert_ids})
        if not wanted:
            return ComputeResult()
        periods = [r[0] for r in con.execute(
            "SELECT DISTINCT CAST(timezone(?, created_at) AS DATE) FROM alerts "
            "WHERE alert_id IN (SELECT unnest(?::BIGINT[])) AND created_at IS NOT NULL",
            [timezone, wanted]).fetchall()]
        if not periods:
            return ComputeResult()
    return recompute(con, catalogue, tables={"alerts"}, periods=periods, timezone=timezone)


def _recompute(con: duckdb.DuckDBPyConnection, definitions: list[KpiDefinition], periods: Iterable[date] | None,
               allow_redefine: bool, now: datetime, timezone: str = DEFAULT_TIMEZONE) -> ComputeResult:
    """The work of `recompute`, inside its transaction."""
    check_versions(con, definitions, allow_redefine=allow_redefine, now=now)
    result = ComputeResult(kpis=[d.id for d in definitions])
    wanted = sorted(set(periods)) if periods is not None else None
    frames: list[pa.Table] = []
    # what is stored already, in one scan: entities and period spans per KPI version
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _kstate AS SELECT kpi_id, version, level, entity_code, min(period) AS first, "
        "max(period) AS last FROM kpi_values WHERE kpi_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) GROUP BY ALL",
        [[d.id for d in definitions]])
    for d in definitions:
        buckets = _with_gaps(con, d, wanted) if wanted is not None else None
        stored = _has_stored(con, d, buckets)
        con.execute("CREATE OR REPLACE TEMP TABLE _knew AS SELECT * FROM kpi_values WHERE false")
        con.execute("CREATE OR REPLACE TEMP TABLE _kents (level VARCHAR, entity_code VARCHAR)")
        for version, start, until in d.version_ranges():
            s = bucket_of(start, d.frequency)
            u = bucket_of(until, d.frequency) if until else None
            values = _compute_version(con, d, version, s, u, buckets, timezone)
            if values is not None:
                _finish_version(con, d, version, now, values, into="_knew" if stored else "kpi_values")
        if stored:
            computed, changed, removed, changes = _write(con, d, buckets)
        else:
            computed, changed, removed, changes = _inserted(con, d, buckets, now)
        result.values += computed
        result.changed += changed
        result.removed += removed
        if changes.num_rows:
            frames.append(changes)
    result.change_tables = frames
    for table in ("_kstate", "_knew", "_kents", "_kgrid", "_kprof", *(f"_kt{g}" for g in range(8))):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return result
