"""Fixtures: the hand-built world is built once per session and copied for each test; one Spark session
(local[2]) for the whole test run; engines of either kind for tests that run a stage on both."""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from anomaly.engine import Engine
from tests.anomaly import world as w

# parametrize a test over these to run it on both engines (Spark skipped where pyspark is not installed)
# ("duckdb-held": DuckDB as in an incremental run, the relations of Engine.hold kept as Arrow tables in the process)
ENGINE_KINDS = ["duckdb", "duckdb-held", pytest.param("spark", marks=pytest.mark.skipif(find_spec("pyspark") is None,
                                                                        reason="pyspark not installed"))]


@pytest.fixture(scope="session")
def spark():
    """One Spark session for the whole test run (small data: two shuffle partitions)."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    from anomaly.engine.spark_engine import BASE_CONF, local_parallelism

    builder = SparkSession.builder.master("local[2]").appName("observatory-tests")
    conf = {**BASE_CONF, **local_parallelism("local[2]"), "spark.sql.shuffle.partitions": "2",
            "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "1g"}
    for k, v in conf.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def engine_of(request: pytest.FixtureRequest) -> Callable[[str], Engine]:
    """Open an engine of a kind: DuckDB in memory, or Spark on the test run's session (started when first asked
    for). The test closes it."""
    def open_engine(kind: str) -> Engine:
        if kind in ("duckdb", "duckdb-held", "duckdb-maps"):
            from anomaly.engine.duckdb_engine import DuckDBEngine

            eng = DuckDBEngine(in_process=kind == "duckdb-held")
            if kind == "duckdb-maps":  # the contacts carried as maps per person, as on Spark
                eng.contacts_by_pair = False
            return eng
        from anomaly.engine.spark_engine import SparkEngine

        return SparkEngine(session=request.getfixturevalue("spark"))

    return open_engine


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return w.template(tmp_path_factory.mktemp("anomaly_world") / "ws")


@pytest.fixture
def built(world_template: Path, tmp_path: Path) -> w.World:
    """A private copy of the world, ready for scenario events on the test day."""
    return w.world_in(w.copy_of(world_template, tmp_path / "ws"))
