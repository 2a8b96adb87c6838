"""The access-event archive has one layout: the collector and the synthetic loader write it the same way."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from anomaly.synthetic import generate, load_generated
from observatory import events
from observatory.warehouse import for_workspace


def _layout(events_dir: Path) -> list[str]:
    return [p.relative_to(events_dir).as_posix() for p in events.files(events_dir)]


def test_synthetic_loader_writes_the_archive_layout(workspace, tmp_path: Path) -> None:
    log = generate(tmp_path / "gen", n_staff=150, days=12, seed=5, start=date(2026, 10, 25))
    with for_workspace(workspace).connect() as con:
        load_generated(con, workspace.events_dir, log, run_id=42)
        months = [r[0] for r in con.execute(
            "SELECT DISTINCT strftime(timezone('Asia/Tokyo', occurred_at), '%Y-%m') FROM access_events "
            "ORDER BY 1").fetchall()]
        stored = con.execute("SELECT count(*), count(DISTINCT run_id), min(run_id) FROM access_events").fetchone()
        columns = [r[0] for r in con.execute("DESCRIBE access_events").fetchall()]
    assert months == ["2026-10", "2026-11"]
    assert _layout(workspace.events_dir) == [f"month={m}/part-42.parquet" for m in months]
    assert stored == (log.n_events, 1, 42)
    assert columns == [name for name, _ in events.COLUMNS]
    files = events.files(workspace.events_dir)
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{files[0]}', hive_partitioning = false)").fetchall()
    assert [(r[0], r[1].replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")) for r in described] == list(events.COLUMNS)


def test_publish_never_replaces_a_stored_file(tmp_path: Path) -> None:
    archive = tmp_path / "events" / "access"
    for n in range(2):
        staged = tmp_path / f"staged{n}"
        con = duckdb.connect()
        try:
            written = events.write_staged(
                con, f"SELECT 'E{n}' AS event_id, TIMESTAMPTZ '2026-05-01 01:30:00+09' AS occurred_at, "
                "NULL AS staff_id, NULL AS org_code, NULL AS subject_id, 'view' AS action, NULL AS record_type, "
                "NULL AS case_id, 1 AS record_count, NULL AS terminal_id, NULL::BIGINT AS run_id, "
                f"{events.month_sql('occurred_at')} AS month", ["Asia/Tokyo"], staged)
        finally:
            con.close()
        assert written == 1
        assert events.publish(staged, archive, "synthetic") == ["2026-05"]  # still April in UTC
    assert _layout(archive) == ["month=2026-05/part-synthetic-1.parquet", "month=2026-05/part-synthetic.parquet"]
    got = duckdb.sql(f"SELECT event_id FROM read_parquet('{events.pattern(archive)}', hive_partitioning = false) ORDER BY 1").fetchall()
    assert got == [("E0",), ("E1",)]
