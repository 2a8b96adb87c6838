"""Rule: KPI ids are unique across the catalogue."""

from __future__ import annotations

from observatory.kpis.issues import Issue


def check(entries: list) -> list[Issue]:
    """A KPI id defined twice: reported at the second definition, naming the first."""
    first: dict[str, object] = {}
    out = []
    for e in entries:
        kpi_id = e.definition.id
        if kpi_id in first:
            f = first[kpi_id]
            out.append(e.issue(f"duplicate id '{kpi_id}' (first defined at {f.file}:{f.line()})", "id"))
        else:
            first[kpi_id] = e
    return out
