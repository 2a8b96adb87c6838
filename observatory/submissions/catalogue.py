"""Which KPIs accept submissions: the one adapter between this package and the KPI catalogue.

Everything here needs only a small protocol (`SubmittableKpi`): id, bilingual name, owner ministry,
frequency and the `submission:` section (`SubmissionSpec`). `definitions(ws)` reads the validated catalogue
(`observatory.kpis.cached_catalogue`).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from observatory.errors import NotFound
from observatory.kpis import Catalogue, cached_catalogue, recompute
from observatory.kpis.submission_spec import SubmissionSpec
from observatory.workspace import Workspace

Frequency = Literal["monthly", "quarterly", "fiscal_year"]


class SubmittableKpi(Protocol):
    id: str
    name: Any  # has ja/en (attributes or keys)
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


def real_catalogue(ws: Workspace) -> Catalogue:
    """The KPI engine's validated catalogue, cached until a definition file changes."""
    return cached_catalogue(ws.kpi_dir)


def _catalogue_items(ws: Workspace) -> dict[str, SubmittableKpi]:
    return dict(real_catalogue(ws).kpis)


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


def engine(ws: Workspace) -> tuple[Any, Catalogue] | None:
    """(recompute, catalogue) of the KPI engine."""
    return recompute, real_catalogue(ws)
