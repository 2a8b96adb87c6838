"""Cell values for submissions: the one meaning of `observatory.cells` (shared with the collectors, so a file
parses the same through `observatory submit` and `observatory ingest`), under the names the submission code uses.

Each parser returns either a value or a `Bad(reason_en, reason_ja)`; none of them raises on user input.
"""

from __future__ import annotations

from typing import Any

from observatory import cells
from observatory.cells import (  # noqa: F401 - the names submissions use
    MAX_EXACT_INTEGER,
    Bad,
    a_date,
    current_period,
    fiscal_year_start,
    integer,
    is_none_mark,
    number,
    percent,
    period,
    period_label,
    text,
)


def boolean(cell: Any) -> float | Bad:
    """1.0 / 0.0 (as stored in submission_values.value) for a yes/no cell; see observatory.cells.boolean."""
    got = cells.boolean(cell)
    if isinstance(got, Bad):
        return got
    return 1.0 if got else 0.0
