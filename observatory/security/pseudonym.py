"""Individual Numbers (個人番号) are never stored in clear: one finder, one pseudonym, one masking rule.

`individual_numbers` finds 12-digit numbers with a valid check digit in any cell after normalisation (NFKC, so
full-width digits and hyphens become ASCII, and kanji digits read as digits; spaces, hyphens, dots and similar
separators). `protect` is what
every loader calls for every cell: in a person-key column (PERSON_COLUMNS) the cell becomes the keyed pseudonym
of the number, anywhere else it is refused with the column named and the value masked. The bulk access-log path
pre-filters in DuckDB with PREFILTER_SQL (RE2, a superset of what `individual_numbers` finds) and calls the
same functions on the distinct candidates only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from decimal import Decimal
from functools import cache
from typing import Any

from observatory.reference.codes import my_number_check_digit

PREFIX = "p:"
PERSON_COLUMNS = frozenset({"subject_id", "staff_id"})  # columns holding a person key: numbers become pseudonyms
# columns holding a record's key (an event, a case, a terminal). In them digits written together with Latin letters in
# one token (EV202611020009, C-2026-1102-0009, a UUID's last group) are the key's serial, not an Individual Number: a
# date and serial passes the check digit one time in eleven, so a log keyed that way was refused whole. A key that is a
# number, alone or with separators, or a number standing apart in it (between spaces) is one, and refused as before.
RECORD_KEY_COLUMNS = frozenset({"event_id", "case_id", "terminal_id"})
_NOT_SPACE = r"[^ \t\n\r\f\v\x1c-\x1f]"  # (what str.isspace calls a space among ASCII, in Python and RE2 alike)
_LETTERED_TOKEN = re.compile(rf"{_NOT_SPACE}*[A-Za-z\uff21-\uff3a\uff41-\uff5a]{_NOT_SPACE}*")
# the same for RE2 on ASCII text (the bulk access-log path's pre-filter: a value that is not ASCII is read in Python)
LETTERED_TOKEN_RE2 = f"{_NOT_SPACE}*[A-Za-z]{_NOT_SPACE}*"
# separators people write inside a number (after NFKC): spaces, hyphens and dashes, dots, long vowel mark, middle dots
# (・ ･ and the Latin ·), bullets and hyphenation points (• ‧ ⁃), and the invisible ones a copy from a web page or a
# chat carries (zero-width space and joiners, word joiner, BOM, soft hyphen, the direction marks and embeddings, the
# invisible operators; and a keycap's variation selector and enclosing mark: 1️⃣9️⃣9️⃣ is digits each with two)
# (and slashes and underscores: 1234/5678/9018, 1234_5678_9018, as a form or a file name writes it)
_VISIBLE_SEP = r"\-./_\u2010-\u2015\u2212\u30fc\u30fb\uff65\u00b7\u2022\u2027\u2043"
_SEP = (rf"[\s{_VISIBLE_SEP}\u200b-\u200f\u2060-\u2064\u202a-\u202e\u2066-\u2069\ufeff\u00ad\ufe0e\ufe0f"
        r"\u20e3]")
_SEP_CHARS = re.compile(_SEP)
# embedded in text: 12 digits in a row, or three groups of four (1993-5181-9090, 1993 5181 9090)
# Twelve digits in a row are a number even when a space parts them from another number ("No.1 199351819090", cells
# joined by a space), but not when a hyphen or dot joins them to one: EV-20261001-000000012345 is an identifier's
# serial, and reading it as a number (one in ten passes the check digit) would refuse whole access logs. The
# grouped form must stand apart from other digits, so that a longer grouped number is not read as one.
_JOINER = rf"[{_VISIBLE_SEP}]"  # _SEP without the spaces and the invisible ones
_EMBEDDED = re.compile(
    rf"(?<![0-9])(?:(?<![0-9]{_JOINER})[0-9]{{12}}(?![0-9])(?!{_JOINER}[0-9])"
    rf"|(?<![0-9]{_SEP})[0-9]{{4}}{_SEP}{{1,3}}[0-9]{{4}}{_SEP}{{1,3}}[0-9]{{4}}(?!{_SEP}{{0,3}}[0-9]))")
_ONLY_NUMBER = re.compile(rf"^(?:{_SEP}*[0-9]){{12}}{_SEP}*$")  # a whole cell: 12 digits and separators only
# hashes and pseudonyms (p:<32 hex>, SHA-256) are long lowercase hex runs: their digits are not numbers
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32,}(?![0-9A-Za-z])")
_DECIMAL = re.compile(r"^\s*[0-9]+\.[0-9]+\s*$")  # 1.23456789012 is a number, not an Individual Number
# A whole cell holding a number as a spreadsheet or a program writes one: thousands separators (123,456,789,018 from
# a #,##0 column), a zero fraction (123456789018.0 from a float column) or an exponent with every digit
# (1.23456789018E+11, Excel's scientific text): the number it is, read as an integer.
_SCIENTIFIC = r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]{1,2}"  # Excel's scientific text: 1.99351819090E+11, 1.00000004E+11
_WRITTEN_NUMBER = re.compile(rf"^\s*(?:[0-9]{{1,3}}(?:,[0-9]{{3}})+(?:\.0+)?|[0-9]+\.0+|{_SCIENTIFIC})\s*$")


def _written_number(s: str) -> str | None:
    """The integer's digits when the whole cell is a number in one of those spellings, else None."""
    if not _WRITTEN_NUMBER.match(s):
        return None
    s = s.strip()
    if "e" not in s.lower():  # thousands or a zero fraction: the digits as written (a leading zero kept)
        return s.split(".")[0].replace(",", "")
    value = Decimal(s)
    return str(int(value)) if value == value.to_integral_value() else None


