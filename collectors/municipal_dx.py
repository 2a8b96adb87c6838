"""Digital Agency DX dashboards (自治体DXの取組に関するダッシュボード), kind `municipal-dx`.

The files are wide: the first row names the entities (first cell `市区町村名` or `都道府県`, or empty in the
comparison files, which also end with an empty field), then one row per indicator: its group (may be empty; a
blank under a group is that group, as a label merged down over its indicators reads), its
name, and one cell per entity: `88.8%`, `72%`, `実施`/`未実施`, a count, `調査無し` (not surveyed) or blank.
The names carry no codes and 25 municipality names repeat (池田町 four times), so the columns are read as the
official list in code order (1,741 municipalities or 47 prefectures), or part of it in that order, each name
checked with the district/island and variant-kanji rules of `MunicipalityIndex`; a file whose columns leave that
order, or a repeated name whose neighbours do not say which one it is, is refused naming the column. `調査無し`, blanks,
a dash alone (none / not applicable, as observatory.cells reads it) and a bare `%` (a rate of 0 out of 0
procedures) are no data (value NULL), never 0.

The same file re-saved as XLSX (Excel turns `88.8%` into 0.888 formatted as a percentage; the cell is read as
it is displayed), as CP932, or with its indicator rows in another order loads to the same rows.
"""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import Any

from collectors.base import Collector, ParseContext, RowError, Table
from collectors.sources import RowStream, stream_cells
from collectors.values import is_blank, parse_count, parse_date, parse_float
from observatory.cells import is_none_mark, is_note
from observatory.reference import DxIndicator, MunicipalityIndex, dx_indicators, municipalities, prefectures

FLAGS = {"実施": 1.0, "未実施": 0.0}
NOT_SURVEYED = {"調査無し", "調査なし"}
FIRST_CELLS = {"": None, "市区町村名": "municipality", "市区町村": "municipality", "都道府県": "prefecture",
               "都道府県名": "prefecture"}
CELL_KEYS = ("group_ja", "name_ja", "entity_level", "entity_code", "column", "cell")
TABLE_COLUMNS = ("indicator_id", "group_ja", "name_ja", "name_en", "entity_level", "entity_code", "released_on",
                 "value", "text_value", "unit")


# ------------------------------------------------------------------------------------------------ reading


def _letters(number: int) -> str:
    """Spreadsheet letters of a 1-based column number (3 -> C, 28 -> AB)."""
    out = ""
    while number:
        number, rest = divmod(number - 1, 26)
        out = chr(65 + rest) + out
    return out


def _column(number: int, name: str) -> str:
    return f"{number} ({_letters(number)}, {name})" if name else f"{number} ({_letters(number)})"


def _text(value: Any) -> str:
    """A label cell trimmed (spaces and full-width spaces at both ends); '' for blank."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip(" \t\r\n\u3000")


def _key(text: str) -> str:
    """Labels compared folded: NFKC, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _official(level: str) -> tuple[list[tuple[str, str]], Any]:
    """The official list of a level in code order as (code, name), and agrees(i, name): whether a published
    name names the i-th entity (district/island and variant kanji as MunicipalityIndex has them)."""
    index = MunicipalityIndex()
    if level == "prefecture":
        official = [(p.code, p.name_ja) for p in prefectures()]
        return official, lambda i, name: index.prefecture_code(name) == official[i][0]
    items = municipalities()
    return [(m.code, m.name_ja) for m in items], lambda i, name: index.names_agree(items[i], name)


