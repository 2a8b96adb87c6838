"""Source freshness, the one read model: when each source last had good contact, and whether that is too long ago.

`observatory status`, the dashboard's sources page and the public site all call `source_freshness`, so they
cannot disagree about whether a source is stale. The decisions (issue 13):

- good contact is a run with status `ok` (data loaded) or `not_modified` (the server confirmed the data we hold
  is current); `no_input`, `failed`, `skipped` and a run still `running` are not;
- a configured source is stale when its last good contact is older than its `freshness_hours`, or never happened;
- a source that has runs but is not in observatory.yaml (a one-off `observatory ingest`, a removed source) has no
  freshness to judge: it is listed apart (state `unconfigured`, never stale), and only where the caller asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import duckdb

from observatory.config import Config, Source

GOOD_CONTACT = ("ok", "not_modified")
State = Literal["ok", "stale", "never", "unconfigured"]


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    source: str
    kind: str
    schedule: str | None  # None: not configured
    freshness_hours: float | None  # None: not configured, nothing to judge against
    last_run_at: datetime | None  # when the last finished run ended (any status)
    last_status: str | None
    last_error: str | None
    last_good_at: datetime | None  # last good contact: status ok or not_modified
    rows_loaded: int | None  # rows of the last run that loaded data (status ok)
    stale: bool
    age_hours: float | None  # hours since last good contact, at the time asked
    configured: bool = True
    enabled: bool = True

    @property
    def state(self) -> State:
        """ok, stale, never (configured, no good contact yet) or unconfigured."""
        if not self.configured:
            return "unconfigured"
        if self.last_good_at is None:
            return "never"
        return "stale" if self.stale else "ok"


_QUERY = f"""
    WITH finished AS (SELECT * FROM collector_runs WHERE status <> 'running')
    SELECT source, arg_max(kind, started_at), max(finished_at),
           arg_max(status, started_at), arg_max(error, started_at),
           max(finished_at) FILTER (WHERE status IN {GOOD_CONTACT!r}),
           arg_max(rows_loaded, finished_at) FILTER (WHERE status = 'ok')
    FROM finished GROUP BY source
"""  # noqa: S608 - GOOD_CONTACT is a constant of this module


def source_freshness(con: duckdb.DuckDBPyConnection, sources: Config | Iterable[Source],
                     now: datetime | None = None, *, include_unconfigured: bool = False) -> list[SourceFreshness]:
    """One entry per configured source in configuration order, then (when asked) sources run but not configured."""
    now = now or datetime.now(UTC)
    configured = list(sources.sources if isinstance(sources, Config) else sources)
    runs = {r[0]: r[1:] for r in con.execute(_QUERY).fetchall()}
    out = []
    for s in configured:
        _kind, last_at, status, error, good_at, loaded = runs.get(s.name, (s.kind, None, None, None, None, None))
        age = None if good_at is None else (now - good_at).total_seconds() / 3600
        out.append(SourceFreshness(s.name, s.kind, s.schedule, s.freshness_hours, last_at, status, error, good_at,
                                   loaded, age is None or age > s.freshness_hours, age, enabled=s.enabled))
    if include_unconfigured:
        names = {s.name for s in configured}
        for name in sorted(set(runs) - names):
            kind, last_at, status, error, good_at, loaded = runs[name]
            age = None if good_at is None else (now - good_at).total_seconds() / 3600
            out.append(SourceFreshness(name, kind, None, None, last_at, status, error, good_at, loaded, False, age,
                                       configured=False))
    return out