# Digits written as kanji, a character each (一九九三 五一八一 九〇九〇, as a vertical form, a careful hand or a
# speech-to-text tool writes a number; zero as 〇, as ○ or ◯ that input methods offer for it, or as 零): NFKC leaves
# them as they are, so the finder folds them itself, one to one, after NFKC. Positional numerals (十, 百, 千, 万) are
# not digits: 二千二十六 is no run of digits, and a run of twelve kanji digits is a number written digit by digit.
KANJI_DIGITS = {"〇": "0", "○": "0", "◯": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
                "六": "6", "七": "7", "八": "8", "九": "9"}
_KANJI = "".join(KANJI_DIGITS)
# ... and the dingbats' circled digits (❶ ➀ ➊, ⓿), which NFKC leaves too, unlike ① (their ten, ❿, is left out: a
# fold of one character to two would move the positions after it)
DINGBAT_DIGITS = {"\u24ff": "0", **{chr(base + i): str(i + 1) for base in (0x2776, 0x2780, 0x278A) for i in range(9)}}
# (both: the digits NFKC leaves, which the finder folds itself)
OTHER_DIGITS = {**KANJI_DIGITS, **DINGBAT_DIGITS}
_OTHER_DIGIT = re.compile("[" + "".join(OTHER_DIGITS) + "]")


def normal_form(text: str) -> str:
    """The text as the finder reads it: NFKC, then kanji and dingbat digits as ASCII ones (one character for one,
    so positions in it are those of the NFKC text). (A text already in it is returned as it is, cheaply: a long
    text is read in it once and may be handed on.)"""
    if text.isascii():
        return text
    s = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    return _OTHER_DIGIT.sub(lambda m: OTHER_DIGITS[m.group(0)], s)


# RE2 (DuckDB) pre-filter: twelve digits (ASCII or full-width) with at most three other characters between them, or
# a cell of exactly twelve digits whatever stands between them (_ONLY_NUMBER takes any run of separators: a record
# key whose lettered token is blanked out, 2026  EV7939 0000 0006, leaves four spaces between two groups)
# A whole cell in scientific text is a candidate too: with trailing zeros it writes fewer than twelve digits
# (100000004000 is 1.00000004E+11), and in a record key its letter blanks the whole token (SCIENTIFIC_SQL: the bulk
# path reads such a key on the raw value, as the finder reads a written number before it blanks lettered tokens).
# (padded with anything but digits: the finder strips whatever the fold makes a space, the ideographic one too, and
# RE2's \s is ASCII's and lacks \v and \x1c-\x1f)
# (digits: ASCII, full-width, kanji and the dingbats')
_D_SQL = "0-9０-９" + "".join(OTHER_DIGITS)
SCIENTIFIC_SQL = f"^[^{_D_SQL}]*{_SCIENTIFIC}[^{_D_SQL}]*$"
PREFILTER_SQL = (f"[{_D_SQL}](?:[^{_D_SQL}]{{0,3}}[{_D_SQL}]){{11}}|^[^{_D_SQL}]*(?:[{_D_SQL}][^{_D_SQL}]*){{12}}$|"
                 + SCIENTIFIC_SQL)
