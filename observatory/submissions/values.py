"""Cell values as ministries write them: full-width digits, thousands separators, ▲ negatives, 年度 and 令和.

Each parser returns either a value or a `Bad(reason_en, reason_ja)`; none of them raises on user input.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

_ERAS = {"令和": 2018, "R": 2018, "平成": 1988, "H": 1988}  # era year n -> n + offset
_TRUE = {"true", "1", "yes", "y", "はい", "有", "あり", "○", "〇", "可", "t"}
_FALSE = {"false", "0", "no", "n", "いいえ", "無", "なし", "×", "不可", "f"}


@dataclass(frozen=True, slots=True)
class Bad:
    """Why a cell could not be read."""

    en: str
    ja: str


def text(cell: Any) -> str:
    """A cell as stripped text in NFKC form (full-width digits and letters become ASCII)."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    s = cell if isinstance(cell, str) else str(cell)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    return s.strip()


MAX_EXACT_INTEGER = 2**53 - 1  # beyond this a DOUBLE no longer holds every whole number (inside BIGINT range)
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def number(cell: Any) -> float | Bad:
    """A number from 1,234 / １，２３４ / ▲5 / △5 / (5); formulas and text are rejected."""
    if type(cell) is str and cell.isascii():  # fast path: plain ASCII digits (and one dot), the common case
        plain = cell.strip().replace(",", "")
        if plain.isdigit() or (plain.count(".") == 1 and plain.replace(".", "").isdigit()):
            return float(plain)
    if isinstance(cell, bool):
        return Bad("expected a number, got TRUE/FALSE", "数値ではありません（TRUE/FALSE）")
    if isinstance(cell, int | float):
        value = float(cell)
    else:
        s = text(cell).replace(",", "").replace(" ", "").replace("\u3000", "")
        if s.startswith(("=", "@")):
            return Bad("a formula is not a value; enter the number", "数式ではなく数値を入力してください")
        neg = s.startswith(("▲", "△")) or (s.startswith("(") and s.endswith(")"))
        if neg:
            s = s.strip("▲△()")
        if not _NUM.match(s):
            return Bad("not a number", "数値ではありません")
        value = -float(s) if neg else float(s)
    if math.isnan(value) or math.isinf(value):
        return Bad("not a finite number", "有限の数値ではありません")
    return value


def integer(cell: Any) -> float | Bad:
    """A whole number (12 or 12.0), with the same notations as `number`."""
    value = number(cell)
    if isinstance(value, Bad):
        return value
    if not float(value).is_integer():
        return Bad("expected a whole number", "整数ではありません")
    if abs(value) > MAX_EXACT_INTEGER:  # stored as DOUBLE: beyond 2**53 a whole number is no longer exact
        return Bad(f"whole number out of range (at most ±{MAX_EXACT_INTEGER:,})",
                   f"整数が範囲外です（±{MAX_EXACT_INTEGER:,} まで）")
    return value


