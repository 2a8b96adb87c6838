"""One detection run: explain, summarise, detect scenarios, score, group into episodes, store alerts.

Incremental by default: with state from earlier runs and no `since`, only the days from the last detected
day on are recomputed; the per-person and peer baselines come from the stored staff-day history.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from anomaly import alerts as episodes_mod
from anomaly import calibration, explanations, features, feedback, model, scenarios
from anomaly.engine import Engine, EngineError, archive, open_engine
from anomaly.engine.spark_engine import _first_line
from anomaly.explain import REASONS, scenario_of
from observatory.config import Config
from observatory.security import alerts as store
from observatory.security import audit
from observatory.warehouse import for_workspace, transaction
from observatory.workspace import Workspace

LOOKBACK_DAYS = 90


@dataclass
class DetectionResult:
    """What a detection run did (printed by the CLI, returned to the job wiring)."""

    first_day: date | None = None
    last_day: date | None = None
    events: int = 0
    staff_days: int = 0
    findings: int = 0
    candidates: int = 0
    budget: int = 0
    engine: str = "duckdb"
    floor: float = 0.0
    chance_share: float = 0.1  # share of the budget chance alone may fill at the floor (alerts.chance_share)
    threshold: float | None = None
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    skipped_closed: int = 0
    suppressed: int = 0
    over_budget: int = 0
    held_back: int = 0  # candidates sunk below the floor by analysts' verdicts on the same pattern (anomaly.feedback)
    recurrences: int = 0  # candidates resting on one reason code recurring on separate days (alerts.recurrences)
    seconds: float = 0.0
    explained: dict[str, float] = field(default_factory=dict)  # share of accesses explained, in all and by path
    # staff-days of batch corrections (features.batch_days) and the people they updated: not personal accesses
    batch_corrections: dict[str, int] = field(default_factory=dict)
    # night desks (features.night_desks): terminals, staff-days whose after-hours look-ups there were not counted
    night_desks: dict[str, Any] = field(default_factory=dict)
    # accounts in the log that the staff roster does not know (no holder, role or unit: read with no peers)
    unrostered: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)  # largest shift (decades) per code, peer groups
    # per scenario: staff-days whose (calibrated) evidence reached the floor, and how many chance alone would give
    by_scenario: dict[str, dict[str, float]] = field(default_factory=dict)
    # whether the staff context (related-set and population sizes) was the stored one, the roster and the
    # resident register unchanged since it was counted (features.residence_context), or counted afresh
    context_reused: bool = False
    stages: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        if self.first_day is None:
            return "no access events to examine"
        share = self.explained.get("explained")
        return (f"{self.first_day}..{self.last_day}: {self.events} events"
                + (f" ({100 * share:.1f} % explained)" if share is not None else "")
                + f", {self.staff_days} staff-days, "
                f"{self.findings} findings, {self.candidates} candidate episodes above {self.floor:.1f}, "
                f"budget {self.budget}: {len(self.created)} new, {len(self.updated)} updated, "
                f"{self.unchanged} unchanged, {self.over_budget} over budget, {self.suppressed} suppressed, "
                f"{self.held_back} held back by analysts' verdicts "
                f"({self.seconds:.1f} s)")

    def diagnostics(self) -> list[str]:
        """Lines an analyst can read: share explained (by path), the floor and why, findings per scenario
        against chance, and the peer groups whose null had to be shifted."""
        if self.first_day is None:
            return []
        paths = ", ".join(f"{k} {100 * v:.1f} %" for k, v in self.explained.items() if k != "explained")
        lines = [f"accesses explained: {100 * self.explained.get('explained', 0):.1f} % ({paths})",
                 f"significance floor {self.floor:.2f} decades: chance may fill at most "
                 f"{100 * self.chance_share:g} % of the budget, over {scenarios.TESTS_PER_STAFF_DAY} tests per "
                 f"staff-day (and half that again through recurrences of one reason on separate days); "
                 f"budget {self.budget} alerts"]
        batch = self.batch_corrections
        if batch.get("staff_days"):
            lines.append(f"batch corrections ({batch['threshold']} people or more updated without a case by one "
                         f"account in a day): {batch['staff_days']} staff-days, {batch['people']} people updated; "
                         "not counted as personal accesses, relatives and sensitive records among them still tested")
        desks = self.night_desks
        if desks.get("terminals"):
            lines.append(f"night desks (terminals kept for the night, at which at least {desks['other_staff']} other "
                         f"staff took turns working late alone on at least {desks['other_nights']} other nights): "
                         f"{desks['terminals']} terminals, e.g. {desks['example']}; after-hours look-ups there on "
                         f"{desks['staff_days']} "
                         "staff-days not counted as after-hours work, relatives and sensitive records still tested / "
                         "宿日直などの共用端末での時間外照会は時間外の所見に数えていません")
        if self.unrostered.get("accounts"):
            u = self.unrostered
            lines.append(f"accounts not in the staff roster: {u['accounts']} ({u['staff_days']} staff-days, "
                         f"{u['events']} events), e.g. {u['example']}: no holder, role or unit is known for them, so "
                         "no peers; load the roster (observatory ingest staff) or find who uses them / "
                         "職員名簿にないアカウントがあります")
        if self.recurrences:
            lines.append(f"candidate episodes with one reason recurring on separate days within "
                         f"{episodes_mod.RECURRENCE_DAYS} days: {self.recurrences} of {self.candidates}")
        for sc, v in self.by_scenario.items():
            if v["at_floor"]:
                lines.append(f"  {sc}: {v['at_floor']} staff-days at the floor, {v['expected_by_chance']:.3f} "
                             "expected by chance")
        if self.calibration:
            lines.append("null shifted for peer groups (largest shift, decades): "
                         + ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.calibration.items())))
        return lines

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect(ws_or_con: Workspace | duckdb.DuckDBPyConnection, config: Config, *, since: date | None = None,
           until: date | None = None, random_state: int = 0, engine: str | None = None,
           progress: Callable[[str], None] | None = None) -> DetectionResult:
    """Run detection on [since, until] (default: the new days since the last run) and upsert alerts.

    Three steps: a snapshot of what the run needs is read from the warehouse (a short hold of the
    workspace lock), the heavy stages run on the detection engine without the lock (`engine`, default
    `detection.engine` of observatory.yaml), and the findings and alerts are written in one short
    transaction. A failing engine raises EngineError and leaves the warehouse unchanged."""
    kind = engine or config.detection.engine
    if isinstance(ws_or_con, Workspace):
        wh = for_workspace(ws_or_con)
        pins = ws_or_con.events_dir.parent / ".pinned" / f"detect-{os.getpid()}-{time.time_ns()}"
        try:
            with wh.connect() as con:
                snap = _snapshot(con, config, since, until, ws_or_con.events_dir)
                if snap is not None and not config.detection.events_uri:
                    snap.files = archive.pin(snap.files, ws_or_con.events_dir, pins / "window")
                    snap.span_files = archive.pin(snap.span_files, ws_or_con.events_dir, pins / "span")
            if snap is None:
                return DetectionResult()
            out = _compute(snap, config, random_state, kind, progress, ws_or_con.home / "tmp")
        finally:
            archive.unpin(pins)
        with wh.connect() as con:
            return _write(con, snap, out, config, random_state)
    snap = _snapshot(ws_or_con, config, since, until, None)
    if snap is None:
        return DetectionResult()
    out = _compute(snap, config, random_state, kind, progress, None)
    return _write(ws_or_con, snap, out, config, random_state)


def _window(con: duckdb.DuckDBPyConnection, tz: str, since: date | None, until: date | None,
            root: Path | None = None) -> features.Window | None:
    """The run's days; the archive's span from `root`, the archive the warehouse's access_events view reads."""
    span = features.event_range(con, tz, root)
    if span is None:
        return None
    if since is None:
        last_done = con.execute("SELECT max(day) FROM anomaly_staff_days").fetchone()[0]
        since = last_done if last_done is not None else span[0]
    last = min(until, span[1]) if until else span[1]
    first = max(since, span[0])
    return None if first > last else features.Window(first, last, tz)


