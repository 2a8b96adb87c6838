"""Detection on the engine seam: DuckDB and Spark (local[2]) give the same alerts on the same archive, a
failing engine leaves the alerts as they were, and the heavy stages run without the workspace lock."""

from __future__ import annotations

import fcntl
import json
import os
import shutil

import pandas as pd
import pyarrow as pa
import pytest

import anomaly
from anomaly.engine import EngineError
from anomaly.synthetic import generate, load_generated
from observatory.config import parse_config
from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A small synthetic access log (with labelled incidents) loaded into a workspace template."""
    root = tmp_path_factory.mktemp("engines")
    ws, _ = init_workspace(root / "template")
    log = generate(root / "gen", n_staff=200, days=21, seed=7, incident_share=0.02, events_per_staff_day=12)
    with for_workspace(ws).connect() as con:
        load_generated(con, ws.events_dir, log)
    return ws.home, log


def _copy(template, dest):
    shutil.copytree(template, dest, ignore=shutil.ignore_patterns("*.lock", "*.intent"))
    ws, _ = init_workspace(dest)
    return ws


def _alerts(ws) -> pd.DataFrame:
    with for_workspace(ws).connect() as con:
        df = con.execute("SELECT staff_id, first_seen, last_seen, score, reasons FROM alerts "
                         "ORDER BY staff_id, first_seen").df()
    df["codes"] = [tuple(sorted(r["code"] for r in json.loads(x))) for x in df.pop("reasons")]
    return df


def _findings(ws) -> pd.DataFrame:
    with for_workspace(ws).connect() as con:
        return con.execute("SELECT staff_id, day, code, evidence, raw_evidence, detail::VARCHAR AS detail, subjects, "
                           "event_ids FROM anomaly_findings ORDER BY staff_id, day, code").df()


def test_local_masters_get_several_tasks_per_core_and_clusters_their_own_setting(monkeypatch):
    from anomaly.engine import spark_engine

    monkeypatch.setattr(spark_engine.os, "cpu_count", lambda: 6)
    per_core = spark_engine.TASKS_PER_CORE
    assert per_core > 1
    expected = {"local": per_core, "local[2]": 2 * per_core, "local[*]": 6 * per_core, "local[3, 2]": 3 * per_core}
    for master, tasks in expected.items():
        assert spark_engine.local_parallelism(master) == {"spark.default.parallelism": str(tasks)}, master
    for master in ("spark://detect-master:7077", "yarn", "k8s://https://10.0.0.1:6443", "local-cluster[2,1,1024]"):
        assert spark_engine.local_parallelism(master) == {}, master


def test_duckdb_and_spark_give_the_same_alerts(logged, tmp_path, spark):
    template, log = logged
    on_duckdb, on_spark = _copy(template, tmp_path / "d"), _copy(template, tmp_path / "s")
    a = anomaly.detect(on_duckdb, on_duckdb.config, engine="duckdb")
    stages: list[str] = []
    b = anomaly.detect(on_spark, on_spark.config, engine="spark", progress=stages.append)
    assert a.events == b.events == log.n_events
    assert a.staff_days == b.staff_days and a.explained == b.explained
    assert stages and stages[0].startswith("inputs")
    fa, fb = _findings(on_duckdb), _findings(on_spark)
    assert len(fa) > 20  # the log has incidents: the comparison is not of two empty tables
    assert fa[["staff_id", "day", "code"]].equals(fb[["staff_id", "day", "code"]])
    # the evidence an analyst reads is the same too (counts, sets, people and events, typed alike)
    for col in ("detail", "subjects", "event_ids"):
        assert [str(x) for x in fa[col]] == [str(x) for x in fb[col]], col
    for col in ("evidence", "raw_evidence"):
        pd.testing.assert_series_equal(fa[col], fb[col], rtol=1e-6, atol=1e-9)
    xa, xb = _alerts(on_duckdb), _alerts(on_spark)
    assert len(xa) >= 1
    assert xa[["staff_id", "first_seen", "last_seen", "codes"]].equals(xb[["staff_id", "first_seen", "last_seen",
                                                                           "codes"]])
    pd.testing.assert_series_equal(xa["score"], xb["score"], rtol=1e-6)


def test_duckdb_and_spark_give_the_same_findings_on_an_incremental_day(logged, tmp_path, spark):
    """The scheduler's daily run: the history detected once (on DuckDB, in both copies), then the last day on
    its own on each engine, where the stages read the stored history (and low-and-slow only the pairs the day
    names): the same findings."""
    from datetime import timedelta

    template, log = logged
    last = log.start + timedelta(days=log.days - 1)
    copies = {name: _copy(template, tmp_path / name) for name in ("duckdb", "spark")}
    for ws in copies.values():
        anomaly.detect(ws, ws.config, engine="duckdb", since=log.start, until=last - timedelta(days=1))
    for name, ws in copies.items():
        anomaly.detect(ws, ws.config, engine=name, since=last)
    fa, fb = (_findings(ws) for ws in copies.values())
    fa, fb = (f[f["day"] == pd.Timestamp(last)].reset_index(drop=True) for f in (fa, fb))
    assert len(fa) > 5
    assert fa[["staff_id", "code"]].equals(fb[["staff_id", "code"]])
    for col in ("detail", "subjects", "event_ids"):
        assert [str(x) for x in fa[col]] == [str(x) for x in fb[col]], col
    pd.testing.assert_series_equal(fa["evidence"], fb["evidence"], rtol=1e-6, atol=1e-9)


def test_a_failing_spark_run_leaves_alerts_unchanged(logged, tmp_path, spark):
    ws = _copy(logged[0], tmp_path / "w")
    anomaly.detect(ws, ws.config)  # alerts from a good run on DuckDB
    before, findings = _alerts(ws), _findings(ws)
    bad = tmp_path / "archive" / f"month={logged[1].start:%Y-%m}"
    bad.mkdir(parents=True)
    (bad / "part-1.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    text = (ws.home / "observatory.yaml").read_text(encoding="utf-8")
    text += f"\ndetection:\n  engine: spark\n  events_uri: {tmp_path / 'archive'}\n"
    (ws.home / "observatory.yaml").write_text(text, encoding="utf-8")
    ws.config = parse_config(text)
    assert ws.config.detection.engine == "spark"
    first = before["first_seen"].min()
    with pytest.raises(EngineError) as exc:
        anomaly.detect(ws, ws.config, since=pd.Timestamp(first).date())
    assert "spark" in str(exc.value) and "\n" not in str(exc.value)
    assert _alerts(ws).equals(before) and _findings(ws).equals(findings)


def test_heavy_stages_run_without_the_workspace_lock(logged, tmp_path):
    """While the engine computes, another process could take the workspace lock at once (a flock on a new
    open file description conflicts with the warehouse's own, as another process's would)."""
    ws = _copy(logged[0], tmp_path / "w")
    free: dict[str, bool] = {}

    def probe(stage: str) -> None:
        fd = os.open(ws.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            free[stage.split()[0]] = True
        except BlockingIOError:
            free[stage.split()[0]] = False
        finally:
            os.close(fd)

    result = anomaly.detect(ws, ws.config, progress=probe)
    assert result.events > 0
    assert {"inputs", "explain", "staff_days", "baselines", "calibration", "model"} <= set(free)
    assert all(free.values()), free


def test_cli_engine_failure_is_one_line_exit_2(logged, tmp_path, capsys):
    from observatory.cli import main

    ws = _copy(logged[0], tmp_path / "w")
    anomaly.detect(ws, ws.config)
    before = _alerts(ws)
    text = (ws.home / "observatory.yaml").read_text(encoding="utf-8")
    (ws.home / "observatory.yaml").write_text(text + f"\ndetection:\n  events_uri: {tmp_path / 'missing'}\n",
                                              encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["--home", str(ws.home), "alerts", "detect", "--engine", "spark", "--since", "2026-09-01"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and "Traceback" not in "\n".join(err)
    assert [line for line in err if "events_uri" in line and "error" in line]
    assert _alerts(ws).equals(before)


def _awkward() -> pa.Table:
    """A reference relation with the types the warehouse hands over: text (Japanese too), an instant with a
    time zone in nanoseconds, a date, a small integer, a decimal, a boolean, a column of NULLs only."""
    import datetime as dt
    from decimal import Decimal

    return pa.table({
        "subject_id": pa.array(["S1", "S2", None]),
        "name": pa.array(["霞が関1丁目", "", "x"]),
        "opened_at": pa.array([pd.Timestamp("2026-05-01 09:00:00.123456", tz="UTC"), None,
                               pd.Timestamp("2026-05-02 23:59:59", tz="UTC")], pa.timestamp("ns", tz="UTC")),
        "day": pa.array([dt.date(2026, 5, 1), None, dt.date(2026, 12, 31)]),
        "hr": pa.array([1, None, 23], pa.int8()),
        "share": pa.array([Decimal("0.125"), None, Decimal("1.000")], pa.decimal128(10, 3)),
        "sensitive": pa.array([True, False, None]),
        "unknown": pa.nulls(3),
    })


@pytest.mark.parametrize("rows", [3, 0], ids=["rows", "empty"])
def test_reference_relations_arrive_alike_on_the_local_and_the_remote_route(spark, tmp_path, monkeypatch, rows):
    """Spark reads a reference relation written by Arrow into a local scratch directory with the same types
    and values as one sent through createDataFrame (the route for a remote scratch), and as DuckDB reads it."""
    from anomaly.engine import spark_engine
    from anomaly.engine.duckdb_engine import DuckDBEngine

    values = ("subject_id, name, {micros} AS opened_us, CAST(day AS {text}) AS day, hr, CAST(share AS DOUBLE) AS share, "
              "sensitive, unknown")
    table = _awkward().slice(0, rows)
    got = {}
    for route in ("local", "remote"):
        monkeypatch.setattr(spark_engine, "_local", lambda uri, route=route: route == "local")
        eng = spark_engine.SparkEngine(session=spark, scratch=tmp_path / route)
        try:
            eng.put("ref", table)
            schema = spark.table("ref").schema.simpleString()
            rows_ = eng.frame(f"SELECT {values.format(micros='unix_micros(opened_at)', text='STRING')} FROM ref")
        finally:
            eng.close()
        got[route] = (schema, rows_.astype(object).where(rows_.notna(), None).values.tolist())
    # a relation has no order: the remote route's rows come back from as many files as the session's tasks
    assert got["local"][0] == got["remote"][0]
    assert sorted(map(repr, got["local"][1])) == sorted(map(repr, got["remote"][1]))
    schema = got["local"][0]
    assert "opened_at:timestamp," in schema and "day:date" in schema and "hr:tinyint" in schema \
        and "unknown:string" in schema, schema
    duck = DuckDBEngine()
    try:
        duck.put("ref", table)
        want = duck.frame(f"SELECT {values.format(micros='epoch_us(CAST(opened_at AS TIMESTAMPTZ))', text='VARCHAR')} FROM ref")
    finally:
        duck.close()
    want = want.astype(object).where(want.notna(), None).values.tolist()
    assert len(want) == rows
    def plain(rows_):  # numbers as floats: a column of integers with a NULL comes back as floats from pandas
        return sorted(repr([float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in r])
                      for r in rows_)

    assert plain(got["local"][1]) == plain(want)


def test_a_neighbourhood_keys_block_is_read_alike_on_both_engines(spark):
    """The regular expressions of a key's block (kanji numerals, groups in a replacement) mean the same on Spark."""
    from anomaly.engine.spark_engine import SparkEngine
    from anomaly.features import block_sql
    from tests.anomaly.test_scenarios import BLOCKS

    eng = SparkEngine(session=spark)
    try:
        stem, number = block_sql(eng, "k")
        got = spark.createDataFrame([(k,) for k in BLOCKS], "k string").selectExpr("k", stem, number).collect()
    finally:
        eng.close()
    assert {r[0]: (r[1], r[2]) for r in got} == BLOCKS


