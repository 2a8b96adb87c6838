"""Checking a submitted file against its KPI's `submission` section, row by row, collecting every problem.

`check_file` streams the rows of the file into a `Staging` scratch table and returns the `Report`; nothing
here touches the warehouse. All column names, types, ranges and allowed values come from `SubmissionSpec`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from observatory import encodings
from observatory.calendar import DEFAULT_TIMEZONE
from observatory.kpis.submission_spec import SubmissionColumn, SubmissionSpec
from observatory.reference import normalise_name
from observatory.security.pseudonym import individual_numbers, long_enough, mask
from observatory.submissions import entities, fastpath, values
from observatory.submissions.headers import HeaderMap, header_label, looks_like_header, map_header
from observatory.submissions.problems import Report
from observatory.submissions.reader import (
    CellNote,
    Row,
    csv_rows,
    detect_encoding,
    opener,
    sniff_format,
    xlsx_rows,
)
from observatory.submissions.staging import Staging
from observatory.submissions.values import Bad

HEADER_SEARCH_ROWS = 10
FAST_BATCH = 4096
_FORMULA_START = ("=", "+", "-", "@")
def encoding_label(encoding: str | None) -> str | None:
    """How the report names an encoding: UTF-8, UTF-8 (BOM), Shift_JIS (CP932), UTF-16."""
    return encodings.label(encoding)


def check_file(source: bytes | Path, *, file_name: str | None, spec: SubmissionSpec, freq: str, today: date,
               staging: Staging, sheet: str | None = None, max_bytes: int | None = None,
               timezone: str = DEFAULT_TIMEZONE, ministry_code: str | None = None) -> Report:
    """Read, check and stage every row of a submitted file; the report lists every problem found. Dates are
    read in `timezone` (the workspace's); at ministry level every row must be `ministry_code`'s own (when given)."""
    report = Report(file_name=file_name)
    open_bytes = opener(source)
    size = len(source) if isinstance(source, bytes | bytearray) else Path(source).stat().st_size
    if size == 0:
        report.error("empty_file", "the file is empty", "ファイルが空です")
        return report
    if max_bytes is not None and size > max_bytes:
        report.error("file_too_large", f"the file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB",
                     f"ファイルサイズ {size / 1e6:.1f} MB が上限 {max_bytes / 1e6:.0f} MB を超えています",
                     value=size)
        return report
    with open_bytes() as fh:
        head = fh.read(8)
    kind = sniff_format(head)
    report.file_format = kind
    if kind == "xls":
        report.error("xls_not_supported", "Excel 97-2003 (.xls) is not accepted; save as .xlsx or CSV",
                     "Excel 97-2003 形式（.xls）は受け付けません。.xlsx または CSV で保存してください")
        return report
    if kind == "xlsx":
        rows = xlsx_rows(source, sheet if sheet is not None else spec.sheet, report)
    else:
        encoding, where = detect_encoding(open_bytes)
        if encoding is None:
            report.error("bad_encoding", f"text is neither UTF-8 nor Shift_JIS (CP932) (first bad {where})",
                         f"文字コードが UTF-8 でも Shift_JIS（CP932）でもありません（{where}）")
            return report
        report.encoding = encoding_label(encoding)
        rows = csv_rows(open_bytes, encoding, report)
    _check_rows(rows, spec, freq, today, staging, report, timezone, ministry_code)
    if report.rows_total == 0 and report.ok:
        report.error("no_data_rows", "the file has a header but no data rows", "データ行がありません")
    return report


def _blank(cells: list[Any]) -> bool:
    if cells and type(cells[0]) is str and cells[0] and not cells[0][0].isspace():
        return False  # fast path: a first cell with text
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _comment(cells: list[Any]) -> bool:
    if cells and type(cells[0]) is str and cells[0][:1].isascii() and cells[0][:1] not in ("#", " ", "\t", ""):
        return False  # fast path: a first cell that does not start a comment
    first = next((c for c in cells if c is not None and str(c).strip()), None)
    return isinstance(first, str) and values.text(first).startswith("#")


def _check_rows(rows: Iterator[Row], spec: SubmissionSpec, freq: str, today: date, staging: Staging,
                report: Report, timezone: str, ministry_code: str | None) -> None:
    header: HeaderMap | None = None
    skipped: list[int] = []
    batcher: fastpath.BatchChecker | None = None
    pending_rows: list[int] = []
    pending: list[list[Any]] = []
    for row_no, cells, notes in rows:
        if _blank(cells) or _comment(cells):
            continue
        if header is None:
            if looks_like_header(cells, spec) or len(skipped) >= HEADER_SEARCH_ROWS:
                header = map_header(cells, spec, row_no, report)
                width = len(cells)
                if skipped:
                    report.warning("rows_before_header", f"rows {skipped[0]}-{skipped[-1]} before the header were "
                                   "ignored", f"見出し行より前の {skipped[0]}〜{skipped[-1]} 行目は読み飛ばしました",
                                   row=skipped[0])
                if not _keys_present(header, spec):
                    return
                checker = RowChecker(spec, header, freq, today, report, staging, timezone, ministry_code)
                if report.file_format == "csv" and fastpath.eligible(spec, header):
                    batcher = fastpath.BatchChecker(spec, header, freq, checker.latest, width)
            else:
                skipped.append(row_no)
            continue
        if batcher is not None:
            pending_rows.append(row_no)
            pending.append(cells)
            if len(pending) >= FAST_BATCH:
                _run_batch(batcher, checker, pending_rows, pending, width, report, staging)
                pending_rows, pending = [], []
            continue
        _check_one(checker, row_no, cells, notes, width, report)
    if pending:
        _run_batch(batcher, checker, pending_rows, pending, width, report, staging)
    if header is None:
        if skipped:
            report.error("no_header", "no header row naming the KPI's columns was found",
                         "KPIの列名を含む見出し行が見つかりません", row=skipped[0])
        elif report.ok:
            report.error("empty_file", "the file has no rows", "ファイルにデータがありません")
        return
    for row_no, first, period, entity, ok in staging.duplicates():
        report.rows_valid -= ok
        report.error("duplicate_key", f"duplicate of row {first} (same period {period:%Y-%m} and entity {entity})",
                     f"{first}行目と重複しています（期間 {period:%Y-%m}、対象 {entity}）", row=row_no,
                     column=_key_column(header), value=entity)
    percents = [c.name for c in spec.columns if c.type == "percent" and header.has(c.name)]
    for name in staging.fraction_like(percents):  # a percent of 0.45 is 0.45 %: say so when all of them look like it
        report.warning("percent_as_fraction", "every value is between 0 and 1: if they are fractions (0.45 for 45 %), "
                       "write them as percentages (45 or 45%); as sent they are read as under 1 %",
                       "すべての値が0から1の間です。割合（0.45 = 45%）で記入した場合は百分率（45 または 45%）で記入してください。"
                       "このままでは1%未満として読み込まれます", column=header.written[name])


def _check_one(checker: RowChecker, row_no: int, cells: list[Any], notes: dict[int, CellNote] | None, width: int,
               report: Report) -> None:
    report.rows_total += 1
    errors_before = report.errors
    if len(cells) > width and not _blank(cells[width:]):
        report.error("extra_cells", "the row has more cells than the header has columns",
                     "見出しの列数より多いセルがあります", row=row_no,
                     value=next(str(c) for c in cells[width:] if c is not None and str(c).strip()))
    for i in checker.header.unnamed:
        if i < len(cells) and not _blank([cells[i]]):
            report.error("unnamed_column", "a value under a column with no heading: name the column or remove the "
                         "value", "見出しのない列に値があります。列名を記入するか値を削除してください", row=row_no,
                         column=_column_at(checker.header, i), value=mask(_show(cells[i])))
    if checker.check(row_no, cells, notes) and report.errors == errors_before:
        report.rows_valid += 1


def _run_batch(batcher: fastpath.BatchChecker, checker: RowChecker, row_nos: list[int], rows: list[list[Any]],
               width: int, report: Report, staging: Staging) -> None:
    """A clean batch is staged at once; otherwise every row is checked singly, for exact problems."""
    if batcher.check_batch(row_nos, rows, staging):
        report.rows_total += len(rows)
        report.rows_valid += len(rows)
        return
    for row_no, cells in zip(row_nos, rows, strict=True):
        _check_one(checker, row_no, cells, None, width, report)


def _keys_present(header: HeaderMap, spec: SubmissionSpec) -> bool:
    """Rows can be checked only when the period and entity columns exist (missing value columns are reported)."""
    entity = {
        "municipality": header.has("municipality_code") or (header.has("municipality_name") and header.has("prefecture")),
        "prefecture": header.has("prefecture_code") or header.has("prefecture"),
        "ministry": header.has("ministry_code"),
        "national": True,
    }[spec.level]
    return header.has("period") and entity


def _key_column(header: HeaderMap) -> str | None:
    for name in ("municipality_code", "municipality_name", "prefecture_code", "prefecture", "ministry_code"):
        if header.has(name):
            return header.written[name]
    return header.written.get("period")


class RowChecker:
    """Checks one data row: entity, period, typed values, ranges and cross-column rules."""

    def __init__(self, spec: SubmissionSpec, header: HeaderMap, freq: str, today: date, report: Report,
                 staging: Staging, timezone: str, ministry_code: str | None = None) -> None:
        self.spec, self.header, self.freq, self.report, self.staging = spec, header, freq, report, staging
        self.ministry_code = ministry_code
        self.latest = values.current_period(today, freq)
        self.columns = [(c, header.index[c.name], header.written[c.name]) for c in spec.columns
                        if header.has(c.name)]
        self._parsers: dict[str, Callable[[Any, CellNote | None], Any]] = {
            c.name: _parser(c, timezone) for c in spec.columns
        }
        self._entity = self._entity_resolver()

    def _cell(self, cells: list[Any], name: str) -> Any:
        i = self.header.index.get(name)
        return cells[i] if i is not None and i < len(cells) else None

    def _entity_resolver(self) -> Callable[[list[Any]], entities.Resolved | Bad]:
        level = self.spec.level
        if level == "municipality":
            code_only = self.header.has("municipality_code") and not self.header.has("municipality_name")
            code_at = self.header.index.get("municipality_code", 0)

            def resolve(cells: list[Any]) -> entities.Resolved | Bad:
                if code_only and code_at < len(cells):  # fast path: a code column and no name column
                    raw = cells[code_at]
                    if type(raw) is str and raw.isascii() and raw.strip():
                        return entities.by_code(raw.strip().replace("-", ""))
                code = values.text(self._cell(cells, "municipality_code"))
                name = values.text(self._cell(cells, "municipality_name"))
                pref = self._cell(cells, "prefecture")
                if code:
                    got = entities.municipality_by_code(code)
                    if isinstance(got, entities.Resolved) and name:
                        m = entities.index().by_code[got.code]
                        if not _same_name(name, m.name_ja):
                            return Bad(f"code {got.code} is {m.name_ja}, but the name column says {name}",
                                       f"コード {got.code} は{m.name_ja}ですが、市区町村名は{name}です")
                    return got
                if name:
                    return entities.municipality_by_name(pref, name)
                return Bad("municipality is empty (give the code or prefecture + name)",
                           "市区町村が空欄です（コード、または都道府県名＋市区町村名）")
            return resolve
        if level == "prefecture":
            return lambda cells: entities.prefecture(self._cell(cells, "prefecture_code"),
                                                     self._cell(cells, "prefecture"))
        if level == "ministry":
            return lambda cells: _own_ministry(entities.ministry(self._cell(cells, "ministry_code")),
                                               self.ministry_code)
        return lambda cells: entities.Resolved("JP")

    def _entity_column(self) -> str | None:
        return _key_column(self.header) if self.spec.level != "national" else None

    def check(self, row_no: int, cells: list[Any], notes: dict[int, CellNote] | None) -> bool:
        """Check and stage one row; True when it has no error."""
        rep = self.report
        errors_before = rep.errors
        ent = self._entity(cells)
        entity_code = None
        if isinstance(ent, Bad):
            # each cell masked on its own: joined, a code beside a number reads as other digits (011002 1993...)
            raw = " ".join(mask(values.text(self._cell(cells, n))) for n in
                           ("municipality_code", "prefecture_code", "prefecture", "municipality_name", "ministry_code")
                           if self.header.has(n) and values.text(self._cell(cells, n)))
            rep.error("bad_entity", ent.en, ent.ja, row=row_no, column=self._entity_column(), value=raw)
        else:
            entity_code = ent.code
            if ent.note_en:
                rep.warning("lenient_code", ent.note_en, ent.note_ja or ent.note_en, row=row_no,
                            column=self._entity_column(), value=values.text(self._cell(cells, "municipality_code")))
        self._individual_numbers(row_no, cells)
        period = self._period(row_no, cells, notes)
        parsed: dict[str, tuple[float | None, str | None]] = {}
        for col, i, written in self.columns:
            cell = cells[i] if i < len(cells) else None
            note = notes.get(i) if notes else None
            got = self._value(row_no, col, written, cell, note)
            if got is not None:
                parsed[col.name] = got
        self._checks(row_no, parsed)
        ok = rep.errors == errors_before
        if entity_code is not None and period is not None:
            self.staging.add(row_no, ok, period, entity_code, parsed)
        return ok

    def _individual_numbers(self, row_no: int, cells: list[Any]) -> None:
        """An Individual Number in any cell refuses the file (a submission has no person-key column); so does a
        NUL character, which is never stored."""
        for i, cell in enumerate(cells):
            if type(cell) is str and "\x00" in cell:
                self.report.error("nul_character", "NUL character (\\x00) in the cell; remove it",
                                  "NUL文字が含まれています。削除してください", row=row_no,
                                  column=_column_at(self.header, i), value=cell.replace("\x00", "\\x00"))
                continue
            if cell is None or (type(cell) is str and not long_enough(cell)):
                continue
            if individual_numbers(cell):
                self.report.error("individual_number", "an Individual Number (My Number) may not be submitted",
                                  "個人番号（マイナンバー）は提出できません", row=row_no,
                                  column=_column_at(self.header, i), value=mask(cell))

    def _period(self, row_no: int, cells: list[Any], notes: dict[int, CellNote] | None) -> date | None:
        i = self.header.index["period"]
        cell = cells[i] if i < len(cells) else None
        written = self.header.written["period"]
        note = notes.get(i) if notes else None
        if note and note.formula:
            self._formula_note(row_no, written, cell, note)
        got = values.period(cell, self.freq)
        if isinstance(got, Bad):
            self.report.error("bad_period", got.en, got.ja, row=row_no, column=written, value=_show(cell))
            return None
        if got > self.latest:
            self.report.error("future_period", f"period {values.period_label(got, self.freq)} is in the future",
                              f"期間 {values.period_label(got, self.freq)} は未来です", row=row_no, column=written,
                              value=_show(cell))
            return None
        return got

    def _formula_note(self, row_no: int, written: str, cell: Any, note: CellNote) -> bool:
        if cell is None:
            self.report.error("formula_without_value", "the cell holds a formula with no computed value; paste values",
                              "数式のみで計算結果がありません。値として貼り付けてください", row=row_no,
                              column=written, value=note.formula)
            return False
        self.report.warning("formula", f"the cell holds a formula ({note.formula}); its computed value was used — "
                            "please send values", f"数式（{note.formula}）の計算結果を使いました。値で提出してください",
                            row=row_no, column=written, value=_show(cell))
        return True

    def _value(self, row_no: int, col: SubmissionColumn, written: str, cell: Any,
               note: CellNote | None) -> tuple[float | None, str | None] | None:
        rep = self.report
        if note is not None and note.formula and not self._formula_note(row_no, written, cell, note):
            return None
        if cell is None or cell == "" or (type(cell) is str and not cell.strip()):
            if col.required:
                rep.error("missing_value", "required value is empty", "必須の値が空欄です", row=row_no, column=written,
                          value="")
                return None
            return (None, None)
        if col.type not in ("text", "enum") and values.is_none_mark(cell):  # "-": none / not applicable, never 0
            if col.required:
                rep.error("missing_value", "'-' (none / not applicable) where a value is required",
                          "必須の値が「-」（該当なし）です", row=row_no, column=written, value=str(cell))
                return None
            return (None, "-")
        got = self._parsers[col.name](cell, note)
        if type(got) is Bad:
            rep.error("wrong_type", f"{got.en} (column type {col.type})", f"{got.ja}（列の型: {col.type}）",
                      row=row_no, column=written, value=_show(cell))
            return None
        value, text = got
        if value is not None:
            lo, hi = col.min, col.max
            if lo is not None and value < lo:
                what = "negative" if value < 0 <= lo else f"below the minimum {lo:g}"
                rep.error("out_of_range", f"{what}: must be ≥ {lo:g}", f"{lo:g} 以上である必要があります",
                          row=row_no, column=written, value=_show(cell))
                return None
            if hi is not None and value > hi:
                unit = " %" if col.type == "percent" else ""
                rep.error("out_of_range", f"above the maximum: must be ≤ {hi:g}{unit}",
                          f"上限 {hi:g}{unit} を超えています", row=row_no, column=written, value=_show(cell))
                return None
        elif text is not None and text.startswith(_FORMULA_START):
            rep.warning("formula_text", "starts with = + - @: stored as text, never executed, escaped on export",
                        "= + - @ で始まる値は文字列として保存し、出力時は無害化します", row=row_no, column=written,
                        value=text)
        return got

    def _checks(self, row_no: int, parsed: dict[str, tuple[float | None, str | None]]) -> None:
        for check in self.spec.checks:
            if not check.lte:
                continue
            a, b = check.lte
            va, vb = parsed.get(a, (None, None))[0], parsed.get(b, (None, None))[0]
            if va is not None and vb is not None and va > vb:
                la, lb = self.header.written.get(a, a), self.header.written.get(b, b)
                en = check.message_en or f"{la} must not exceed {lb}"
                ja = check.message_ja or f"{la} が {lb} を超えています"
                self.report.error("check_failed", f"{en} ({va:g} > {vb:g})", f"{ja}（{va:g} > {vb:g}）",
                                  row=row_no, column=la, value=f"{va:g} > {vb:g}")


def _own_ministry(got: entities.Resolved | Bad, submitter: str | None) -> entities.Resolved | Bad:
    """A ministry-level row is the submitting ministry's own figure: another ministry's would set its KPI value."""
    if isinstance(got, Bad) or submitter is None or got.code == submitter:
        return got
    return Bad(f"a row for ministry {got.code} in a file for {submitter}: a ministry submits only its own figures",
               f"{submitter} の提出ファイルに {got.code} の行があります（自府省の値のみ提出できます）")


def _column_at(header: HeaderMap, index: int) -> str:
    """The header as written above cell `index` (or its spreadsheet column letter when it has none)."""
    for name, i in header.index.items():
        if i == index:
            return header.written.get(name, name)
    from openpyxl.utils import get_column_letter  # openpyxl only for a header-less column

    return f"column {get_column_letter(index + 1)}"


def _same_name(a: str, b: str) -> bool:
    return normalise_name(a) == normalise_name(b)


def _show(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def _parser(col: SubmissionColumn,
            timezone: str) -> Callable[[Any, CellNote | None], tuple[float | None, str | None] | Bad]:
    """A function cell -> (value, text_value) | Bad for the declared type (dates read in `timezone`)."""
    def num(fn: Callable[[Any], float | Bad]) -> Callable[[Any, CellNote | None], Any]:
        def parse(cell: Any, note: CellNote | None) -> Any:
            got = fn(cell)
            return got if type(got) is Bad else (got, None)
        return parse

    if col.type == "integer":
        return num(values.integer)
    if col.type == "number":
        return num(values.number)
    if col.type == "boolean":
        return num(values.boolean)
    if col.type == "percent":
        def pct(cell: Any, note: CellNote | None) -> Any:
            got = values.percent(cell, bool(note and note.percent_format))
            return got if isinstance(got, Bad) else (got, None)
        return pct
    if col.type == "date":
        def day(cell: Any, note: CellNote | None) -> Any:
            got = values.a_date(cell, timezone)
            return got if isinstance(got, Bad) else (None, got.isoformat())
        return day
    if col.type == "enum":
        allowed = {_fold(a): a for a in col.allowed or []}

        def enum(cell: Any, note: CellNote | None) -> Any:
            got = allowed.get(_fold(values.text(cell)))
            if got is None:
                listed = ", ".join(col.allowed or [])
                return Bad(f"not an allowed value ({listed})", f"入力できない値です（{listed}）")
            return (None, got)
        return enum

    def plain(cell: Any, note: CellNote | None) -> Any:
        return (None, unicodedata.normalize("NFC", str(cell).strip()))
    return plain


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).strip().lower()


__all__ = ["check_file", "encoding_label", "header_label"]