@dataclass
class Snapshot:
    """What a run reads from the warehouse: the window, the archive's files and the small relations."""

    window: features.Window
    files: list[str]  # Parquet files of the months the window touches
    span_files: list[str]  # ... and of the months its history touches (evidence of findings over earlier days)
    relations: dict[str, Any]  # name -> pyarrow Table
    population: str | None = None  # the roster's and the register's fingerprint (_POPULATION)
    stored_context: Any = None  # anomaly_staff_context as the last run left it (pyarrow Table)


_STAFF_COLUMNS = ("staff_id", "org_code", "unit", "role", "status", "terminated_on", "subject_id")
_SUBJECT_COLUMNS = ("subject_id", "municipality_code", "household_key", "surname_key", "neighbourhood_key",
                    "sensitive")
_SNAPSHOT = {
    "staff": (f"SELECT {', '.join(_STAFF_COLUMNS)} FROM staff", False),
    "subjects": (f"SELECT {', '.join(_SUBJECT_COLUMNS)} FROM subjects", False),
    "cases": ("SELECT subject_id, org_code, unit, opened_at, closed_at, case_id FROM cases", False),
    "municipalities": ("SELECT code FROM municipalities", False),
    "hist_staff_days": (f"SELECT {features.STAFF_DAYS.select()} FROM anomaly_staff_days "
                        "WHERE day >= $h0 AND day < $first", True),
    "hist_unexplained": (f"SELECT {features.UNEXPLAINED.select()} FROM anomaly_unexplained "
                         "WHERE day >= $h0 AND day < $first", True),
    "prior_contacts": ("SELECT staff_id, subject_id, day FROM anomaly_case_contacts "
                       "WHERE day < $first AND day >= $r0", True),
    "hist_findings": ("SELECT staff_id, day, code, coalesce(raw_evidence, evidence) AS evidence "
                      "FROM anomaly_findings WHERE day >= $h0 AND day < $first", True),
    "hist_terminal_days": (f"SELECT {features.TERMINAL_DAYS.select()} FROM anomaly_terminal_days "
                           "WHERE day >= $h0 AND day < $first", True),
    "hist_batch_updated": (f"SELECT {features.BATCH_UPDATED.select()} FROM anomaly_batch_updates "
                           "WHERE day = $b0", True),
    "hist_coworker_views": (f"SELECT {scenarios.COWORKER_VIEWS.select()} FROM anomaly_coworker_views "
                            "WHERE day >= $c0 AND day < $first", True),
}


