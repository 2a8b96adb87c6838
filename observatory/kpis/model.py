"""Typed KPI definitions: the pydantic models behind kpi_definitions/*.yaml and its JSON Schema.

One KPI = identity and wording (ja/en), unit and direction, owner and target-year theme, the levels and
frequency it is computed at, the source feeding it, a list of measure versions (each valid from a date,
with a change note), a baseline, targets for 2020/2023/2026 with optional overrides, status thresholds and,
for ministry-fed KPIs, the `submission` file spec. See FORMAT.md.
"""

from __future__ import annotations

import ast
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from observatory.kpis.submission_spec import SubmissionSpec

Level = Literal["national", "ministry", "prefecture", "municipality"]
LEVELS: tuple[str, ...] = ("national", "ministry", "prefecture", "municipality")
Frequency = Literal["monthly", "quarterly", "fiscal_year"]
Unit = Literal["percent", "count", "days", "hours", "rank", "ratio", "per_1000", "yen"]
Direction = Literal["higher_is_better", "lower_is_better"]
TargetYear = Literal["2020", "2023", "2026"]
TARGET_YEARS: tuple[str, ...] = ("2020", "2023", "2026")
AggName = Literal["sum", "count", "count_distinct", "avg", "median", "min", "max"]
Scalar = str | int | float | bool
# a list of values to match: at least one (an empty one matches nothing, and is no SQL: `IN ()`)
Values = Annotated[list[Scalar], Field(min_length=1)]

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Text(_Model):
    """A wording in Japanese (first) and English."""

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Comparison(_Model):
    """One comparison on a column; give exactly one operator."""

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: Values | None = Field(default=None, alias="in")
    not_in: Values | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    is_null: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> Comparison:
        given = [k for k, v in self.model_dump(by_alias=True).items() if v is not None]
        if len(given) != 1:
            raise ValueError(f"a comparison needs exactly one operator, got {given or 'none'}")
        return self

    def operator(self) -> tuple[str, object]:
        """(operator, operand) of this comparison."""
        for key, value in self.model_dump(by_alias=True).items():
            if value is not None:
                return key, value
        raise AssertionError("unreachable: validated to hold one operator")


FilterValue = Scalar | Values | Comparison


class Aggregate(_Model):
    """An aggregate over one table (or the KPI's submission), with optional filters.

    `over_time` says how months inside a longer period combine: `sum` for flows (cases, applications),
    `last` for stocks (cards held, population) which take each entity's latest month in the period.
    `missing: zero` treats an entity-period with no rows as 0 (event tables); the default is no data.
    """

    agg: AggName
    column: str | None = None
    table: str | None = None  # default: the KPI's `source`
    where: dict[str, FilterValue] = Field(default_factory=dict)
    period_column: str | None = None  # default: the table's period column
    over_time: Literal["sum", "last"] = "sum"
    missing: Literal["no_data", "zero"] = "no_data"

    @model_validator(mode="after")
    def _column(self) -> Aggregate:
        if self.agg != "count" and not self.column:
            raise ValueError(f"aggregate {self.agg} needs a `column`")
        return self


class KpiRef(_Model):
    """The value of another KPI at the same level, entity and period."""

    kpi: str = Field(pattern=NAME_PATTERN)


class Ratio(_Model):
    """numerator / denominator * scale (e.g. scale 100 for percent); both aggregates at the same grain."""

    numerator: Aggregate
    denominator: Aggregate
    scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class Formula(_Model):
    """An arithmetic expression (+ - * / parentheses, numbers) over named terms: aggregates or other KPIs."""

    expression: str
    terms: dict[str, Aggregate | KpiRef]

    @model_validator(mode="after")
    def _expression(self) -> Formula:
        names = expression_names(self.expression)
        unknown = sorted(names - set(self.terms))
        if unknown:
            raise ValueError(f"formula uses undefined term(s) {', '.join(unknown)}")
        return self