def _resolve(names: list[str], level: str, header_line: int) -> list[str]:
    """The code of each entity column: the columns are the official list, or part of it, in code order.

    Two passes give each column its earliest and its latest possible place in the list (linear: one pointer
    each). A full national file has one place per column; a column whose places differ (a repeated name such as
    池田町 without neighbours that say which) is refused, as is a column that leaves the code order."""
    official, agrees = _official(level)
    what = "prefecture" if level == "prefecture" else "municipality"
    earliest: list[int] = []
    k = 0
    for j, name in enumerate(names):
        if not name:
            raise RowError(f"column {j + 3} has no {what} name / 団体名がありません", row=header_line,
                           column=_column(j + 3, ""))
        while k < len(official) and not agrees(k, name):
            k += 1
        if k == len(official):
            after = f" after {official[earliest[-1]][1]} ({official[earliest[-1]][0]})" if earliest else ""
            raise RowError(
                f"column {j + 3} is {name}: no {what} of that name follows{after} in the official code order; "
                f"columns must follow the local government code order / 列の並びが団体コード順と一致しません",
                row=header_line, column=_column(j + 3, name), value=name)
        earliest.append(k)
        k += 1
    latest = [0] * len(names)
    k = len(official) - 1
    for j in range(len(names) - 1, -1, -1):
        while not agrees(k, names[j]):
            k -= 1  # stops: the earliest places are a valid placing
        latest[j] = k
        k -= 1
    for j, (first, last) in enumerate(zip(earliest, latest, strict=True)):
        if first != last:
            raise RowError(
                f"column {j + 3} ({names[j]}) may be {official[first][1]} ({official[first][0]}) or "
                f"{official[last][1]} ({official[last][0]}): the columns around it do not say which / "
                f"同名の団体のどれか特定できません", row=header_line, column=_column(j + 3, names[j]), value=names[j])
    return [official[i][0] for i in earliest]


def _level_of(names: list[str]) -> str:
    """The level of a file whose first cell does not say it: prefecture when every name is a prefecture's."""
    index = MunicipalityIndex()
    return "prefecture" if names and all(index.prefecture_code(n) for n in names) else "municipality"


def _is_title(cells: list[Any]) -> bool:
    """A title line above the header (a sheet saved from a spreadsheet): one text in the first two columns, nothing
    where the entity names stand (the header of a comparison file naming a single municipality has that one name
    from column C)."""
    filled = [c for c in cells if not is_blank(c)]
    return len(filled) == 1 and all(is_blank(c) for c in cells[2:]) and _key(_text(filled[0])) not in FIRST_CELLS


def _header(grid: list[tuple[int, list[Any]]]) -> tuple[int, int, str, list[str]]:
    """(grid index, line, entity level, entity names) of the first row that is neither blank nor a title."""
    for idx, (line, cells) in enumerate(grid):
        if not any(not is_blank(c) for c in cells) or _is_title(cells):
            continue
        first = _key(_text(cells[0])) if cells else ""
        if first not in FIRST_CELLS:
            raise RowError("the first cell must be 市区町村名, 都道府県 or empty (the DX dashboard layout) / "
                           "DXダッシュボードの形式ではありません", row=line, column=_column(1, ""), value=first)
        names = [_text(c) for c in cells[2:]]
        while names and not names[-1]:
            names.pop()  # the comparison files end with an empty field
        if not names:
            raise RowError("no municipality or prefecture columns after the first two / 団体の列がありません",
                           row=line, column=_column(3, ""))
        level = FIRST_CELLS[first] or _level_of(names)
        return idx, line, level, names
    raise RowError("no header row found (the file is empty) / 見出し行がありません")