def percent(cell: Any, excel_percent_format: bool = False) -> float | Bad:
    """A percentage 0-100: '45.3', '45.3%', '４５．３％'; an Excel cell formatted as % holds 0.453."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return round(float(cell) * 100.0, 9) if excel_percent_format else float(cell)
    if type(cell) is str and cell.isascii():  # fast path: 45.6 or 45.6%
        plain = cell.strip().removesuffix("%").rstrip()
        if plain.isdigit() or (plain.count(".") == 1 and plain.replace(".", "").isdigit()):
            return float(plain)
    s = text(cell)
    if s.endswith("%"):
        s = s[:-1].strip()
    return number(s)


def boolean(cell: Any) -> float | Bad:
    """1.0 / 0.0 from TRUE/FALSE, はい/いいえ, 有/無, ○/×, 1/0."""
    if isinstance(cell, bool):
        return 1.0 if cell else 0.0
    s = text(cell).lower()
    if s in _TRUE:
        return 1.0
    if s in _FALSE:
        return 0.0
    return Bad("expected yes/no (TRUE/FALSE, はい/いいえ, 1/0)", "はい/いいえ（TRUE/FALSE、1/0）で入力してください")


def a_date(cell: Any) -> date | Bad:
    """A calendar date: 2025-04-01, 2025/4/1, 2025年4月1日 or an Excel date cell."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    s = text(cell)
    m = re.match(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$", s)
    if not m:
        return Bad("not a date (YYYY-MM-DD)", "日付ではありません（YYYY-MM-DD）")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return Bad("no such date", "存在しない日付です")


def _era_year(era: str, n: str) -> int:
    return _ERAS[era] + (1 if n == "元" else int(n))


_ERA = r"(令和|平成|R|H)(元|\d{1,2})"


@lru_cache(maxsize=4096)
def _period_text(s: str, freq: str) -> date | Bad:
    return _period(s, freq)


def period(cell: Any, freq: str) -> date | Bad:
    """The first day of the period a cell names, for a monthly, quarterly or fiscal_year KPI."""
    if type(cell) is str:
        return _period_text(cell, freq)  # a file repeats few distinct period spellings
    return _period(cell, freq)


def _period(cell: Any, freq: str) -> date | Bad:
    if isinstance(cell, datetime | date):
        d = cell.date() if isinstance(cell, datetime) else cell
        if d.day != 1:
            return Bad("a period is a month: give YYYY-MM, not a day", "期間は年月（YYYY-MM）で入力してください")
        return _fit(d.year, d.month, freq)
    s = text(cell).upper().replace(" ", "")
    if not s:
        return Bad("period is empty", "期間が空欄です")
    if isinstance(cell, int | float) and not isinstance(cell, bool) and freq == "fiscal_year" and 1900 < cell < 2200:
        return date(int(cell), 4, 1)
    fy = (re.match(r"^FY(\d{4})$", s) or re.match(r"^(\d{4})年度$", s) or re.match(r"^(\d{4})FY$", s))
    era_fy = re.match(rf"^{_ERA}年度$", s) or re.match(rf"^{_ERA}FY$", s)
    fq = re.match(r"^FY(\d{4})[-/]?Q([1-4])$", s) or re.match(r"^(\d{4})年度第([1-4])四半期$", s)
    cq = re.match(r"^(\d{4})[-/]?Q([1-4])$", s)
    ym = (re.match(r"^(\d{4})[-/.](\d{1,2})(?:[-/.]0?1)?$", s) or re.match(r"^(\d{4})年(\d{1,2})月(?:1日)?$", s)
          or re.match(r"^(\d{4})(\d{2})$", s))
    era_ym = re.match(rf"^{_ERA}[年.](\d{{1,2}})月?$", s)
    if fy or era_fy:
        year = int(fy[1]) if fy else _era_year(era_fy[1], era_fy[2])
        if freq != "fiscal_year":
            return _freq_bad(freq, s)
        return date(year, 4, 1)
    if fq:
        if freq != "quarterly":
            return _freq_bad(freq, s)
        month = 4 + 3 * (int(fq[2]) - 1)
        return date(int(fq[1]) + (month > 12), (month - 1) % 12 + 1, 1)
    if cq:
        if freq != "quarterly":
            return _freq_bad(freq, s)
        return date(int(cq[1]), 1 + 3 * (int(cq[2]) - 1), 1)
    if ym or era_ym:
        year, month = (int(ym[1]), int(ym[2])) if ym else (_era_year(era_ym[1], era_ym[2]), int(era_ym[3]))
        if not 1 <= month <= 12:
            return Bad("no such month", "存在しない月です")
        return _fit(year, month, freq)
    if re.match(r"^\d{4}$", s) and freq == "fiscal_year":
        return date(int(s), 4, 1)
    return Bad(f"not a period; write {_EXAMPLE[freq][0]}", f"期間として読めません。{_EXAMPLE[freq][1]} の形で入力してください")


_EXAMPLE = {
    "monthly": ("YYYY-MM (e.g. 2025-04)", "YYYY-MM（例: 2025-04）"),
    "quarterly": ("the quarter's first month YYYY-MM (e.g. 2025-04) or FY2025-Q1",
                  "四半期の初月 YYYY-MM（例: 2025-04）または 2025年度第1四半期"),
    "fiscal_year": ("FY2025 or 2025年度", "FY2025 または 2025年度（令和7年度）"),
}


def _freq_bad(freq: str, s: str) -> Bad:
    return Bad(f"period does not match the KPI's {freq.replace('_', '-')} frequency; write {_EXAMPLE[freq][0]}",
               f"期間がKPIの集計単位（{_FREQ_JA[freq]}）と合いません。{_EXAMPLE[freq][1]} の形で入力してください")


_FREQ_JA = {"monthly": "月次", "quarterly": "四半期", "fiscal_year": "年度"}


def _fit(year: int, month: int, freq: str) -> date | Bad:
    if not 1900 < year < 2200:
        return Bad("year out of range", "年が範囲外です")
    if freq == "monthly":
        return date(year, month, 1)
    if freq == "quarterly":
        if month % 3 != 1:
            return _freq_bad(freq, f"{year}-{month:02d}")
        return date(year, month, 1)
    if freq == "fiscal_year":
        if month != 4:
            return _freq_bad(freq, f"{year}-{month:02d}")
        return date(year, 4, 1)
    return Bad(f"unknown frequency {freq}", f"不明な集計単位 {freq}")


def period_label(d: date, freq: str) -> str:
    """How a stored period is written back: 2025-04, 2025-04 (FY2025 Q1) or FY2025."""
    if freq == "fiscal_year":
        return f"FY{d.year}"
    return f"{d.year}-{d.month:02d}"


def fiscal_year_start(today: date) -> date:
    """1 April of the fiscal year containing `today`."""
    return date(today.year if today.month >= 4 else today.year - 1, 4, 1)


def current_period(today: date, freq: str) -> date:
    """The period containing `today` (submissions for later periods are 'in the future')."""
    if freq == "fiscal_year":
        return fiscal_year_start(today)
    if freq == "quarterly":
        return date(today.year, today.month - (today.month - 1) % 3, 1)
    return date(today.year, today.month, 1)
