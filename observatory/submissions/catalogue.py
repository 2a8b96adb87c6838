"""Which KPIs accept submissions: the one adapter between this package and the KPI catalogue.

Everything here needs only a small protocol (`SubmittableKpi`): id, bilingual name, owner ministry,
frequency and the `submission:` section (`SubmissionSpec`). `definitions(ws)` uses the real catalogue
(`observatory.kpis.load_catalogue`) when it exists and falls back to reading the YAML files directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import ValidationError

from observatory.config import Workspace
from observatory.errors import NotFound, UserError
from observatory.kpis.submission_spec import SubmissionSpec

Frequency = Literal["monthly", "quarterly", "fiscal_year"]


class SubmittableKpi(Protocol):
    id: str
    name: Any  # has ja/en (attributes or keys)
    owner: str
    frequency: str
    submission: SubmissionSpec | None


@dataclass(frozen=True)
class KpiDefinition:
    """Fallback definition read straight from YAML (only the fields submissions need)."""

    id: str
    name: dict[str, str]
    owner: str
    frequency: str
    submission: SubmissionSpec | None


def label(value: Any, lang: str) -> str:
    """The ja/en text of a bilingual name given as a mapping, an object or a plain string."""
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("ja") or value.get("en") or "")
    got = getattr(value, lang, None)
    return str(got if got is not None else value)


def frequency(kpi: SubmittableKpi) -> str:
    """'monthly' | 'quarterly' | 'fiscal_year' (tolerates an enum or 'fiscal-year' spelling)."""
    raw = getattr(kpi.frequency, "value", kpi.frequency)
    return str(raw).replace("-", "_").lower()


def submitters(kpi: SubmittableKpi) -> list[str]:
    """Ministry codes allowed to submit: the owner and `submission.submitters`."""
    spec = kpi.submission
    return [kpi.owner] + [m for m in (spec.submitters if spec else []) if m != kpi.owner]


def _from_mapping(doc: dict[str, Any], origin: str) -> KpiDefinition:
    try:
        sub = doc.get("submission")
        spec = SubmissionSpec.model_validate(sub) if sub else None
        name = doc.get("name") or {}
        return KpiDefinition(str(doc["id"]), name if isinstance(name, dict) else {"ja": str(name), "en": str(name)},
                             str(doc["owner"]), str(doc.get("frequency", "monthly")), spec)
    except (KeyError, ValidationError) as exc:
        raise UserError(f"{origin}: invalid KPI definition: {exc}") from None


def load_yaml_definitions(directory: Path) -> dict[str, KpiDefinition]:
    """Every KPI in *.yaml under `directory` (one mapping, a list, or {kpis: [...]} per file)."""
    found: dict[str, KpiDefinition] = {}
    for path in sorted(Path(directory).glob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs = data.get("kpis", [data]) if isinstance(data, dict) else (data or [])
        for doc in docs:
            if isinstance(doc, dict) and "id" in doc:
                kpi = _from_mapping(doc, str(path))
                found[kpi.id] = kpi
    return found


_cache: dict[tuple, Any] = {}


def _fingerprint(directory: Path) -> tuple:
    files = sorted(Path(directory).glob("*.y*ml"))
    return (str(Path(directory).resolve()),) + tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def real_catalogue(ws: Workspace) -> Any | None:
    """The KPI engine's validated catalogue (cached until a definition file changes), or None without one."""
    try:
        from observatory.kpis import load_catalogue  # type: ignore[attr-defined]
    except ImportError:
        return None
    key = _fingerprint(ws.kpi_dir)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_catalogue(ws.kpi_dir)
    return _cache[key]


def _catalogue_items(ws: Workspace) -> dict[str, SubmittableKpi]:
    catalogue = real_catalogue(ws)
    if catalogue is None:  # before the KPI engine existed: read the YAML directly
        return dict(load_yaml_definitions(ws.kpi_dir))
    items = getattr(catalogue, "kpis", catalogue)
    if isinstance(items, dict):
        return dict(items)
    return {k.id: k for k in items}


def definitions(ws: Workspace) -> dict[str, SubmittableKpi]:
    """The KPIs of this workspace that have a `submission` section, by id."""
    return {k: v for k, v in _catalogue_items(ws).items() if getattr(v, "submission", None) is not None}


def definition(ws: Workspace, kpi_id: str) -> SubmittableKpi:
    """One submittable KPI, or NotFound naming the ones that exist."""
    found = definitions(ws)
    if kpi_id not in found:
        known = ", ".join(sorted(found)) or "none"
        raise NotFound(f"no submittable KPI {kpi_id!r} / 提出対象のKPIがありません (known: {known})")
    return found[kpi_id]


def engine(ws: Workspace) -> tuple[Any, Any] | None:
    """(recompute, catalogue) of the KPI engine when it is available, else None (values are then stale)."""
    try:
        from observatory.kpis import recompute  # type: ignore[attr-defined]
    except ImportError:
        return None
    catalogue = real_catalogue(ws)
    return None if catalogue is None else (recompute, catalogue)
