"""A load under DuckDB's memory bound that the bound cannot hold runs again without it, never refused."""

from __future__ import annotations

import duckdb

from observatory import bounded


def test_a_load_that_does_not_fit_the_bound_runs_again_without_it(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t (k VARCHAR PRIMARY KEY)")  # the key index stays in memory: it cannot spill
    limits = []

    def work() -> int:
        limits.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        con.execute("BEGIN")
        try:
            con.execute("INSERT INTO t SELECT 'key-' || i::VARCHAR || repeat('x', 60) FROM range(300000) r(i)")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return con.execute("SELECT count(*) FROM t").fetchone()[0]

    assert bounded.within_memory(con, "8MB", work) == 300_000
    assert len(limits) == 2 and _mib(limits[0]) < 10 and _mib(limits[1]) > 1000  # bounded, then not
    assert _mib(con.execute("SELECT current_setting('memory_limit')").fetchone()[0]) > 1000  # put back


def test_a_load_that_fits_runs_once_under_the_bound(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    seen = []
    assert bounded.within_memory(con, "64MB", lambda: seen.append(
        con.execute("SELECT current_setting('memory_limit')").fetchone()[0]) or 1) == 1
    assert len(seen) == 1 and _mib(seen[0]) <= 64


def _mib(setting: str) -> float:
    number, unit = setting.split()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 1024 * 1024}[unit]


def test_a_transaction_that_fits_the_bound_is_committed_without_it(tmp_path) -> None:
    """DuckDB writes a transaction's rows out at COMMIT; an allocation that fails there is no OutOfMemoryException
    but a failed commit that invalidates the database (a 3.5 MB DX file of 1.7 million cells, inserted within the
    load's 256 MB, ended as 'internal error FatalException'). The bound is lifted for the commit."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t (a VARCHAR, b VARCHAR, c VARCHAR, d DATE, PRIMARY KEY (a, b, c, d))")

    def work() -> int:
        con.execute("BEGIN")
        try:
            con.execute("INSERT INTO t SELECT 'dx_' || (i % 1000), 'municipality', lpad((i // 1000)::VARCHAR, 6, '0'), "
                        "DATE '2024-07-12' FROM range(150000) r(i)")
            bounded.before_commit(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return con.execute("SELECT count(*) FROM t").fetchone()[0]

    assert bounded.within_memory(con, "24MB", work) == 150_000
    assert _mib(con.execute("SELECT current_setting('memory_limit')").fetchone()[0]) > 1000  # put back
    bounded.before_commit(con)  # outside a bound: nothing to lift
