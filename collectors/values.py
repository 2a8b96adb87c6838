"""Cell values for collectors: the one meaning of `observatory.cells`, raising ValueError where cells returns Bad.

A collector's parser reads like a description (`cell(line, rec, "cases_total", parse_count)`); what "1,234",
"令和8年10月", "○" or "-" mean is decided in observatory/cells.py, the same for `observatory ingest` and
`observatory submit`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from collectors.base import RowError
from observatory import cells
from observatory.calendar import DEFAULT_TIMEZONE, local_date
from observatory.cells import era_year, find_year_month, is_blank, percent_text  # noqa: F401 - re-exported

TRUE_WORDS = cells.TRUE_WORDS
FALSE_WORDS = cells.FALSE_WORDS
# Nothing a file records (an access, a termination, a case) can happen long after the file was ingested (a row dated
# 2062, a typo or a broken clock, made a later full detection window span decades). The slack is a year, not a day:
# a terminal whose clock is set months ahead, a termination planned for the fiscal year's end, or a test or training
# log dated ahead (generators do: seeds of anomaly.worlds reach days past their run) must not have every file
# refused whole, while a year typed decades ahead still is
MAX_AHEAD = timedelta(days=366)


def _value(got: Any) -> Any:
    if isinstance(got, cells.Bad):
        raise ValueError(str(got))
    return got


def fold(value: Any) -> str:
    """NFKC (full-width digits and letters to ASCII) and trimmed; '' for None."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_int(value: Any) -> int:
    """A whole number: 1234, '1,234', '１，２３４', '12件', 1234.0 from a spreadsheet."""
    return int(_value(cells.integer(value)))


def parse_count(value: Any) -> int:
    """A non-negative whole number (cases, cards, people)."""
    return _value(cells.count(value))


def parse_float(value: Any) -> float:
    """A decimal number; a trailing '%' is removed (the number is kept in percent)."""
    return _value(cells.percent(value))


def parse_bool(value: Any) -> bool:
    """true/false, 1/0, yes/no, on/off, ○/×, はい/いいえ, 可/不可, 有/無 (a dash is "none", not "no")."""
    return _value(cells.boolean(value))


def parse_period(value: Any) -> date:
    """The first day of a month: '2026-10', '2026/10', '2026年10月', '令和8年10月', a spreadsheet date."""
    return _value(cells.period(value, "monthly"))


def parse_date(value: Any, timezone: str = DEFAULT_TIMEZONE) -> date:
    """A calendar date: 2026-10-01, 2026/10/01, 令和8年10月1日, a spreadsheet date; a timestamp with an offset
    gives its date in `timezone` (the workspace's)."""
    return _value(cells.a_date(value, timezone))


def parse_timestamp(value: Any, timezone: str = DEFAULT_TIMEZONE, *, require_offset: bool = False) -> datetime:
    """An aware timestamp; a naive one (or a bare date) is read in `timezone` unless an offset is required."""
    return _value(cells.timestamp(value, timezone, require_offset=require_offset))


def latest_allowed(now: datetime | None = None) -> datetime:
    """The latest time a row may carry when its file is ingested at `now` (the present when None)."""
    return (now or datetime.now(UTC)).astimezone(UTC) + MAX_AHEAD


def ahead_reason(latest: date) -> str:
    """Why a date or time later than `latest` (latest_allowed, or its local date) is refused."""
    if isinstance(latest, datetime):
        return (f"more than a year after the time of ingest (latest allowed {latest:%Y-%m-%d %H:%M} UTC) / "
                f"取込時刻から1年を超えて先の日時です（上限 {latest:%Y-%m-%d %H:%M} UTC）")
    return (f"more than a year after the time of ingest (latest allowed {latest:%Y-%m-%d}) / "
            f"取込時刻から1年を超えて先の日付です（上限 {latest:%Y-%m-%d}）")


def not_ahead(value: date, now: datetime | None, timezone: str = DEFAULT_TIMEZONE) -> date:
    """`value`, an aware timestamp or a date in `timezone`, unless it is more than MAX_AHEAD after the ingest's
    clock `now` (the present when None): then ValueError."""
    latest = latest_allowed(now)
    if isinstance(value, datetime):
        if value > latest:
            raise ValueError(ahead_reason(latest))
    elif value > local_date(latest, timezone):
        raise ValueError(ahead_reason(local_date(latest, timezone)))
    return value


def until_a_year_ahead(parse: Callable[[Any, str], date], timezone: str,
                       now: datetime | None) -> Callable[[Any], date]:
    """`parse` (parse_date or parse_timestamp) in `timezone`, refusing a value more than a year after the ingest's
    clock `now`, as the access log refuses an event (MAX_AHEAD): the rosters' dates and the cases' times."""
    return lambda value: not_ahead(parse(value, timezone), now, timezone)


def text_id(value: Any) -> str:
    """An identifier: NFKC-folded text; spreadsheet numbers lose their '.0'."""
    return _value(cells.identifier(value))


def choice(synonyms: dict[str, str], message: str) -> Callable[[Any], str]:
    """A parser mapping the ways a value is written (case-folded, full-width folded) to its canonical word."""

    def parse(value: Any) -> str:
        key = cells.text(value).lower()
        if key not in synonyms:
            raise ValueError(message)
        return synonyms[key]

    return parse


NONE_WHERE_REQUIRED = "'-' (none / not applicable) where a value is required / 必須の値が「-」（該当なし）です"


def cell(line: int, record: dict[str, Any], column: str, convert: Callable[[Any], Any] | None = None, *,
         required: bool = True) -> Any:
    """The converted value of `column`, None when blank (or a dash: none / not applicable) and optional; a
    RowError naming row and column. Text columns (no `convert`) keep a dash as written."""
    raw = record.get(column)
    if is_blank(raw) or (convert is not None and cells.is_none_mark(raw)):
        if required:
            reason = "value missing / 値がありません" if is_blank(raw) else NONE_WHERE_REQUIRED
            raise RowError(reason, row=line, column=column, value=None if is_blank(raw) else raw)
        return None
    if convert is None:
        return str(raw).strip() if not isinstance(raw, str) else raw.strip()
    try:
        return convert(raw)
    except ValueError as exc:
        raise RowError(str(exc), row=line, column=column, value=raw) from None
