"""Modified Hepburn romanisation of katakana place-name readings, for English pages."""

from __future__ import annotations

import unicodedata

_BASE = {
    "ア": "a", "イ": "i", "ウ": "u", "エ": "e", "オ": "o",
    "カ": "ka", "キ": "ki", "ク": "ku", "ケ": "ke", "コ": "ko",
    "サ": "sa", "シ": "shi", "ス": "su", "セ": "se", "ソ": "so",
    "タ": "ta", "チ": "chi", "ツ": "tsu", "テ": "te", "ト": "to",
    "ナ": "na", "ニ": "ni", "ヌ": "nu", "ネ": "ne", "ノ": "no",
    "ハ": "ha", "ヒ": "hi", "フ": "fu", "ヘ": "he", "ホ": "ho",
    "マ": "ma", "ミ": "mi", "ム": "mu", "メ": "me", "モ": "mo",
    "ヤ": "ya", "ユ": "yu", "ヨ": "yo",
    "ラ": "ra", "リ": "ri", "ル": "ru", "レ": "re", "ロ": "ro",
    "ワ": "wa", "ヰ": "i", "ヱ": "e", "ヲ": "o", "ン": "n",
    "ガ": "ga", "ギ": "gi", "グ": "gu", "ゲ": "ge", "ゴ": "go",
    "ザ": "za", "ジ": "ji", "ズ": "zu", "ゼ": "ze", "ゾ": "zo",
    "ダ": "da", "ヂ": "ji", "ヅ": "zu", "デ": "de", "ド": "do",
    "バ": "ba", "ビ": "bi", "ブ": "bu", "ベ": "be", "ボ": "bo",
    "パ": "pa", "ピ": "pi", "プ": "pu", "ペ": "pe", "ポ": "po",
    "ヴ": "vu",
}
_SMALL = {"ャ": "ya", "ュ": "yu", "ョ": "yo"}
_SUFFIXES = (("シ", "shi"), ("ク", "ku"), ("マチ", "machi"), ("チョウ", "cho"), ("ムラ", "mura"), ("ソン", "son"))
_PREF_SUFFIXES = (("ト", "to"), ("フ", "fu"), ("ケン", "ken"))
_LONG = {"ou": "o", "oo": "o", "uu": "u"}


def _syllables(kana: str) -> str:
    out: list[str] = []
    double_next = False
    i = 0
    while i < len(kana):
        ch = kana[i]
        nxt = kana[i + 1] if i + 1 < len(kana) else ""
        if ch == "ッ":
            double_next = True
            i += 1
            continue
        if ch == "ー":
            i += 1
            continue
        roman = _BASE.get(ch, "")
        if nxt in _SMALL and len(roman) > 1 and roman.endswith("i"):
            stem = roman[:-1]  # "k", "sh", "ch", "j", ...
            roman = stem + (_SMALL[nxt][1:] if stem in ("sh", "ch", "j") else _SMALL[nxt])
            i += 1
        if double_next and roman:
            roman = ("t" + roman) if roman.startswith("ch") else roman[0] + roman
            double_next = False
        if out and out[-1] == "n" and roman[:1] in ("a", "i", "u", "e", "o", "y"):
            out[-1] = "n'"
        out.append(roman)
        i += 1
    text = "".join(out)
    for long, short in _LONG.items():
        text = text.replace(long, short)
    return text


def romanise(kana: str, *, prefecture: bool = False) -> str:
    """'ｻｯﾎﾟﾛｼ' -> 'Sapporo-shi'; half-width or full-width katakana; the administrative suffix is hyphenated."""
    full = unicodedata.normalize("NFKC", kana).strip()
    suffixes = _PREF_SUFFIXES if prefecture else _SUFFIXES
    for suffix_kana, suffix_roman in suffixes:
        if full.endswith(suffix_kana) and len(full) > len(suffix_kana):
            stem = _syllables(full[: -len(suffix_kana)])
            return f"{stem.capitalize()}-{suffix_roman}"
    return _syllables(full).capitalize()
