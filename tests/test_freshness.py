"""The one freshness read model, and the three readers that must agree with it on the same workspace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from dashboards import queries
from dashboards.publish import data as site_data
from observatory.cli import cli
from observatory.config import Source
from observatory.freshness import source_freshness
from observatory.warehouse import for_workspace
from observatory.workspace import Workspace

NOW = datetime.now(UTC)
H = timedelta(hours=1)

# (source, status, finished hours ago); started one minute before it finished
RUNS = [
    ("fresh", "ok", 2),
    ("confirmed", "ok", 24 * 100), ("confirmed", "not_modified", 1),  # the server says our data is current
    ("old", "ok", 24 * 100), ("old", "failed", 1),
    ("only-failed", "failed", 1),
    ("busy", "ok", 2), ("busy", "running", None),
    ("one-off", "ok", 1),  # run by hand, not in observatory.yaml
]
EXPECTED = {"fresh": "ok", "confirmed": "ok", "old": "stale", "never": "never", "only-failed": "never", "busy": "ok"}


def _workspace(ws: Workspace) -> Workspace:
    ws.config.sources = [Source(name=n, kind="card-issuance", directory=f"drop/{n}", freshness_hours=48)
                         for n in EXPECTED]
    ws.save_config()
    with for_workspace(ws).connect() as con:
        for run_id, (source, status, hours) in enumerate(RUNS, start=1):
            finished = None if hours is None else NOW - hours * H
            started = (finished or NOW) - timedelta(minutes=1)
            con.execute("INSERT INTO collector_runs (run_id, source, kind, started_at, finished_at, status, rows_loaded, "
                        "error) VALUES (?, ?, 'card-issuance', ?, ?, ?, ?, ?)",
                        [run_id, source, started, finished, status, 10 if status == "ok" else 0,
                         "boom" if status == "failed" else None])
    return ws


def test_good_contact_is_ok_or_not_modified(workspace: Workspace) -> None:
    ws = _workspace(workspace)
    with for_workspace(ws).connect() as con:
        rows = {f.source: f for f in source_freshness(con, ws.config)}
        everything = source_freshness(con, ws.config, include_unconfigured=True)
    assert {n: f.state for n, f in rows.items()} == EXPECTED
    assert rows["confirmed"].rows_loaded == 10  # rows of the last run that loaded data, not of the 304
    assert rows["old"].last_status == "failed" and rows["old"].last_error == "boom"
    assert rows["busy"].last_status == "ok"  # a run still going is no result yet
    assert [f.source for f in everything][: len(EXPECTED)] == list(EXPECTED)
    apart = everything[len(EXPECTED):]
    assert [(f.source, f.state, f.stale, f.freshness_hours) for f in apart] == [("one-off", "unconfigured", False, None)]


def test_cli_sources_page_and_public_site_agree(workspace: Workspace) -> None:
    ws = _workspace(workspace)
    stale = {n for n, s in EXPECTED.items() if s != "ok"}

    result = CliRunner().invoke(cli, ["--home", str(ws.home), "status"], terminal_width=200)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("stale sources:"))
    assert set(line.removeprefix("stale sources:").strip().split(", ")) == stale

    with for_workspace(ws).connect() as con:
        page = queries.source_freshness(con, ws.config.sources)
        site = site_data.fetch(con, ws.config, [])
    assert {r["source"]: r["state"] for r in page} == EXPECTED

    configured = [s for s in site.sources if s.freshness_hours is not None]
    assert {s.source for s in configured if s.stale} == stale
    assert {s.source for s in configured if s.last_good_at is None} == {"never", "only-failed"}
    # the public freshness page lists a source run but not configured, after the configured ones
    assert [s.source for s in site.sources] == [*EXPECTED, "one-off"]