# a whole row at once (cells joined by a character that is neither a digit nor a separator): twelve digits with only
# separators between them, a superset of what _EMBEDDED, _ONLY_NUMBER and _WRITTEN_NUMBER find in any one cell
_ROW_JOIN = "\x01"
# (and thousands separators, and a whole cell in scientific text: _WRITTEN_NUMBER)
_ROW_CANDIDATE = re.compile(rf"[0-9](?:(?:{_SEP}|,)*[0-9]){{11}}|(?:^|{_ROW_JOIN})\s*{_SCIENTIFIC}\s*(?:{_ROW_JOIN}|$)")


class IndividualNumberFound(ValueError):
    """An Individual Number in a column that must not hold one; the message masks it."""

    def __init__(self, column: str | None, value: Any) -> None:
        self.column = column
        self.masked = mask(value)
        super().__init__(
            f"an Individual Number (個人番号) is not allowed in this column (value {self.masked!r}); the file is "
            "refused / この列に個人番号を含めることはできません（ファイルを受け付けません）")


def pseudonymise(value: str, key: str) -> str:
    """A stable keyed hash (HMAC-SHA-256, 32 hex digits) of a personal identifier."""
    digest = hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:32]


def _valid(digits: str) -> bool:
    return len(digits) == 12 and digits.isascii() and digits.isdigit() and \
        my_number_check_digit(digits[:11]) == int(digits[11])


# Characters that NFKC may turn into ASCII digits: digits, full-width digits, super/subscripts, fractions, number
# forms, enclosed and parenthesised numbers, CJK compatibility (㉑, ㏠), mathematical and segmented digits; and the
# kanji digits (KANJI_DIGITS), which the finder folds after NFKC. Each gives
# at most three digits (⅒ = 1⁄10), so a cell with fewer than four of them cannot hold twelve: most long Japanese
# texts skip NFKC entirely. tests/security/test_pseudonym_prefilter.py checks every code point against this class.
_NFKC_DIGITS = ("0-9\u00b2\u00b3\u00b9\u00bc-\u00be\u2070-\u209f\u2150-\u218b\u2460-\u24ff\u2776-\u2793\u3200-\u33ff"
                "\uff10-\uff19\U0001d7ce-\U0001d7ff\U0001f100-\U0001f10c\U0001fbf0-\U0001fbf9")
DIGIT_LIKE = re.compile(f"[{_NFKC_DIGITS}{_KANJI}]")
_NFKC_DIGIT_LIKE = re.compile(f"[{_NFKC_DIGITS}]")
DIGITS_PER_CHARACTER = 3


def _could_hold_a_number(s: str) -> bool:
    """A cheap test before NFKC on a non-ASCII text: enough characters that may become twelve digits, or a kanji
    digit in a run of digits (`_kanji_in_a_run`: kanji digits are common in words, 一般, 第三, and only a run of
    them, or one beside other digits, can be part of a number)."""
    return _enough_nfkc_digits(s) or _kanji_in_a_run(s)


