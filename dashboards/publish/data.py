"""Everything the public site shows, fetched from the warehouse in a handful of set-based queries.

`fetch(con, config, definitions)` returns a `SiteData` held in memory; every page, download and API answer
is derived from it without further database round trips. Only aggregate counts leave the access-log and
alert tables, and they pass through `disclosure.protect` here, before anything else can see them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import duckdb

from dashboards.publish.definitions import PublicKpi, placeholder
from dashboards.publish.disclosure import THRESHOLD, ProtectedTable, protect, protect_series
from observatory import calendar
from observatory.checks import run_checks
from observatory.config import Config
from observatory.freshness import source_freshness
from observatory.kpis.status import Judgement, TargetStatus, judge_kpi

ALERT_OUTCOMES = {  # alert status -> published outcome column
    "true_positive": "confirmed",
    "benign": "cleared",
    "false_positive": "cleared",
    "new": "open",
    "investigating": "open",
}
OUTCOME_COLUMNS = ["confirmed", "cleared", "open"]
SECURITY_MONTHS = 12
# the access monitoring's own feeds (config SourceKind): when one last delivered, or failed, is not published
# (an overdue access log tells an insider that nobody is looking); the public site shows their data in aggregate
MONITORING_KINDS = frozenset({"access-log", "staff", "subjects", "cases"})


@dataclass(frozen=True, slots=True)
class Point:
    """One kpi_values row for one entity and period."""

    period: date
    value: float | None
    numerator: float | None
    denominator: float | None
    target: float | None
    status: str
    suppressed: bool = False  # value hidden by disclosure control (shown as "x")
    counts_suppressed: bool = False  # numerator and denominator hidden (shown as "x")


@dataclass(frozen=True, slots=True)
class Forecast:
    """One kpi_forecasts row."""

    target_year: int
    target_date: date | None
    target_value: float | None
    projected: float | None
    lower: float | None
    upper: float | None
    attainment_date: date | None
    status: str
    method: str | None
    n_points: int | None


@dataclass(frozen=True, slots=True)
class Entity:
    """A prefecture, municipality or ministry as named on the site."""

    code: str
    name_ja: str
    name_en: str
    parent: str = ""  # prefecture code of a municipality
    kana: str = ""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Freshness of one data source (a configured collector source)."""

    source: str
    kind: str
    freshness_hours: float | None
    last_good_at: datetime | None
    last_attempt_at: datetime | None
    last_status: str | None
    stale: bool


@dataclass(frozen=True, slots=True)
class KpiFreshness:
    """When a KPI was last computed and last received an accepted submission."""

    kpi_id: str
    computed_at: datetime | None
    last_submission_at: datetime | None
    submitting_ministry: str | None


@dataclass
class SiteData:
    """The warehouse contents the public site is built from."""

    built_at: datetime
    kpis: list[PublicKpi]
    series: dict[tuple[str, str, str], list[Point]]  # (kpi_id, level, entity) -> points by period
    forecasts: dict[tuple[str, str, str], list[Forecast]]
    prefectures: list[Entity]
    municipalities: list[Entity]
    ministries: list[Entity]
    sources: list[SourceStatus]
    kpi_freshness: dict[str, KpiFreshness]
    alerts: ProtectedTable
    monitored: ProtectedTable
    _levels: dict[str, list[PublicKpi]] = field(default_factory=dict, repr=False)
    # values before disclosure control: statuses are judged on them, as on the dashboards (never published)
    raw_series: dict[tuple[str, str, str], list[Point]] | None = field(default=None, repr=False)
    synthetic_tables: frozenset[str] = frozenset()  # this workspace's synthetic data (config synthetic_data)
    checks: tuple = ()  # observatory.checks results: the publishers' figures recomputed from the warehouse
    _judged: dict[tuple[str, str, str], Judgement] = field(default_factory=dict, repr=False)
    timezone: str = calendar.DEFAULT_TIMEZONE  # the workspace's (config.timezone): the calendar of "today"

    def judgement(self, kpi_id: str, level: str, entity: str) -> Judgement:
        """The one status model (observatory.kpis.status.judge_kpi) for a KPI, level and entity: the same
        status the dashboards show, on the day of the build (Japan time)."""
        key = (kpi_id, level, entity)
        if key not in self._judged:
            k = self.kpi(kpi_id)
            raw = (self.raw_series or self.series).get(key, [])
            fc = {f.target_year: {"target_value": f.target_value, "target_date": f.target_date,
                                  "status": f.status, "projected": f.projected,
                                  "attainment_date": f.attainment_date, "n_points": f.n_points}
                  for f in self.forecasts.get(key, [])}
            today = calendar.local_date(self.built_at, self.timezone)
            if k is None:
                k = placeholder(kpi_id)
            judged = judge_kpi(
                direction="lower_is_better" if k.direction == "down" else "higher_is_better", unit=k.unit,
                frequency=k.frequency, group=k.target_year_group, targets=dict(k.targets),
                dates=dict(k.target_dates), target_levels=k.target_levels, level=level, forecasts=fc,
                points=[(p.period, p.value) for p in raw], today=today)
            self._judged[key] = _without_suppressed(judged, self.series.get(key, []))
        return self._judged[key]

    def synthetic(self, k: PublicKpi) -> bool:
        """Whether a KPI's figures in this workspace come from synthetic data (the demo's, nothing public)."""
        return bool(set(k.tables_read) & self.synthetic_tables)

    def kpi(self, kpi_id: str) -> PublicKpi | None:
        return next((k for k in self.kpis if k.kpi_id == kpi_id), None)

    def points(self, kpi_id: str, level: str, entity: str) -> list[Point]:
        return self.series.get((kpi_id, level, entity), [])

    def latest(self, kpi_id: str, level: str, entity: str) -> Point | None:
        """The most recent period with a value (no_data periods are skipped, not shown as zero)."""
        for p in reversed(self.series.get((kpi_id, level, entity), [])):
            if p.value is not None or p.suppressed:
                return p
        return None

    def kpis_at(self, level: str) -> list[PublicKpi]:
        """KPIs that have figures at this level, in catalogue order."""
        if level not in self._levels:
            have = {k for (k, lv, _e) in self.series if lv == level}
            self._levels[level] = [k for k in self.kpis if k.kpi_id in have]
        return self._levels[level]


