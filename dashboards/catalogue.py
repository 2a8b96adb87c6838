"""The KPI definitions as the dashboards need them: the one adapter between dashboards and the catalogue.

`kpi_infos(ws)` maps the validated catalogue (`observatory.kpis.cached_catalogue`) onto plain `KpiInfo` values.
KPIs present in the warehouse but missing from the definitions still show, by id, so nothing is hidden.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from observatory.errors import UserError
from observatory.kpis import cached_catalogue
from observatory.kpis.model import TARGET_YEARS as MODEL_TARGET_YEARS
from observatory.workspace import Workspace

TARGET_YEARS = tuple(int(y) for y in MODEL_TARGET_YEARS)  # the declared list is observatory.kpis.model


@dataclass(frozen=True)
class KpiInfo:
    """What a card, a detail page or a filter needs to know about one KPI."""

    id: str
    name_ja: str
    name_en: str
    owner: str = ""
    unit: str = ""
    direction: str = "higher_is_better"
    target_year_group: int | None = None
    frequency: str = "monthly"
    levels: tuple[str, ...] = ("national",)
    description_ja: str = ""
    description_en: str = ""
    source: str = ""
    targets: dict[int, float | None] = field(default_factory=dict)
    baseline: str = ""
    definition: str = ""  # the measure as YAML text, shown on the detail page
    submittable: bool = False
    versions: tuple[tuple[int, str, str, str], ...] = ()  # (version, valid_from, change note ja, en)
    target_dates: dict[int, date] = field(default_factory=dict)  # target year -> the date it falls due
    target_levels: tuple[str, ...] | None = None  # levels the targets apply to (None: all)
    shown_with: tuple[str, ...] = ()  # KPIs drawn on the same chart (a change of measure)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _text(value: Any, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    got = _get(value, lang)
    return str(got) if got is not None else str(_get(value, "ja") or _get(value, "en") or "")


def _plain(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", exclude_none=True)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return getattr(obj, "value", obj)


def _targets(raw: Any) -> dict[int, float | None]:
    out: dict[int, float | None] = {}
    if isinstance(raw, list):
        items = [(_get(t, "year"), t) for t in raw]
    else:
        items = list((_plain(raw) or {}).items()) if raw is not None else []
    for year, t in items:
        try:
            y = int(str(year)[:4])
        except ValueError:
            continue
        value = _get(t, "value", t if isinstance(t, int | float) else None)
        out[y] = float(value) if isinstance(value, int | float) else None
    return out


def _target_dates(raw: Any) -> dict[int, date]:
    out: dict[int, date] = {}
    items = raw.items() if isinstance(raw, dict) else []
    for year, tgt in items:
        when = _get(tgt, "date")
        if isinstance(when, str):
            when = date.fromisoformat(when[:10])
        if isinstance(when, date):
            out[int(str(year)[:4])] = when
    return out


def info_from(obj: Any) -> KpiInfo:
    """A KpiInfo from a catalogue object or a YAML mapping (tolerant of either shape)."""
    name = _get(obj, "name")
    desc = _get(obj, "description")
    measure = _get(obj, "measure")
    versions = _get(obj, "versions")
    if measure is None and versions:
        measure = _get(list(versions)[-1], "measure")
    group = _get(obj, "target_year_group")
    levels = _get(obj, "levels") or ["national"]
    return KpiInfo(
        id=str(_get(obj, "id")),
        name_ja=_text(name, "ja") or str(_get(obj, "id")),
        name_en=_text(name, "en") or str(_get(obj, "id")),
        owner=str(_get(obj, "owner") or ""),
        unit=str(getattr(_get(obj, "unit"), "value", _get(obj, "unit")) or ""),
        direction=str(getattr(_get(obj, "direction"), "value", _get(obj, "direction")) or "higher_is_better"),
        target_year_group=int(str(getattr(group, "value", group))) if group not in (None, "") else None,
        frequency=str(getattr(_get(obj, "frequency"), "value", _get(obj, "frequency")) or "monthly").replace("-", "_"),
        levels=tuple(str(getattr(lv, "value", lv)) for lv in levels),
        description_ja=_text(desc, "ja"),
        description_en=_text(desc, "en"),
        source=str(_plain(_get(obj, "source")) or ""),
        targets=_targets(_get(obj, "targets")),
        baseline=yaml.safe_dump(_plain(_get(obj, "baseline")), allow_unicode=True, sort_keys=False).strip()
        if _get(obj, "baseline") is not None else "",
        definition=yaml.safe_dump(_plain(measure), allow_unicode=True, sort_keys=False).strip()
        if measure is not None else "",
        submittable=_get(obj, "submission") is not None,
        target_dates=_target_dates(_get(obj, "targets")),
        target_levels=tuple(str(getattr(lv, "value", lv)) for lv in _get(obj, "target_levels"))
        if _get(obj, "target_levels") is not None else None,
        versions=tuple((int(_get(v, "version") or 0), str(_get(v, "valid_from") or ""),
                        _text(_get(v, "change_note"), "ja"), _text(_get(v, "change_note"), "en"))
                       for v in (versions or [])),
        shown_with=tuple(str(x) for x in (_get(obj, "shown_with") or ())),
    )


def kpi_infos(ws: Workspace) -> list[KpiInfo]:
    """Every defined KPI (the validated catalogue, reloaded when a definition file changes). A definition
    edited into an invalid state while the server runs keeps the last valid catalogue on screen."""
    try:
        catalogue = cached_catalogue(ws.kpi_dir)
    except UserError:
        with _cache_lock:
            if "infos" in _cache:
                return _cache["infos"]
        raise
    with _cache_lock:
        if _cache.get("source") is not catalogue:
            _cache["source"] = catalogue
            _cache["infos"] = [info_from(k) for k in catalogue.kpis.values()]
        return _cache["infos"]


_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def with_warehouse_ids(infos: list[KpiInfo], ids: list[str]) -> list[KpiInfo]:
    """The definitions plus a bare entry for every KPI id that has values but no definition."""
    known = {k.id for k in infos}
    return infos + [KpiInfo(id=i, name_ja=i, name_en=i) for i in ids if i not in known]