def _enough_nfkc_digits(s: str) -> bool:
    needed = -(-12 // DIGITS_PER_CHARACTER)
    found = 0
    for _ in _NFKC_DIGIT_LIKE.finditer(s):
        found += 1
        if found >= needed:
            return True
    return False


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    s = value if isinstance(value, str) else str(value)
    if not long_enough(s):
        return None
    if s.isascii():
        return s
    return s.translate(_fold_table()) if _could_hold_a_number(s) else None


def _kanji_in_a_run(s: str) -> bool:
    """Whether a kanji digit is joined to another digit of any kind (DIGIT_LIKE) by nothing or by what may join
    the digits of a number once folded: separators (_SEP, or characters the fold table makes separators),
    thousands commas, an exponent's E and +. A kanji digit that is not is no part of a number the finder could
    read. (The digit after the kanji one in the text, then in the text reversed: a pattern that starts with the
    few kanji is a quick scan, one that starts with every digit-like character is not.)"""
    after = _kanji_then_digit()
    return after.search(s) is not None or after.search(s[::-1]) is not None


@cache
def _kanji_then_digit() -> re.Pattern[str]:
    joins = [cp for cp, n in _fold_table().items() if not any("0" <= ch <= "9" for ch in n)]
    return re.compile(f"[{_KANJI}](?:{_SEP}|[,eE+]|{_char_class(joins)})*{DIGIT_LIKE.pattern}")


def long_enough(text: str) -> bool:
    """Whether a text has characters enough to write an Individual Number: twelve, or four that are not ASCII
    (NFKC gives up to DIGITS_PER_CHARACTER digits for one character: ㉕㊼㊹⑱㉝㊿ is twelve digits in six). The finder
    reads no shorter text, and whoever skips the finder on short texts asks this."""
    return len(text) >= 12 or (len(text) * DIGITS_PER_CHARACTER >= 12 and not text.isascii())


@cache
def _fold_table() -> dict[int, str]:
    """NFKC for just the characters that become digits or separators (full-width ０-９, －, ．, the ideographic
    space, ⑫ ...), and the kanji and dingbat digits: what the finder needs of `normal_form`, applied with str.translate at C
    speed (NFKC of a whole long text was most of an inventory load). Built once per process from unicodedata
    (~0.1 s)."""
    table: dict[int, str] = {}
    for cp in range(0x80, 0x20000):
        c = chr(cp)
        n = unicodedata.normalize("NFKC", c)
        if n != c and (any("0" <= ch <= "9" for ch in n) or _SEP_CHARS.search(n)):
            table[cp] = n
    table.update(str.maketrans(OTHER_DIGITS))
    return table


def none_in(cells: list[Any]) -> bool:
    """True when no cell of the list can hold an Individual Number or a NUL character (one scan of the row instead
    of one finder call per cell; a False only means: look cell by cell). Each cell is read as the finder reads it
    (`_text`: an integral float as its integer, anything else but None and booleans as its text); the cells are
    folded as `_text` folds them, character by character, so joining them changes nothing."""
    texts = [c for c in cells if type(c) is str]
    for c in cells:
        if type(c) is str or c is None or isinstance(c, bool):
            continue
        if isinstance(c, float):  # an integral float as its integer (_text), any other as nothing
            if c.is_integer():
                texts.append(str(int(c)))
        else:  # an int, a str subclass, a Decimal or a NumPy integer: as the finder reads it (str())
            texts.append(str(c))
    joined = _ROW_JOIN.join(texts)
    if "\x00" in joined:
        return False
    if not joined.isascii() and (_foldable().search(joined) or _kanji_in_a_run(joined)):
        joined = joined.translate(_fold_table())
    return _ROW_CANDIDATE.search(joined) is None


@cache
def _foldable() -> re.Pattern[str]:
    """The characters whose folding can matter to _ROW_CANDIDATE: those the fold table changes, except the ones
    that become a separator the pattern already takes as they are (the ideographic space is whitespace), and the
    kanji digits, which matter only in a run (`_kanji_in_a_run`)."""
    return re.compile(_char_class([cp for cp, n in _fold_table().items() if chr(cp) not in KANJI_DIGITS and not (
        _SEP_CHARS.fullmatch(chr(cp)) and not any("0" <= ch <= "9" for ch in n))]))


def _char_class(cps: list[int]) -> str:
    """A regular expression's class of the code points (in ranges)."""
    keys = sorted(cps)
    ranges, start, prev = [], keys[0], keys[0]
    for cp in keys[1:]:
        if cp != prev + 1:
            ranges.append((start, prev))
            start = cp
        prev = cp
    ranges.append((start, prev))
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in ranges) + "]"


def individual_numbers(value: Any, column: str | None = None) -> list[str]:
    """The Individual Numbers (12 ASCII digits each) a cell holds, in order; [] for most cells. In a record key's
    column (RECORD_KEY_COLUMNS) the tokens holding a Latin letter are left out."""
    s = _text(value)
    if s is None:
        return []
    written = _written_number(s)  # (in any column: 1.99351819090E+11 is a number, not a key's lettered serial)
    if written is not None:
        return [written] if _valid(written) else []
    if column in RECORD_KEY_COLUMNS:
        s = _LETTERED_TOKEN.sub(" ", s)
    if _ONLY_NUMBER.match(s) and not _DECIMAL.match(s):
        digits = _SEP_CHARS.sub("", s)
        return [digits] if _valid(digits) else []
    found = []
    if len(s) >= 32:
        s = _HEX_TOKEN.sub(" ", s)
    for m in _EMBEDDED.finditer(s):
        digits = _SEP_CHARS.sub("", m.group(0))
        if _valid(digits):
            found.append(digits)
    return found