# The roster's and the register's fingerprint, as a run reads them: their sizes and the XOR of a hash of every
# row's columns (a change to any value of a row changes its hash; the rows are unique by their ids, so none
# cancels another). What identifies the staff context a run may reuse (features.residence_context).
_POPULATION = (f"SELECT (SELECT count(*) || ':' || coalesce(bit_xor(hash({', '.join(_STAFF_COLUMNS)})), 0) "
               "FROM staff) || '/' || "
               f"(SELECT count(*) || ':' || coalesce(bit_xor(hash({', '.join(_SUBJECT_COLUMNS)})), 0) FROM subjects)")


def _snapshot(con: duckdb.DuckDBPyConnection, config: Config, since: date | None, until: date | None,
              events_dir: Path | None) -> Snapshot | None:
    """Read the run's inputs from the warehouse (the caller holds the lock only for this)."""
    own = archive.events_root(None, events_dir, con)  # the warehouse's own archive
    window = _window(con, config.timezone, since, until, own)
    if window is None:
        return None
    h0 = window.first - timedelta(days=LOOKBACK_DAYS)
    params = {"h0": h0, "first": window.first, "r0": window.first - timedelta(days=explanations.REPEAT_DAYS),
              "c0": window.first - timedelta(days=scenarios.SPAN_DAYS - 1), "b0": window.first - timedelta(days=1)}
    rels = {}
    for name, (sql, bound) in _SNAPSHOT.items():
        used = {k: v for k, v in params.items() if f"${k}" in sql} if bound else {}
        with warnings.catch_warnings():  # the warehouse hands over a cursor: one copy of small tables is fine
            warnings.simplefilter("ignore", UserWarning)
            rels[name] = con.execute(sql, used).to_arrow_table()
    root = archive.events_root(config.detection.events_uri, events_dir, con) if config.detection.events_uri else own
    if config.detection.events_uri and (root is None or not root.is_dir()):
        raise EngineError(f"detection.events_uri {config.detection.events_uri} はディレクトリではありません / "
                          "is not a readable directory (observatory.yaml, detection.events_uri)")
    files = archive.month_files(root, window.first - timedelta(days=1), window.last + timedelta(days=1))
    span = archive.month_files(root, h0 - timedelta(days=1), window.last + timedelta(days=2))
    population = con.execute(_POPULATION).fetchone()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        context = con.execute(f"SELECT context_key, {features.STAFF_CONTEXT.select()} "
                              "FROM anomaly_staff_context").to_arrow_table()
    return Snapshot(window, files, span, rels, population, context)


