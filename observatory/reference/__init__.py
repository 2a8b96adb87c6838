"""Reference data: prefectures (JIS X 0401), municipalities (JIS X 0402) and ministries.

The lists ship with the package (see data/PROVENANCE.md); `load_into` copies them into the warehouse and
`MunicipalityIndex` matches names to codes by prefecture and name, never by name alone.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .codes import (
    check_municipality_code,
    is_valid_municipality_code,
    jis_check_digit,
    municipality_code_problem,
)
from .romanise import romanise

__all__ = [
    "Municipality",
    "Prefecture",
    "Ministry",
    "MunicipalityIndex",
    "prefectures",
    "municipalities",
    "municipality_codes",
    "organisation_codes",
    "ministries",
    "ministry_names",
    "DxIndicator",
    "dx_indicators",
    "load_into",
    "normalise_name",
    "fold_name",
    "is_valid_municipality_code",
    "jis_check_digit",
    "check_municipality_code",
    "municipality_code_problem",
]


@dataclass(frozen=True, slots=True)
class Prefecture:
    code: str  # two digits, JIS X 0401
    name_ja: str
    name_kana: str
    name_en: str
    lg_code: str  # six-digit local government code of the prefecture itself


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str  # six digits with check digit, JIS X 0402
    prefecture_code: str
    name_ja: str
    name_kana: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Ministry:
    code: str
    name_ja: str
    name_en: str
    kind: str


@dataclass(frozen=True, slots=True)
class DxIndicator:
    """An indicator of the Digital Agency's DX dashboards (kind municipal-dx): stable id, wording, unit."""

    indicator_id: str
    group_ja: str
    group_en: str
    name_ja: str
    name_en: str
    unit: str  # percent | flag | count


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _to_full_kana(kana: str) -> str:
    return unicodedata.normalize("NFKC", kana)


@cache
def prefectures() -> tuple[Prefecture, ...]:
    """The 47 prefectures in code order."""
    out = []
    for row in _rows("jisx0402_data.csv"):
        if not row["city"]:
            en = romanise(row["prefecture_kana"], prefecture=True).split("-")[0]
            out.append(Prefecture(row["code"][:2], row["prefecture"], _to_full_kana(row["prefecture_kana"]),
                                  en, row["code"]))
    return tuple(out)


@cache
def municipalities() -> tuple[Municipality, ...]:
    """The 1,741 municipalities in code order."""
    return tuple(
        Municipality(row["code"], row["code"][:2], row["city"], _to_full_kana(row["city_kana"]),
                     romanise(row["city_kana"]))
        for row in _rows("jisx0402_data.csv")
        if row["city"]
    )


@cache
def municipality_codes() -> frozenset[str]:
    """The six-digit codes of the 1,741 municipalities."""
    return frozenset(m.code for m in municipalities())


@cache
def organisation_codes() -> frozenset[str]:
    """The one set of organisation codes staff and access events may carry: municipalities, prefectures (their
    six-digit local government codes) and ministries and agencies."""
    return municipality_codes() | {p.lg_code for p in prefectures()} | {m.code for m in ministries()}


@cache
def ministries() -> tuple[Ministry, ...]:
    """Ministries and agencies with the short codes used as KPI owners and submitters."""
    return tuple(Ministry(r["code"], r["name_ja"], r["name_en"], r["kind"]) for r in _rows("ministries.csv"))


@cache
def ministry_names() -> dict[str, str]:
    """Ministry name as published (folded by normalise_name) -> code: every name_ja of ministries.csv and the
    other names publications use (ministry_aliases.csv, e.g. 国家公安委員会・警察庁 -> NPA)."""
    out = {normalise_name(m.name_ja): m.code for m in ministries()}
    known = {m.code for m in ministries()}
    for row in _rows("ministry_aliases.csv"):
        if row["code"] not in known:
            raise ValueError(f"ministry_aliases.csv: alias {row['alias']} names unknown code {row['code']}")
        out[normalise_name(row["alias"])] = row["code"]
    return out


@cache
def dx_indicators() -> tuple[DxIndicator, ...]:
    """The DX dashboard indicators the observatory knows, in the order the dashboards publish them."""
    return tuple(DxIndicator(r["indicator_id"], r["group_ja"], r["group_en"], r["name_ja"], r["name_en"], r["unit"])
                 for r in _rows("dx_indicators.csv"))


def normalise_name(name: str) -> str:
    """Fold the spellings a name arrives in: full/half width, spaces, ケ/ヶ/が variants."""
    text = unicodedata.normalize("NFKC", str(name)).strip()
    text = "".join(text.split())
    return text.replace("ヶ", "ケ").replace("ヵ", "カ")


