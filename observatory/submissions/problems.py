"""Validation problems and the report: every problem of a file, each naming row, column, value and reason.

A report is a value, never an exception: the CLI prints it, the dashboard shows it and `report_csv` makes it
downloadable. Messages are bilingual (English / 日本語). Huge files with systematic errors are summarised:
the first `MAX_LISTED` problems are listed and the rest are counted by kind.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from observatory.cells import csv_safe, shown
from observatory.security.pseudonym import long_enough, mask, mask_text

Severity = Literal["error", "warning", "info"]
MAX_LISTED = 2000


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: where (row, column), what (value) and why (code, English and Japanese reason)."""

    severity: Severity
    code: str
    message_en: str
    message_ja: str
    row: int | None = None  # 1-based row as Excel shows it; None for the whole file
    column: str | None = None  # header as written in the file (or the declared name)
    value: str | None = None

    def line(self, file_name: str | None = None) -> str:
        """`file: row 5, column 市区町村コード, value "01100X": error: <en> / <ja>`."""
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {shown(self.column)}")
        if self.value is not None:
            where.append(f'value "{_short(shown(self.value))}"')  # a CR/LF or ESC in a cell: shown, not obeyed
        head = f"{file_name}: " if file_name else ""
        loc = ", ".join(where)
        said = self.message_en if self.message_en == self.message_ja else f"{self.message_en} / {self.message_ja}"
        return f"{head}{loc + ': ' if loc else ''}{self.severity}: {said}"  # a refusal comes in both languages


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass
class Report:
    """Everything found in one file: problems, the detected format and encoding, row counts."""

    file_name: str | None = None
    file_format: str | None = None  # csv | xlsx
    encoding: str | None = None  # utf-8 | utf-8-sig | cp932 (CSV only)
    sheet: str | None = None
    rows_total: int = 0
    rows_valid: int = 0
    problems: list[Problem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)  # (severity, code) -> number, including unlisted ones

    n_errors: int = 0
    n_warnings: int = 0

    def add(self, problem: Problem) -> None:
        """Record a problem; beyond MAX_LISTED only its kind is counted. Individual Numbers are masked in what is
        kept (value, column and the reason, which may quote a cell: a code/name mismatch names the name column)."""
        self.counts[(problem.severity, problem.code)] += 1
        if problem.severity == "error":
            self.n_errors += 1
        elif problem.severity == "warning":
            self.n_warnings += 1
        if len(self.problems) >= MAX_LISTED:
            return  # counted only: nothing of it is kept, so nothing to mask (a file may break a rule a million times)
        if problem.value is not None and "\x00" in problem.value:  # a NUL is never stored, not even in a report
            problem = replace(problem, value=problem.value.replace("\x00", "\\x00"))
        if long_enough(problem.value or "") or long_enough(problem.column or ""):
            problem = replace(problem, value=None if problem.value is None else mask(problem.value),
                              column=None if problem.column is None else mask_text(problem.column))
        en, ja = mask_text(problem.message_en), mask_text(problem.message_ja)
        if en != problem.message_en or ja != problem.message_ja:
            problem = replace(problem, message_en=en, message_ja=ja)
        self.problems.append(problem)

    def error(self, code: str, en: str, ja: str, *, row: int | None = None, column: str | None = None,
              value: Any = None) -> None:
        self.add(Problem("error", code, en, ja, row, column, None if value is None else str(value)))

    def warning(self, code: str, en: str, ja: str, *, row: int | None = None, column: str | None = None,
                value: Any = None) -> None:
        self.add(Problem("warning", code, en, ja, row, column, None if value is None else str(value)))

    @property
    def errors(self) -> int:
        return self.n_errors

    @property
    def warnings(self) -> int:
        return self.n_warnings

    @property
    def ok(self) -> bool:
        return self.errors == 0

    @property
    def unlisted(self) -> int:
        return sum(self.counts.values()) - len(self.problems)

    def lines(self) -> list[str]:
        """The report as text lines: a summary, then one line per problem."""
        fmt = self.file_format or "format unknown"
        enc = f", encoding {self.encoding}" if self.encoding else ""
        sheet = f", sheet {self.sheet}" if self.sheet else ""
        out = [
            f"{self.file_name or '(file)'}: {fmt}{enc}{sheet}; {self.rows_total} data rows, {self.rows_valid} valid; "
            f"{self.errors} error(s), {self.warnings} warning(s) / データ行 {self.rows_total}、"
            f"エラー {self.errors} 件、警告 {self.warnings} 件"
        ]
        out += [p.line(self.file_name) for p in self.problems]
        if self.unlisted:
            kinds = ", ".join(f"{code} ×{n}" for (_, code), n in sorted(self.counts.items()))
            out.append(f"... {self.unlisted} more problem(s) not listed / ほか {self.unlisted} 件 (all: {kinds})")
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form stored with the submission."""
        return {
            "file_name": self.file_name, "file_format": self.file_format, "encoding": self.encoding,
            "sheet": self.sheet, "rows_total": self.rows_total, "rows_valid": self.rows_valid,
            "errors": self.errors, "warnings": self.warnings, "unlisted": self.unlisted,
            "counts": [{"severity": s, "code": c, "n": n} for (s, c), n in sorted(self.counts.items())],
            "problems": [asdict(p) for p in self.problems],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """Rebuild a stored report (for `submission show` and the dashboard)."""
        rep = cls(data.get("file_name"), data.get("file_format"), data.get("encoding"), data.get("sheet"),
                  int(data.get("rows_total") or 0), int(data.get("rows_valid") or 0))
        rep.problems = [Problem(**p) for p in data.get("problems", [])]
        rep.counts = Counter({(c["severity"], c["code"]): c["n"] for c in data.get("counts", [])})
        rep.n_errors = sum(n for (sev, _), n in rep.counts.items() if sev == "error")
        rep.n_warnings = sum(n for (sev, _), n in rep.counts.items() if sev == "warning")
        return rep


def report_csv(report: Report) -> bytes:
    """The report as a CSV download (UTF-8 with BOM for Excel); every cell escaped against formula injection."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["重要度 severity", "行 row", "列 column", "値 value", "種別 code", "理由 reason", "reason (English)"])
    for p in report.problems:
        w.writerow([csv_safe(x) for x in (p.severity, p.row, p.column, p.value, p.code, p.message_ja, p.message_en)])
    if report.unlisted:
        w.writerow(["info", "", "", "", "unlisted", f"ほか {report.unlisted} 件", f"{report.unlisted} more not listed"])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
