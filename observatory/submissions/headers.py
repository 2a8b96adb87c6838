"""Mapping a file's header row to the KPI's declared columns, in Japanese or English.

Key columns come from the submission level (see submission_spec.py); value columns from `columns`. A header
may be the Japanese label, the English name or label, or both as the template writes them:
`市区町村コード (municipality_code)`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from observatory.kpis.submission_spec import SubmissionColumn, SubmissionSpec
from observatory.submissions.problems import Report

KEY_LABELS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # name: (Japanese label, English label, other accepted spellings)
    "period": ("期間", "Period", ("対象期間", "年月", "対象年月", "年度", "対象年度", "集計期間", "期")),
    "municipality_code": ("市区町村コード", "Municipality code",
                          ("団体コード", "地方公共団体コード", "全国地方公共団体コード", "市町村コード", "lg_code",
                           "lgcode", "citycode", "city_code")),
    "prefecture": ("都道府県名", "Prefecture", ("都道府県", "prefecture_name")),
    "municipality_name": ("市区町村名", "Municipality name", ("市区町村", "市町村名", "市町村", "団体名", "municipality",
                                                           "city", "city_name")),
    "prefecture_code": ("都道府県コード", "Prefecture code", ("都道府県番号",)),
    "ministry_code": ("府省コード", "Ministry code", ("府省庁コード", "省庁コード", "府省", "ministry")),
}


def key_columns(level: str) -> list[str]:
    """Key column names a file of this level may have (which are required is checked separately)."""
    return {
        "municipality": ["municipality_code", "prefecture", "municipality_name", "period"],
        "prefecture": ["prefecture_code", "prefecture", "period"],
        "ministry": ["ministry_code", "period"],
        "national": ["period"],
    }[level]


def fold(text: str) -> str:
    """Header comparison form: NFKC, lower case, no spaces, underscores or required-markers."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"[\s_\-*※:：]", "", s)


def header_label(name: str, spec: SubmissionSpec) -> str:
    """`市区町村コード (municipality_code)`: the bilingual header the template writes."""
    for col in spec.columns:
        if col.name == name:
            return f"{col.label_ja} ({col.name})"
    return f"{KEY_LABELS[name][0]} ({name})"


def _aliases(spec: SubmissionSpec) -> dict[str, str]:
    table: dict[str, str] = {}
    for name in key_columns(spec.level):
        ja, en, others = KEY_LABELS[name]
        for alias in (name, ja, en, *others):
            table.setdefault(fold(alias), name)
    for col in spec.columns:
        for alias in (col.name, col.label_ja, col.label_en or ""):
            if alias:
                table[fold(alias)] = col.name
    return table


def _match(cell: str, aliases: dict[str, str]) -> str | None:
    whole = fold(cell)
    if whole in aliases:
        return aliases[whole]
    parts = [fold(p) for p in re.split(r"[()（）/／|｜\[\]［］]", str(cell)) if fold(p)]
    found = {aliases[p] for p in parts if p in aliases}
    return found.pop() if len(found) == 1 else None


@dataclass
class HeaderMap:
    """Column index -> declared name, and the header text as written (for report lines)."""

    index: dict[str, int]
    written: dict[str, str]
    unnamed: tuple[int, ...] = ()  # positions of header cells left empty: a value under one is named by its row

    def has(self, name: str) -> bool:
        return name in self.index


def looks_like_header(cells: list, spec: SubmissionSpec) -> bool:
    """True when at least one cell names a declared or key column (title rows above are skipped)."""
    aliases = _aliases(spec)
    return any(_match(c, aliases) for c in cells if c is not None and str(c).strip())


def map_header(cells: list, spec: SubmissionSpec, row_no: int, report: Report) -> HeaderMap:
    """Map header cells; unknown, duplicate and missing required columns are errors in `report`."""
    aliases = _aliases(spec)
    index: dict[str, int] = {}
    written: dict[str, str] = {}
    unnamed: list[int] = []
    for i, raw in enumerate(cells):
        if raw is None or not str(raw).strip():
            unnamed.append(i)
            continue
        text = str(raw).strip()
        name = _match(text, aliases)
        if name is None:
            report.error("unknown_column", "unknown column; allowed: " + ", ".join(_allowed(spec)),
                         "不明な列です。使える列: " + "、".join(_allowed(spec, ja=True)), row=row_no, column=text,
                         value=text)
        elif name in index:
            report.error("duplicate_column", f"column {name} appears twice (first: {written[name]})",
                         f"列 {name} が重複しています（最初の列: {written[name]}）", row=row_no, column=text, value=text)
        else:
            index[name] = i
            written[name] = text
    hm = HeaderMap(index, written, tuple(unnamed))
    _require(hm, spec, row_no, report)
    return hm


def _allowed(spec: SubmissionSpec, ja: bool = False) -> list[str]:
    names = key_columns(spec.level) + [c.name for c in spec.columns]
    if not ja:
        return names
    return [KEY_LABELS[n][0] if n in KEY_LABELS else _col(spec, n).label_ja for n in names]


def _col(spec: SubmissionSpec, name: str) -> SubmissionColumn:
    return next(c for c in spec.columns if c.name == name)


def _missing(report: Report, row_no: int, label: str, en_extra: str = "", ja_extra: str = "") -> None:
    report.error("missing_column", f"required column is missing{en_extra}", f"必須の列がありません{ja_extra}",
                 row=row_no, column=label)


def _require(hm: HeaderMap, spec: SubmissionSpec, row_no: int, report: Report) -> None:
    if not hm.has("period"):
        _missing(report, row_no, header_label("period", spec))
    if spec.level == "municipality" and not hm.has("municipality_code"):
        if not hm.has("municipality_name"):
            _missing(report, row_no, header_label("municipality_code", spec),
                     " (or 都道府県名 prefecture + 市区町村名 municipality_name)",
                     "（または 都道府県名 と 市区町村名）")
        elif not hm.has("prefecture"):
            _missing(report, row_no, header_label("prefecture", spec),
                     ": a municipality name alone is ambiguous (25 names repeat across prefectures)",
                     "：市区町村名だけでは特定できません（同名の市区町村があります）")
    if spec.level == "prefecture" and not (hm.has("prefecture_code") or hm.has("prefecture")):
        _missing(report, row_no, header_label("prefecture_code", spec), " (or 都道府県名 prefecture)",
                 "（または 都道府県名）")
    if spec.level == "ministry" and not hm.has("ministry_code"):
        _missing(report, row_no, header_label("ministry_code", spec))
    for col in spec.columns:
        if col.required and not hm.has(col.name):
            _missing(report, row_no, header_label(col.name, spec))
