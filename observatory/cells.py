"""The one meaning of a cell in a Japanese government file, for collectors and submissions alike.

What a national system accepts, decided once (issue 13):
- numbers: full-width digits (１２３), thousands separators (1,234 / １，２３４), spaces, ▲ △ or (5) for negatives,
  a trailing 人/件/枚 on counts; exponents (1.5E-3) only in decimal numbers: a whole number written 1.23457E+11 is
  refused, because that is how Excel saves a long number it has rounded; formulas (=A1) are not values;
- yes/no: true/false, t/f, yes/no, y/n, on/off, 1/0, ○ 〇 ◯ / × ✕ x, はい/いいえ, 有/無, あり/なし, 可/不可;
- a dash alone (-, －, ―, ー ...) means "none / not applicable": never 0 and never "no" (`is_none_mark`);
- eras: 令和 (R), 平成 (H), 昭和 (S), 大正 (T), 明治 (M), 元年 = 1 (明治 from 明治6年: earlier dates are of the
  lunisolar calendar), within each era's span (平成 ended in 31, 昭和 in 64: 令和0年, 平成32年 or 昭和65年 are
  refused, naming the year meant) and, for a date or a month, within its days (平成 ended on 30 April 2019:
  平成31年5月1日 and 平成31年5月 are refused, 平成31年4月 is read; a month is read when any of its days is in the
  era, so 昭和64年1月 and 平成元年1月 are both January 1989); a fiscal year is read by its era year alone
  (平成31年度 is FY2019: a fiscal year is named before it starts, often before the new era's name is known), and
  平成's fiscal years go on past its end (平成32年度 is FY2020, as plans written before 令和 was named wrote it:
  calendar.FISCAL_YEARS_PAST_END);
- periods as YYYY-MM, YYYY/M, YYYYMM, 2025年4月, 令和7年4月, R7.4, FY2025, 2025年度, 令和7年度, FY2025-Q1,
  2025年度第1四半期 (per the KPI's frequency), or the month's first day;
- dates as YYYY-MM-DD, YYYY/M/D, 2025年4月1日, 令和7年4月1日 or a spreadsheet date; a timestamp with an offset or
  Z is dated in the workspace time zone (2025-03-31T15:30:00Z is 1 April in Tokyo), a naive one as written;
- timestamps as ISO 8601, or any of those dates alone or followed by a wall-clock time H:MM[:SS] (2025/4/1 9:05,
  as Japanese Excel writes a date-and-time cell into a CSV; 令和7年4月1日 9:05).

Every parser returns a value or a `Bad(reason_en, reason_ja)`; none raises on user input (collectors wrap them
to raise, submissions collect the reasons). Encodings are `observatory.encodings`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from observatory import calendar

ERA_ABBREVIATIONS = {abbreviation: era for era, _, abbreviation, _, _ in calendar.ERAS}  # R -> 令和
_ERA_SPANS = {era: (romanised, first, last) for era, romanised, _, first, last in calendar.ERAS}
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1", "○", "〇", "◯", "はい", "有", "あり", "可"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0", "×", "✕", "x", "いいえ", "無", "なし", "不可"})
NONE_MARKS = frozenset({"-", "‐", "‑", "‒", "–", "—", "―", "−", "ー", "ｰ"})  # after NFKC: － is -
COUNT_UNITS = ("人", "件", "枚")
MAX_EXACT_INTEGER = 2**53 - 1  # beyond this a DOUBLE no longer holds every whole number (inside BIGINT range)
FREQUENCIES = ("monthly", "quarterly", "fiscal_year")


@dataclass(frozen=True, slots=True)
class Bad:
    """Why a cell could not be read (English, Japanese)."""

    en: str
    ja: str

    def __str__(self) -> str:
        return f"{self.en} / {self.ja}"


# ------------------------------------------------------------------------------------------------ text


def text(cell: Any) -> str:
    """A cell as stripped text in NFKC form (full-width digits and letters become ASCII); a spreadsheet's whole
    float loses its '.0'; '' for None."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    s = cell if isinstance(cell, str) else str(cell)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    return s.strip()


