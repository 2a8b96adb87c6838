"""The seam between detection's stages and the engine that runs them.

A stage is SQL over named relations with declared columns, written in the common subset of DuckDB SQL and
Spark SQL; the few functions that differ (exact quantiles, ordered lists, lists of structs and whether some
element meets a condition, maps, date arithmetic, a stable hash) come from the engine's dialect methods.
Parameters are written `$name` and bound by the engine. Two engines implement it: `DuckDBEngine` (embedded,
the default, on a private in-memory connection) and `SparkEngine` (pyspark >= 4.0, any master URL). The
warehouse hands the engine small reference relations (`put`) and the engine reads the month-partitioned
Parquet event archive itself (`read_events`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pandas as pd

from observatory.config import EngineKind
from observatory.errors import UserError

ENGINES: tuple[str, ...] = get_args(EngineKind)


class EngineError(UserError):
    """The detection engine failed (bad master URL, unreadable archive, ...): one line, alerts unchanged."""


@dataclass(frozen=True)
class Relation:
    """A named relation a stage hands on, with the columns it declares."""

    name: str
    columns: tuple[str, ...]

    def select(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + c for c in self.columns)


def num(x: float) -> str:
    """A DOUBLE literal on every engine (Spark reads 0.5 as DECIMAL, which rounds divisions to 6 places)."""
    return f"CAST({float(x)!r} AS DOUBLE)"


_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class Engine:
    """What every engine offers: materialise named relations from SQL, return small results as pandas
    frames, and the dialect functions stages use where DuckDB and Spark SQL differ."""

    name = "engine"
    # How a staff member's earlier contacts with a person meet the events (explanations): per person, as a map
    # keyed by staff member, carried by the one join of the events with their people (False: one shuffle of
    # the events on a cluster), or per (person, staff member) pair, in a second equality join (True: a cheap
    # hash join on an embedded engine, where gathering the maps and looking the staff member up in them for
    # every event cost more than the join)
    contacts_by_pair = False

    # --- execution (engines implement) ---
    def put(self, name: str, data: Any) -> None:
        """Register a small relation (a pyarrow Table or pandas DataFrame) under `name`; an engine may read it in
        place, so the caller does not change it while the engine is open."""
        raise NotImplementedError

    def read_events(self, name: str, files: list[str]) -> None:
        """Register the event archive's Parquet files (one month partition or more) as relation `name`."""
        raise NotImplementedError

    def create(self, name: str, query: str, params: dict | None = None) -> Relation:
        """Materialise the query as relation `name`; returns it with its columns."""
        raise NotImplementedError

    def view(self, name: str, query: str, params: dict | None = None) -> Relation:
        """Relation `name` defined by the query and computed when read (for a relation read once or twice that
        a cheap join derives from a stored one); an engine may store it instead."""
        return self.create(name, query, params)

    def hold(self, name: str, query: str, params: dict | None = None) -> Relation:
        """Materialise the query as relation `name`, as `create`, for a relation that a few statements of its own
        stage read in filters, aggregates and joins with one or two others: an engine may keep it in a cheaper
        form that lacks what the join order of a multiway join is planned by (DuckDB in a small run: an Arrow
        table in the process, without column statistics)."""
        return self.create(name, query, params)

    def derive(self, name: str, query: str, params: dict | None = None) -> Relation:
        """Relation `name`, as wide as a stored one it is derived from by joins with small relations, read by
        many later statements: stored by an engine whose stored relations are cheap to make (DuckDB, in
        memory), a view on one that writes every stored relation out (Spark: writing 20 M rows costs more
        than deriving them again on each read)."""
        return self.create(name, query, params)

    def frame(self, query: str, params: dict | None = None) -> pd.DataFrame:
        """Run a query whose result is small and return it as a pandas frame."""
        raise NotImplementedError

    def table(self, name: str) -> Any:
        """The engine's own handle on a relation (DuckDB relation, Spark DataFrame)."""
        raise NotImplementedError

    def arrow(self, name: str) -> Any:
        """A whole relation as a pyarrow Table (what the warehouse stores from a stage)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def count(self, name: str) -> int:
        return int(self.frame(f"SELECT count(*) AS n FROM {name}")["n"].iloc[0])

    def columns(self, name: str) -> tuple[str, ...]:
        return tuple(self.table(name).columns)

    def bind(self, name: str, source: str, columns: tuple[str, ...]) -> Relation:
        """Expose relation `source` to a stage as `name` with exactly its declared columns."""
        missing = [c for c in columns if c not in self.columns(source)]
        if missing:
            raise ValueError(f"{name}: input lacks the declared columns {missing}")
        return self.create(name, f"SELECT {', '.join(columns)} FROM {source}")

    @staticmethod
    def _used(query: str, params: dict | None) -> dict:
        names = set(_PARAM.findall(query))
        return {k: v for k, v in (params or {}).items() if k in names}

    # --- dialect (DuckDB spelling here; SparkEngine overrides) ---
    def median(self, x: str) -> str:
        return f"quantile_cont({x}, 0.5)"

    def quantile(self, x: str, q: float) -> str:
        """Exact quantile with linear interpolation (no approximation on either engine)."""
        return f"quantile_cont({x}, {float(q)!r})"

    def ordered_list(self, value: str, order: str, limit: int | None = None) -> str:
        """The first `limit` values of a group in (order, value) order."""
        body = f"list({value} ORDER BY {order}, {value})"
        return f"{body}[1:{int(limit)}]" if limit else body

    def count_distinct(self, x: str) -> str:
        """The number of distinct non-null values of a group, as BIGINT (Spark: from the group's set, so that
        several of them in one aggregate do not make Spark copy every row once per distinct column)."""
        return f"count(DISTINCT {x})"

    def sorted_set(self, value: str, limit: int | None = None) -> str:
        """Distinct non-null values of a group, sorted, at most `limit`; empty (as Spark's collect_set), not NULL,
        where the group has none (a filtered aggregate over no rows is NULL)."""
        body = f"coalesce(list_sort(list(DISTINCT {value}) FILTER (WHERE {value} IS NOT NULL)), [])"
        return f"{body}[1:{int(limit)}]" if limit else body

    def pair_set(self, a: str, b: str) -> str:
        """Distinct non-null values of two columns over a group, sorted."""
        return f"list_sort(list_distinct(flatten(list([{a}, {b}]))))"

    def collect(self, x: str) -> str:
        """The non-null values of a group as a list, in no particular order."""
        return f"list({x}) FILTER (WHERE {x} IS NOT NULL)"

    def record(self, **fields: str) -> str:
        """A struct of named fields (read back as `value.name`)."""
        return "struct_pack(" + ", ".join(f"{k} := {v}" for k, v in fields.items()) + ")"

    def any_of(self, items: str, var: str, condition: str) -> str:
        """Whether `condition` (on the element `var`, and any column of the row) holds for some element of the
        list `items`: never NULL (false for an empty or NULL list; an element on which it is NULL does not count)."""
        return f"coalesce(len(list_filter({items}, lambda {var}: {condition})) > 0, false)"

    def least_of(self, items: str, var: str, condition: str, value: str) -> str:
        """The smallest `value` (on the element `var`) over the elements of the list `items` for which `condition`
        holds: NULL when none does (or the list is empty or NULL)."""
        return f"list_min(list_transform(list_filter({items}, lambda {var}: {condition}), lambda {var}: {value}))"

    def to_map(self, key: str, value: str) -> str:
        """A group's (key, value) pairs as a map (keys unique and not NULL within the group)."""
        return f"map_from_entries(list(struct_pack(k := {key}, v := {value})))"

    def lookup(self, mapping: str, key: str) -> str:
        """The map's value for the key (NULL when the map or the key is missing)."""
        return f"{mapping}[{key}]"

    def local_time(self, ts: str, tz: str) -> str:
        """A UTC instant as local wall-clock time in zone `tz` (a parameter or quoted literal)."""
        return f"({ts} AT TIME ZONE {tz})"

    def add_days(self, d: str, n: int | str) -> str:
        return f"CAST({d} + ({n}) AS DATE)"

    def days_between(self, a: str, b: str) -> str:
        """Whole days from date a to date b."""
        return f"datediff('day', {a}, {b})"

    def micros(self, ts: str) -> str:
        return f"epoch_us({ts})"

    def text(self, x: str) -> str:
        return f"CAST({x} AS VARCHAR)"

    def replace_all(self, x: str, pattern: str, replacement: str) -> str:
        """Every match of the regular expression `pattern` (a quoted literal, in the syntax RE2 and Java share) in
        `x` replaced by `replacement` (a quoted literal; `\\1`..`\\9` are the groups)."""
        return f"regexp_replace({x}, {pattern}, {replacement}, 'g')"

    def digest(self, *parts: str) -> str:
        """A hex digest identical on every engine (md5), for seeded samples and orders."""
        return "md5(" + " || ':' || ".join(self.text(p) for p in parts) + ")"


def source_columns(eng: Engine, source: Any) -> tuple[str, ...]:
    """The columns of a stage's input: a relation name on the engine, or a DuckDB relation."""
    return tuple(eng.columns(source) if isinstance(source, str) else source.columns)


def open_engine(kind: str = "duckdb", *, master: str = "local[2]", conf: dict[str, str] | None = None,
                memory_limit: str | None = None, temp_dir: Path | None = None,
                scratch: str | None = None, small: bool = False) -> Engine:
    """An engine of the configured kind (pyspark is imported only for 'spark'). `small`: the run covers a few
    days (an incremental one), so that its relations are small (DuckDBEngine's in_process)."""
    if kind == "duckdb":
        from anomaly.engine.duckdb_engine import DuckDBEngine  # here: the engines import this module

        return DuckDBEngine(memory_limit=memory_limit, temp_dir=temp_dir, in_process=small)
    if kind == "spark":
        from anomaly.engine.spark_engine import SparkEngine  # (same; and pyspark only for 'spark')

        return SparkEngine(master=master, conf=conf or {}, scratch=scratch or temp_dir)
    raise EngineError(f"検出エンジン {kind!r} は不明です / unknown detection engine {kind!r} (one of {', '.join(ENGINES)})")
