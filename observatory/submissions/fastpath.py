"""A vectorised fast path for clean batches of plain CSV rows (the bulk of large municipal files).

`check_batch` accepts a batch only when every cell is something the row-by-row checker would accept unchanged
(six-digit known codes, cached valid periods, plain ASCII numbers within range, exact enum values, rules
holding) and stages it in one Arrow table. Anything else returns False and the caller checks the batch row by
row, which produces the exact problems. The fast path can therefore only be faster, never more lenient.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from observatory.kpis.submission_spec import SubmissionSpec
from observatory.reference import municipalities
from observatory.security.pseudonym import individual_numbers
from observatory.submissions import values
from observatory.submissions.headers import HeaderMap
from observatory.submissions.staging import Staging
from observatory.submissions.values import Bad

_NUMERIC = ("integer", "number", "percent")
# a plain number, its digits grouped by commas in threes or not at all (the row checker's rule: "1,5" and "10,0"
# are a decimal comma or a slip, never 15 and 100)
_PLAIN = r"^[+-]?(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)$"
_FORMULA_START = ("=", "+", "-", "@")


@cache
def _codes() -> frozenset[str]:
    return frozenset(m.code for m in municipalities())


def eligible(spec: SubmissionSpec, header: HeaderMap) -> bool:
    """Only municipality files keyed by code alone, with numeric, enum or text columns, take the fast path."""
    return (spec.level == "municipality" and header.has("municipality_code")
            and not header.has("municipality_name") and not header.has("prefecture")
            and all(c.type in (*_NUMERIC, "enum", "text") for c in spec.columns))


class BatchChecker:
    """Checks whole batches of CSV rows at once for one file's header and KPI."""

    def __init__(self, spec: SubmissionSpec, header: HeaderMap, freq: str, latest: date, width: int) -> None:
        self.spec, self.freq, self.latest, self.width = spec, freq, latest, width
        self.code_at = header.index["municipality_code"]
        self.period_at = header.index["period"]
        self.columns = [(c, header.index.get(c.name)) for c in spec.columns]
        self.unnamed = header.unnamed  # any value under one sends the batch row by row (named there, never dropped)
        self._periods: dict[str, date | None] = {}

    def _period(self, text: str) -> date | None:
        got = self._periods.get(text, False)
        if got is False:
            p = values.period(text, self.freq)
            got = None if isinstance(p, Bad) or p > self.latest else p
            self._periods[text] = got
        return got  # type: ignore[return-value]

    def check_batch(self, row_nos: list[int], rows: list[list[Any]], staging: Staging) -> bool:
        """Stage the batch and return True when it is clean; False (nothing staged) sends it row by row."""
        width = self.width
        if any(len(r) != width for r in rows):
            return False
        if any(r[i] for i in self.unnamed for r in rows):
            return False
        codes = [r[self.code_at] for r in rows]
        known = _codes()
        if not all(c in known for c in codes):
            return False
        periods = []
        for r in rows:
            p = self._period(r[self.period_at])
            if p is None:
                return False
            periods.append(p)
        arrays: dict[str, pa.Array] = {}
        numeric: dict[str, pa.Array] = {}
        for col, at in self.columns:
            raw = [r[at] for r in rows] if at is not None else None
            got = self._column(col, raw, len(rows))
            if got is None:
                return False
            v, t = got
            arrays["v_" + col.name], arrays["t_" + col.name] = v, t
            numeric[col.name] = v
        for check in self.spec.checks:
            if check.lte:
                a, b = check.lte
                if pc.any(pc.greater(numeric[a], numeric[b])).as_py():
                    return False
        staging.add_arrays(pa.array(row_nos, pa.int64()), periods, codes, arrays)
        return True

    def _column(self, col, raw: list[str] | None, n: int) -> tuple[pa.Array, pa.Array] | None:
        no_text = pa.nulls(n, pa.string())
        no_value = pa.nulls(n, pa.float64())
        if raw is None:  # optional column absent from the file
            return (no_value, no_text) if not col.required else None
        if col.type in _NUMERIC:
            arr = pa.array(raw, pa.string())
            empty = pc.equal(arr, "")
            if col.required and pc.any(empty).as_py():
                return None
            arr = pc.if_else(empty, pa.scalar(None, pa.string()), arr)
            if pc.any(pc.greater_equal(pc.utf8_length(arr), 12)).as_py():
                return None  # long enough to hide an Individual Number: the row checker looks at it
            if col.type == "percent":
                arr = pc.replace_substring_regex(arr, r"%$", "")
            if not pc.all(pc.match_substring_regex(arr, _PLAIN)).as_py():
                return None
            arr = pc.replace_substring(arr, ",", "")
            try:
                nums = pc.cast(arr, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
            if col.type == "integer" and not pc.all(pc.equal(pc.floor(nums), nums)).as_py():
                return None
            if col.type == "integer" and pc.any(pc.greater(pc.abs(nums), values.MAX_EXACT_INTEGER)).as_py():
                return None  # out of range: the row checker words the error
            if col.min is not None and pc.any(pc.less(nums, col.min)).as_py():
                return None
            if col.max is not None and pc.any(pc.greater(nums, col.max)).as_py():
                return None
            return nums, no_text
        if col.type == "enum":
            allowed = set(col.allowed or [])
            if not all(v in allowed or (v == "" and not col.required) for v in raw):
                return None
            return no_value, pa.array([v or None for v in raw], pa.string())
        texts = []
        for v in raw:
            s = unicodedata.normalize("NFC", v.strip())
            if (not s and col.required) or s.startswith(_FORMULA_START) or len(s) >= 12 or "\x00" in s \
                    or (not s.isascii() and individual_numbers(v)):  # (⑲⑨㉟...: twelve digits in fewer characters)
                return None
            texts.append(s or None)
        return no_value, pa.array(texts, pa.string())