class Measure(_Model):
    """Exactly one of: aggregate, ratio, formula."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["aggregate"]}, {"required": ["ratio"]},
                                     {"required": ["formula"]}]},
    )

    aggregate: Aggregate | None = None
    ratio: Ratio | None = None
    formula: Formula | None = None

    @model_validator(mode="after")
    def _one(self) -> Measure:
        given = [k for k in ("aggregate", "ratio", "formula") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a measure needs exactly one of aggregate, ratio, formula")
        return self

    def aggregates(self) -> list[tuple[str, Aggregate]]:
        """(term name, aggregate) of every table aggregate this measure reads."""
        if self.aggregate:
            return [("value", self.aggregate)]
        if self.ratio:
            return [("numerator", self.ratio.numerator), ("denominator", self.ratio.denominator)]
        return [(n, t) for n, t in self.formula.terms.items() if isinstance(t, Aggregate)]

    def kpi_refs(self) -> list[str]:
        """Ids of the KPIs this measure is a formula over."""
        if not self.formula:
            return []
        return [t.kpi for t in self.formula.terms.values() if isinstance(t, KpiRef)]


class Version(_Model):
    """One definition of the measure, valid for periods from `valid_from` until the next version."""

    version: int = Field(ge=1)
    valid_from: date
    change_note: Text
    measure: Measure


class Baseline(_Model):
    value: float = Field(allow_inf_nan=False)
    date: date
    source_note: str = Field(min_length=1)  # the published figure and where it comes from
    illustrative: bool = False


class TargetSource(_Model):
    """The official document a target is taken from (document and date)."""

    document: str = Field(min_length=1)
    date: date
    url: str | None = None


class Target(_Model):
    value: float = Field(allow_inf_nan=False)
    date: date
    illustrative: bool = False  # true when no official target is published
    note: str | None = None
    source: TargetSource | None = None  # required unless illustrative

    @model_validator(mode="after")
    def _cited(self) -> Target:
        if not self.illustrative and self.source is None:
            raise ValueError("an official target cites its `source` (document, date); otherwise mark it "
                             "`illustrative: true`")
        return self


class Citation(_Model):
    """A publication a KPI's figures come from (出典): CC BY and the Government of Japan Standard Terms of Use
    require naming publisher, title and licence wherever the figures are shown."""

    publisher: Text
    title: Text
    licence: str = Field(min_length=1)
    released_on: date | None = None
    url: str | None = None
    note: Text | None = None


class Override(_Model):
    """Different targets for some ministries, prefectures or a group of municipalities."""

    name: str | None = None
    level: Literal["ministry", "prefecture", "municipality"]
    entities: list[str] = Field(default_factory=list)  # entity codes at that level
    prefectures: list[str] = Field(default_factory=list)  # municipality level: every municipality of these
    targets: dict[TargetYear, Target]

    @model_validator(mode="after")
    def _who(self) -> Override:
        if not self.entities and not self.prefectures:
            raise ValueError("an override needs `entities` or `prefectures`")
        if self.prefectures and self.level != "municipality":
            raise ValueError("`prefectures` groups are for level municipality")
        return self


class Thresholds(_Model):
    """Status from progress: share of the expected progress (baseline -> target trajectory) reached.

    progress >= on_track: on track; >= at_risk: at risk; below: off track. Meeting the target: achieved.
    """

    on_track: float = Field(default=0.95, ge=0, allow_inf_nan=False)
    at_risk: float = Field(default=0.80, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _order(self) -> Thresholds:
        if self.at_risk > self.on_track:
            raise ValueError("thresholds.at_risk must not exceed thresholds.on_track")
        return self


class KpiDefinition(_Model):
    """One KPI of the catalogue."""

    id: str = Field(pattern=NAME_PATTERN)
    name: Text
    description: Text
    unit: Unit
    direction: Direction
    owner: str  # ministry/office code from the reference data
    target_year_group: Literal[2020, 2023, 2026]
    levels: list[Level] = Field(min_length=1)
    frequency: Frequency
    source: str  # a warehouse table, `submission` (ministry files) or `derived` (formula over KPIs)
    decimals: int = Field(default=1, ge=0, le=6)
    policy_ref: str | None = None  # the plan or decision the KPI comes from
    versions: list[Version] = Field(min_length=1)
    baseline: Baseline | None = None
    targets: dict[TargetYear, Target]
    target_levels: list[Level] | None = None  # levels the targets apply to (default: all); others: no_target
    overrides: list[Override] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    submission: SubmissionSpec | None = None
    sources: list[Citation] = Field(default_factory=list)  # publications the figures come from (出典)
    shown_with: list[str] = Field(default_factory=list)  # KPIs drawn on the same chart (a change of measure)

    def current(self) -> Version:
        """The latest version (highest number)."""
        return max(self.versions, key=lambda v: v.version)

    def version_ranges(self) -> list[tuple[Version, date, date | None]]:
        """(version, valid_from, valid_until exclusive or None) in valid_from order."""
        ordered = sorted(self.versions, key=lambda v: v.valid_from)
        out = []
        for i, v in enumerate(ordered):
            until = ordered[i + 1].valid_from if i + 1 < len(ordered) else None
            out.append((v, v.valid_from, until))
        return out

    def kpi_refs(self) -> set[str]:
        return {ref for v in self.versions for ref in v.measure.kpi_refs()}


_ALLOWED_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub,
                  ast.UAdd, ast.Constant, ast.Name, ast.Load)


def parse_expression(text: str) -> ast.Expression:
    """Parse a formula into an AST holding only + - * /, unary minus, numbers and names (else ValueError)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"formula {text!r} is not an arithmetic expression: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"formula {text!r} may only use + - * / ( ) numbers and term names")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool)
                                               or not isinstance(node.value, int | float)):
            raise ValueError(f"formula {text!r}: constant {node.value!r} is not a number")
    return tree


def expression_names(text: str) -> set[str]:
    """The term names a formula uses."""
    return {n.id for n in ast.walk(parse_expression(text)) if isinstance(n, ast.Name)}