def whole_number(text: str) -> str | None:
    """The Individual Number a text is as a whole, in the forms the finder reads only in a whole cell (digits and
    separators grouped any way, 199,351,819,090, 123456789018.0, 1.99351819090E+11, keycaps), else None: what a
    reader of lines and fields adds to `number_spans` (scan-pii's file reader). Cheap where there is none."""
    if not text.isascii():
        if DIGIT_LIKE.search(text) is None:
            return None
        text = normal_form(text)
    if (written := _written_number(text)) is not None:
        return written if _valid(written) else None
    if _ONLY_NUMBER.match(text) and not _DECIMAL.match(text):
        digits = _SEP_CHARS.sub("", text)
        return digits if _valid(digits) else None
    return None


def number_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of the Individual Numbers written inside a longer text (read in `normal_form`;
    positions are in the NFKC text, which it keeps)."""
    s = normal_form(text)
    if len(s) >= 32:
        s = _HEX_TOKEN.sub(lambda m: " " * len(m.group(0)), s)
    out = []
    for m in _EMBEDDED.finditer(s):
        digits = _SEP_CHARS.sub("", m.group(0))
        if _valid(digits):
            out.append((m.start(), m.end(), digits))
    return out


def mask(value: Any) -> str:
    """A cell as text with every Individual Number shown as ********9090 (what messages may carry)."""
    s = _text(value)
    if s is None or not individual_numbers(value):  # (the value as found: its folded text may be shorter ASCII)
        return "" if value is None else str(value)
    if _ONLY_NUMBER.match(s) or _written_number(s) is not None:
        return "********" + (_written_number(s) or _SEP_CHARS.sub("", s))[-4:]
    return _EMBEDDED.sub(lambda m: "********" + _SEP_CHARS.sub("", m.group(0))[-4:]
                         if _valid(_SEP_CHARS.sub("", m.group(0))) else m.group(0), s)


def mask_text(text: str) -> str:
    """A message with every Individual Number written inside it masked (hashes and pseudonyms untouched)."""
    if not long_enough(text):
        return text
    s = text if text.isascii() else unicodedata.normalize("NFKC", text)
    read = normal_form(s)  # (kanji digits as digits, one for one: the masked text keeps the NFKC text's kanji)
    if _ONLY_NUMBER.match(read) and not _DECIMAL.match(read) and _valid(digits := _SEP_CHARS.sub("", read)):
        return "********" + digits[-4:]  # a whole text of digits and separators, grouped any way (as `mask` reads it)
    if (written := _written_number(read)) is not None and _valid(written):
        return "********" + written[-4:]  # a whole text that is a number as a spreadsheet writes it
    spans = number_spans(read)  # (positions in `read` are those in `s`: the fold is one character for one)
    if not spans:
        return text
    out, last = [], 0
    for start, end, digits in spans:
        out += [s[last:start], "********" + digits[-4:]]
        last = end
    return "".join([*out, s[last:]])


def mask_data(value: Any) -> Any:
    """Data bound for a JSON column (a run's or an audit entry's detail) with Individual Numbers masked in its keys,
    texts and whole numbers, still valid JSON: masked before it is written as JSON, which escapes a tab or a line
    break inside a text (1993\\t5181\\t9090 is no number to a finder reading the JSON text), and masking the JSON
    text would turn a 12-digit number into ********9012, which the JSON column refuses."""
    if isinstance(value, dict):
        return {mask_text(str(k)): mask_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [mask_data(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and mask_text(str(value)) != str(value):
        return mask_text(str(value))
    return value


def protect(value: Any, column: str | None, key: str, *, person: bool | None = None) -> tuple[Any, bool]:
    """(value to store, replaced?) for one cell. An Individual Number in a person-key column becomes its keyed
    pseudonym; anywhere else it raises IndividualNumberFound (masked)."""
    found = individual_numbers(value, column)
    if not found:
        return value, False
    if person is None:
        person = column in PERSON_COLUMNS
    if not person or len(found) != 1:
        raise IndividualNumberFound(column, value)
    return pseudonymise(found[0], key), True


def protect_subject_id(value: str, key: str) -> tuple[str, bool]:
    """(stored value, replaced?) of a person key (kept for callers of the first version)."""
    return protect(value, "subject_id", key, person=True)