# Variant kanji (異体字) that publications use where the official code list has the common form, or the reverse
# (檮原町 in MIC's and the Digital Agency's tables, 梼原町 in the code list). Both sides are folded to the right
# hand form; a test checks that folding never makes two municipalities of one prefecture alike.
VARIANT_KANJI = {
    "檮": "梼", "﨑": "崎", "嵜": "崎", "髙": "高", "邊": "辺", "邉": "辺", "鰺": "鯵", "檜": "桧", "龍": "竜",
    "舘": "館", "齋": "斎", "齊": "斉", "濵": "浜", "濱": "浜", "嶋": "島", "澤": "沢", "冨": "富", "塚": "塚",
    "德": "徳", "惠": "恵", "淸": "清", "廣": "広", "國": "国", "櫻": "桜", "眞": "真", "與": "与", "藏": "蔵",
}
_FOLD = str.maketrans(VARIANT_KANJI)
# A town or village is often written with its district (石狩郡当別町) and an island municipality with its island
# (三宅島三宅村); the code list has the bare name.
_QUALIFIER_ENDINGS = ("郡", "島")


def fold_name(name: str) -> str:
    """normalise_name, then variant kanji folded to one form: the key names are matched on."""
    return normalise_name(name).translate(_FOLD)


class MunicipalityIndex:
    """Looks municipalities up by code, or by prefecture (name or code) plus municipality name."""

    def __init__(self, items: tuple[Municipality, ...] | None = None) -> None:
        self.items = items if items is not None else municipalities()
        self.by_code = {m.code: m for m in self.items}
        pref_names: dict[str, str] = {}
        for p in prefectures():
            short = p.name_ja if p.name_ja == "北海道" else p.name_ja[:-1]  # 東京都 -> 東京, 京都府 -> 京都
            for form in (p.name_ja, short, p.code, p.name_en.lower()):
                pref_names[normalise_name(form)] = p.code
        self._prefecture_codes = pref_names
        self._by_pref_name: dict[tuple[str, str], list[Municipality]] = {}
        self._by_name: dict[str, list[Municipality]] = {}
        for m in self.items:
            self._by_pref_name.setdefault((m.prefecture_code, fold_name(m.name_ja)), []).append(m)
            self._by_name.setdefault(fold_name(m.name_ja), []).append(m)

    def prefecture_code(self, name_or_code: str) -> str | None:
        """'東京都', '東京', '13' or 'tokyo' -> '13'; None when unknown."""
        key = normalise_name(name_or_code)
        if key.isdigit() and len(key) == 1:
            key = "0" + key
        return self._prefecture_codes.get(key) or self._prefecture_codes.get(key.lower())

    def match(self, prefecture: str, name: str) -> Municipality | None:
        """The municipality named `name` in `prefecture` (name as published: with or without its district or
        island, variant kanji folded), or None."""
        code = self.prefecture_code(prefecture)
        if code is None:
            return None
        return self.match_in(code, name)

    def match_in(self, prefecture_code: str, name: str) -> Municipality | None:
        """`match` with the prefecture already a 2-digit code."""
        for key in self._name_keys(name):
            found = self._by_pref_name.get((prefecture_code, key), [])
            if len(found) == 1:
                return found[0]
        return None

    @staticmethod
    def _name_keys(name: str) -> list[str]:
        """The name as folded, then without a leading district or island (石狩郡当別町 -> 当別町), longest first."""
        key = fold_name(name)
        keys = [key]
        for i, ch in enumerate(key[:-1]):
            if ch in _QUALIFIER_ENDINGS and i > 0:
                keys.append(key[i + 1:])
        return keys

    def names_agree(self, municipality: Municipality, name: str) -> bool:
        """Whether a published name (with or without district/island, any variant kanji) names this one."""
        return fold_name(municipality.name_ja) in self._name_keys(name)

    def candidates(self, name: str) -> list[Municipality]:
        """Every municipality with this name across Japan (25 names repeat, e.g. 府中市, 伊達市)."""
        for key in self._name_keys(name):
            if key in self._by_name:
                return list(self._by_name[key])
        return []


def _insert(con, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk insert through an Arrow table (executemany row by row is slow in DuckDB)."""
    import pyarrow as pa  # heavy: only when the tables are loaded

    data = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    con.register("_reference_rows", data)
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM _reference_rows")
    finally:
        con.unregister("_reference_rows")


def load_into(con) -> dict[str, int]:
    """Replace the reference tables in the warehouse with the shipped lists; returns row counts."""
    con.execute("DELETE FROM municipalities")
    con.execute("DELETE FROM prefectures")
    con.execute("DELETE FROM ministries")
    _insert(con, "prefectures", ("code", "name_ja", "name_kana", "name_en", "lg_code"),
            [(p.code, p.name_ja, p.name_kana, p.name_en, p.lg_code) for p in prefectures()])
    _insert(con, "municipalities", ("code", "prefecture_code", "name_ja", "name_kana", "name_en"),
            [(m.code, m.prefecture_code, m.name_ja, m.name_kana, m.name_en) for m in municipalities()])
    _insert(con, "ministries", ("code", "name_ja", "name_en", "kind"),
            [(m.code, m.name_ja, m.name_en, m.kind) for m in ministries()])
    con.execute("DELETE FROM dx_indicators")
    _insert(con, "dx_indicators", ("indicator_id", "group_ja", "group_en", "name_ja", "name_en", "unit"),
            [(d.indicator_id, d.group_ja, d.group_en, d.name_ja, d.name_en, d.unit) for d in dx_indicators()])
    return {"prefectures": len(prefectures()), "municipalities": len(municipalities()),
            "ministries": len(ministries()), "dx_indicators": len(dx_indicators())}
