"""Check digits of JIS X 0402 local government codes and of Individual Numbers (My Number)."""

from __future__ import annotations

import re
from collections.abc import Container

_JIS_WEIGHTS = (6, 5, 4, 3, 2)
_SIX_DIGITS = re.compile(r"^[0-9]{6}$")
_TWELVE_DIGITS = re.compile(r"^[0-9]{12}$")


def jis_check_digit(first_five: str) -> int:
    """Check digit of a JIS X 0402 code: weights 6..2, r = sum mod 11, check = (11 - r) mod 10."""
    r = sum(int(d) * w for d, w in zip(first_five, _JIS_WEIGHTS, strict=True)) % 11
    return (11 - r) % 10


def is_valid_municipality_code(code: str) -> bool:
    """True when `code` is six ASCII digits whose last digit is the JIS X 0402 check digit."""
    return bool(_SIX_DIGITS.match(code)) and jis_check_digit(code[:5]) == int(code[5])


def municipality_code_problem(code: str) -> str | None:
    """Why `code` cannot be a municipality code, or None when its form and check digit are right."""
    if not _SIX_DIGITS.match(code):
        return "municipality code must be 6 digits / 市区町村コードは6桁の数字"
    expected = jis_check_digit(code[:5])
    if expected != int(code[5]):
        return f"check digit should be {expected} / 検査数字が不正です（正しくは{expected}）"
    return None


def my_number_check_digit(first_eleven: str) -> int:
    """Check digit of a 12-digit Individual Number (行政手続番号利用法施行令 第8条)."""
    digits = [int(d) for d in reversed(first_eleven)]  # P1 is the rightmost of the 11 digits
    total = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(digits, start=1))
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_individual_number(value: str) -> bool:
    """True when `value` looks like a real Individual Number: 12 digits with a valid check digit."""
    return bool(_TWELVE_DIGITS.match(value)) and my_number_check_digit(value[:11]) == int(value[11])


UNKNOWN_MUNICIPALITY = "no municipality has this code / 該当する市区町村コードがありません"


def code_readings(digits: str) -> list[str]:
    """The six-digit codes a shorter run of digits may stand for: the code whose leading zero a spreadsheet
    dropped (11002 -> 011002), and the five-digit code without its check digit, which many publications and
    systems use (13101 -> 131016; 1100, 01100 with its zero dropped, -> 011002). Six digits are themselves;
    anything else stands for none."""
    if not digits.isascii() or not digits.isdigit() or not 1 <= len(digits) <= 6:
        return []
    if len(digits) == 6:
        return [digits]
    five = digits.zfill(5)
    return list(dict.fromkeys([digits.zfill(6), five + str(jis_check_digit(five))]))


def check_municipality_code(raw: str, known: Container[str] | None = None) -> tuple[str, str | None]:
    """The one municipality-code check of the collectors: (the code as stored, why it is refused or None).

    Six digits are checked as they are: form and JIS X 0402 check digit, then that they name an organisation of
    `known` (default: the reference list of municipalities). Fewer are read by `code_readings`: a reading that
    passes both checks is the code; where two do (12203: 士別市 012203 with its zero dropped, or 市川市 122033
    without its check digit), the code is refused as ambiguous rather than guessed; where none does, it is
    refused naming both readings.
    """
    if known is None:
        from observatory.reference import municipality_codes  # observatory.reference imports this module

        known = municipality_codes()
    readings = code_readings(raw)
    if len(readings) > 1:  # fewer than six digits
        found = [c for c in readings if municipality_code_problem(c) is None and c in known]
        if len(found) == 1:
            return found[0], None
        if len(found) > 1:
            return raw, (f"{raw} may be {found[0]} (its leading zero dropped) or {found[1]} (the five-digit code "
                         f"without its check digit): write all six digits / {raw} は {found[0]} とも {found[1]} とも"
                         "読めます。6桁で記入してください")
        return raw.zfill(6), (f"no municipality has this code, read as {readings[0]} (a leading zero dropped) or "
                              f"{readings[1]} (without its check digit) / 該当する市区町村コードがありません"
                              f"（{readings[0]} または {readings[1]} と読みました）")
    code = raw.zfill(6)
    problem = municipality_code_problem(code)
    if problem is None:
        if code not in known:
            problem = UNKNOWN_MUNICIPALITY
    return code, problem
