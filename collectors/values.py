"""Cell values as they arrive in Japanese government files, turned into typed values or a reason why not.

Full-width digits, thousands separators ("1,234", "１，２３４"), "%" signs, ○/× booleans, Japanese era dates
(令和8年10月, 令和元年, 平成31年) and naive local timestamps are all normalised here, once.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from collectors.base import RowError

ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988}  # era year 1 = base + 1
_ERA_YM = re.compile(r"(令和|平成|昭和)\s*(元|\d{1,2})\s*年\s*(\d{1,2})\s*月")
_WESTERN_YM = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月")
_PERIOD = re.compile(r"^((?:19|20)\d{2})[-/.年]?(\d{1,2})(?:月)?(?:[-/.](\d{1,2})日?)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
TRUE_WORDS = {"true", "t", "1", "yes", "y", "○", "〇", "◯", "可", "有", "あり", "はい", "on"}
FALSE_WORDS = {"false", "f", "0", "no", "n", "×", "✕", "x", "不可", "無", "なし", "いいえ", "off", "-", "－"}


def fold(value: Any) -> str:
    """NFKC (full-width digits and letters to ASCII) and trimmed; '' for None."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _numeric_text(value: Any) -> str:
    text = fold(value).replace(",", "").replace(" ", "").replace("\u3000", "")
    return text


def parse_int(value: Any) -> int:
    """A whole number: 1234, '1,234', '１，２３４', 1234.0 from a spreadsheet."""
    if isinstance(value, bool):
        raise ValueError("not a whole number / 整数ではありません")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("not a whole number / 整数ではありません")
    text = _numeric_text(value)
    if text.endswith(("人", "件", "枚")):
        text = text[:-1]
    if not _NUMBER.match(text):
        raise ValueError("not a whole number / 整数ではありません")
    number = float(text)
    if not number.is_integer():
        raise ValueError("not a whole number / 整数ではありません")
    return int(number)


def parse_count(value: Any) -> int:
    """A non-negative whole number (cases, cards, people)."""
    n = parse_int(value)
    if n < 0:
        raise ValueError("must not be negative / 負の値は不可")
    return n


def parse_float(value: Any) -> float:
    """A decimal number; a trailing '%' is removed (the number is kept in percent)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = _numeric_text(value).rstrip("%")
    if not _NUMBER.match(text):
        raise ValueError("not a number / 数値ではありません")
    return float(text)


def percent_text(fraction: float) -> str:
    """A spreadsheet number formatted as a percentage, as the text it shows (and a CSV held): 0.888 -> '88.8%',
    0.72 -> '72%'. Excel turns a CSV's '88.8%' into 0.888 with a percent format when it re-saves it."""
    text = f"{round(fraction * 100, 6):.6f}".rstrip("0").rstrip(".")
    return f"{text}%"


def choice(synonyms: dict[str, str], message: str):
    """A parser mapping the ways a value is written (case-folded, full-width folded) to its canonical word."""

    def parse(value: Any) -> str:
        key = fold(value).lower()
        if key not in synonyms:
            raise ValueError(message)
        return synonyms[key]

    return parse


def parse_bool(value: Any) -> bool:
    """true/false, 1/0, yes/no, ○/×, 可/不可, 有/無."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = fold(value).lower()
    if text in TRUE_WORDS or value in TRUE_WORDS:
        return True
    if text in FALSE_WORDS or value in FALSE_WORDS:
        return False
    raise ValueError("not a yes/no value (true/false, 1/0, ○/×) / 真偽値ではありません")


def era_year(era: str, year: str) -> int:
    """Western year of an era year: ('令和', '元') -> 2019, ('令和', '8') -> 2026."""
    n = 1 if year == "元" else int(year)
    return ERAS[era] + n


def find_year_month(text: str) -> tuple[int, int] | None:
    """(year, month) named in a title such as 'マイナンバーカード交付状況（令和８年１０月末時点）'."""
    folded = fold(text)
    m = _ERA_YM.search(folded)
    if m:
        year, month = era_year(m.group(1), m.group(2)), int(m.group(3))
    else:
        m = _WESTERN_YM.search(folded)
        if not m:
            return None
        year, month = int(m.group(1)), int(m.group(2))
    return (year, month) if 1 <= month <= 12 else None


def parse_period(value: Any) -> date:
    """The first day of a month: '2026-10', '2026/10', '2026年10月', '令和8年10月', a spreadsheet date."""
    if isinstance(value, datetime):
        return date(value.year, value.month, 1)
    if isinstance(value, date):
        return date(value.year, value.month, 1)
    text = fold(value).replace(" ", "")
    m = _PERIOD.match(text)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
    else:
        found = find_year_month(text)
        if not found:
            raise ValueError("not a month (YYYY-MM) / 年月（YYYY-MM）ではありません")
        year, month = found
    if not 1 <= month <= 12:
        raise ValueError("month must be 1-12 / 月は1〜12")
    return date(year, month, 1)


def parse_date(value: Any) -> date:
    """A calendar date: 2026-10-01, 2026/10/01, a spreadsheet date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = fold(value).replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat(text[:10] if len(text) >= 10 and text[10:11] in ("T", " ") else text)
    except ValueError:
        raise ValueError("not a date (YYYY-MM-DD) / 日付（YYYY-MM-DD）ではありません") from None


def parse_timestamp(value: Any, timezone: str = "Asia/Tokyo", *, require_offset: bool = False) -> datetime:
    """An aware timestamp; a naive one (or a bare date) is read in `timezone` unless an offset is required."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, date):
        ts = datetime.combine(value, time())
    else:
        text = fold(value).replace("/", "-")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not an ISO 8601 timestamp / 日時（ISO 8601）ではありません") from None
    if ts.tzinfo is None:
        if require_offset:
            raise ValueError("timestamp needs a UTC offset such as +09:00 / 時差（+09:00等）が必要です")
        ts = ts.replace(tzinfo=ZoneInfo(timezone))
    return ts.astimezone(UTC)


def cell(line: int, record: dict[str, Any], column: str, convert=None, *, required: bool = True) -> Any:
    """The converted value of `column`, None when blank and optional; a RowError naming row and column."""
    raw = record.get(column)
    if is_blank(raw):
        if required:
            raise RowError("value missing / 値がありません", row=line, column=column)
        return None
    if convert is None:
        return str(raw).strip() if not isinstance(raw, str) else raw.strip()
    try:
        return convert(raw)
    except ValueError as exc:
        raise RowError(str(exc), row=line, column=column, value=raw) from None


def text_id(value: Any) -> str:
    """An identifier: NFKC-folded text; spreadsheet numbers lose their '.0'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = fold(value)
    if not text:
        raise ValueError("value missing / 値がありません")
    return text