# What a spreadsheet reads as the start of a formula (also after a tab or CR, and in full width, which Japanese
# Excel folds): a cell we write for users to open starting with one is escaped (`csv_safe`).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def csv_safe(value: Any) -> str:
    """A cell as written to a CSV or sheet users download, made inert: text a spreadsheet would run as a formula
    gets a leading apostrophe; a plain signed number (-3, +1.5) stays a number. The one escape of every download."""
    s = "" if value is None else str(value)
    if s.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(s):
        return "'" + s
    return s


# Characters nobody sees: C0 and C1 controls, and the format characters and separators that show as nothing (soft
# hyphen, zero-width space and joiners, direction marks and embeddings, line and paragraph separators, word joiner,
# the byte-order mark U+FEFF inside a cell). An identifier holding one looks like another and never matches it. One
# list, read by Python here and by DuckDB's regular expressions (RE2) as HIDDEN_RE2.
HIDDEN_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x61C, 0x61C), (0x180E, 0x180E), (0x200B, 0x200F),
                 (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB))
_HIDDEN = re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in HIDDEN_RANGES) + "]")
HIDDEN_RE2 = "[" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in HIDDEN_RANGES) + "]"


def shown(s: str) -> str:
    """`s` with every character nobody sees written as its escape (\\x1b, \\r, \\u200b): for a name or value we
    print (a receipt, a report line in a terminal) that must not carry a line break, a NUL or a terminal escape,
    and whose reader should see what is there."""
    return _HIDDEN.sub(lambda m: repr(m.group())[1:-1] if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", s)


def hidden_character(s: str) -> Bad | None:
    """Why a text cannot be an identifier because of a character in it nobody sees (named by its code point), or
    None."""
    found = _HIDDEN.search(s)
    if found is None:
        return None
    point = f"U+{ord(found.group()):04X}"
    return Bad(f"invisible or control character {point} in an identifier", f"識別子に見えない文字・制御文字（{point}）があります")


def is_blank(cell: Any) -> bool:
    """None or only white space."""
    return cell is None or (isinstance(cell, str) and cell.strip() == "")


# what a published table's notes under (or above) the data start with: ※ 注 (注) ＊ * 備考 出典 資料
NOTE_MARKS = ("※", "注", "(注", "*", "備考", "出典", "資料")


def is_note(cells: Iterable[Any]) -> bool:
    """A row that is a note, not data: one cell holding text that starts with a note mark (NOTE_MARKS, read in
    NFKC: ＊ and （注） too), every other cell blank (※ 交付枚数は速報値です。 under a table)."""
    filled = [c for c in cells if not is_blank(c)]
    return len(filled) == 1 and isinstance(filled[0], str) and text(filled[0]).startswith(NOTE_MARKS)


def is_none_mark(cell: Any) -> bool:
    """A dash alone: the table's way of saying "none / not applicable" (kept apart from 0 and from "no")."""
    return isinstance(cell, str) and text(cell) in NONE_MARKS


# --------------------------------------------------------------------------------------------- numbers

_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_NOT_A_NUMBER = Bad("not a number", "数値ではありません")
# thousands separators stand between groups of three digits (1,234,567.5): '1,2,3' or a decimal comma ('1,5')
# would otherwise be read as 123 or 15
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_SPACED_DIGITS = re.compile(r"\d +\d")  # (after NFKC: an ideographic space is a space)
_SPACE_GROUPED = re.compile(r"[+-]?\d{1,3}( \d{3})+(\.\d*)?")
_SPACED = Bad("digits parted by a space: one number or two? (a space may only group three digits: 1 234 567)",
              "数字の間に空白があります（1つの数値か2つの数値か判別できません）")
_MISGROUPED = Bad("commas must separate groups of three digits (1,234,567); a decimal comma is not read",
                  "桁区切りのカンマは3桁ごとに入れてください（小数点にカンマは使えません）")


def _number_lookalike(cell: Any) -> bool:
    """A character that NFKC turns into digits without being one (², ⑫, ㉑, ½): not a digit of a number."""
    return type(cell) is str and not cell.isascii() and any(
        any(c.isdigit() for c in unicodedata.normalize("NFKC", ch))
        for ch in cell if not ch.isascii() and not ch.isdecimal())


def number(cell: Any) -> float | Bad:
    """A number from 1,234 / １，２３４ / ▲5 / △5 / (5) / 1.5E-3; formulas and text are refused."""
    if type(cell) is str and cell.isascii():  # fast path: plain ASCII digits (and one dot), the common case
        plain = cell.strip()
        if "," in plain and _GROUPED.fullmatch(plain):
            plain = plain.replace(",", "")
        if plain.isdigit() or (plain.count(".") == 1 and plain.replace(".", "").isdigit()):
            return float(plain)
    if isinstance(cell, bool):
        return Bad("expected a number, got TRUE/FALSE", "数値ではありません（TRUE/FALSE）")
    if isinstance(cell, int | float):
        value = float(cell)
    else:
        s = text(cell)
        if _SPACED_DIGITS.search(s) and not _SPACE_GROUPED.fullmatch(s.strip(" ▲△()")):
            return _SPACED  # 3 5000000: one number or two? (a space groups three digits, 1 234 567, or nothing)
        if _number_lookalike(cell):
            return _NOT_A_NUMBER  # 10², ⑫: NFKC makes them 102 and 12
        s = s.replace(" ", "")
        if s.startswith(("=", "@")):
            return Bad("a formula is not a value; enter the number", "数式ではなく数値を入力してください")
        if s in NONE_MARKS:
            return Bad("'-' means none / not applicable, not a number", "「-」は該当なしの意味で、数値ではありません")
        neg = s.startswith(("▲", "△")) or (s.startswith("(") and s.endswith(")"))
        if neg:
            s = s.strip("▲△()")
        if "," in s:
            if not _GROUPED.fullmatch(s):
                return _MISGROUPED if _NUM.match(s.replace(",", "")) else _NOT_A_NUMBER
            s = s.replace(",", "")
        if not _NUM.match(s):
            return _NOT_A_NUMBER
        value = -float(s) if neg else float(s)
    if math.isnan(value) or math.isinf(value):
        return Bad("not a finite number", "有限の数値ではありません")
    return value


def integer(cell: Any) -> float | Bad:
    """A whole number (12, 12.0 from a spreadsheet, 1,234, 12件), with the notations of `number` except exponents."""
    if type(cell) is str and cell.isascii() and cell.strip().isdigit():  # fast path
        value = float(cell)
        return value if value <= MAX_EXACT_INTEGER else _out_of_range()
    if isinstance(cell, str):
        s = text(cell)
        if s.endswith(COUNT_UNITS):
            s = cell = s[:-1]  # its commas are checked by `number`
        if ("e" in s or "E" in s) and _NUM.match(s.replace(",", "")):
            return Bad("a whole number in exponent notation (1.2E+11) may have lost digits (Excel rounds long "
                       "numbers so); format the cell as a number", "指数表記の整数は桁が失われている可能性があります。"
                       "セルを数値の書式にしてください")
    value = number(cell)
    if isinstance(value, Bad):
        return value
    if not float(value).is_integer():
        return Bad("expected a whole number", "整数ではありません")
    if abs(value) > MAX_EXACT_INTEGER:  # stored as DOUBLE: beyond 2**53 a whole number is no longer exact
        return _out_of_range()
    return value


def _out_of_range() -> Bad:
    return Bad(f"whole number out of range (at most ±{MAX_EXACT_INTEGER:,})",
               f"整数が範囲外です（±{MAX_EXACT_INTEGER:,} まで）")


def count(cell: Any) -> int | Bad:
    """A non-negative whole number (cases, cards, people)."""
    value = integer(cell)
    if isinstance(value, Bad):
        return value
    if value < 0:
        return Bad("must not be negative", "負の値は不可")
    return int(value)


def percent(cell: Any, excel_percent_format: bool = False) -> float | Bad:
    """A percentage: '45.3', '45.3%', '４５．３％'; an Excel cell formatted as % holds 0.453 (45.3 with the flag)."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        value = number(cell)
        return round(value * 100.0, 9) if excel_percent_format and not isinstance(value, Bad) else value
    if type(cell) is str and cell.isascii():  # fast path: 45.6 or 45.6%
        plain = cell.strip().removesuffix("%").rstrip()
        if plain.isdigit() or (plain.count(".") == 1 and plain.replace(".", "").isdigit()):
            return float(plain)
    s = text(cell)
    if s.endswith("%"):
        s = s[:-1].strip()
    return number(s)


def percent_text(fraction: float) -> str:
    """A spreadsheet number formatted as a percentage, as the text it shows (and a CSV held): 0.888 -> '88.8%',
    0.72 -> '72%'. Excel turns a CSV's '88.8%' into 0.888 with a percent format when it re-saves it."""
    shown = f"{round(fraction * 100, 6):.6f}".rstrip("0").rstrip(".")
    return f"{shown}%"


# ---------------------------------------------------------------------------------------------- yes/no


def boolean(cell: Any) -> bool | Bad:
    """True/False from true/false, yes/no, on/off, 1/0, ○/×, はい/いいえ, 有/無, あり/なし, 可/不可."""
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and cell in (0, 1):
        return bool(cell)
    s = text(cell).lower()
    if s in TRUE_WORDS:
        return True
    if s in FALSE_WORDS:
        return False
    if s in NONE_MARKS:
        return Bad("'-' means none / not applicable, not yes or no", "「-」は該当なしの意味で、はい/いいえではありません")
    return Bad("expected yes/no (TRUE/FALSE, はい/いいえ, ○/×, 1/0)", "はい/いいえ（TRUE/FALSE、○/×、1/0）で入力してください")


# ------------------------------------------------------------------------------------- eras and periods

_ERA = rf"({'|'.join([*_ERA_SPANS, *ERA_ABBREVIATIONS])})(元|\d{{1,2}})"  # an era (the calendar's) and its year
_ERA_YM = re.compile(rf"(?<![A-Za-z]){_ERA}\s*年\s*(\d{{1,2}})\s*月")  # in a text: ITEM25年 is not 明治25年
_WESTERN_YM = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月")


def era_year(era: str, year: str, *, fiscal_year: bool = False) -> int | Bad:
    """Western year of an era year: ('令和', '元') -> 2019, ('令和', '8') -> 2026, ('H', '30') -> 2018. A year the
    era never had (令和0年, 平成32年, 昭和65年) is refused, naming the era's span and the Western year it would be;
    of a `fiscal_year`, a year past the end of an era whose fiscal years went on (calendar.FISCAL_YEARS_PAST_END:
    平成32年度 is FY2020) is read."""
    n = 1 if year == "元" else int(year)
    name = ERA_ABBREVIATIONS.get(era, era)
    _, first_day, last_day = _ERA_SPANS[name]
    first, last = first_day.year, None if last_day is None else last_day.year - first_day.year + 1
    past_end = fiscal_year and name in calendar.FISCAL_YEARS_PAST_END
    if n >= 1 and (last is None or n <= last or past_end):
        return first + n - 1 if first + n - 1 >= calendar.GREGORIAN_FROM.year else _before_gregorian(name, n)
    meant = first + n - 1
    named = calendar.era_of(meant)
    if last is None:
        span_en, span_ja = f"it runs from year 1 (元年, {first})", f"{name}は元年（{first}年）からです"
    else:
        span_en = f"it ran from year 1 (元年) to {last} ({first}-{first + last - 1})"
        span_ja = f"{name}は元年〜{last}年（{first}〜{first + last - 1}年）です"
    return _did_you_mean(name, (f"year {n}", f"{name}{n}年"), (span_en, span_ja), (str(meant), f"{meant}年"), named)


def _did_you_mean(era: str, written: tuple[str, str], span: tuple[str, str], meant: tuple[str, str],
                  named: str | None) -> Bad:
    """An era year or date the era never had, in English and Japanese: what was written, the era's span, the
    Western year or date meant and, when there is one, how the era of that time writes it."""
    return Bad(f"no {written[0]} in {era} ({_ERA_SPANS[era][0]}): {span[0]}; did you mean {meant[0]}"
               + (f" ({named})?" if named else "?"),
               f"{written[1]}はありません。{span[1]}。{meant[1]}" + (f"（{named}）" if named else "") + "のことですか")


def _before_gregorian(era: str, n: int) -> Bad:
    since, written = calendar.GREGORIAN_FROM, calendar.era_year_text(era, n)
    adopted, year = calendar.era_date(since), _ERA_SPANS[era][1].year + n - 1
    return Bad(f"{written} ({year}) is before Japan adopted the Gregorian calendar on {adopted} ({since.isoformat()}): "
               "its dates are lunisolar and are not read",
               f"{written}（{year}年）は太陽暦の採用（{adopted}）より前です。旧暦の日付は読めません")


def outside_era(era: str, day: date, *, whole_month: bool = False) -> Bad | None:
    """Why an era date lies outside its era's days (平成31年5月1日: 平成 ended on 30 April 2019; 令和元年4月30日:
    令和 began on 1 May), naming the era's first and last day and the date meant; None inside. `day` is the date
    the era year was read as (`era_year`). With `whole_month`, `day` is the first of a month, read when any of its
    days is in the era: 昭和64年1月 and 平成元年1月 are both January 1989."""
    name = ERA_ABBREVIATIONS.get(era, era)
    _, first, last = _ERA_SPANS[name]
    end = calendar.add_months(day, 1) - timedelta(days=1) if whole_month else day
    if first <= end and (last is None or day <= last):
        return None
    written = f"{calendar.era_year_text(name, day.year - first.year + 1)}{day.month}月"
    written += "" if whole_month else f"{day.day}日"
    meant_en = f"{day:%Y-%m}" if whole_month else day.isoformat()
    meant_ja = f"{day.year}年{day.month}月" + ("" if whole_month else f"{day.day}日")
    named = calendar.era_date(day, month=whole_month)
    if last is None:
        span_en, span_ja = f"it began on {first.isoformat()}", f"{name}は{_ja_date(first)}からです"
    else:
        span_en = f"it ran from {first.isoformat()} to {last.isoformat()}"
        span_ja = f"{name}は{_ja_date(first)}〜{_ja_date(last)}です"
    return _did_you_mean(name, (written, written), (span_en, span_ja), (meant_en, meant_ja), named)


def _ja_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _era_year_month(m: re.Match[str]) -> tuple[int, int] | Bad | None:
    year, month = era_year(m.group(1), m.group(2)), int(m.group(3))
    if isinstance(year, Bad) or not 1 <= month <= 12:
        return year if isinstance(year, Bad) else None
    return outside_era(m.group(1), date(year, month, 1), whole_month=True) or (year, month)


def find_year_month(title: Any) -> tuple[int, int] | Bad | None:
    """(year, month) named inside a text such as 'マイナンバーカード交付状況（令和８年１０月末時点）'; a year the era
    never had, or a month outside the era's days (平成31年5月), is a Bad."""
    folded = text(title)
    m = _ERA_YM.search(folded)
    if m:
        return _era_year_month(m)
    m = _WESTERN_YM.search(folded)
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    return (year, month) if 1 <= month <= 12 else None


def months_named(title: Any) -> list[tuple[int, int] | Bad]:
    """Every (year, month) named inside a text, in the order written ('人口（令和5年1月1日時点）、保有枚数（令和5年3月末
    時点）' names two), each as `find_year_month` reads it."""
    return [named for _, _, named in _month_matches(text(title)) if named is not None]


def _month_matches(folded: str) -> list[tuple[int, int, tuple[int, int] | Bad | None]]:
    """(start, end, what it names) of every era or Western year and month in a folded text, in the order written."""
    found = [(m.start(), m.end(), _era_year_month(m)) for m in _ERA_YM.finditer(folded)]
    found += [(m.start(), m.end(), (int(m.group(1)), int(m.group(2)))) for m in _WESTERN_YM.finditer(folded)
              if 1 <= int(m.group(2)) <= 12]
    return sorted(found, key=lambda f: f[0])


_DAY_AFTER = re.compile(r"\s*(\d{1,2})\s*日")
_END_AFTER = re.compile(r"\s*(末|下旬)")


def days_named(title: Any) -> list[tuple[int, int, int | None]]:
    """What a text says of the day of each month it names (`months_named`), in the order written: (year, month,
    day) when the day is written ('令和5年4月23日時点'), (year, month, None) when its end is ('令和5年3月末'); a
    month named with neither says nothing."""
    folded = text(title)
    found: list[tuple[int, int, int | None]] = []
    for _, end, ym in _month_matches(folded):
        if ym is None or isinstance(ym, Bad):
            continue
        if _END_AFTER.match(folded, end):
            found.append((*ym, None))
        elif (d := _DAY_AFTER.match(folded, end)) is not None:
            try:
                found.append((*ym, date(*ym, int(d.group(1))).day))
            except ValueError:  # 2月30日: not a day
                continue
    return found


_EXAMPLE = {
    "monthly": ("YYYY-MM (e.g. 2025-04)", "YYYY-MM（例: 2025-04）"),
    "quarterly": ("the quarter's first month YYYY-MM (e.g. 2025-04) or FY2025-Q1",
                  "四半期の初月 YYYY-MM（例: 2025-04）または 2025年度第1四半期"),
    "fiscal_year": ("FY2025 or 2025年度", "FY2025 または 2025年度（令和7年度）"),
}
_FREQ_JA = {"monthly": "月次", "quarterly": "四半期", "fiscal_year": "年度"}
_MONTH_SUFFIX = re.compile(r"(末時点|末現在|末|分|時点)$")


def period(cell: Any, freq: str = "monthly") -> date | Bad:
    """The first day of the period a cell names, for a monthly, quarterly or fiscal_year figure."""
    if type(cell) is str:
        return _period_text(cell, freq)  # a file repeats few distinct period spellings
    return _period(cell, freq)


@lru_cache(maxsize=4096)
def _period_text(s: str, freq: str) -> date | Bad:
    return _period(s, freq)


def _period(cell: Any, freq: str) -> date | Bad:
    if isinstance(cell, datetime | date):
        d = cell.date() if isinstance(cell, datetime) else cell
        if d.day != 1:
            return Bad("a period is a month: give YYYY-MM, not a day", "期間は年月（YYYY-MM）で入力してください")
        return _fit(d.year, d.month, freq)
    if isinstance(cell, float) and cell.is_integer() is False:
        # a spreadsheet keeps '2025.10' typed in a number cell as 2025.1: October and January are one number
        return Bad("a period written as a decimal number is ambiguous (2025.10 is stored as 2025.1); format the "
                   "cell as text or write YYYY-MM", "小数の数値で書かれた期間は読めません（2025.10は2025.1として保存されます）。"
                   "セルを文字列の書式にするか YYYY-MM の形で入力してください")
    s = text(cell).upper().replace(" ", "").replace("\u3000", "")
    if not s:
        return Bad("period is empty", "期間が空欄です")
    if isinstance(cell, int | float) and not isinstance(cell, bool) and freq == "fiscal_year" and 1900 < cell < 2200:
        return date(int(cell), 4, 1)
    s = _MONTH_SUFFIX.sub("", s) if "月" in s else s
    fy = (re.match(r"^FY(\d{4})$", s) or re.match(r"^(\d{4})年度$", s) or re.match(r"^(\d{4})FY$", s))
    era_fy = re.match(rf"^{_ERA}年度$", s) or re.match(rf"^{_ERA}FY$", s)
    fq = re.match(r"^FY(\d{4})[-/]?Q([1-4])$", s) or re.match(r"^(\d{4})年度第([1-4])四半期$", s)
    cq = re.match(r"^(\d{4})[-/]?Q([1-4])$", s)
    ym = (re.match(r"^(\d{4})[-/.](\d{1,2})(?:[-/.]0?1)?$", s) or re.match(r"^(\d{4})年(\d{1,2})月(?:1日)?$", s)
          or re.match(r"^(\d{4})(\d{2})$", s))
    era_ym = re.match(rf"^{_ERA}[年.](\d{{1,2}})月?(?:1日)?$", s)
    if fy or era_fy:
        year = int(fy[1]) if fy else era_year(era_fy[1], era_fy[2], fiscal_year=True)
        if isinstance(year, Bad):
            return year
        if freq != "fiscal_year":
            return _freq_bad(freq)
        return date(year, 4, 1)
    if fq:
        if freq != "quarterly":
            return _freq_bad(freq)
        month = 4 + 3 * (int(fq[2]) - 1)
        return date(int(fq[1]) + (month > 12), (month - 1) % 12 + 1, 1)
    if cq:
        if freq != "quarterly":
            return _freq_bad(freq)
        return date(int(cq[1]), 1 + 3 * (int(cq[2]) - 1), 1)
    if ym or era_ym:
        year, month = (int(ym[1]), int(ym[2])) if ym else (era_year(era_ym[1], era_ym[2]), int(era_ym[3]))
        if isinstance(year, Bad):
            return year
        if not 1 <= month <= 12:
            return Bad("no such month (1-12)", "存在しない月です（1〜12）")
        if era_ym and (outside := outside_era(era_ym[1], date(year, month, 1), whole_month=True)):
            return outside
        return _fit(year, month, freq)
    if re.match(r"^\d{4}$", s) and freq == "fiscal_year":
        return date(int(s), 4, 1)
    if re.match(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$", s):
        return Bad("a period is a month: give YYYY-MM, not a day", "期間は年月（YYYY-MM）で入力してください")
    return Bad(f"not a period; write {_EXAMPLE.get(freq, _EXAMPLE['monthly'])[0]}",
               f"期間として読めません。{_EXAMPLE.get(freq, _EXAMPLE['monthly'])[1]} の形で入力してください")


def _freq_bad(freq: str) -> Bad:
    return Bad(f"period does not match the KPI's {freq.replace('_', '-')} frequency; write {_EXAMPLE[freq][0]}",
               f"期間がKPIの集計単位（{_FREQ_JA[freq]}）と合いません。{_EXAMPLE[freq][1]} の形で入力してください")


def _fit(year: int, month: int, freq: str) -> date | Bad:
    if not 1900 < year < 2200:
        return Bad("year out of range", "年が範囲外です")
    if freq == "monthly":
        return date(year, month, 1)
    if freq == "quarterly":
        return date(year, month, 1) if month % 3 == 1 else _freq_bad(freq)
    if freq == "fiscal_year":
        return date(year, 4, 1) if month == 4 else _freq_bad(freq)
    return Bad(f"unknown frequency {freq}", f"不明な集計単位 {freq}")


def period_label(d: date, freq: str) -> str:
    """How a stored period is written back: 2025-04 or FY2025."""
    if freq == "fiscal_year":
        return f"FY{d.year}"
    return f"{d.year}-{d.month:02d}"


def fiscal_year_start(today: date) -> date:
    """1 April of the fiscal year containing `today` (the one calendar's rule)."""
    return calendar.fiscal_year_start(calendar.fiscal_year_of(today))


def current_period(today: date, freq: str) -> date:
    """The period containing `today` (figures for later periods are 'in the future')."""
    if freq == "fiscal_year":
        return fiscal_year_start(today)
    if freq == "quarterly":
        return date(today.year, today.month - (today.month - 1) % 3, 1)
    return date(today.year, today.month, 1)


# ---------------------------------------------------------------------------------------- dates and times

_NOT_A_DATE = Bad("not a date (YYYY-MM-DD)", "日付（YYYY-MM-DD）ではありません")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_CLOCK = re.compile(r"^(\d{1,2})[:時](\d{1,2})(?:[:分](\d{1,2})(\.\d{1,6})?秒?|分)?$")  # 9:05, 09:05:30, 9時5分
_ERA_DATE = re.compile(rf"^{_ERA}[年.](\d{{1,2}})[月.](\d{{1,2}})日?$")


def a_date(cell: Any, timezone: str = calendar.DEFAULT_TIMEZONE) -> date | Bad:
    """A calendar date: 2025-04-01, 2025/4/1, 2025.4.1, 2025年4月1日, 令和7年4月1日, R7.4.1, an ISO timestamp's
    date or a spreadsheet date. A timestamp with an offset or Z is an instant: its date is the one in `timezone`
    (the workspace's), so 2025-03-31T15:30:00Z is 1 April in Tokyo; a naive one is already local."""
    if isinstance(cell, datetime):
        return cell.date() if cell.tzinfo is None else calendar.local_date(cell, timezone)
    if isinstance(cell, date):
        return cell
    s = text(cell)
    if len(s) > 10 and s[10:11] in ("T", "t", " ") and _DATE.match(s[:10]):
        instant = timestamp(s, timezone, require_offset=True)
        if not isinstance(instant, Bad):
            return calendar.local_date(instant, timezone)
        if instant is not _NEEDS_OFFSET:
            return instant  # a timestamp that is none (2025-04-01T25:00): not a date either
        s = s[:10]  # the date of a naive ISO timestamp, as written
    day_text, _, clock = s.partition(" ")
    if clock and isinstance(_clock(clock), time):
        s = day_text  # the date of a spreadsheet's date-and-time (2025/4/1 9:05), as written
    s = s.replace(" ", "")
    if len(s) == 8 and s.isdigit():
        s = f"{s[:4]}-{s[4:6]}-{s[6:]}"  # YYYYMMDD
    m = _DATE.match(s)
    era = None if m else _ERA_DATE.match(s.upper())
    if not m and not era:
        return _NOT_A_DATE
    year, month, day = ((int(m[1]), int(m[2]), int(m[3])) if m
                        else (era_year(era[1], era[2]), int(era[3]), int(era[4])))
    if isinstance(year, Bad):
        return year
    try:
        d = date(year, month, day)
    except ValueError:
        return Bad("no such date", "存在しない日付です")
    return (era and outside_era(era[1], d)) or d


def timestamp(cell: Any, timezone: str, *, require_offset: bool = False) -> datetime | Bad:
    """An aware timestamp in UTC; a naive one (or a bare date) is read in `timezone` unless an offset is required."""
    if isinstance(cell, datetime):
        ts = cell
    elif isinstance(cell, date):
        ts = datetime.combine(cell, time())
    else:
        s = text(cell).replace("/", "-")
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            ts = datetime.fromisoformat(s)
        except ValueError:
            if s[10:11] in ("T", "t"):  # ISO 8601's shape with no such time or offset (T25:00, +25:00)
                return _NOT_A_TIMESTAMP
            ts = _date_and_clock(s)
            if isinstance(ts, Bad):
                return ts
        if ts.tzinfo is not None and (bad := _bad_offset(s)):
            return bad
    if ts.tzinfo is None:
        if require_offset:
            return _NEEDS_OFFSET
        ts = ts.replace(tzinfo=ZoneInfo(timezone))
    if not MIN_YEAR <= ts.year < MAX_YEAR:
        return _OUT_OF_RANGE
    return ts.astimezone(UTC)


# An instant's year as the access log bounds it (a year-1 date is a typing error, and its UTC overflows), and its
# UTC offset as people write one: minutes under 60 (Python reads +09:99 as +10:39), at most 14 hours.
MIN_YEAR, MAX_YEAR = 1900, 2200
MAX_OFFSET_HOURS = 14
_NEEDS_OFFSET = Bad("timestamp needs a UTC offset such as +09:00", "時差（+09:00等）が必要です")
_OUT_OF_RANGE = Bad(f"year outside {MIN_YEAR}-{MAX_YEAR - 1}", f"{MIN_YEAR}〜{MAX_YEAR - 1}年の範囲外です")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})(?::?\d{2}(?:\.\d+)?)?$")


