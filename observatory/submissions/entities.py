"""Resolving a row's entity: municipality by code or by prefecture + name (never name alone), prefecture, ministry.

Each resolver returns the entity code or a `Bad` reason; 5-digit municipality codes (without check digit, or a
6-digit code whose leading zero Excel dropped) are resolved only when exactly one reading exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

from observatory.reference import MunicipalityIndex, ministries, prefectures
from observatory.reference.codes import code_readings, municipality_code_problem
from observatory.submissions.values import Bad, text


@dataclass(frozen=True, slots=True)
class Resolved:
    code: str
    note_en: str | None = None  # set when the code was read leniently (a warning for the report)
    note_ja: str | None = None


@cache
def index() -> MunicipalityIndex:
    return MunicipalityIndex()


@cache
def _ministry_codes() -> frozenset[str]:
    return frozenset(m.code for m in ministries())


def municipality_by_code(raw: object) -> Resolved | Bad:
    """A JIS X 0402 code: six digits with a valid check digit that names a municipality."""
    return by_code(text(raw).replace("-", ""))


@lru_cache(maxsize=8192)
def by_code(code: str) -> Resolved | Bad:
    """`municipality_by_code` for already normalised text (cached: a file repeats the same 1,741 codes)."""
    by_code = index().by_code
    if len(code) == 5 and code.isdigit():
        readings = [c for c in code_readings(code) if c in by_code]
        if len(readings) == 1:
            c = readings[0]
            m = by_code[c]
            return Resolved(c, f"5-digit code read as {c} {m.name_ja}", f"5桁のコードを {c}（{m.name_ja}）と読みました")
        if len(readings) > 1:
            names = ", ".join(f"{c} {by_code[c].name_ja}" for c in readings)
            return Bad(f"5-digit code is ambiguous ({names}); write all 6 digits",
                       f"5桁のコードは特定できません（{names}）。6桁で入力してください")
        return Bad("unknown municipality code", "存在しない市区町村コードです")
    problem = municipality_code_problem(code)
    if problem:
        en, _, ja = problem.partition(" / ")
        return Bad(en, ja or en)
    if code not in by_code:
        return Bad("unknown municipality code (valid check digit, but no such municipality)",
                   "存在しない市区町村コードです（検査数字は正しい）")
    return Resolved(code)


def municipality_by_name(prefecture: object, name: object) -> Resolved | Bad:
    """Prefecture + municipality name; a name alone is refused when it exists in several prefectures."""
    pref, city = text(prefecture), text(name)
    idx = index()
    if not pref:
        found = idx.candidates(city)
        where = ", ".join(f"{m.code} {_pref_name(m.prefecture_code)}{m.name_ja}" for m in found)
        if len(found) > 1:
            return Bad(f"name matches {len(found)} municipalities ({where}); give the prefecture or the code",
                       f"同名の市区町村が{len(found)}件あります（{where}）。都道府県名またはコードを入力してください")
        return Bad("prefecture is empty: a municipality is identified by prefecture + name or by code",
                   "都道府県名が空欄です（都道府県名＋市区町村名、またはコードで指定してください）")
    pref_code = idx.prefecture_code(pref)
    if pref_code is None:
        return Bad("unknown prefecture", "存在しない都道府県名です")
    m = idx.match(pref, city)
    if m is None:
        same = [x for x in idx.candidates(city) if x.prefecture_code == pref_code]
        if len(same) > 1:
            return Bad(f"name matches {len(same)} municipalities in {pref}; give the code",
                       f"{pref}に同名の市区町村が複数あります。コードで指定してください")
        elsewhere = idx.candidates(city)
        hint_en = hint_ja = ""
        if elsewhere:
            where = ", ".join(f"{_pref_name(x.prefecture_code)}{x.name_ja}" for x in elsewhere)
            hint_en, hint_ja = f" (exists as {where})", f"（{where} はあります）"
        return Bad(f"no municipality of this name in {pref}{hint_en}",
                   f"{pref}にこの名前の市区町村はありません{hint_ja}")
    return Resolved(m.code)


def _pref_name(code: str) -> str:
    return next((p.name_ja for p in prefectures() if p.code == code), code)


def prefecture(raw_code: object, raw_name: object) -> Resolved | Bad:
    """A prefecture by JIS X 0401 code (1-2 digits or the 6-digit local government code) or by name."""
    code, name = text(raw_code), text(raw_name)
    idx = index()
    found_code = None
    if code:
        if len(code) == 6 and code.isdigit():
            found_code = next((p.code for p in prefectures() if p.lg_code == code), None)
        elif code.isdigit() and len(code) <= 2:
            found_code = idx.prefecture_code(code)
        if found_code is None:
            return Bad("unknown prefecture code (01-47)", "存在しない都道府県コードです（01〜47）")
    if name:
        by_name = idx.prefecture_code(name)
        if by_name is None:
            return Bad("unknown prefecture", "存在しない都道府県名です")
        if found_code and by_name != found_code:
            return Bad(f"prefecture code {found_code} does not match the name", "都道府県コードと名前が一致しません")
        found_code = by_name
    if found_code is None:
        return Bad("prefecture is empty", "都道府県が空欄です")
    return Resolved(found_code)


def ministry(raw: object) -> Resolved | Bad:
    """A ministry or agency code from the reference list (MIC, MHLW, ...)."""
    code = text(raw).upper()
    if code in _ministry_codes():
        return Resolved(code)
    return Bad("unknown ministry code", "存在しない府省コードです")