class _CellRows(RowStream):
    """The Table rows of a DX file, one per (indicator row, entity), made as the parser reads them: a file's
    cells are never all held (one dict per cell took 925 MB for a 3.5 MB file of 1,000 indicator rows). Each
    indicator row is checked as it is read; `count` holds the cells of the rows begun, `drain` adds the rows not
    read (for rows_read)."""

    def __init__(self, entries: Iterator[tuple[int, list[Any]]], name: str, sheet: str | None, level: str,
                 codes: list[str], labels: list[str]) -> None:
        super().__init__(entries, {})
        self._name, self._sheet, self._level, self._codes, self._labels = name, sheet, level, codes, labels

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        level, codes, labels, width = self._level, self._codes, self._labels, len(self._codes) + 2
        group = ""
        try:
            for line, cells in self._entries:
                if _skipped(cells):
                    continue
                # a blank group is the group above: its label merged down over its indicators (read blank below
                # the first row, and so saved as CSV), as a report sheet lays it out
                group = (_text(cells[0]) if cells else "") or group
                indicator = _text(cells[1]) if len(cells) > 1 else ""
                if not indicator:
                    raise RowError("indicator name missing / 指標名がありません", row=line, column=_column(2, ""))
                for j in range(width, len(cells)):
                    if not is_blank(cells[j]):
                        raise RowError("value beyond the last entity column / 団体の列の外に値があります",
                                       row=line, column=_column(j + 1, ""), value=cells[j])
                self.count += len(codes)  # the row's cells, read or not (a parser may stop inside a row)
                for j, code in enumerate(codes):
                    value = cells[j + 2] if j + 2 < len(cells) else None
                    yield line, dict(zip(CELL_KEYS, (group, indicator, level, code, labels[j], value), strict=True))
        except RowError as exc:
            raise exc.located(self._name, self._sheet) from None

    def drain(self) -> int:
        try:
            for _, cells in self._entries:
                if not _skipped(cells):
                    self.count += len(self._codes)
        except RowError:
            pass  # a file that cannot be read to its end: the error already raised names it
        return self.count


def _skipped(cells: list[Any]) -> bool:
    """A blank row, or a note (※ 出典 ...)."""
    return not any(not is_blank(c) for c in cells) or is_note(cells)


def read(name: str, data: bytes, *, fmt: str = "auto", encoding: str | None = None, sheet: str | None = None,
         **_: Any) -> Table:
    """The cells of a DX dashboard file, one Table row per (indicator row, entity): group, name, entity level
    and code, column label and the cell, streamed (_CellRows). Errors name the file, row and column."""
    found = stream_cells(name, data, fmt=fmt, encoding=encoding, sheet=sheet, percents_as_text=True)
    try:
        if found.grid is None:
            raise RowError("a DX dashboard file is a CSV or XLSX grid, not JSON / CSVかExcelのみ対応しています")
        grid = found.grid
        idx, header_line, level, names = _header(grid)
        codes = _resolve(names, level, header_line)
        labels = [_column(i + 3, n) for i, n in enumerate(names)]
        entries = itertools.chain(grid[idx + 1:], found.rest or ())
        rows = _CellRows(entries, name, found.meta.get("sheet"), level, codes, labels)
        return Table(columns=list(CELL_KEYS), rows=rows, header_line=header_line, sheet=found.meta.get("sheet"))
    except RowError as exc:
        raise exc.located(name, found.meta.get("sheet")) from None


# ------------------------------------------------------------------------------------------------ parsing


class _Indicators:
    """Known indicators by (group, name) and by name alone where that is unique (a file may leave the group
    empty)."""

    def __init__(self, known: tuple[DxIndicator, ...]) -> None:
        self.by_pair = {(_key(d.group_ja), _key(d.name_ja)): d for d in known}
        by_name: dict[str, list[DxIndicator]] = {}
        for d in known:
            by_name.setdefault(_key(d.name_ja), []).append(d)
        self.by_name = {k: v[0] for k, v in by_name.items() if len(v) == 1}

    def find(self, group: str, name: str) -> DxIndicator | None:
        return self.by_pair.get((_key(group), _key(name))) or self.by_name.get(_key(name))


def generated_id(group: str, name: str) -> str:
    """The id of an indicator the reference list lacks: dx_ + a short hash of its folded group and name."""
    digest = hashlib.sha256(f"{_key(group)}\x1f{_key(name)}".encode()).hexdigest()
    return f"dx_{digest[:10]}"


def _unit_of(cell: Any) -> str | None:
    """The unit a cell's form says (None: no data, or a form no unit has)."""
    if is_blank(cell):
        return None
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return "count" if float(cell).is_integer() else None
    text = _key(str(cell))
    if text in NOT_SURVEYED or is_none_mark(text):
        return None
    if text in FLAGS:
        return "flag"
    if text.endswith("%"):
        return "percent"
    try:
        parse_count(text)
        return "count"
    except ValueError:
        return None


