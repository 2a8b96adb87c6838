"""Job wiring: what happens when a source is collected or files are ingested.

collect/ingest (collectors) -> KPI recompute for the tables touched (observatory.kpis) -> unauthorised-viewing
detection when access data changed (anomaly). The scheduler's publish job rebuilds the public site
(dashboards.publish) whenever the data version changed, whichever process changed it.
This module and observatory/cli/ are the only places that join the packages.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import collectors
from observatory import calendar
from observatory.kpis import cached_catalogue, recompute
from observatory.kpis.engine import readable_tables
from observatory.warehouse import for_workspace, next_id
from observatory.workspace import Workspace

if TYPE_CHECKING:  # the detector loads only when it runs (detect_alerts)
    from anomaly.detect import DetectionResult

log = logging.getLogger("observatory.jobs")

ACCESS_TABLES = {"access_events", "staff", "subjects", "cases"}


@dataclass
class FollowUp:
    """What ran after a load: KPI values changed, alerts raised or updated."""

    kpi_values_changed: int = 0
    detection: str | None = None  # summary of the detection run, when access data changed
    errors: list[str] = field(default_factory=list)


@contextmanager
def source_lock(ws: Workspace, name: str) -> Iterator[bool]:
    """A non-blocking per-source lock across processes: yields False when a run of `name` is going on."""
    lock_dir = ws.home / "locks"
    lock_dir.mkdir(exist_ok=True)
    fd = os.open(lock_dir / f"source-{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def record_skipped(ws: Workspace, name: str, reason: str) -> None:
    """Write a `skipped` collector run so an overlap shows in the status and the dashboard."""
    source = ws.config.source(name)
    now = datetime.now(UTC)
    with for_workspace(ws).connect() as con:
        con.execute(
            "INSERT INTO collector_runs (run_id, source, kind, started_at, finished_at, status, error, triggered_by)"
            " VALUES (?, ?, ?, ?, ?, 'skipped', ?, 'scheduler')",
            [next_id(con), name, source.kind, now, now, reason],
        )


def run_source(ws: Workspace, name: str, *, triggered_by: str = "scheduler", follow_up: bool = True,
               settle_s: float | None = None):
    """Collect one configured source now (unless a run of it is already going on), then follow up.

    `settle_s`: drop files younger than this wait for the next run (default: the collectors' own); a caller
    that wrote the files itself and closed them passes 0."""
    source = ws.config.source(name)
    with source_lock(ws, name) as acquired:
        if not acquired:
            record_skipped(ws, name, "previous run of this source still going")
            return None
        options = {} if settle_s is None else {"settle_s": settle_s}
        result = collectors.run_source(ws, source, triggered_by=triggered_by, **options)
    if follow_up:
        after_load(ws, [result])
    return result


def ingest(ws: Workspace, kind: str, paths: Sequence[Path], *, period: str | None = None, sheet: str | None = None,
           user: str | None = None, progress=None, follow_up: bool = True, fiscal_year: int | None = None,
           released_on: str | None = None):
    """`observatory ingest`: the same parse/load path as the scheduled collector, then follow up."""
    results = collectors.ingest_files(ws, kind, list(paths), triggered_by="cli", period=period, sheet=sheet,
                                      received_by=user, progress=progress, fiscal_year=fiscal_year,
                                      released_on=released_on)
    follow = after_load(ws, results) if follow_up else FollowUp()
    return results, follow


def _touched(results) -> tuple[set[str], list[date]]:
    tables: set[str] = set()
    periods: set[date] = set()
    for r in results:
        if r is not None and r.status == "ok" and r.rows_loaded:
            tables.update(r.tables_touched)
            periods.update(r.periods_touched or [])
    return tables, sorted(periods)


ROSTER_LOOKBACK_DAYS = 30  # how far back a roster load (a leaver, a case) has detection look again by itself


def _detection_since(ws: Workspace, results) -> date | None:
    """The first day detection must look at again after these loads: for an access log, the earliest local day
    of its events (`first_day`: a day's file re-examines that day, not its month from the 1st, which made a
    month of daily feeds cost days squared); for a roster, the first period it touched (a leaver's month, a
    case's), at most ROSTER_LOOKBACK_DAYS before the last day detected (a daily roster naming long-gone leavers
    would otherwise re-examine years each day; `observatory alerts detect --since` goes further).

    Never later than the first day no run has detected yet: when the detection after an earlier load failed
    (an engine down, a process stopped between the load and its follow-up), the next load's detection covers
    the days it left (from the first event after the last day examined), which no one would otherwise examine
    until someone ran `alerts detect`. Before any detection, None: the whole log (detect's default)."""
    loaded = [r for r in results if r is not None and r.status == "ok" and r.rows_loaded]
    if not loaded:
        return None
    tz = calendar.zone(ws.config.timezone)
    with for_workspace(ws).connect() as con:
        last_done = con.execute("SELECT max(day) FROM anomaly_staff_days").fetchone()[0]
        if last_done is None:
            return None  # nothing detected yet: the whole log (detect's default)
        after = datetime.combine(last_done + timedelta(days=1), time(0), tz)
        pending = con.execute("SELECT min(occurred_at) FROM access_events WHERE occurred_at >= ?", [after]).fetchone()[0]
    horizon = last_done - timedelta(days=ROSTER_LOOKBACK_DAYS)
    firsts = []
    for r in loaded:
        first = (r.detail or {}).get("first_day")
        if first:
            firsts.append(date.fromisoformat(first))
        elif r.periods_touched:
            firsts.append(max(min(r.periods_touched), horizon))
    if not firsts:
        return None
    return min(firsts) if pending is None else min(*firsts, pending.astimezone(tz).date())


def after_load(ws: Workspace, results) -> FollowUp:
    """Recompute what the loads touched, then detection after access data. Failures are logged and kept.

    Earlier loads whose follow-up did not finish (`pending`) are followed up with these; the loads are marked
    followed up only when everything succeeded, so a failed recompute is tried again after the next load (not
    on every scheduled run that loaded nothing: a detection engine that is down is not retried every minute)."""
    if not any(r is not None and r.status == "ok" and r.rows_loaded for r in results):
        return FollowUp()
    results = [*results, *pending(ws, exclude=[r.run_id for r in results if r is not None])]
    follow = _follow_up(ws, results)
    if not follow.errors:
        mark_followed_up(ws, results)
    return follow


def pending(ws: Workspace, exclude: Sequence[int] = ()) -> list[collectors.RunResult]:
    """Loads (ok, rows loaded) whose follow-up has not finished, as the results their runs returned."""
    with for_workspace(ws).connect() as con:
        rows = con.execute(
            "SELECT run_id, source, kind, rows_loaded, detail FROM collector_runs WHERE status = 'ok' "
            "AND rows_loaded > 0 AND followed_up_at IS NULL AND NOT list_contains(?, run_id) ORDER BY run_id",
            [list(exclude)]).fetchall()
    out = []
    for run_id, source, kind, loaded, detail in rows:
        info = json.loads(detail) if detail else {}
        out.append(collectors.RunResult(
            run_id, source, kind, "ok", rows_loaded=loaded, tables_touched=list(info.get("tables_touched") or []),
            periods_touched=[date.fromisoformat(d) for d in info.get("periods_touched") or []], detail=info))
    return out


def mark_followed_up(ws: Workspace, results) -> None:
    """Record that the follow-up of these loads finished (a caller that recomputes and detects itself, as the
    demo does with its whole load, says so here)."""
    ids = [r.run_id for r in results if r is not None and r.status == "ok" and r.rows_loaded]
    if ids:
        with for_workspace(ws).connect() as con:
            con.execute("UPDATE collector_runs SET followed_up_at = ? WHERE list_contains(?, run_id)",
                        [datetime.now(UTC), ids])


def _follow_up(ws: Workspace, results) -> FollowUp:
    tables, periods = _touched(results)
    follow = FollowUp()
    if not tables:
        return follow
    kpi_tables = tables & readable_tables()  # access_events, staff, ... feed detection, which recomputes its KPIs
    try:
        if kpi_tables:
            follow.kpi_values_changed = recompute_kpis(ws, tables=kpi_tables, periods=periods or None)
    except Exception as exc:  # noqa: BLE001 - a failed recompute must not undo a good load
        log.exception("KPI recompute after load failed")
        follow.errors.append(f"KPI recompute failed: {exc}")
    if tables & ACCESS_TABLES:
        try:
            follow.detection = detect_alerts(ws, since=_detection_since(ws, results)).summary()
        except Exception as exc:  # noqa: BLE001
            log.exception("detection after load failed")
            follow.errors.append(f"detection failed: {exc}")
    return follow


def recompute_kpis(ws: Workspace, *, tables=None, periods=None) -> int:
    """Recompute KPI values and forecasts for what changed (everything when nothing is named); returns the
    number of values changed."""
    with for_workspace(ws).connect() as con:
        result = recompute(con, cached_catalogue(ws.kpi_dir), tables=tables, periods=periods,
                           timezone=ws.config.timezone)
    return result.values_changed


def detect_alerts(ws: Workspace, *, since: date | None = None, until: date | None = None,
                  engine: str | None = None, progress=None) -> DetectionResult:
    """Run the unauthorised-viewing detector on the new days (with the history it needs), then recompute the
    KPIs that read the alerts; the run's DetectionResult (summary() and diagnostics() for people). The scheduler, the demo and `observatory alerts detect` call it;
    the engine is `detection.engine` of observatory.yaml unless `engine` names another."""
    import anomaly  # here: the detector (scikit-learn, pyarrow) loads only when it runs

    result = anomaly.detect(ws, ws.config, since=since, until=until, engine=engine, progress=progress)
    # the security KPIs read the alerts table: without this they showed "no data" while alerts were open,
    # since every load recomputes its KPIs before detection writes the alerts
    recompute_kpis(ws, tables={"alerts"})
    return result


def data_version(ws: Workspace) -> str:
    """A stamp that changes whenever published data may have changed (loads, KPI values, alerts)."""
    with for_workspace(ws).connect() as con:
        row = con.execute(
            "SELECT (SELECT max(finished_at) FROM collector_runs WHERE status = 'ok'), "
            "(SELECT max(computed_at) FROM kpi_values), (SELECT max(updated_at) FROM alerts), "
            "(SELECT max(submitted_at) FROM submissions WHERE status = 'accepted')"
        ).fetchone()
    return "|".join(str(v) for v in row)


def publish(ws: Workspace, outdir: Path | None = None):
    """Build the public site now (dated snapshot + latest/) and remember which data it shows."""
    from dashboards.publish import build_site  # here: only a publishing job loads the site builder

    target = outdir or ws.resolve(ws.config.publish.outdir)
    version = data_version(ws)
    result = build_site(ws, target)
    (target / ".data-version").write_text(version, encoding="utf-8")
    return result


def republish_if_changed(ws: Workspace):
    """The scheduler's publish job: rebuild the site only when the data changed since the last build."""
    target = ws.resolve(ws.config.publish.outdir)
    stamp = target / ".data-version"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == data_version(ws):
        return None
    return publish(ws, target)
