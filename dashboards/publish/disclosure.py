"""Disclosure control for counts derived from access logs and alerts: small cells are never published.

A count below THRESHOLD is suppressed (primary suppression). Because the site also shows row and column
totals, a lone suppressed cell in a row or column could be worked out by subtraction, so further cells are
suppressed until every row and every column (each read as the equation cells = total) has either no
suppressed member or at least two (secondary suppression). Published values are ints; suppressed are None.
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD = 10


@dataclass(frozen=True)
class ProtectedTable:
    """A count table with totals, after suppression: None marks a suppressed cell."""

    rows: list[str]
    columns: list[str]
    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    grand_total: int | None

    @property
    def suppressed(self) -> int:
        """How many values (cells and totals) are hidden."""
        flat = [c for r in self.cells for c in r] + self.row_totals + self.column_totals + [self.grand_total]
        return sum(1 for c in flat if c is None)


def protect(rows: list[str], columns: list[str], counts: list[list[int]],
            threshold: int = THRESHOLD) -> ProtectedTable:
    """Suppress small counts and enough others that none can be recovered from the totals."""
    n_r, n_c = len(rows), len(columns)
    # grid with totals: row i in 0..n_r (n_r = totals row), column j in 0..n_c (n_c = totals column)
    grid = [[int(counts[i][j]) for j in range(n_c)] for i in range(n_r)]
    for i in range(n_r):
        grid[i].append(sum(grid[i]))
    grid.append([sum(grid[i][j] for i in range(n_r)) for j in range(n_c + 1)])
    hidden = [[grid[i][j] < threshold for j in range(n_c + 1)] for i in range(n_r + 1)]

    def lines() -> list[list[tuple[int, int]]]:
        out = [[(i, j) for j in range(n_c + 1)] for i in range(n_r + 1)]  # each row incl. its total
        out += [[(i, j) for i in range(n_r + 1)] for j in range(n_c + 1)]  # each column incl. its total
        return out

    changed = True
    while changed:
        changed = False
        for line in lines():
            if len(line) < 2:
                continue
            hidden_here = [cell for cell in line if hidden[cell[0]][cell[1]]]
            if len(hidden_here) != 1:
                continue
            # hide the smallest other member, preferring inner cells to totals (totals are most useful)
            candidates = [cell for cell in line if not hidden[cell[0]][cell[1]]]
            candidates.sort(key=lambda c: (c[0] == n_r or c[1] == n_c, grid[c[0]][c[1]]))
            i, j = candidates[0]
            hidden[i][j] = True
            changed = True

    def val(i: int, j: int) -> int | None:
        return None if hidden[i][j] else grid[i][j]

    return ProtectedTable(
        rows=list(rows),
        columns=list(columns),
        cells=[[val(i, j) for j in range(n_c)] for i in range(n_r)],
        row_totals=[val(i, n_c) for i in range(n_r)],
        column_totals=[val(n_r, j) for j in range(n_c)],
        grand_total=val(n_r, n_c),
    )


def protect_series(labels: list[str], counts: list[int], threshold: int = THRESHOLD) -> ProtectedTable:
    """A single column of counts with its total, protected the same way."""
    return protect(labels, ["count"], [[c] for c in counts], threshold)