@dataclass
class Computed:
    """What the engine hands back: small frames and the window's rows of the stored state tables."""

    result: DetectionResult
    found: pd.DataFrame
    baselines: dict[str, dict[str, Any]]
    state: dict[str, Any]  # anomaly_* table -> pyarrow Table of the window's rows


def _compute(snap: Snapshot, config: Config, random_state: int, kind: str,
             progress: Callable[[str], None] | None, temp_dir: Path | None) -> Computed:
    """Every heavy stage, on the engine, without the workspace lock."""
    t0 = time.perf_counter()
    settings = config.alerts
    result = DetectionResult(first_day=snap.window.first, last_day=snap.window.last, engine=kind,
                             chance_share=settings.chance_share)
    lap = _Lap(result.stages, progress)
    window = snap.window
    eng = open_engine(kind, master=config.detection.spark.master, conf=config.detection.spark.conf,
                      memory_limit=config.detection.memory_limit, temp_dir=temp_dir,
                      scratch=config.detection.spark.scratch_uri, small=window.n_days <= features.FOCUS_DAYS)
    try:
        for name, table in snap.relations.items():
            eng.put(name, table)
        eng.read_events("events", snap.files)
        eng.read_events("events_span", snap.span_files)
        lap("inputs")
        result.events = features.build_events(eng, window, settings.work_hours)
        result.explained = features.explained_shares(eng)
        result.batch_corrections = features.batch_corrections(eng)
        lap("explain")
        result.staff_days = features.staff_days(eng)
        result.night_desks = features.night_desk_counts(eng)
        lap("staff_days")
        context_key = features.residence_context(eng, snap.population, snap.stored_context)
        result.context_reused = context_key is None
        found = scenarios.detect_all(eng, window, LOOKBACK_DAYS, lap)
        found, result.calibration = _calibrate(eng, found, window)
        lap("calibration")
        result.floor = episodes_mod.significance_floor(settings.per_1000_staff_days, settings.chance_share)
        found = _add_model(eng, found, window, random_state, result.floor)
        lap("model")
        baselines = _baseline_info(eng, sorted(set(found["staff_id"])) if not found.empty else [])
        state = {"anomaly_staff_days": eng.arrow("window_staff_days"),
                 "anomaly_unexplained": eng.arrow("window_unexplained"),
                 "anomaly_case_contacts": eng.arrow("explain_contacts"),
                 "anomaly_explanation_paths": eng.arrow("explain_paths"),
                 "anomaly_coworker_views": eng.arrow("coworker_views"),
                 "anomaly_terminal_days": eng.arrow("terminal_days"),
                 "anomaly_batch_updates": eng.arrow("batch_updated")}
        if context_key is not None:  # counted afresh: stored for the runs after this one
            context = eng.arrow("staff_ctx").select(list(features.STAFF_CONTEXT.columns))
            state["anomaly_staff_context"] = context.append_column(
                "context_key", pa.array([context_key] * context.num_rows, pa.string()))
        lap("handover")
    except EngineError:
        raise
    except Exception as exc:
        if kind == "duckdb":
            raise
        raise EngineError(f"検出エンジン {kind} が失敗しました / detection engine {kind} failed: "
                          f"{_first_line(exc)}") from exc
    finally:
        eng.close()
    result.seconds = round(time.perf_counter() - t0, 2)
    return Computed(result, found, baselines, state)


def _write(con: duckdb.DuckDBPyConnection, snap: Snapshot, out: Computed, config: Config,
           random_state: int) -> DetectionResult:
    """The run's only write: the window's state rows, findings and alerts, in one short transaction."""
    t0 = time.perf_counter()
    window, result, settings = snap.window, out.result, config.alerts
    lap = _Lap(result.stages)
    with transaction(con):
        _store_state(con, window, out.state)
        found = out.found
        _store_findings(con, window, found)
        result.findings = len(found)
        result.by_scenario = _against_chance(found, result.floor, result.staff_days)
        result.unrostered = _unrostered(con, window)
        candidates = _candidates(con, window, found, result)
        orgs = dict(con.execute("SELECT staff_id, org_code FROM staff").fetchall())
        chosen, lessons = _choose(con, window, candidates, orgs, result, settings)
        _raise(con, window, chosen, lessons, out.baselines, orgs, result)
        lap("alerts")
        result.seconds = round(result.seconds + time.perf_counter() - t0, 2)
        _store_run(con, result)
        audit.record(con, actor=store.DETECTOR, action="alerts.detect",
                     detail={k: v for k, v in result.as_dict().items()
                             if k not in ("created", "updated", "stages", "by_scenario")}
                     | {"created": len(result.created), "updated": len(result.updated)})
    _checkpoint(con)
    return result


