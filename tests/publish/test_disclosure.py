"""Small-cell suppression: no count below 10 is published and none can be recovered from the totals."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.publish.disclosure import THRESHOLD, ProtectedTable, protect, protect_series


def _lines(t: ProtectedTable) -> list[list[int | None]]:
    """Each row and column read as the equation members (cells + their total)."""
    rows = [t.cells[i] + [t.row_totals[i]] for i in range(len(t.rows))]
    rows.append(t.column_totals + [t.grand_total])
    cols = [[r[j] for r in rows] for j in range(len(t.columns) + 1)]
    return rows + cols


def test_small_counts_are_hidden_and_a_lone_hidden_cell_gets_a_partner() -> None:
    t = protect(["2026-06", "2026-07"], ["confirmed", "cleared", "open"], [[3, 40, 25], [12, 30, 18]])
    assert t.cells[0][0] is None  # primary: 3 < 10
    # the row total (68) is published, so a second cell of that row must be hidden too
    assert sum(1 for c in t.cells[0] if c is None) >= 2 or t.row_totals[0] is None
    # column confirmed: 3 hidden, so 12 or the column total must be hidden as well
    assert t.cells[1][0] is None or t.column_totals[0] is None
    assert t.grand_total == 128


def test_all_large_counts_are_published_unchanged() -> None:
    t = protect(["a", "b"], ["x", "y"], [[10, 20], [30, 40]])
    assert t.cells == [[10, 20], [30, 40]] and t.row_totals == [30, 70] and t.grand_total == 100
    assert t.suppressed == 0


def test_series_hides_small_month_and_another() -> None:
    t = protect_series(["m1", "m2", "m3"], [120, 4, 300])
    assert t.cells[1][0] is None
    assert sum(1 for r in t.cells if r[0] is None) + (t.grand_total is None) >= 2


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5).flatmap(lambda nr: st.integers(1, 4).flatmap(
    lambda nc: st.lists(st.lists(st.integers(0, 60), min_size=nc, max_size=nc), min_size=nr, max_size=nr))))
def test_protection_properties(counts: list[list[int]]) -> None:
    rows = [f"r{i}" for i in range(len(counts))]
    cols = [f"c{j}" for j in range(len(counts[0]))]
    t = protect(rows, cols, counts)
    flat_true = [c for r in counts for c in r]
    flat_pub = [c for r in t.cells for c in r]
    for true, pub in zip(flat_true, flat_pub, strict=True):
        assert pub is None or pub == true  # nothing altered
        if true < THRESHOLD:
            assert pub is None  # primary suppression
    for line in _lines(t):
        assert sum(1 for v in line if v is None) != 1  # no value recoverable by subtraction
    for v in t.row_totals + t.column_totals + [t.grand_total]:
        assert v is None or v >= THRESHOLD
