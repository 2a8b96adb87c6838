"""KPI definitions as the public site states them: the one adapter between the KPI catalogue and the site.

The catalogue (`observatory.kpis.load_catalogue`, kpi_definitions/*.yaml) is the single source of truth;
this module maps each `KpiDefinition` onto `PublicKpi`, turning the measure (ratio, aggregate or formula
over warehouse columns) into plain-language numerator, denominator and exclusions in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from dashboards.publish.model import Text
from observatory.kpis import load_catalogue
from observatory.kpis.model import TARGET_YEARS as MODEL_TARGET_YEARS

TARGET_YEARS = tuple(int(y) for y in MODEL_TARGET_YEARS)  # the declared list is observatory.kpis.model
# KPI sources whose figures derive from access logs, alerts or personal records: small counts are
# suppressed before publication (see data.py) and their counts are never published below national level.
SENSITIVE_SOURCES = frozenset({"alerts", "alert_history", "access_events", "staff", "subjects", "cases"})

COLUMN_WORDS: dict[str, tuple[str, str]] = {
    "cases_online": ("オンラインで行われた申請件数", "applications made online"),
    "cases_total": ("全申請件数", "all applications"),
    "held": ("保有枚数（有効なカード）", "cards held (valid cards)"),
    "issued": ("交付枚数", "cards issued"),
    "applications": ("申請件数", "applications"),
    "population": ("住民基本台帳人口", "registered population"),
    "decided_at": ("処理完了日", "decision date"),
    "days_to_decision": ("申請から処理完了までの日数", "days from application to decision"),
}
AGG_WORDS = {
    "sum": ("の合計", "total of"), "count": ("件数", "number of"), "count_distinct": ("の異なる数", "distinct"),
    "avg": ("の平均", "average of"), "median": ("の中央値", "median of"), "min": ("の最小値", "minimum of"),
    "max": ("の最大値", "maximum of"),
}
SOURCE_WORDS: dict[str, tuple[str, str]] = {
    "procedure_usage": ("府省の手続別利用件数", "ministries' procedure usage counts"),
    "card_issuance": ("市区町村のマイナンバーカード交付状況", "municipal My Number Card issuance"),
    "procedure_cases": ("手続の処理記録", "procedure case records"),
    "alerts": ("不正閲覧監視の警告", "access-monitoring alerts"),
    "staff": ("職員数", "staff records"),
    "submission": ("府省からの提出ファイル", "ministry submission files"),
    "derived": ("他の指標から計算", "computed from other indicators"),
}


@dataclass(frozen=True)
class PublicKpi:
    """What the public pages say about one KPI (bilingual texts, owner, baseline, targets)."""

    kpi_id: str
    name_ja: str
    name_en: str
    version: int = 1
    description_ja: str = ""
    description_en: str = ""
    numerator_ja: str = ""
    numerator_en: str = ""
    denominator_ja: str = ""
    denominator_en: str = ""
    exclusions_ja: str = ""
    exclusions_en: str = ""
    source_ja: str = ""
    source_en: str = ""
    owner: str = ""
    unit: str = "percent"
    direction: str = "up"  # up | down
    frequency: str = "monthly"
    baseline_value: float | None = None
    baseline_period: str = ""
    targets: dict[int, float] = field(default_factory=dict)  # target year -> value
    illustrative_targets: bool = False  # no official target published: the figures are illustrative
    levels: tuple[str, ...] = ("national",)
    source_table: str = ""
    history_ja: str = ""  # the measure's version history (change notes), so changes are never hidden
    history_en: str = ""
    published: bool = True  # False: values exist but the definition is missing (shown as a gap)
    target_dates: dict[int, date] = field(default_factory=dict)  # target year -> the date it falls due
    target_year_group: int | None = None  # the target year a single status badge refers to
    target_levels: tuple[str, ...] | None = None  # levels the targets apply to (None: all)
    citations: tuple[Text, ...] = ()  # 出典: publisher, title, release date, licence (ja, en)
    citation_sources: tuple[dict[str, str], ...] = ()  # the same for datapackage.json ({"title", "path"})
    target_notes: tuple[Text, ...] = ()  # per target: official (document, date) or illustrative
    tables_read: tuple[str, ...] = ()  # warehouse tables the KPI's figures come from (synthetic labelling)
    shown_with: tuple[str, ...] = ()  # KPIs drawn on the same chart (a change of measure)

    @property
    def sensitive(self) -> bool:
        """Figures derived from access logs, alerts or personal records (disclosure control applies). Figures
        without a published definition may be such (a removed or renamed KPI's values stay stored): they too."""
        return not self.published or self.source_table in SENSITIVE_SOURCES


def _labels(definition: Any) -> dict[str, tuple[str, str]]:
    words = dict(COLUMN_WORDS)
    spec = getattr(definition, "submission", None)
    for col in getattr(spec, "columns", None) or []:
        words[col.name] = (col.label_ja, col.label_en or col.label_ja)
    return words


OPERATORS = {"eq": "=", "ne": "≠", "in": "∈", "not_in": "∉", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
             "is_null": "is null:"}


def _value_text(value: Any) -> str:
    if hasattr(value, "operator"):
        op, operand = value.operator()
        return f"{OPERATORS.get(op, op)} {operand:g}" if isinstance(operand, float) else \
            f"{OPERATORS.get(op, op)} {operand}"
    if isinstance(value, list):
        return " / ".join(str(v) for v in value)
    return str(value)


def _aggregate_words(agg: Any, source: str, words: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """e.g. ('オンラインで行われた申請件数の合計', 'total of applications made online')."""
    col_ja, col_en = words.get(agg.column or "", (agg.column or "", agg.column or ""))
    table = agg.table or source
    src_ja, src_en = SOURCE_WORDS.get(table, (table, table))
    agg_ja, agg_en = AGG_WORDS.get(agg.agg, (agg.agg, agg.agg))
    if agg.agg == "count":
        ja, en = f"{src_ja}の{agg_ja}", f"{agg_en} {src_en} records"
    else:
        ja, en = f"{col_ja}{agg_ja}（{src_ja}）", f"{agg_en} {col_en} ({src_en})"
    if getattr(agg, "over_time", "sum") == "last":
        ja += "、期間内の最新月の値"
        en += ", latest month in the period"
    if agg.where:
        cond = ", ".join(f"{k} {_value_text(v)}" if hasattr(v, "operator") else f"{k} = {_value_text(v)}"
                         for k, v in agg.where.items())
        ja += f"、条件：{cond}"
        en += f", where {cond}"
    return ja, en


def _measure_words(d: Any) -> tuple[tuple[str, str], tuple[str, str], tuple[str, str]]:
    """(numerator, denominator, exclusions) in plain words from the current version's measure."""
    m = d.current().measure
    words = _labels(d)
    none = ("", "")
    if m.ratio is not None:
        num = _aggregate_words(m.ratio.numerator, d.source, words)
        den = _aggregate_words(m.ratio.denominator, d.source, words)
        scale = m.ratio.scale
        if scale != 1:
            num = (num[0] + f"（×{scale:g}）", num[1] + f" (× {scale:g})")
    elif m.aggregate is not None:
        num, den = _aggregate_words(m.aggregate, d.source, words), none
    else:
        terms = []
        for name, term in m.formula.terms.items():
            if hasattr(term, "agg"):
                ja, en = _aggregate_words(term, d.source, words)
            else:
                ja, en = f"指標 {term.kpi}", f"indicator {term.kpi}"
            terms.append((f"{name} = {ja}", f"{name} = {en}"))
        num = (f"計算式 {m.formula.expression}：" + "；".join(t[0] for t in terms),
               f"formula {m.formula.expression}: " + "; ".join(t[1] for t in terms))
        den = none
    missing = [a for _n, a in m.aggregates() if a.missing == "no_data"]
    excl = ("データの届いていない団体・期間は計算に含めず「データ未提出」と表示します。",
            "Authorities and periods with no data are left out and shown as \u201cno data submitted\u201d.") \
        if missing else ("データのない期間は0として数えます。", "Periods without records count as zero.")
    note = d.current().change_note
    excl = (f"{excl[0]} 現行の定義（第{d.current().version}版）：{note.ja}",
            f"{excl[1]} Current definition (version {d.current().version}): {note.en}")
    return num, den, excl


def _citations(d: Any) -> tuple[tuple[Text, ...], tuple[dict[str, str], ...]]:
    """出典 lines (ja, en) and Frictionless source entries of a KPI's `sources`."""
    texts, records = [], []
    for c in d.sources:
        when_ja = f"、{c.released_on.year}年{c.released_on.month}月{c.released_on.day}日公表" if c.released_on else ""
        when_en = f", released {c.released_on.isoformat()}" if c.released_on else ""
        url = f" {c.url}" if c.url else ""
        note_ja = f"（{c.note.ja}）" if c.note else ""
        note_en = f" ({c.note.en})" if c.note else ""
        texts.append((f"{c.publisher.ja}「{c.title.ja}」{when_ja}{note_ja}。利用条件：{c.licence}。{url}".strip(),
                      f"{c.publisher.en}, \"{c.title.en}\"{when_en}{note_en}. Licence: {c.licence}.{url}".strip()))
        rec = {"title": f"{c.publisher.ja}「{c.title.ja}」 / {c.publisher.en}, {c.title.en}{when_en}; {c.licence}"}
        if c.url:
            rec["path"] = c.url
        records.append(rec)
    return tuple(texts), tuple(records)


def _target_notes(d: Any) -> tuple[Text, ...]:
    """Per target year: the official document and date it comes from, or that it is illustrative."""
    out = []
    for year, t in sorted(d.targets.items()):
        if t.source is not None:
            doc = t.source
            note = f" {t.note}" if t.note else ""
            out.append((f"{year}年目標：{doc.document}（{doc.date.year}年{doc.date.month}月{doc.date.day}日）。{note}",
                        f"{year} target: {doc.document} ({doc.date.isoformat()}).{note}"))
        elif t.illustrative:
            out.append((f"{year}年目標：公式の目標値がないため例示です。",
                        f"{year} target: illustrative (no official target published)."))
    return tuple(out)


def _tables_read(d: Any) -> tuple[str, ...]:
    tables = {d.source}
    for v in d.versions:
        m = v.measure
        aggs = [m.aggregate] if m.aggregate else []
        if m.ratio:
            aggs += [m.ratio.numerator, m.ratio.denominator]
        if m.formula:
            aggs += [t for t in m.formula.terms.values() if hasattr(t, "agg")]
        tables |= {a.table for a in aggs if getattr(a, "table", None)}
    return tuple(sorted(tables))


def from_definition(d: Any) -> PublicKpi:
    """Map one catalogue `KpiDefinition` onto PublicKpi."""
    num, den, excl = _measure_words(d)
    targets = {int(y): float(t.value) for y, t in d.targets.items()}
    baseline = d.baseline
    versions = sorted(d.versions, key=lambda v: v.valid_from)
    src = SOURCE_WORDS.get(d.source, (d.source, d.source))
    policy = f"（{d.policy_ref}）" if d.policy_ref else ""
    citations, citation_sources = _citations(d)
    return PublicKpi(
        kpi_id=d.id, name_ja=d.name.ja, name_en=d.name.en, version=d.current().version,
        description_ja=d.description.ja, description_en=d.description.en,
        numerator_ja=num[0], numerator_en=num[1], denominator_ja=den[0], denominator_en=den[1],
        exclusions_ja=excl[0], exclusions_en=excl[1],
        source_ja=src[0] + policy, source_en=src[1] + (f" ({d.policy_ref})" if d.policy_ref else ""),
        owner=d.owner, unit=d.unit, direction="down" if d.direction == "lower_is_better" else "up",
        frequency=d.frequency,
        baseline_value=baseline.value if baseline else None,
        baseline_period=f"{baseline.date.isoformat()}: {baseline.source_note}" if baseline else "",
        targets=targets, illustrative_targets=any(t.illustrative for t in d.targets.values()),
        target_dates={int(y): t.date for y, t in d.targets.items()},
        target_year_group=int(d.target_year_group) if d.target_year_group else None,
        target_levels=tuple(d.target_levels) if d.target_levels is not None else None,
        levels=tuple(d.levels), source_table=d.source,
        history_ja="；".join(f"第{v.version}版 {v.valid_from.isoformat()}〜 {v.change_note.ja}" for v in versions),
        history_en="; ".join(f"v{v.version} from {v.valid_from.isoformat()}: {v.change_note.en}" for v in versions),
        citations=citations, citation_sources=citation_sources, target_notes=_target_notes(d),
        tables_read=_tables_read(d), shown_with=tuple(d.shown_with),
    )


def load_definitions(kpi_dir: Path) -> list[PublicKpi]:
    """Every KPI definition of the catalogue in `kpi_dir` (an empty directory gives none)."""
    if not Path(kpi_dir).is_dir() or not any(Path(kpi_dir).glob("*.y*ml")):
        return []
    catalogue = load_catalogue(kpi_dir)
    out = [from_definition(d) for d in catalogue.definitions]
    by_id = {k.kpi_id: k for k in out}

    def reads(kpi_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """A KPI computed from other KPIs reads what they read (synthetic labelling follows the data)."""
        own = set(by_id[kpi_id].tables_read)
        for ref in catalogue[kpi_id].kpi_refs() - seen - {kpi_id}:
            if ref in by_id:
                own |= reads(ref, seen | {kpi_id})
        return own

    return [replace(k, tables_read=tuple(sorted(reads(k.kpi_id)))) for k in out]


def placeholder(kpi_id: str) -> PublicKpi:
    """A KPI with figures but no published definition: the site shows that gap rather than hiding it."""
    return PublicKpi(kpi_id=kpi_id, name_ja=kpi_id, name_en=kpi_id, published=False)
