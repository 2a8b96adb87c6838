"""Staged rows (the scratch Parquet parts a file's validated rows wait in before the load): types as the target
table's, file order, parts, no truncation, nothing left behind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.runs import StagedRows

TYPES = {"code": "VARCHAR", "n": "BIGINT", "small": "INTEGER", "rate": "DOUBLE", "on": "DATE", "ok": "BOOLEAN",
         "at": "TIMESTAMP WITH TIME ZONE", "published": "JSON"}


def test_rows_come_back_as_they_went_in_across_parts_in_file_order(tmp_path) -> None:
    staged = StagedRows(tuple(TYPES), TYPES, tmp_path)
    staged.BATCH, staged.PART_ROWS = 2, 4
    tokyo = ZoneInfo("Asia/Tokyo")
    rows = [{"code": f"{i:06d}", "n": 10**12 + i, "small": i, "rate": i / 4, "on": date(2024, 4, 1 + i % 28),
             "ok": i % 2 == 0, "at": datetime(2024, 4, 1, 9, i % 60, tzinfo=tokyo),
             "published": {"所管府省庁": "総務省", "件数": str(i)}} for i in range(12)]
    rows[4].update(n=None, rate=None, on=None, published=None)
    with staged:
        for line, row in enumerate(rows, start=2):
            staged.append(line, row)
        back = list(staged)
        assert len(staged.parts) == 3  # 4 + 4 + 4 rows (a part is closed once it holds PART_ROWS)
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in staged.parts)
    assert not list(tmp_path.glob("plain-*"))  # closed: nothing left in .work
    assert [r["code"] for r in back] == [r["code"] for r in rows]
    assert back[3]["at"] == rows[3]["at"].astimezone(UTC) and back[3]["on"] == rows[3]["on"]
    assert back[4]["n"] is None and back[4]["published"] is None
    assert back[5]["published"] == '{"所管府省庁": "総務省", "件数": "5"}'  # JSON text, as the warehouse stores it
    assert back[7]["n"] == 10**12 + 7 and back[7]["ok"] is False


def test_a_fraction_or_an_overflow_in_an_integer_column_is_an_error_never_truncated(tmp_path) -> None:
    for column, value in (("n", 1.5), ("small", 3_000_000_000)):
        with StagedRows(tuple(TYPES), TYPES, tmp_path) as staged:
            staged.append(2, {"code": "011002", column: value})
            with pytest.raises(Exception, match="truncat|overflow|fit|out of bounds|Integer value"):
                staged.staged_parts()


def test_a_repeated_key_is_found_across_parts_with_both_lines(tmp_path) -> None:
    with StagedRows(tuple(TYPES), TYPES, tmp_path) as staged:
        staged.BATCH, staged.PART_ROWS = 2, 2
        for line, code in enumerate(["011002", "012025", "013030", "012025", "011002"], start=2):
            staged.append(line, {"code": code, "n": 1})
        assert staged.duplicate(("code",)) == (5, 3, ("012025",))


def test_text_columns_take_numbers_as_text(tmp_path) -> None:
    with StagedRows(tuple(TYPES), TYPES, tmp_path) as staged:
        staged.append(2, {"code": 11002})
        staged.append(3, {"code": "012025"})
        assert [r["code"] for r in staged] == ["11002", "012025"]