def test_a_small_runs_held_relation_is_an_arrow_table_read_like_a_stored_one():
    """DuckDB in a small run (in_process) keeps a held relation as an Arrow table, not a table: it binds its
    parameters, reads back with its columns, and a second hold under the name replaces it; a full run's engine
    stores it as a table, as create does."""
    from anomaly.engine.duckdb_engine import DuckDBEngine

    def tables(eng):
        return {r[0] for r in eng.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}

    held = DuckDBEngine(in_process=True)
    try:
        rel = held.hold("h", "SELECT range AS x, 'p' || range AS y FROM range(5) WHERE range >= $lo", {"lo": 2})
        assert rel.columns == ("x", "y") and held.columns("h") == ("x", "y")
        assert "h" not in tables(held)
        assert held.frame("SELECT sum(x) AS s FROM h")["s"].iloc[0] == 2 + 3 + 4
        assert held.arrow("h").column("y").to_pylist() == ["p2", "p3", "p4"]
        held.view("v", "SELECT x FROM h WHERE x > $lo", {"lo": 2})  # a view with parameters is held too
        assert "v" not in tables(held) and held.count("v") == 2
        held.hold("h", "SELECT 7 AS x")
        assert held.frame("SELECT x FROM h")["x"].tolist() == [7]
    finally:
        held.close()
    stored = DuckDBEngine()
    try:
        stored.hold("h", "SELECT 1 AS x")
        assert "h" in tables(stored) and stored.count("h") == 1
    finally:
        stored.close()


def test_a_held_relation_over_the_bound_is_stored_and_so_are_the_later_ones(monkeypatch):
    """Memory stays DuckDB's to bound: a run that was to be small but holds more rows than HOLD_MAX_ROWS (a few
    days of a large organisation) stores that relation and every later one as a table, which DuckDB can spill."""
    from anomaly.engine import duckdb_engine

    monkeypatch.setattr(duckdb_engine, "HOLD_MAX_ROWS", 100)
    eng = duckdb_engine.DuckDBEngine(in_process=True)
    try:
        eng.hold("few", "SELECT range AS x FROM range(100)")
        eng.hold("many", "SELECT range AS x, 'p' || range AS y FROM range(101)")
        eng.hold("later", "SELECT 1 AS x")
        stored = {r[0] for r in eng.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert stored == {"many", "later"}
        assert eng.count("few") == 100 and eng.count("many") == 101 and eng.columns("many") == ("x", "y")
        assert eng.frame("SELECT max(y) AS y FROM many WHERE x = 100")["y"].iloc[0] == "p100"
    finally:
        eng.close()
