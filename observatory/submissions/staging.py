"""A private scratch DuckDB file holding a file's parsed rows while it is checked, before anything is loaded.

Rows arrive in batches (Arrow), so memory stays flat with file size; duplicate keys are found with SQL; the
accepted values are handed to the warehouse as Arrow record batches in the long `submission_values` shape.
Column identifiers come only from the KPI's declared columns (pattern ^[a-z][a-z0-9_]*$), never from the file.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from observatory.kpis.submission_spec import SubmissionSpec

BATCH = 8_192
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a declared column name: {name!r}")
    return f'"{name}"'


class Staging:
    """Context manager: `add()` rows, then `duplicates()`, `long_batches()`; the scratch file is removed on exit."""

    def __init__(self, spec: SubmissionSpec, tmp_root: Path | None = None) -> None:
        self.names = [c.name for c in spec.columns]
        for n in self.names:
            _ident(n)
        self._tmp_root = tmp_root
        self._dir: Path | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._schema = pa.schema(
            [("row_no", pa.int64()), ("ok", pa.bool_()), ("period", pa.date32()), ("entity", pa.string())]
            + [f for n in self.names for f in (pa.field("v_" + n, pa.float64()), pa.field("t_" + n, pa.string()))]
        )
        self._buf: dict[str, list] = {f.name: [] for f in self._schema}
        self.rows = 0

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The scratch database, created on first use (files with no stageable row never pay for it)."""
        if self._con is None:
            self._dir = Path(tempfile.mkdtemp(prefix="submission-", dir=self._tmp_root))
            self._con = duckdb.connect(str(self._dir / "staging.duckdb"),
                                       config={"threads": 1, "memory_limit": "128MB", "preserve_insertion_order": False})
            cols = ", ".join(f"{_ident('v_' + n)} DOUBLE, {_ident('t_' + n)} VARCHAR" for n in self.names)
            self._con.execute(f"CREATE TABLE staged (row_no BIGINT, ok BOOLEAN, period DATE, entity VARCHAR, {cols})")
        return self._con

    def close(self) -> None:
        try:
            if self._con is not None:
                self._con.close()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def add(self, row_no: int, ok: bool, period: date, entity: str,
            values: dict[str, tuple[float | None, str | None]]) -> None:
        """Stage one row (`ok` False: keys only, kept to report duplicates among bad rows too)."""
        b = self._buf
        b["row_no"].append(row_no)
        b["ok"].append(ok)
        b["period"].append(period)
        b["entity"].append(entity)
        for n in self.names:
            v, t = values.get(n, (None, None))
            b["v_" + n].append(v)
            b["t_" + n].append(t)
        self.rows += 1
        if len(b["row_no"]) >= BATCH:
            self.flush()

    def add_arrays(self, row_no: pa.Array, periods: list[date], entities: list[str],
                   columns: dict[str, pa.Array]) -> None:
        """Stage a whole clean batch at once (the fast path): columns are v_<name>/t_<name> arrays."""
        self.flush()
        n = len(row_no)
        data = {"row_no": row_no, "ok": pa.array([True] * n, pa.bool_()), "period": pa.array(periods, pa.date32()),
                "entity": pa.array(entities, pa.string())}
        data.update(columns)
        batch = pa.table(data, schema=self._schema)  # noqa: F841 - read by DuckDB's replacement scan
        self.con.execute("INSERT INTO staged SELECT * FROM batch")
        self.rows += n

    def flush(self) -> None:
        if not self._buf["row_no"]:
            return
        batch = pa.table(self._buf, schema=self._schema)  # noqa: F841 - read by DuckDB's replacement scan
        self.con.execute("INSERT INTO staged SELECT * FROM batch")
        self._buf = {f.name: [] for f in self._schema}

    def fraction_like(self, names: list[str], at_least: int = 3) -> list[str]:
        """Those of the (percent) columns whose accepted values are all between 0 and 1 with at least `at_least`
        of them above 0: percentages written as fractions (0.45 for 45 %), most likely."""
        self.flush()
        if self._con is None or not names:
            return []
        checks = ", ".join(f"count(CASE WHEN {_ident('v_' + n)} > 0 THEN 1 END) >= {int(at_least)} "
                           f"AND max({_ident('v_' + n)}) <= 1" for n in names)
        [row] = self.con.execute(f"SELECT {checks} FROM staged WHERE ok").fetchall()
        return [n for n, flagged in zip(names, row, strict=True) if flagged]

    def duplicates(self, limit: int = 100_000) -> list[tuple[int, int, date, str, bool]]:
        """(row, first row with the same key, period, entity, row ok) for every repeated (period, entity)."""
        self.flush()
        if self.rows < 2:
            return []
        return self.con.execute(
            "SELECT s.row_no, d.first_row, s.period, s.entity, s.ok FROM staged s JOIN "
            "(SELECT period, entity, min(row_no) AS first_row FROM staged GROUP BY period, entity "
            "HAVING count(*) > 1) d ON s.period = d.period AND s.entity = d.entity "
            "WHERE s.row_no > d.first_row ORDER BY s.row_no LIMIT ?", [limit]
        ).fetchall()

    def periods(self) -> list[tuple[date, int]]:
        """Distinct periods of the valid rows with their row counts."""
        self.flush()
        if self.rows == 0:
            return []
        return self.con.execute(
            "SELECT period, count(*) FROM staged WHERE ok GROUP BY period ORDER BY period"
        ).fetchall()

    def long_batches(self) -> Iterator[pa.RecordBatch]:
        """The valid rows unpivoted to (period, entity_code, column_name, value, text_value)."""
        reader = self.long_reader()
        if reader is not None:
            yield from reader

    def long_reader(self) -> pa.RecordBatchReader | None:
        """The same rows as one Arrow stream (None when nothing is staged)."""
        self.flush()
        if self.rows == 0:
            return None
        parts = " UNION ALL ".join(
            f"SELECT period, entity AS entity_code, ? AS column_name, {_ident('v_' + n)} AS value, "
            f"{_ident('t_' + n)} AS text_value FROM staged WHERE ok"
            for n in self.names
        )
        return self.con.sql(parts, params=list(self.names)).to_arrow_reader(BATCH)
