"""The event archive as detection reads it (anomaly.engine.archive): the run's window comes from the first and
last month partitions, and agrees with the whole archive."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from anomaly.engine import archive


def _month(root, month: str, name: str, instants: list[str]) -> None:
    (root / f"month={month}").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    rows = ", ".join(f"('{t}'::TIMESTAMPTZ)" for t in instants) or "(NULL::TIMESTAMPTZ)"
    where = "" if instants else " WHERE false"
    con.execute(f"COPY (SELECT * FROM (VALUES {rows}) v(occurred_at){where}) TO "
                f"'{root / f'month={month}' / name}' (FORMAT parquet)")
    con.close()


def test_time_range_reads_the_first_and_last_months_and_agrees_with_the_whole_archive(tmp_path):
    root = tmp_path / "access"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    assert archive.time_range(root, con) is None  # no archive yet
    root.mkdir()
    assert archive.time_range(root, con) is None  # nothing in it
    _month(root, "2026-08", "part-1.parquet", ["2026-08-20 03:00:00+00", "2026-08-03 00:10:00+00"])
    _month(root, "2026-08", "part-2.parquet", ["2026-08-02 23:59:00+00"])  # the month's least is in its 2nd file
    _month(root, "2026-09", "part-1.parquet", ["2026-09-30 14:00:00+00"])  # a middle month is not read for either
    _month(root, "2026-10", "part-1.parquet", ["2026-10-01 00:00:00+00", "2026-10-29 13:00:00+00"])
    (root / "month=2026-11").mkdir()  # an empty partition (made, not yet written) is no month of events
    (root / "notes").mkdir()
    first, last = archive.time_range(root, con)
    assert first == datetime(2026, 8, 2, 23, 59, tzinfo=UTC) and last == datetime(2026, 10, 29, 13, tzinfo=UTC)
    whole = con.execute(f"SELECT min(occurred_at), max(occurred_at) FROM read_parquet('{root}/month=*/*.parquet')"
                        ).fetchone()
    assert (first, last) == whole
    _month(root, "2026-12", "part-1.parquet", [])  # a last month whose files hold no rows: not a range to trust
    assert archive.time_range(root, con) is None
