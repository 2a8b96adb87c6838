"""What a collector is: a declared kind/table/key/write mode beside a plain parse generator, and its result.

Like a dlt source, a collector reads like a description: `parse(table, ctx)` yields validated rows (dicts of
the target table's columns, each with its 1-based line) from a `Table` of raw cells, raising `RowError` for the first bad row. It never
touches the scheduler, the warehouse or the network; `collectors.runs` archives, parses and loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from observatory.calendar import DEFAULT_TIMEZONE

# RowError is the one reader's error (observatory.rows), re-exported here: collectors raise it too
from observatory.rows import RowError as RowError
from observatory.security.pseudonym import individual_numbers, mask

WriteMode = Literal["upsert", "append"]
RunStatus = Literal["running", "ok", "not_modified", "no_input", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the input layout: its canonical name, header aliases (Japanese and English), required?"""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True


@dataclass
class ParseContext:
    """What a parser may know beyond the cells: the file name, the period argument, the title lines, keys."""

    file: str
    period: str | None = None
    fiscal_year: int | None = None  # --fiscal-year: files that do not say their year (procedure inventory)
    released_on: str | None = None  # --released-on YYYY-MM-DD, else the HTTP Last-Modified date (DX dashboards)
    title_lines: list[str] = field(default_factory=list)
    pseudonym_key: str = ""
    timezone: str = DEFAULT_TIMEZONE
    detail: dict[str, Any] = field(default_factory=dict)  # counters a parser reports (rows_skipped, ...)
    # the time the file is ingested (aware): what 'in the future' means for its rows; tests pass their own
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def count(self, name: str, n: int = 1) -> None:
        self.detail[name] = int(self.detail.get(name, 0)) + n

    def warn(self, message: str, limit: int = 50) -> None:
        """A problem that does not stop the load (printed by the CLI, kept in the run's detail.warnings)."""
        self.count("warnings_total")
        shown = self.detail.setdefault("warnings", [])
        if len(shown) < limit:
            shown.append(message)


@dataclass
class Table:
    """Raw cells of one sheet/CSV/JSON after the header row was found: (1-based line, {column: cell})."""

    columns: list[str]  # canonical names of the columns found
    rows: list[tuple[int, dict[str, Any]]]
    header_line: int = 1
    title_lines: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # the header row as published (every column, exact text)
    cells: list[list[Any]] = field(default_factory=list)  # every cell of each row, parallel to `rows` and `header`
    sheet: str | None = None  # the workbook's sheet read (a reader's own table: errors name it)

    def __post_init__(self) -> None:
        # The header is kept where a file is kept whole (procedure_inventory.published holds every column under its
        # heading): an Individual Number in a heading refuses the file, as in any cell that is not a person key.
        for i, heading in enumerate(self.header):
            if individual_numbers(heading):
                raise RowError("an Individual Number (個人番号) in a column's heading; the file is refused / "
                               "見出しに個人番号を含めることはできません（ファイルを受け付けません）",
                               row=self.header_line, column=f"#{i + 1}", value=mask(heading))

    def published(self, index: int) -> dict[str, Any]:
        """Row `index` as published: exact header text -> cell, every column (for files kept whole)."""
        values = self.cells[index] if index < len(self.cells) else []
        return {h: (values[i] if i < len(values) else None) for i, h in enumerate(self.header)}


@dataclass
class BulkOutcome:
    """What a bulk loader did with one file (counts, months, detail), reported into the run."""

    rows_read: int
    rows_loaded: int
    periods: list[date] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


Parser = Callable[[Table, ParseContext], Iterator[tuple[int, dict[str, Any]]]]


@dataclass(frozen=True)
class Collector:
    """One kind of input: layout, parser and where its rows go."""

    kind: str
    table: str
    key: tuple[str, ...]
    mode: WriteMode
    columns: tuple[Column, ...]
    parse: Parser | None  # None for collectors that load through DuckDB directly (access-log)
    table_columns: tuple[str, ...] = ()  # columns written to `table` (run_id is added by the loader)
    period_column: str | None = None  # column whose dates are reported as periods_touched
    period_of: Callable[[dict[str, Any]], date | None] | None = None  # or a function of the row
    default_sheet: str | None = None  # XLSX sheet to prefer (else the first)
    find_header: bool = True  # title/blank lines may stand above the header (as spreadsheets are saved)
    alternative_layouts: tuple[tuple[Column, ...], ...] = ()  # other accepted layouts (e.g. coded card layout)
    # loads a whole file itself (access-log through DuckDB): bulk(warehouse, ws, path, run_id, ctx, ...,
    # commit=fn(con, outcome)), taking the workspace lock only to publish and call commit
    bulk: Callable[..., BulkOutcome] | None = None
    reader: Callable[..., Table] | None = None  # reads cells itself (wide layouts): (name, data, **read options)
    variants: tuple[Collector, ...] = ()  # other tables the same kind feeds, chosen by the layout a file has
    # (con, rows, ctx) in the load's transaction, before the rows are written: checks against what is stored (a
    # RowError refuses the file, nothing written)
    before_load: Callable[..., None] | None = None
    after_load: Callable[..., None] | None = None  # (con, rows, ctx) in the load's transaction: reports, checks
    uses_pseudonyms: bool = False  # needs the pseudonym key (subject ids may be raw Individual Numbers)
    description: str = ""

    def layouts(self) -> tuple[tuple[Column, ...], ...]:
        return (self.columns, *self.alternative_layouts)

    def all_variants(self) -> tuple[Collector, ...]:
        """This collector first, then the variants (a file goes to the first whose layout it has)."""
        return (self, *self.variants)


@dataclass
class RunResult:
    """The outcome of one collector run, as recorded in collector_runs."""

    run_id: int
    source: str
    kind: str
    status: RunStatus
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    error: str | None = None
    file_hashes: list[str] = field(default_factory=list)
    tables_touched: list[str] = field(default_factory=list)
    periods_touched: list[date] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


def canonical_headers(layout: tuple[Column, ...], *, keep_brackets: bool = False) -> Mapping[str, str]:
    """normalised header text -> canonical column name, for every alias of every column. With `keep_brackets`
    the bracketed text stays part of the key (処理期間(オンライン) and 処理期間(非オンライン) stay apart)."""
    from collectors.sources import normalise_header  # here: collectors.sources imports this module

    out: dict[str, str] = {}
    for col in layout:
        for alias in (col.name, *col.aliases):
            out[normalise_header(alias, keep_brackets=keep_brackets)] = col.name
    return out