def _bad_offset(s: str) -> Bad | None:
    m = _OFFSET.search(s)
    if m and (int(m[3]) > 59 or int(m[2]) * 60 + int(m[3]) > MAX_OFFSET_HOURS * 60):
        return Bad(f"no such UTC offset ({m[0]})", f"存在しない時差です（{m[0]}）")
    return None


_NOT_A_TIMESTAMP = Bad("not a date and time (ISO 8601, or 2025/4/1 9:05)", "日時（ISO 8601 または 2025/4/1 9:05 の形）ではありません")


def _clock(s: str) -> time | Bad:
    """A wall-clock time as people and spreadsheets write it: 9:05, 09:05:30, 9時5分."""
    m = _CLOCK.match(s.strip())
    if not m:
        return _NOT_A_TIMESTAMP
    try:
        return time(int(m[1]), int(m[2]), int(m[3] or 0), int(float(m[4] or 0) * 1_000_000))
    except ValueError:
        return Bad("no such time of day", "存在しない時刻です")


def _date_and_clock(s: str) -> datetime | Bad:
    """A naive timestamp that is not ISO 8601: a date as `a_date` reads it (2025/4/1, 令和7年4月1日, R7.4.1),
    alone (midnight) or followed by a space and a wall-clock time (Japanese Excel writes 2025/4/1 9:05)."""
    day_text, _, clock = s.partition(" ")
    day = a_date(day_text)
    if isinstance(day, Bad):
        return _NOT_A_TIMESTAMP if day is _NOT_A_DATE else day
    at = _clock(clock) if clock.strip() else time()
    return at if isinstance(at, Bad) else datetime.combine(day, at)


def identifier(cell: Any) -> str | Bad:
    """A code or identifier: NFKC-folded text; a spreadsheet number loses its '.0'. Nothing but spaces is missing,
    and a character nobody sees (a BOM or zero-width space inside the cell, a control) refuses it
    (`hidden_character`)."""
    s = text(cell)
    if not s:
        return Bad("value missing", "値がありません")
    return hidden_character(s) or s
