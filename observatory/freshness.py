"""Source freshness: when each configured source last delivered good data, and whether that is too long ago."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from observatory.config import Config


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    source: str
    kind: str
    schedule: str
    freshness_hours: float
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_good_at: datetime | None  # last run that loaded data (status ok)
    rows_loaded: int | None  # rows of that last good run
    stale: bool

    @property
    def age_hours(self) -> float | None:
        if self.last_good_at is None:
            return None
        return (datetime.now(UTC) - self.last_good_at).total_seconds() / 3600


def source_freshness(con: duckdb.DuckDBPyConnection, config: Config,
                     now: datetime | None = None) -> list[SourceFreshness]:
    """One entry per configured source; a source with no good data at all is stale."""
    now = now or datetime.now(UTC)
    rows = con.execute(
        """
        WITH last_run AS (
            SELECT source, arg_max(finished_at, started_at) AS at, arg_max(status, started_at) AS status,
                   arg_max(error, started_at) AS error
            FROM collector_runs WHERE status <> 'running' GROUP BY source),
        last_good AS (
            SELECT source, max(finished_at) AS at, arg_max(rows_loaded, finished_at) AS rows_loaded
            FROM collector_runs WHERE status = 'ok' GROUP BY source)
        SELECT r.source, r.at, r.status, r.error, g.at, g.rows_loaded
        FROM last_run r LEFT JOIN last_good g USING (source)
        """
    ).fetchall()
    by_source = {r[0]: r[1:] for r in rows}
    out = []
    for s in config.sources:
        last_at, status, error, good_at, loaded = by_source.get(s.name, (None, None, None, None, None))
        stale = good_at is None or (now - good_at).total_seconds() > s.freshness_hours * 3600
        out.append(SourceFreshness(s.name, s.kind, s.schedule, s.freshness_hours, last_at, status, error,
                                   good_at, loaded, stale))
    return out