SUPPRESSED_REASON = ("判定の根拠となる値は少数のため秘匿しています（x）。",
                     "The figure this is judged on is suppressed because the counts are small (x).")


def _without_suppressed(judged: Judgement, published: list[Point]) -> Judgement:
    """A judgement whose reason or progress would state a figure disclosure control hides (the figure judged, or
    the latest one, which a target missed at its date names too) says that it is suppressed instead; the status
    stands."""
    hidden = {p.period for p in published if p.suppressed}
    if not hidden:
        return judged
    latest = max((p.period for p in published if p.value is not None or p.suppressed), default=None)

    def safe(ts: TargetStatus) -> TargetStatus:
        if ts.judged_period not in hidden and (latest not in hidden or ts.status != "off_track"):
            return ts
        return replace(ts, judged_value=None, progress_pct=None, reason_ja=SUPPRESSED_REASON[0],
                       reason_en=SUPPRESSED_REASON[1])

    return Judgement({y: safe(ts) for y, ts in judged.by_year.items()}, safe(judged.headline))


def _kpi_rows(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], list[Point]]:
    rows = con.execute(
        """
        SELECT v.kpi_id, v.level, v.entity_code, v.period, v.value, v.numerator, v.denominator, v.target,
               v.status
        FROM kpi_values v
        JOIN (SELECT kpi_id, max(version) AS version FROM kpi_values GROUP BY kpi_id) m
          ON v.kpi_id = m.kpi_id AND v.version = m.version
        ORDER BY v.kpi_id, v.level, v.entity_code, v.period
        """
    ).fetchall()
    out: dict[tuple[str, str, str], list[Point]] = defaultdict(list)
    for kpi_id, level, entity, period, value, num, den, target, status in rows:
        out[(kpi_id, level, entity)].append(Point(period, value, num, den, target, status))
    return dict(out)


def _forecast_rows(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], list[Forecast]]:
    rows = con.execute(
        """
        SELECT f.kpi_id, f.level, f.entity_code, f.target_year, f.target_date, f.target_value,
               f.projected_value, f.lower, f.upper, f.attainment_date, f.status, f.method, f.n_points
        FROM kpi_forecasts f
        JOIN (SELECT kpi_id, max(version) AS version FROM kpi_forecasts GROUP BY kpi_id) m
          ON f.kpi_id = m.kpi_id AND f.version = m.version
        ORDER BY f.kpi_id, f.level, f.entity_code, f.target_year
        """
    ).fetchall()
    out: dict[tuple[str, str, str], list[Forecast]] = defaultdict(list)
    for kpi_id, level, entity, *rest in rows:
        out[(kpi_id, level, entity)].append(Forecast(*rest))
    return dict(out)


def _sources(con: duckdb.DuckDBPyConnection, config: Config, now: datetime) -> list[SourceStatus]:
    """The one read model (observatory.freshness), the monitoring's feeds left out; the freshness page lists
    sources run but not configured after the configured ones, without an expected interval."""
    return [SourceStatus(f.source, f.kind, f.freshness_hours, f.last_good_at, f.last_run_at, f.last_status, f.stale)
            for f in source_freshness(con, config, now, include_unconfigured=True) if f.kind not in MONITORING_KINDS]


def _kpi_freshness(con: duckdb.DuckDBPyConnection) -> dict[str, KpiFreshness]:
    computed = dict(con.execute("SELECT kpi_id, max(computed_at) FROM kpi_values GROUP BY kpi_id").fetchall())
    subs = {
        r[0]: (r[1], r[2])
        for r in con.execute(
            "SELECT kpi_id, max(submitted_at), arg_max(ministry_code, submitted_at) FROM submissions "
            "WHERE status = 'accepted' GROUP BY kpi_id"
        ).fetchall()
    }
    out = {}
    for kpi_id in sorted(set(computed) | set(subs)):
        sub_at, ministry = subs.get(kpi_id, (None, None))
        out[kpi_id] = KpiFreshness(kpi_id, computed.get(kpi_id), sub_at, ministry)
    return out


