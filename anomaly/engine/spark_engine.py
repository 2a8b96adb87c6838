"""Detection's stages on Apache Spark (pyspark >= 4.0): each relation a stage hands on is written once as
Parquet to a scratch directory and read back as a temp view.

Why Parquet rather than Spark's own checkpoints: a later stage reads only the columns it names, and Spark
knows each relation's size, so joins with the small ones (staff, subjects, flags of a day) are broadcast
instead of shuffled; a locally checkpointed relation has no size statistics (every join became a sort-merge
join with two shuffles) and is held as rows in the driver's memory. On a cluster the scratch directory
must be one the executors share (`detection.spark.scratch_uri`, e.g. hdfs:// or s3a://); it is removed when
the engine closes."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anomaly.engine import Engine, EngineError, Relation

# Spark settings that make it compute what DuckDB computes: UTC session (instants stay instants), the
# non-ANSI arithmetic DuckDB has (x / 0 is NULL). Relations of up to 64 MB of Parquet are broadcast rather
# than shuffled (with Spark's default, 10 MB, the 20 M events of benchmarks/scale.py were shuffled to meet
# their 2 M people, 44 MB; a larger relation is still joined by a shuffle, so memory does not grow with it). The JVMs collect garbage with the throughput collector (ParallelGC: a
# batch job has no pauses to keep short; about a tenth quicker than G1 on the explanation's joins at 20 M
# events), and compile every method Spark generates, every branch of it (JAVA_OPTIONS). observatory.yaml's
# detection.spark.conf overrides any of these.
# HotSpot leaves a method of more than 8,000 bytes of bytecode to its interpreter (DontCompileHugeMethods), and
# Spark's whole-stage code for the explanation's one pass over the events with their people (_x_flags) is one
# method of about that size: 7,922 bytes before the logged case, 9,109 with it (explain(mode="codegen")), so one
# more flag left every event to the interpreter: _x_flags took 117 s of the JVM's CPU at 5 M events, 70-73 s
# with the flag (59 s before the logged case).
# And that method, once compiled, was thrown away and compiled again every three or four seconds
# (-XX:+PrintCompilation on the 5 M window: of its eight compilations by the optimising compiler, seven were
# "made not entrant" within the pass): HotSpot compiles only the branches it has seen taken and leaves
# the code (a deoptimisation) when another one is, and the method's many NULL and list
# cases keep meeting new ones.
# PerMethodTrapLimit=0 makes it compile every branch from the start: _x_flags alone in a fresh session 29.0 s
# against 43.6 s; the next pass over the same data 21.4 s against 22.1 s (the code no slower). docs/SCALE.md.
JAVA_OPTIONS = "-XX:+UseParallelGC -XX:-DontCompileHugeMethods -XX:PerMethodTrapLimit=0"
BASE_CONF = {
    "spark.sql.autoBroadcastJoinThreshold": "64m",
    "spark.driver.extraJavaOptions": JAVA_OPTIONS,
    "spark.executor.extraJavaOptions": JAVA_OPTIONS,
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "true",
}


# Tasks per core in local mode (spark.default.parallelism). Spark's default, one task per core, splits the
# archive into as many parts as cores and coalesces every shuffle down to about that many (adaptive
# execution), so a stage of three uneven tasks on two cores ran its last one alone. A small gain, measured
# alternately at 20 M events on local[2] (docs/SCALE.md): the staff-day summaries 52 s against 60 s, the
# whole run 328.0 / 344.6 s against 336.6 / 347.2 s (inside the machine's noise), the same findings.
TASKS_PER_CORE = 4
_GROUP = re.compile(r"\\([1-9])")  # a group in a replacement, \1 (DuckDB's spelling)
_LOCAL = re.compile(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?")


def local_parallelism(master: str) -> dict[str, str]:
    """spark.default.parallelism for a local master (`local`, `local[N]`, `local[*]`, `local[N,F]`): TASKS_PER_CORE
    tasks per core, so that the file splits and the shuffles' coalesced partitions spread over the cores; nothing
    for a cluster, whose parallelism its operators set (detection.spark.conf)."""
    m = _LOCAL.fullmatch(master.strip())
    if m is None:
        return {}
    cores = 1 if m.group(1) is None else (os.cpu_count() or 1) if m.group(1) == "*" else int(m.group(1))
    return {"spark.default.parallelism": str(TASKS_PER_CORE * max(cores, 1))}


class SparkEngine(Engine):
    """Stages as Spark SQL over temp views; the session is created (or reused) for `master`."""

    name = "spark"

    def __init__(self, master: str = "local[2]", conf: dict[str, str] | None = None, session: Any = None,
                 scratch: str | Path | None = None) -> None:
        try:
            from pyspark.sql import SparkSession  # pyspark (heavy) only when the Spark engine runs
        except ImportError as exc:  # pragma: no cover - pyspark is a declared dependency
            raise EngineError("pyspark がインストールされていません / pyspark is not installed "
                              "(pip install 'pyspark>=4.0')") from exc
        self.master = master
        if session is None:
            builder = SparkSession.builder.master(master).appName("observatory-detection")
            for k, v in {**BASE_CONF, **local_parallelism(master), **(conf or {})}.items():
                builder = builder.config(k, v)
            try:
                session = builder.getOrCreate()
            except Exception as exc:  # noqa: BLE001 - any start-up failure is the user's master/conf
                raise EngineError(f"Spark を起動できません (master {master}) / cannot start Spark at master "
                                  f"{master}: {_first_line(exc)}") from exc
        self.spark = session
        self.views: list[str] = []
        self._own_scratch = scratch is None
        self.scratch = str(scratch or tempfile.mkdtemp(prefix="observatory-spark-")).rstrip("/")
        self.scratch += f"/run-{uuid.uuid4().hex}"

    def _sql(self, query: str, params: dict | None) -> Any:
        used = self._used(query, params)
        text = re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", r":\1", query) if used else query
        return self.spark.sql(text, args=used or None)

    def _register(self, name: str, df: Any) -> Relation:
        df.createOrReplaceTempView(name)
        if name not in self.views:
            self.views.append(name)
        return Relation(name, tuple(df.columns))

    def put(self, name: str, data: Any) -> None:
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        # Spark has no types for Arrow's NULL columns or nanosecond timestamps
        fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else
                  pa.field(f.name, pa.timestamp("us", tz=f.type.tz)) if pa.types.is_timestamp(f.type) else f
                  for f in table.schema]
        table = table.cast(pa.schema(fields))
        if _local(self.scratch):  # written by Arrow straight into the scratch directory: no rows cross to the JVM
            path = f"{self.scratch.removeprefix('file:')}/{name}-{uuid.uuid4().hex[:12]}"
            Path(path).mkdir(parents=True)
            pq.write_table(table, f"{path}/part-00000.parquet")
            self._register(name, self.spark.read.parquet(path))
            return
        if table.num_rows == 0:
            df = self.spark.createDataFrame([], schema=_spark_schema(table.schema))
        else:
            df = self.spark.createDataFrame(table)
        self._register(name, self._stored(name, df))

    def read_events(self, name: str, files: list[str]) -> None:
        cols = ["event_id", "occurred_at", "staff_id", "org_code", "subject_id", "action", "record_count",
                "terminal_id", "case_id"]
        if not files:
            empty = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in zip(cols, (
                "STRING", "TIMESTAMP", "STRING", "STRING", "STRING", "STRING", "INT", "STRING", "STRING"), strict=True))
            self._register(name, self.spark.sql(f"SELECT {empty} WHERE false"))
            return
        try:
            df = self.spark.read.option("mergeSchema", "true").parquet(*files)
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"Spark: イベントアーカイブを読めません / cannot read the event archive: "
                              f"{_first_line(exc)}") from exc
        from pyspark.sql import functions as F  # (pyspark: see __init__)

        for c in cols:
            if c not in df.columns:
                df = df.withColumn(c, F.lit(None).cast("int" if c == "record_count" else "string"))
        self._register(name, df.select(*cols))

    def bind(self, name: str, source: Any, columns: tuple[str, ...]) -> Relation:
        df = source if not isinstance(source, str) else self.spark.table(source)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{name}: input lacks the declared columns {missing}")
        return self._register(name, df.select(*columns))

    def create(self, name: str, query: str, params: dict | None = None) -> Relation:
        return self._register(name, self._stored(name, self._sql(query, params)))

    def view(self, name: str, query: str, params: dict | None = None) -> Relation:
        return self._register(name, self._sql(query, params))

    def derive(self, name: str, query: str, params: dict | None = None) -> Relation:
        return self.view(name, query, params)  # (see Engine.derive: a second 20 M-row write costs more)

    def _stored(self, name: str, df: Any) -> Any:
        """The DataFrame computed once into Parquet under the scratch directory, read back (a fresh path per
        call: a relation may be redefined from its own previous value). Read back with the schema it was written
        with: Spark would otherwise run a job to read it from the files' footers, a fixed cost on every stored
        relation (66-113 ms against 21-30 ms on a loaded 2-core machine, some 80 relations a run)."""
        path = f"{self.scratch}/{name}-{uuid.uuid4().hex[:12]}"
        df.write.mode("overwrite").parquet(path)
        return self.spark.read.schema(df.schema).parquet(path)

    def frame(self, query: str, params: dict | None = None) -> pd.DataFrame:
        df = self._sql(query, params)
        rows = df.collect()
        out = pd.DataFrame([r.asDict() for r in rows], columns=df.columns)
        for field in df.schema.fields:  # DATE as DuckDB hands it over (datetime64), lists as lists
            kind = field.dataType.typeName()
            if kind == "date":
                out[field.name] = pd.to_datetime(out[field.name])
        return out

    def table(self, name: str) -> Any:
        return self.spark.table(name)

    def arrow(self, name: str) -> Any:
        return self.spark.table(name).toArrow()

    def columns(self, name: str) -> tuple[str, ...]:
        return tuple(self.spark.table(name).columns)

    def close(self) -> None:
        for v in self.views:
            self.spark.catalog.dropTempView(v)
        self.views = []
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        """Delete this run's scratch relations (through Hadoop's file system API: any scheme Spark writes)."""
        try:
            jvm = self.spark.sparkContext._jvm
            path = jvm.org.apache.hadoop.fs.Path(self.scratch)
            path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)
        except Exception:  # noqa: BLE001 - a session already stopped: fall back to the local path
            shutil.rmtree(self.scratch.removeprefix("file:"), ignore_errors=True)
        if self._own_scratch:
            shutil.rmtree(Path(self.scratch).parent, ignore_errors=True)

    # --- dialect ---
    def median(self, x: str) -> str:
        return f"percentile({x}, 0.5)"

    def quantile(self, x: str, q: float) -> str:
        return f"percentile({x}, {float(q)!r})"

    def ordered_list(self, value: str, order: str, limit: int | None = None) -> str:
        body = f"transform(array_sort(collect_list(named_struct('k', {order}, 'v', {value}))), x -> x.v)"
        return f"slice({body}, 1, {int(limit)})" if limit else body

    def count_distinct(self, x: str) -> str:
        return f"CAST(size(collect_set({x})) AS BIGINT)"

    def sorted_set(self, value: str, limit: int | None = None) -> str:
        body = f"array_sort(collect_set({value}))"
        return f"slice({body}, 1, {int(limit)})" if limit else body

    def pair_set(self, a: str, b: str) -> str:
        return f"array_sort(array_distinct(filter(flatten(collect_list(array({a}, {b}))), x -> x IS NOT NULL)))"

    def collect(self, x: str) -> str:
        return f"collect_list({x})"

    def record(self, **fields: str) -> str:
        return "named_struct(" + ", ".join(f"'{k}', {v}" for k, v in fields.items()) + ")"

    def any_of(self, items: str, var: str, condition: str) -> str:
        # skipped outright for a missing list (most people have no case or contact): no lambda to evaluate
        return f"({items} IS NOT NULL AND coalesce(exists({items}, {var} -> {condition}), false))"

    def least_of(self, items: str, var: str, condition: str, value: str) -> str:
        return f"array_min(transform(filter({items}, {var} -> {condition}), {var} -> {value}))"

    def to_map(self, key: str, value: str) -> str:
        return f"map_from_entries(collect_list(struct({key}, {value})))"

    def lookup(self, mapping: str, key: str) -> str:
        return f"element_at({mapping}, {key})"

    def local_time(self, ts: str, tz: str) -> str:
        return f"from_utc_timestamp({ts}, {tz})"

    def add_days(self, d: str, n: int | str) -> str:
        return f"date_add({d}, {n})"

    def days_between(self, a: str, b: str) -> str:
        return f"datediff({b}, {a})"

    def micros(self, ts: str) -> str:
        return f"unix_micros({ts})"

    def text(self, x: str) -> str:
        return f"CAST({x} AS STRING)"

    def replace_all(self, x: str, pattern: str, replacement: str) -> str:
        # Spark replaces every match, and names the groups $1..$9 (a backslash is an escape in its literals)
        groups = _GROUP.sub(r"$\1", replacement)
        return f"regexp_replace({x}, {pattern}, {groups})"


def _first_line(exc: BaseException) -> str:
    """One line for a Spark failure: the root cause from the JVM's trace (naming the file when it does), not
    py4j's 'An error occurred while calling o107.parquet.'."""
    text = str(exc).strip() or type(exc).__name__
    causes = [m.group(1).strip() for m in re.finditer(r"(?:Caused by: )?[\w.$]+(?:Exception|Error): (.+)", text)]
    named = [c for c in causes if "file:" in c or "Path" in c]
    line = (named or causes[-1:] or [next((x for x in text.splitlines() if x.strip()), type(exc).__name__)])[0]
    return line.strip()[:300]


def _spark_schema(schema: Any) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema  # (pyspark: see SparkEngine.__init__)

    return from_arrow_schema(schema)


def _local(uri: str) -> bool:
    """A scratch directory on this machine's file system (a plain path or file:), where the driver may write."""
    return "://" not in uri or uri.startswith("file://")