def _checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Move the run's rows from the write-ahead log into the database file now. Left in the log, a full run's
    millions of rows made a later run's commit pay for them when DuckDB checkpointed automatically (0.43 and
    0.48 s of the incremental day in two of three runs of benchmarks/anomaly_bench.py; checkpointed here, 0.07 s
    after the full run and 0.03 s after the day). DuckDB's documentation says a checkpoint fails while another
    transaction runs (a page's query on the server's connection; the DuckDB installed here did not refuse it
    with another cursor's transaction open): the rows are committed and safe in the log either way, and the
    automatic checkpoint stays."""
    try:
        con.execute("CHECKPOINT")
    except duckdb.TransactionException:
        pass


def _unrostered(con: duckdb.DuckDBPyConnection, window: features.Window) -> dict[str, Any]:
    """The window's accounts that the staff roster does not know: how many, their staff-days and events, and the
    first of them (a staff code, shown to those who read the run)."""
    n, days, events, example = con.execute(
        "SELECT count(DISTINCT staff_id), count(*), coalesce(sum(n_events), 0), min(staff_id) FROM anomaly_staff_days d "
        "WHERE day BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM staff s WHERE s.staff_id = d.staff_id)",
        [window.first, window.last]).fetchone()
    return {"accounts": int(n), "staff_days": int(days), "events": int(events), "example": example} if n else {}


def _candidates(con: duckdb.DuckDBPyConnection, window: features.Window, found: pd.DataFrame,
                result: DetectionResult) -> list:
    """Episodes above the floor ending in the window: the findings with the days just before the window (so
    that an episode running into it is combined as a whole), less those analysts' verdicts suppress."""
    prior = _prior_findings(con, window, found["staff_id"].unique() if not found.empty else [])
    found = pd.concat([x for x in (prior, found) if not x.empty] or [found],
                      ignore_index=True)
    closed = [(r[0], r[1], r[2]) for r in con.execute(
        "SELECT staff_id, first_seen, last_seen FROM alerts WHERE status IN ('true_positive', 'benign', "
        "'false_positive') AND last_seen >= ?", [window.first - timedelta(days=LOOKBACK_DAYS)]).fetchall()]
    found, result.suppressed = episodes_mod.drop_suppressed(found, store.suppressions(con), closed)
    scores = episodes_mod.day_scores(found)
    if not scores.empty:
        model_term = found.groupby(["staff_id", "day"], as_index=False)["model"].max()
        scores = scores.merge(model_term, on=["staff_id", "day"], how="left")
        scores["score"] = scores["rule_score"] + episodes_mod.MODEL_WEIGHT * scores["model"].fillna(0).clip(0, 1)
    eps = [e for e in episodes_mod.episodes(found, scores, result.floor) if e.last >= window.first]
    eps = [e for e in eps if e.score >= result.floor]
    result.recurrences = sum(bool(e.recurrence) for e in eps)
    return eps


def _choose(con: duckdb.DuckDBPyConnection, window: features.Window, candidates: list, orgs: dict,
            result: DetectionResult, settings) -> tuple[list, dict]:
    """The candidates the alert budget admits, ranked after what analysts' verdicts teach (feedback), and
    the lesson applied to each."""
    known = feedback.verdicts(con)
    lessons = {id(e): feedback.lesson(known, e.staff_id, orgs.get(e.staff_id), set(e.rows["code"]))
               for e in candidates}
    ranked = {id(e): feedback.adjusted(e.score, result.floor, lessons[id(e)]) for e in candidates}
    result.held_back = sum(not ranked[id(e)][1] for e in candidates)
    candidates = sorted((e for e in candidates if ranked[id(e)][1]), key=lambda e: -ranked[id(e)][0])
    result.candidates = len(candidates)
    result.budget = _budget(con, window, settings)
    chosen = candidates[:result.budget]
    result.over_budget = len(candidates) - len(chosen)
    result.threshold = round(chosen[-1].score, 3) if chosen else None  # as stored on the alerts
    return chosen, lessons


def _raise(con: duckdb.DuckDBPyConnection, window: features.Window, chosen: list, lessons: dict,
           baselines: dict, orgs: dict, result: DetectionResult) -> None:
    """Create or update an alert for each chosen episode, with its baseline and the lesson applied."""
    for ep in chosen:
        baseline = dict(baselines.get(ep.staff_id, {}))
        if lessons[id(ep)] is not None:
            baseline.update(lessons[id(ep)].as_dict())
        baseline.update({"floor": round(result.floor, 2), "budget": result.budget,
                         "window": [window.first.isoformat(), window.last.isoformat()]})
        alert_id, action = store.upsert_detected(con, episodes_mod.to_alert(ep, orgs.get(ep.staff_id), baseline),
                                                 gap_days=episodes_mod.GAP_DAYS)
        if action == "created":
            result.created.append(alert_id)
        elif action == "updated":
            result.updated.append(alert_id)
        elif action == "unchanged":
            result.unchanged += 1
        else:
            result.skipped_closed += 1


# the rows of each state table a run replaces: the window's, or (the staff context, when counted afresh) all
_REPLACED = {"anomaly_staff_days": "day BETWEEN $first AND $last",
             "anomaly_unexplained": "day BETWEEN $first AND $last",
             "anomaly_case_contacts": "day BETWEEN $first AND $last",
             "anomaly_explanation_paths": "first_day = $first AND last_day = $last",
             "anomaly_coworker_views": "day BETWEEN $first AND $last",
             "anomaly_terminal_days": "day BETWEEN $first AND $last",
             "anomaly_batch_updates": "day BETWEEN $first AND $last",
             "anomaly_staff_context": "true"}


def _store_state(con: duckdb.DuckDBPyConnection, window: features.Window, state: dict[str, Any]) -> None:
    """Replace the window's rows of the detector's state tables with the engine's, and the staff context when
    the run counted it afresh (_REPLACED)."""
    bounds = {"first": window.first, "last": window.last}
    for table, where in _REPLACED.items():
        if table == "anomaly_staff_context" and table not in state:  # reused: nothing to replace
            continue
        con.execute(f"DELETE FROM {table} WHERE {where}", bounds if "$" in where else None)
        rows = state[table]
        if rows.num_rows == 0:
            continue
        con.register("_state", rows)
        try:
            if table == "anomaly_explanation_paths":
                con.execute("INSERT INTO anomaly_explanation_paths (first_day, last_day, org_code, path, n_events, "
                            "support, chance_support, confidence, accepted) SELECT $first, $last, org_code, path, "
                            "n_events, support, chance_support, confidence, accepted FROM _state", bounds)
            else:
                cols = ", ".join(rows.column_names)
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _state")
        finally:
            con.unregister("_state")


def _store_run(con: duckdb.DuckDBPyConnection, result: DetectionResult) -> None:
    """The run's diagnostics as one row of anomaly_runs (the alerts page reads the latest)."""
    con.execute("""
        INSERT INTO anomaly_runs (run_id, ran_at, engine, first_day, last_day, events, staff_days, findings,
                                  candidates, budget, floor, chance_share, created, updated, over_budget, suppressed,
                                  held_back, seconds, explained, by_scenario, calibration, batch_corrections,
                                  night_desks)
        SELECT coalesce(max(run_id), 0) + 1, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
        FROM anomaly_runs""",
                [result.engine, result.first_day, result.last_day, result.events, result.staff_days,
                 result.findings, result.candidates, result.budget, result.floor, result.chance_share,
                 len(result.created), len(result.updated), result.over_budget, result.suppressed, result.held_back,
                 result.seconds, json.dumps(result.explained), json.dumps(result.by_scenario),
                 json.dumps(result.calibration), json.dumps(result.batch_corrections),
                 json.dumps(result.night_desks)])


BUDGET_PERIOD_DAYS = 30


def _budget(con: duckdb.DuckDBPyConnection, window: features.Window, settings) -> int:
    """Alerts this run may raise: the budget of the trailing period (at least 30 days, so that a small office
    or a single new day is not rounded down to nothing) minus alerts already raised in it before the window."""
    p0 = min(window.first, window.last - timedelta(days=BUDGET_PERIOD_DAYS - 1))
    staff_days = con.execute("SELECT count(*) FROM anomaly_staff_days WHERE day BETWEEN ? AND ?",
                             [p0, window.last]).fetchone()[0]
    total = episodes_mod.budget_for((window.last - p0).days + 1, int(staff_days), settings.daily_budget,
                                    settings.per_1000_staff_days)
    already = con.execute("SELECT count(*) FROM alerts WHERE first_seen >= ? AND first_seen < ?",
                          [p0, window.first]).fetchone()[0]
    return max(0, total - int(already))


class _Lap:
    """Records the seconds each stage took (reported by the benchmark) and tells `progress` about it."""

    def __init__(self, into: dict[str, float], progress: Callable[[str], None] | None = None) -> None:
        self.into = into
        self.progress = progress
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.into[name] = round(self.into.get(name, 0.0) + now - self.t, 3)
        if self.progress is not None:
            self.progress(f"{name} {now - self.t:.1f} s")
        self.t = now


def _add_model(eng: Engine, found: pd.DataFrame, window: features.Window,
               random_state: int, floor: float) -> pd.DataFrame:
    """Attach the isolation-forest term (0 typical .. 1 rare) of each finding's staff-day; the forest is
    only fitted when some staff-day's rules come within the model's weight of the floor."""
    found = found.copy()
    found["model"] = 0.0
    if found.empty:
        return found
    rules = episodes_mod.day_scores(found)
    if rules.empty or rules["rule_score"].max() < floor - episodes_mod.MODEL_WEIGHT:
        return found
    est = model.fit_activity_model(eng, random_state=random_state)
    if est is None:
        return found
    keys = found[["staff_id", "day"]].drop_duplicates().assign(day=lambda k: pd.to_datetime(k["day"]).dt.date)
    eng.put("_fkeys", keys)
    frame = model.staff_day_features(eng, keys="_fkeys", source="window_staff_days")
    if frame.empty:
        return found
    frame["model"] = est.score_samples(frame[list(model.FEATURES)].to_numpy())
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    found = found.drop(columns="model").merge(frame[["staff_id", "day", "model"]], on=["staff_id", "day"],
                                              how="left")
    found["model"] = found["model"].fillna(0.0)
    return found


def _against_chance(found: pd.DataFrame, floor: float, staff_days: int) -> dict[str, dict[str, float]]:
    """Per scenario: staff-days at or above the floor against the number chance would give (each staff-day
    undergoes one test per reason code of the scenario, each reaching the floor with probability 10^-floor)."""
    tests = {}
    for code, (scenario, _, _) in REASONS.items():
        if code not in scenarios.UNTESTED_CODES:
            tests[scenario] = tests.get(scenario, 0) + 1 + scenarios.EXTRA_TESTS.get(code, 0)
    top = found[found["evidence"] >= floor].assign(scenario=lambda f: f["code"].map(scenario_of)) \
        if not found.empty else found.assign(scenario=[])
    hits = top.drop_duplicates(["staff_id", "day", "scenario"])["scenario"].value_counts().to_dict()
    return {sc: {"at_floor": int(hits.get(sc, 0)), "expected_by_chance": round(staff_days * n * 10 ** -floor, 4)}
            for sc, n in tests.items()}


def _calibrate(eng: Engine, found: pd.DataFrame,
               window: features.Window) -> tuple[pd.DataFrame, dict[str, float]]:
    """Shift each finding's evidence by its peer group's excess over chance (anomaly.calibration), using the
    raw evidence of the stored history and of this window; keeps the raw value in `raw_evidence`."""
    h0 = window.first - timedelta(days=LOOKBACK_DAYS)
    found = found.copy()
    found["raw_evidence"] = found["evidence"].astype(float)
    if found.empty:
        return found, {}
    now = found[["staff_id", "day", "code", "raw_evidence"]].rename(columns={"raw_evidence": "evidence"})
    eng.put("_window_findings", now.assign(day=pd.to_datetime(now["day"]).dt.date,
                                           evidence=now["evidence"].astype(float)))
    eng.hold("calibration_findings", "SELECT staff_id, day, code, evidence FROM hist_findings "
                                     "WHERE day >= $h0 AND day < $first UNION ALL "
                                     "SELECT staff_id, day, code, evidence FROM _window_findings",
             {"h0": h0, "first": window.first})
    eng.hold("calibration_staff_days", "SELECT staff_id, day, org_code, role, unit FROM staff_days "
                                       "WHERE day BETWEEN $h0 AND $last", {"h0": h0, "last": window.last})
    calibration.calibrate(eng, calibration.CalibrationInputs(findings="calibration_findings",
                                                             staff_days="calibration_staff_days"))
    shifts = eng.frame("SELECT staff_id, code, shift FROM calibration_staff WHERE shift > 0 "
                       "ORDER BY staff_id, code")
    if shifts.empty:
        return found, {}
    found = found.merge(shifts[["staff_id", "code", "shift"]], on=["staff_id", "code"], how="left")
    found["shift"] = found["shift"].fillna(0.0)
    found["evidence"] = (found["raw_evidence"] - found["shift"]).clip(lower=0.0)
    found["detail"] = [d if s <= 0 else {**(d or {}), "calibration_shift": round(float(s), 2)}
                       for d, s in zip(found["detail"], found["shift"], strict=True)]
    groups = eng.frame("SELECT code, max(shift) AS shift FROM calibration_groups GROUP BY code ORDER BY code")
    summary = {k: round(float(v), 2) for k, v in zip(groups["code"], groups["shift"], strict=True) if v > 0}
    return found.drop(columns=["shift"]), summary


# how far back an episode ending in the window may reach: a run of days, or a recurrence of one code
PRIOR_DAYS = max(episodes_mod.EPISODE_SPAN_DAYS, episodes_mod.RECURRENCE_DAYS)


def _prior_findings(con: duckdb.DuckDBPyConnection, window: features.Window, staff: Any) -> pd.DataFrame:
    """Stored findings of the PRIOR_DAYS before the window (their model term counts as 0), of the staff members with
    findings in the window (`staff`): only their episodes can end in it."""
    df = con.execute("""
        SELECT staff_id, day, code, evidence, observed, expected, n_subjects, event_ids, subjects,
               detail::VARCHAR AS detail
        FROM anomaly_findings SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS staff_id) w USING (staff_id)
        WHERE day >= ? AND day < ? AND evidence >= ?""",
                     [[str(s) for s in staff], window.first - timedelta(days=PRIOR_DAYS),
                      window.first, episodes_mod.MIN_FINDING]).df()
    if df.empty:
        return df
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["detail"] = df["detail"].apply(lambda d: json.loads(d) if isinstance(d, str) else {})
    for col in ("event_ids", "subjects"):
        df[col] = df[col].apply(lambda v: [str(x) for x in v] if v is not None else [])
    df["model"] = 0.0
    return df


def _store_findings(con: duckdb.DuckDBPyConnection, window: features.Window, found: pd.DataFrame) -> None:
    con.execute("DELETE FROM anomaly_findings WHERE day BETWEEN ? AND ?", [window.first, window.last])
    if found.empty:
        return
    rows = found.assign(detail=found["detail"].apply(lambda d: json.dumps(d or {}, ensure_ascii=False, default=str)),
                        scenario=found["code"].map(scenario_of))
    rows = rows.sort_values("evidence", ascending=False).drop_duplicates(["staff_id", "day", "code"])
    if "raw_evidence" not in rows:
        rows["raw_evidence"] = rows["evidence"]
    con.register("_findings", rows[["staff_id", "day", "scenario", "code", "evidence", "observed", "expected",
                                    "n_subjects", "event_ids", "subjects", "detail", "raw_evidence"]])
    try:
        con.execute("INSERT INTO anomaly_findings (staff_id, day, scenario, code, evidence, observed, expected, "
                    "n_subjects, event_ids, subjects, detail, raw_evidence) SELECT staff_id, day::DATE, scenario, "
                    "code, evidence, observed, expected, n_subjects, event_ids, subjects, detail::JSON, raw_evidence "
                    "FROM _findings")
    finally:
        con.unregister("_findings")


def _baseline_info(eng: Engine, staff_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The own and peer baseline each staff member's findings were compared with (own_base, peer_base)."""
    if not staff_ids:
        return {}
    eng.put("_baseline_staff", pd.DataFrame({"staff_id": pd.Series(staff_ids, dtype=object)}))
    df = eng.frame("""
        SELECT o.staff_id, s.role, o.n_days, o.med AS own_med, o.mad AS own_mad, p.med AS peer_med,
               p.mad AS peer_mad, p.n_days AS peer_days
        FROM own_base o SEMI JOIN _baseline_staff k ON k.staff_id = o.staff_id
        LEFT JOIN staff s ON s.staff_id = o.staff_id
        LEFT JOIN peer_base p ON p.role = coalesce(s.role, '?')""")
    return {r.staff_id: {"role": None if pd.isna(r.role) else r.role, "own_days": int(r.n_days),
                         "own_unexplained_per_day_median": _f(r.own_med), "own_mad": _f(r.own_mad),
                         "peer_unexplained_per_day_median": _f(r.peer_med), "peer_mad": _f(r.peer_mad),
                         "peer_staff_days": None if pd.isna(r.peer_days) else int(r.peer_days)}
            for r in df.itertuples(index=False)}


def _f(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else round(float(v), 3)
