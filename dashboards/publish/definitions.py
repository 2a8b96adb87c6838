"""KPI definitions as the public site needs them: the one adapter between the KPI catalogue and the site.

The catalogue (observatory.kpis, `load_catalogue(dir)`) is the single source of truth; this module maps
its objects onto `PublicKpi`. Until that loader is available it reads the YAML files of the KPI directory
itself, tolerantly, so switching is a one-line change in `load_definitions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TARGET_YEARS = (2020, 2023, 2026)


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
    levels: tuple[str, ...] = ("national",)
    published: bool = True  # False: values exist but the definition is missing (shown as a gap)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present attribute or key among `names` (catalogue objects and plain dicts alike)."""
    for name in names:
        if isinstance(obj, dict):
            if obj.get(name) not in (None, ""):
                return obj[name]
        else:
            value = getattr(obj, name, None)
            if value not in (None, ""):
                return value
    return default


def _text(obj: Any, key: str, lang: str) -> str:
    """A bilingual text given as `key_ja`, as `{key: {ja:, en:}}` or as `{key: "..."}`."""
    flat = _get(obj, f"{key}_{lang}")
    if flat is not None:
        return str(flat)
    nested = _get(obj, key)
    if isinstance(nested, dict):
        return str(nested.get(lang) or "")
    if nested is not None and not isinstance(nested, (list, dict)):
        value = getattr(nested, lang, None)
        if value is not None:
            return str(value)
        return str(nested) if lang == "en" or not str(nested).isascii() else ""
    return ""


def _targets(obj: Any) -> dict[int, float]:
    raw = _get(obj, "targets", default={}) or {}
    out: dict[int, float] = {}
    items = raw.items() if isinstance(raw, dict) else ((_get(x, "year"), x) for x in raw)
    for year, spec in items:
        value = _get(spec, "value") if not isinstance(spec, (int, float)) else spec
        try:
            out[int(year)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def from_catalogue_item(obj: Any) -> PublicKpi:
    """Map one catalogue definition (object or YAML mapping) onto PublicKpi."""
    baseline = _get(obj, "baseline")
    levels = _get(obj, "levels", "level", default=("national",))
    if isinstance(levels, str):
        levels = (levels,)
    return PublicKpi(
        kpi_id=str(_get(obj, "kpi_id", "id")),
        version=int(_get(obj, "version", default=1)),
        name_ja=_text(obj, "name", "ja") or _text(obj, "title", "ja") or str(_get(obj, "kpi_id", "id")),
        name_en=_text(obj, "name", "en") or _text(obj, "title", "en") or str(_get(obj, "kpi_id", "id")),
        description_ja=_text(obj, "description", "ja") or _text(obj, "definition", "ja"),
        description_en=_text(obj, "description", "en") or _text(obj, "definition", "en"),
        numerator_ja=_text(obj, "numerator", "ja"),
        numerator_en=_text(obj, "numerator", "en"),
        denominator_ja=_text(obj, "denominator", "ja"),
        denominator_en=_text(obj, "denominator", "en"),
        exclusions_ja=_text(obj, "exclusions", "ja"),
        exclusions_en=_text(obj, "exclusions", "en"),
        source_ja=_text(obj, "source", "ja"),
        source_en=_text(obj, "source", "en"),
        owner=str(_get(obj, "owner", default="")),
        unit=str(_get(obj, "unit", default="percent")),
        direction=str(_get(obj, "direction", default="up")),
        frequency=str(_get(obj, "frequency", default="monthly")),
        baseline_value=_float(_get(baseline, "value") if baseline is not None and not isinstance(
            baseline, (int, float)) else baseline),
        baseline_period=str(_get(baseline, "period", default="") if baseline is not None and not isinstance(
            baseline, (int, float)) else ""),
        targets=_targets(obj),
        levels=tuple(str(x) for x in levels),
    )


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _read_yaml_dir(kpi_dir: Path) -> list[PublicKpi]:
    out = []
    for path in sorted(kpi_dir.glob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and _get(item, "kpi_id", "id"):
                out.append(from_catalogue_item(item))
    return out


def load_definitions(kpi_dir: Path) -> list[PublicKpi]:
    """Every KPI definition in `kpi_dir`, from the catalogue loader when present, else from the YAML."""
    try:
        from observatory.kpis import load_catalogue  # type: ignore[attr-defined]
    except ImportError:
        return _read_yaml_dir(kpi_dir) if kpi_dir.is_dir() else []
    catalogue = load_catalogue(kpi_dir)
    items = _get(catalogue, "definitions", "kpis", default=catalogue)
    if isinstance(items, dict):
        items = list(items.values())
    return [from_catalogue_item(item) for item in items]


def placeholder(kpi_id: str) -> PublicKpi:
    """A KPI with figures but no published definition: the site shows that gap rather than hiding it."""
    return PublicKpi(kpi_id=kpi_id, name_ja=kpi_id, name_en=kpi_id, published=False)
