"""Rule: KPIs drawn on the same chart (`shown_with`) exist, differ from the KPI and share its unit."""

from __future__ import annotations

from observatory.kpis.issues import Issue


def check(entries: list) -> list[Issue]:
    """An unknown or self-referencing `shown_with` id, or one in another unit (one y-axis per chart)."""
    by_id = {e.definition.id: e.definition for e in entries}
    out = []
    for e in entries:
        d = e.definition
        for i, other in enumerate(d.shown_with):
            ref = by_id.get(other)
            if other == d.id:
                out.append(e.issue("shown_with names the KPI itself", "shown_with", i))
            elif ref is None:
                out.append(e.issue(f"shown_with refers to unknown KPI '{other}'", "shown_with", i))
            elif ref.unit != d.unit:
                out.append(e.issue(f"shown_with KPI '{other}' is in {ref.unit}, this KPI in {d.unit}",
                                   "shown_with", i))
    return out