def _convert(cell: Any, unit: str) -> tuple[float | None, str | None]:
    """(value, text as published) of one cell; ValueError says why the cell does not fit the unit."""
    if is_blank(cell):
        return None, None
    text = _text(cell)
    folded = _key(text)
    if folded in NOT_SURVEYED or is_none_mark(folded):  # a dash alone: none / not applicable, never 0 nor 未実施
        return None, text
    if unit == "flag":
        if folded not in FLAGS:
            raise ValueError("expected 実施 or 未実施 / 実施・未実施のいずれかが必要です")
        return FLAGS[folded], text
    if unit == "percent":
        if folded == "%":  # a rate of 0 procedures out of 0 is published as a bare '%' (草津町, 天川村)
            return None, text
        if not folded.endswith("%"):
            raise ValueError("expected a percentage such as 88.8% / 百分率（例 88.8%）が必要です")
        value = parse_float(folded)
        if value < 0:
            raise ValueError("must not be negative / 負の値は不可")
        return value, text
    return float(parse_count(cell)), text


def _released_on(ctx: ParseContext) -> date:
    if not ctx.released_on:
        raise RowError("the release date is required: the DX dashboard files do not say it (--released-on "
                       "YYYY-MM-DD, or released_on in observatory.yaml) / 公開日（--released-on）を指定してください",
                       column="released_on")
    try:
        return parse_date(ctx.released_on, ctx.timezone)
    except ValueError as exc:
        raise RowError(str(exc), column="released_on", value=ctx.released_on) from None


def _indicator_rows(table: Table) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """The Table's cells grouped back into their indicator rows (they come in file order)."""
    line, cells = None, []
    for rline, rec in table.rows:
        if rline != line and cells:
            yield line, cells
            cells = []
        line = rline
        cells.append(rec)
    if cells:
        yield line, cells


def parse(table: Table, ctx: ParseContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """municipal_dx rows: one per indicator and entity; an indicator the reference list lacks is kept under a
    generated id (unit from its cells) and reported as a warning."""
    released_on = _released_on(ctx)
    indicators = _Indicators(dx_indicators())
    for line, cells in _indicator_rows(table):
        group, name = cells[0]["group_ja"], cells[0]["name_ja"]
        known = indicators.find(group, name)
        if known is not None:
            indicator_id, name_en, unit = known.indicator_id, known.name_en, known.unit
        else:
            units = [u for u in (_unit_of(c["cell"]) for c in cells) if u is not None]
            unit = max(("percent", "flag", "count"), key=units.count) if units else "percent"
            indicator_id, name_en = generated_id(group, name), None
            ctx.warn(f"row {line}: unknown indicator {group + ' / ' if group else ''}{name}: kept as {indicator_id} "
                     f"(unit {unit}) / 未登録の指標です")
        for rec in cells:
            try:
                value, text = _convert(rec["cell"], unit)
            except ValueError as exc:
                raise RowError(f"{exc} ({indicator_id}, unit {unit})", row=line, column=rec["column"],
                               value=rec["cell"]) from None
            if unit == "percent" and value is not None and value > 100:  # kept as published, but never silently
                ctx.warn(f"row {line}, column {rec['column']}: {text} is above 100 % ({indicator_id}): kept as "
                         f"published / 100%を超える率です（公表値のまま保存）")
            yield line, {
                "indicator_id": indicator_id, "group_ja": group or None, "name_ja": name, "name_en": name_en,
                "entity_level": rec["entity_level"], "entity_code": rec["entity_code"], "released_on": released_on,
                "value": value, "text_value": text, "unit": unit,
            }


COLLECTOR = Collector(
    kind="municipal-dx",
    table="municipal_dx",
    key=("indicator_id", "entity_level", "entity_code", "released_on"),
    mode="upsert",
    columns=(),
    parse=parse,
    reader=read,
    table_columns=TABLE_COLUMNS,
    period_column="released_on",
    description="Digital Agency DX dashboards: indicators per municipality and prefectural government",
)