def _months(now: datetime, n: int, timezone: str = calendar.DEFAULT_TIMEZONE) -> list[date]:
    """The last n months up to the one `now` falls in, in the workspace time zone."""
    today = calendar.local_date(now, timezone)
    return [calendar.add_months(today, -k) for k in reversed(range(n))]


def _security(con: duckdb.DuckDBPyConnection, now: datetime,
              timezone: str = calendar.DEFAULT_TIMEZONE) -> tuple[ProtectedTable, ProtectedTable]:
    """Alerts by month and outcome, and monitored access records by month: counts only, protected."""
    months = _months(now, SECURITY_MONTHS, timezone)
    start = months[0]
    alert_rows = con.execute(
        "SELECT date_trunc('month', first_seen)::DATE, status, count(*) FROM alerts "
        "WHERE first_seen >= ? GROUP BY ALL",
        [start],
    ).fetchall()
    grid = {m: dict.fromkeys(OUTCOME_COLUMNS, 0) for m in months}
    for month, status, n in alert_rows:
        outcome = ALERT_OUTCOMES.get(status, "open")
        if month in grid:
            grid[month][outcome] += int(n)
    labels = [m.isoformat() for m in months]
    alerts = protect(labels, OUTCOME_COLUMNS, [[grid[m][c] for c in OUTCOME_COLUMNS] for m in months])
    event_rows = con.execute(
        "SELECT date_trunc('month', timezone(?, occurred_at))::DATE, count(*) FROM access_events "
        "WHERE occurred_at >= ? GROUP BY ALL",
        [timezone, datetime(start.year, start.month, 1, tzinfo=calendar.zone(timezone))],  # its local midnight
    ).fetchall()
    per_month = dict.fromkeys(months, 0)
    for month, n in event_rows:
        if month in per_month:
            per_month[month] += int(n)
    monitored = protect_series(labels, [per_month[m] for m in months])
    return alerts, monitored


def protect_point(p: Point, level: str, unit: str) -> Point:
    """Disclosure control for a KPI derived from access logs, alerts or personal records.

    Counts below THRESHOLD are hidden, and so is a rate computed from them (it would give them away with
    the other count); below national level the counts are never shown, so that national totals cannot be
    used to recover a hidden local count. A rate whose counts are unknown is hidden: it cannot be checked.
    """
    def small(x: float | None) -> bool:
        return x is not None and x < THRESHOLD

    counts_hidden = level != "national" or small(p.numerator) or small(p.denominator)
    if p.value is None:
        value_hidden = False
    elif p.numerator is None and p.denominator is None:
        value_hidden = not (unit == "count" and p.value >= THRESHOLD)
    else:
        value_hidden = small(p.numerator) or small(p.denominator) or (unit == "count" and p.value < THRESHOLD)
    return Point(p.period, None if value_hidden else p.value, None if counts_hidden else p.numerator,
                 None if counts_hidden else p.denominator, p.target, p.status, value_hidden, counts_hidden)


def fetch(con: duckdb.DuckDBPyConnection, config: Config, definitions: list[PublicKpi],
          now: datetime | None = None) -> SiteData:
    """Read every table the site needs (about ten queries, whatever the number of pages)."""
    now = now or datetime.now(UTC)
    series = _kpi_rows(con)
    raw_series = dict(series)
    known = {k.kpi_id for k in definitions}
    extra = sorted({k for (k, _lv, _e) in series} - known)
    kpis = list(definitions) + [placeholder(k) for k in extra]
    sensitive = {k.kpi_id: k.unit for k in kpis if k.sensitive}
    for key, points in series.items():
        if key[0] in sensitive:
            series[key] = [protect_point(p, key[1], sensitive[key[0]]) for p in points]
    forecasts = _forecast_rows(con)
    prefectures = [Entity(c, ja, en, "", kana) for c, ja, en, kana in con.execute(
        "SELECT code, name_ja, name_en, name_kana FROM prefectures ORDER BY code").fetchall()]
    municipalities = [Entity(c, ja, en, p, kana) for c, p, ja, en, kana in con.execute(
        "SELECT code, prefecture_code, name_ja, name_en, name_kana FROM municipalities ORDER BY code").fetchall()]
    ministries = [Entity(c, ja, en) for c, ja, en in con.execute(
        "SELECT code, name_ja, name_en FROM ministries ORDER BY code").fetchall()]
    alerts, monitored = _security(con, now, config.timezone)
    return SiteData(
        built_at=now,
        kpis=kpis,
        series=series,
        forecasts=forecasts,
        prefectures=prefectures,
        municipalities=municipalities,
        ministries=ministries,
        sources=_sources(con, config, now),
        kpi_freshness=_kpi_freshness(con),
        alerts=alerts,
        monitored=monitored,
        raw_series=raw_series,
        synthetic_tables=frozenset(config.synthetic_data),
        checks=tuple(run_checks(con)),
        timezone=config.timezone,
    )
