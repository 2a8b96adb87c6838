"""The `submission` section of a KPI definition: the file ministries send for that KPI.

One source of truth: the submission template, the file validation and the stored column names all
derive from this section. Key columns are implied by `level` and the KPI's frequency:

- `period` (期間): YYYY-MM for monthly KPIs, YYYY-Qn or YYYY-MM of the quarter's first month for quarterly,
  FY2025 / 2025年度 / R7年度 for fiscal-year KPIs;
- the entity: municipality level -> `municipality_code` (市区町村コード) or `prefecture` (都道府県名) +
  `municipality_name` (市区町村名); prefecture level -> `prefecture_code` or `prefecture`;
  ministry level -> `ministry_code` (府省コード); national level -> none.

Rows are stored in `submission_values` (submission_id, kpi_id, ministry_code, period, entity_code,
column_name, value, text_value): one row per file row and declared column.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ColumnType = Literal["integer", "number", "percent", "text", "enum", "date", "boolean"]
SubmissionLevel = Literal["municipality", "prefecture", "ministry", "national"]


class SubmissionColumn(BaseModel):
    """One declared value column of a submission file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # English header and stored column_name
    label_ja: str  # Japanese header accepted in files and written in templates
    label_en: str | None = None  # human English label for templates and reports
    type: ColumnType = "integer"
    unit: str | None = None  # count | percent | days | yen | ...
    required: bool = True
    min: float | None = None
    max: float | None = None  # a percent column defaults to max 100
    allowed: list[str] | None = None  # for enum
    description_ja: str | None = None
    description_en: str | None = None
    example: str | None = None  # sample value written in the template

    @model_validator(mode="after")
    def _defaults(self) -> SubmissionColumn:
        if self.type == "percent" and self.max is None:
            self.max = 100.0
        if self.type in ("integer", "number", "percent") and self.min is None:
            self.min = 0.0
        if self.type == "enum" and not self.allowed:
            raise ValueError(f"column {self.name}: type enum needs `allowed` values")
        return self


class SubmissionCheck(BaseModel):
    """A row-level rule between two columns, e.g. numerator <= denominator: {lte: [a, b]}."""

    model_config = ConfigDict(extra="forbid")

    lte: tuple[str, str] | None = None
    message_ja: str | None = None
    message_en: str | None = None


class SubmissionSpec(BaseModel):
    """What a ministry file for this KPI must contain."""

    model_config = ConfigDict(extra="forbid")

    submitters: list[str] = Field(default_factory=list)  # ministry codes allowed besides the owner
    level: SubmissionLevel = "municipality"
    columns: list[SubmissionColumn]
    checks: list[SubmissionCheck] = Field(default_factory=list)
    sheet: str | None = None  # XLSX sheet name to read; default the first sheet

    @model_validator(mode="after")
    def _names(self) -> SubmissionSpec:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("submission columns must have distinct names")
        for check in self.checks:
            for ref in check.lte or ():
                if ref not in names:
                    raise ValueError(f"submission check refers to unknown column {ref!r}")
        return self
