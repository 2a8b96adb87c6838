"""The vectorised fast path stages exactly what the row-by-row checker would, and never hides a problem."""

from __future__ import annotations

import pytest

from observatory.reference import municipalities
from observatory.submissions import fastpath
from observatory.submissions.staging import Staging
from observatory.submissions.validate import FAST_BATCH, check_file
from tests.submissions.conftest import TAX, TODAY

HEADER = "市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子化率,電子的送付の実施,備考\n"


def big_file(extra: str = "", n: int = FAST_BATCH + 700) -> bytes:
    codes = [m.code for m in municipalities()]
    lines = []
    for i in range(n):
        month = 1 + (i // len(codes)) % 12
        total = 100 + i % 977
        rate = "" if i % 5 == 0 else f"{(i % 1000) / 10:.1f}%"
        lines.append(f'{codes[i % len(codes)]},2024-{month:02d},"{total:,}",{total // 3},{rate},実施,'
                     f'{"メモ" if i % 7 == 0 else ""}\n')
    return (HEADER + "".join(lines) + extra).encode()


def quoted(cell: str) -> str:
    """A CSV cell as written: one holding a comma in quotes (a decimal comma is one cell, not two)."""
    return f'"{cell}"' if "," in cell else cell


def run(data: bytes, spec, *, fast: bool, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fastpath, "eligible", (lambda s, h: True) if fast else (lambda s, h: False))
    with Staging(spec) as staging:
        report = check_file(data, file_name="big.csv", spec=spec, freq="monthly", today=TODAY, staging=staging)
        staged = sorted((tuple(r.values()) for b in staging.long_batches() for r in b.to_pylist()), key=repr)
    return report, staged


def test_clean_file_stages_identical_rows_either_way(kpis, monkeypatch) -> None:
    spec = kpis[TAX].submission
    data = big_file()
    results: list[bool] = []
    original = fastpath.BatchChecker.check_batch

    def spy(self, row_nos, rows, staging):
        results.append(original(self, row_nos, rows, staging))
        return results[-1]

    monkeypatch.setattr(fastpath.BatchChecker, "check_batch", spy)
    fast_report, fast_rows = run(data, spec, fast=True, monkeypatch=monkeypatch)
    slow_report, slow_rows = run(data, spec, fast=False, monkeypatch=monkeypatch)
    assert fast_report.ok and slow_report.ok
    assert fast_report.rows_total == slow_report.rows_total == fast_report.rows_valid == FAST_BATCH + 700
    assert fast_rows == slow_rows
    assert len(fast_rows) == (FAST_BATCH + 700) * 5
    assert results == [True, True]  # both batches took the fast path


@pytest.mark.parametrize("bad_cell", ["011003", "２０２４-01", "-5", "1.5", "abc", "120%", "済み", "=cmd", " 5",
                                      "1,5", "10,0", "1,,2", "1,0000"])
def test_one_bad_cell_in_a_big_batch_gives_the_same_report(kpis, monkeypatch, bad_cell: str) -> None:
    spec = kpis[TAX].submission
    row = {"011003": f"{bad_cell},2024-01,10,5,,実施,", "２０２４-01": f"011002,{bad_cell},10,5,,実施,",
           "済み": f"011002,2020-01,10,5,,{bad_cell},", "=cmd": f"011002,2020-01,10,5,,実施,{bad_cell}"}.get(
        bad_cell, f"011002,2020-01,{quoted(bad_cell)},0,{bad_cell if bad_cell.endswith('%') else ''},実施,")
    data = big_file(row + "\n", n=FAST_BATCH - 10) + big_file(n=20)[len(HEADER.encode()):]
    fast_report, fast_rows = run(data, spec, fast=True, monkeypatch=monkeypatch)
    slow_report, slow_rows = run(data, spec, fast=False, monkeypatch=monkeypatch)
    assert fast_report.lines() == slow_report.lines()
    assert fast_rows == slow_rows
    assert fast_report.problems, bad_cell


@pytest.mark.parametrize("value", ["7", "123456789018"])
def test_a_value_under_a_column_with_no_heading_is_named_on_both_paths(kpis, monkeypatch, value: str) -> None:
    """A header whose last label was lost (a trailing empty heading): the values under it were dropped without
    a word, and an Individual Number there passed the fast path (it checked only the KPI's columns) while the
    row checker refused it. Now both paths name the row and the column, and nothing is staged as valid."""
    spec = kpis[TAX].submission
    lines = big_file(n=FAST_BATCH + 5).decode().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + ",\n"
    lines[1:] = [line.rstrip("\n") + ",\n" for line in lines[1:]]
    lines[7] = lines[7].rstrip("\n") + value + "\n"
    data = "".join(lines).encode()
    fast_report, fast_rows = run(data, spec, fast=True, monkeypatch=monkeypatch)
    slow_report, slow_rows = run(data, spec, fast=False, monkeypatch=monkeypatch)
    assert fast_report.lines() == slow_report.lines()
    codes = {p.code for p in fast_report.problems}
    assert "unnamed_column" in codes and not fast_report.ok
    assert ("individual_number" in codes) == (len(value) == 12)
    assert all(value not in line for line in fast_report.lines()) or len(value) < 12
    assert fast_report.rows_valid == slow_report.rows_valid == FAST_BATCH + 4
