"""Downloadable submission templates (CSV UTF-8 with BOM, XLSX) built only from a KPI's `submission` section.

Headers are bilingual (`市区町村コード (municipality_code)`), the sample row starts with `#` so that it is never
loaded if left in, and the allowed values, types, units and ranges of every column are written out.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Literal

from observatory.kpis.submission_spec import SubmissionColumn, SubmissionSpec
from observatory.submissions.catalogue import SubmittableKpi, frequency, label, submitters
from observatory.submissions.headers import KEY_LABELS, header_label, key_columns
from observatory.submissions.problems import csv_safe

Format = Literal["csv", "xlsx"]
_SAMPLE_PERIOD = {"monthly": "2025-04", "quarterly": "2025-04", "fiscal_year": "FY2025"}
_PERIOD_HELP = {
    "monthly": ("YYYY-MM, e.g. 2025-04 (also 2025年4月, R7.4)", "年月 YYYY-MM（例: 2025-04、2025年4月、R7.4 も可）"),
    "quarterly": ("first month of the quarter YYYY-MM (2025-04 = FY2025 Q1) or FY2025-Q1",
                  "四半期の初月 YYYY-MM（2025-04 = 2025年度第1四半期）または 2025年度第1四半期"),
    "fiscal_year": ("fiscal year FY2025 (April 2025 - March 2026), also 2025年度 / R7年度",
                    "年度 FY2025（2025年4月〜2026年3月）、2025年度・令和7年度 も可"),
}
_KEY_SAMPLE = {"municipality_code": "131016", "prefecture": "東京都", "municipality_name": "千代田区",
               "prefecture_code": "13"}
_KEY_HELP = {
    "municipality_code": ("6-digit local government code (JIS X 0402, with check digit); or give prefecture + name",
                          "6桁の全国地方公共団体コード（検査数字付き）。または都道府県名＋市区町村名"),
    "prefecture": ("prefecture name (needed when no code is given)", "都道府県名（コードがない場合は必須）"),
    "municipality_name": ("municipality name; checked against the code", "市区町村名（コードと照合します）"),
    "prefecture_code": ("2-digit prefecture code 01-47 (or give the prefecture name)", "都道府県コード 01〜47（または都道府県名）"),
    "ministry_code": ("ministry/agency code, e.g. MIC", "府省コード（例: MIC）"),
}


def columns(kpi: SubmittableKpi) -> list[str]:
    """Template column names in order: the entity and period keys, then the declared value columns."""
    spec = _spec(kpi)
    keys = [k for k in key_columns(spec.level) if k != "period"]
    return keys + ["period"] + [c.name for c in spec.columns]


def _spec(kpi: SubmittableKpi) -> SubmissionSpec:
    if kpi.submission is None:
        raise ValueError(f"KPI {kpi.id} has no submission section")
    return kpi.submission


def _sample_value(col: SubmissionColumn) -> str:
    if col.example is not None:
        return col.example
    return {"integer": "1234", "number": "12.5", "percent": "45.6", "text": "", "date": "2025-04-01",
            "boolean": "TRUE"}.get(col.type, (col.allowed or [""])[0])


def sample_row(kpi: SubmittableKpi) -> list[str]:
    """One example row, matching `columns(kpi)`."""
    spec = _spec(kpi)
    out = []
    for name in columns(kpi):
        if name == "period":
            out.append(_SAMPLE_PERIOD[frequency(kpi)])
        elif name == "ministry_code":
            out.append(kpi.owner)
        elif name in _KEY_SAMPLE:
            out.append(_KEY_SAMPLE[name])
        else:
            out.append(_sample_value(next(c for c in spec.columns if c.name == name)))
    return out


def describe(kpi: SubmittableKpi, name: str) -> tuple[str, str]:
    """(English, Japanese) description of a template column: type, unit, range, allowed values, required."""
    spec = _spec(kpi)
    if name == "period":
        return _PERIOD_HELP[frequency(kpi)]
    if name in _KEY_HELP:
        return _KEY_HELP[name]
    col = next(c for c in spec.columns if c.name == name)
    en, ja = [col.type], [{"integer": "整数", "number": "数値", "percent": "百分率（%）", "text": "文字列", "enum": "選択肢",
                           "date": "日付", "boolean": "はい/いいえ"}[col.type]]
    if col.unit:
        en.append(f"unit {col.unit}")
        ja.append(f"単位 {col.unit}")
    if col.min is not None or col.max is not None:
        lo = "" if col.min is None else f"{col.min:g}"
        hi = "" if col.max is None else f"{col.max:g}"
        en.append(f"range {lo}..{hi}")
        ja.append(f"範囲 {lo}〜{hi}")
    if col.allowed:
        en.append("allowed: " + " | ".join(col.allowed))
        ja.append("入力できる値: " + "｜".join(col.allowed))
    en.append("required" if col.required else "optional")
    ja.append("必須" if col.required else "任意")
    if col.description_en:
        en.append(col.description_en)
    if col.description_ja:
        ja.append(col.description_ja)
    return "; ".join(en), "、".join(ja)


def _intro(kpi: SubmittableKpi) -> list[str]:
    spec = _spec(kpi)
    checks = [f"{c.lte[0]} ≤ {c.lte[1]}" for c in spec.checks if c.lte]
    lines = [
        f"KPI {kpi.id}: {label(kpi.name, 'ja')} / {label(kpi.name, 'en')}",
        f"提出府省 submitters: {', '.join(submitters(kpi))}; 集計単位 frequency: {frequency(kpi)}; "
        f"単位 level: {spec.level}",
        "「#」で始まる行は読み込まれません（次の行の記入例も同じ） / rows starting with # are ignored, like the example below",
        "文字コードは UTF-8 または Shift_JIS、1つの期間・対象につき1行 / UTF-8 or Shift_JIS; one row per period and entity",
    ]
    if checks:
        lines.append("行内の条件 row rules: " + "; ".join(checks))
    for name in columns(kpi):
        en, ja = describe(kpi, name)
        lines.append(f"{header_label(name, spec)}: {ja} / {en}")
    return lines


def template_bytes(kpi: SubmittableKpi, fmt: Format) -> bytes:
    """The submission template of `kpi` as CSV (UTF-8 with BOM) or XLSX bytes."""
    if fmt == "csv":
        return _csv(kpi)
    if fmt == "xlsx":
        return _xlsx(kpi)
    raise ValueError(f"unknown template format {fmt!r} (csv or xlsx)")


def _csv(kpi: SubmittableKpi) -> bytes:
    spec = _spec(kpi)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for line in _intro(kpi):
        w.writerow(["# " + line])
    w.writerow([csv_safe(header_label(n, spec)) for n in columns(kpi)])
    sample = sample_row(kpi)
    w.writerow([csv_safe("#" + sample[0])] + [csv_safe(v) for v in sample[1:]])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _xlsx(kpi: SubmittableKpi) -> bytes:
    from openpyxl import Workbook  # openpyxl only for an XLSX template
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    spec = _spec(kpi)
    names = columns(kpi)
    wb = Workbook()
    wb.properties.created = wb.properties.modified = datetime(2025, 4, 1)  # stable bytes for the same definition
    data = wb.active
    data.title = spec.sheet or "提出データ"
    data.append([header_label(n, spec) for n in names])
    sample = sample_row(kpi)
    data.append(["#" + sample[0]] + sample[1:])
    head_font, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for i, name in enumerate(names, start=1):
        letter = get_column_letter(i)
        data.cell(1, i).font, data.cell(1, i).fill = head_font, head_fill
        data.cell(2, i).font = Font(italic=True, color="808080")
        data.column_dimensions[letter].width = max(14, len(header_label(name, spec)) * 1.6)
        if name in ("municipality_code", "prefecture_code", "period", "ministry_code"):
            data.column_dimensions[letter].number_format = "@"  # keep leading zeros and 2025-04 as text
            for row in (1, 2):
                data.cell(row, i).number_format = "@"
        col = next((c for c in spec.columns if c.name == name), None)
        if col is not None and col.allowed:
            listed = ",".join(col.allowed)
            if len(listed) <= 250 and "," not in "".join(col.allowed):
                dv = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=not col.required)
                dv.error, dv.errorTitle = "入力できる値: " + listed, "invalid / 入力エラー"
                data.add_data_validation(dv)
                dv.add(f"{letter}3:{letter}100000")
    data.freeze_panes = "A2"
    info = wb.create_sheet("記入方法 instructions")
    for line in _intro(kpi)[:5]:
        info.append([line])
    info.append([])
    info.append(["見出し header", "列名 name", "説明", "description", "記入例 example"])
    for name, example in zip(names, sample, strict=True):
        en, ja = describe(kpi, name)
        info.append([csv_safe(header_label(name, spec)), name, ja, en, csv_safe(example)])
    for cell in info[7]:
        cell.font = head_font
    info.column_dimensions["A"].width = 36
    info.column_dimensions["C"].width = 60
    info.column_dimensions["D"].width = 60
    for sheet in wb.worksheets:  # a text is never a formula (openpyxl takes any text starting with = for one): a
        for row in sheet.iter_rows():  # label or description of a definition runs nothing in a ministry's Excel
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


__all__ = ["template_bytes", "columns", "sample_row", "describe", "KEY_LABELS"]
