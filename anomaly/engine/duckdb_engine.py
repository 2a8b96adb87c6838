"""The embedded engine: detection's stages on a DuckDB connection of their own (in memory by default), so
that the heavy work needs neither the warehouse file nor its lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from anomaly.engine import Engine, Relation

# A held relation of more rows than this is no small run's (a window of a few days of a large organisation): it
# and every later one are stored as tables, which DuckDB can spill within its memory limit
HOLD_MAX_ROWS = 1_000_000


class DuckDBEngine(Engine):
    """Stages as temp tables on one DuckDB connection; `con` may be given (tests, old callers)."""

    name = "duckdb"
    contacts_by_pair = True

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None, *, memory_limit: str | None = None,
                 temp_dir: Path | None = None, in_process: bool = False) -> None:
        """in_process: keep the relations of `hold` (and views with parameters) as Arrow tables in the process,
        not as tables. Writing a DuckDB table (its storage and its column statistics) costs two to three times
        as much as the Arrow table (a copy of 105,282 events with 25 columns: 0.10 s against 0.04 s), which
        is most of the work for the few hundred thousand rows of an incremental day; a full run's relations
        stay tables, which DuckDB can spill to disk within its memory limit, and so do a run's relations from
        the first held one of more than HOLD_MAX_ROWS rows on."""
        self.own = con is None
        self.in_process = in_process
        self.con = con if con is not None else duckdb.connect()
        if self.own:
            self.con.execute("SET TimeZone = 'UTC'")
            # no stage reads rows in the order they were stored (the Spark engine keeps none and gives the same
            # alerts): materialising without keeping it is faster and holds less in memory
            self.con.execute("SET preserve_insertion_order = false")
            if memory_limit:
                self.con.execute("SET memory_limit = ?", [memory_limit])
            if temp_dir is not None:
                self.con.execute("SET temp_directory = ?", [str(temp_dir)])

    def put(self, name: str, data: Any) -> None:
        """Read in place (the Arrow table or frame stays registered with the connection), not copied."""
        self.con.register(name, data)

    def read_events(self, name: str, files: list[str]) -> None:
        if not files:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT NULL::VARCHAR AS event_id, "
                             "NULL::TIMESTAMPTZ AS occurred_at, NULL::VARCHAR AS staff_id, NULL::VARCHAR AS org_code, "
                             "NULL::VARCHAR AS subject_id, NULL::VARCHAR AS action, NULL::INTEGER AS record_count, "
                             "NULL::VARCHAR AS terminal_id, NULL::VARCHAR AS case_id WHERE false")
            return
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT event_id, occurred_at, staff_id, org_code, "
                         "subject_id, action, record_count, terminal_id, case_id "
                         f"FROM read_parquet([{listed}], hive_partitioning = false, union_by_name = true)")

    def create(self, name: str, query: str, params: dict | None = None) -> Relation:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}", self._used(query, params))
        return Relation(name, tuple(self.con.table(name).columns))

    def hold(self, name: str, query: str, params: dict | None = None) -> Relation:
        if not self.in_process:
            return self.create(name, query, params)
        table = self.con.sql(query, params=self._used(query, params) or None).to_arrow_table()
        if table.num_rows > HOLD_MAX_ROWS:  # not small after all: this relation and the later ones as tables
            self.in_process = False
            self.con.register("_x_oversized", table)
            try:
                return self.create(name, "SELECT * FROM _x_oversized")
            finally:
                self.con.unregister("_x_oversized")
        self.con.register(name, table)  # read in place; replaces the table held under the name before
        return Relation(name, tuple(table.column_names))

    def derive(self, name: str, query: str, params: dict | None = None) -> Relation:
        return self.hold(name, query, params)  # read by many statements, but each joins it with small relations

    def view(self, name: str, query: str, params: dict | None = None) -> Relation:
        if self._used(query, params):  # a view cannot hold bound parameters: store it
            return self.hold(name, query, params)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query}")
        return Relation(name, tuple(self.con.table(name).columns))

    def frame(self, query: str, params: dict | None = None) -> pd.DataFrame:
        return self.con.execute(query, self._used(query, params)).df()

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.con.table(name)

    def arrow(self, name: str) -> Any:
        return self.con.table(name).to_arrow_table()

    def bind(self, name: str, source: Any, columns: tuple[str, ...]) -> Relation:
        """Also accepts a DuckDB relation without bound parameters (a table or a plain query)."""
        rel = source if isinstance(source, duckdb.DuckDBPyRelation) else self.con.table(source)
        missing = [c for c in columns if c not in rel.columns]
        if missing:
            raise ValueError(f"{name}: input lacks the declared columns {missing}")
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {', '.join(columns)} FROM ({rel.sql_query()})")
        return Relation(name, columns)

    def close(self) -> None:
        if self.own:
            self.con.close()


def as_engine(target: Any) -> Engine:
    """An engine for a stage's first argument: an Engine as is, a DuckDB connection wrapped."""
    return target if isinstance(target, Engine) else DuckDBEngine(target)
