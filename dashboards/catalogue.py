"""The KPI definitions as the dashboards need them: the one adapter between dashboards and the catalogue.

`kpi_infos(ws)` uses the real catalogue (`observatory.kpis.load_catalogue`) when it exists and otherwise
reads the YAML files of `ws.kpi_dir` directly; either way the pages get plain `KpiInfo` values.
KPIs present in the warehouse but missing from the definitions still show, by id, so nothing is hidden.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from observatory.config import Workspace

TARGET_YEARS = (2020, 2023, 2026)


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
        versions=tuple((int(_get(v, "version") or 0), str(_get(v, "valid_from") or ""),
                        _text(_get(v, "change_note"), "ja"), _text(_get(v, "change_note"), "en"))
                       for v in (versions or [])),
    )


def _from_yaml_dir(directory: Path) -> list[KpiInfo]:
    out: list[KpiInfo] = []
    for path in sorted(Path(directory).glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        docs = data.get("kpis", [data]) if isinstance(data, dict) else (data or [])
        out.extend(info_from(d) for d in docs if isinstance(d, dict) and d.get("id"))
    return out


def _from_catalogue(directory: Path) -> list[KpiInfo] | None:
    try:
        from observatory.kpis import load_catalogue  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        catalogue = load_catalogue(directory)
    except Exception:  # noqa: BLE001 - an invalid catalogue still lets the dashboard show the YAML it can read
        return None
    items = _get(catalogue, "kpis", catalogue)
    items = list(items.values()) if isinstance(items, dict) else list(items)
    return [info_from(k) for k in items]


_cache: dict[tuple[str, float], list[KpiInfo]] = {}
_cache_lock = threading.Lock()


def _stamp(directory: Path) -> float:
    try:
        return max([p.stat().st_mtime for p in Path(directory).glob("*.y*ml")] + [0.0])
    except OSError:
        return 0.0


def kpi_infos(ws: Workspace) -> list[KpiInfo]:
    """Every defined KPI, cached until a definition file changes."""
    directory = ws.kpi_dir
    key = (str(directory), _stamp(directory))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    found = _from_catalogue(directory)
    if found is None:
        found = _from_yaml_dir(directory) if Path(directory).exists() else []
    with _cache_lock:
        _cache.clear()
        _cache[key] = found
    return found


def with_warehouse_ids(infos: list[KpiInfo], ids: list[str]) -> list[KpiInfo]:
    """The definitions plus a bare entry for every KPI id that has values but no definition."""
    known = {k.id for k in infos}
    return infos + [KpiInfo(id=i, name_ja=i, name_en=i) for i in ids if i not in known]
