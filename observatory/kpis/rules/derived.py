"""Rule: formulas over other KPIs name existing KPIs, at compatible levels and frequency, without cycles."""

from __future__ import annotations

from observatory.kpis.issues import Issue
from observatory.kpis.model import KpiRef


def _find_cycle(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    while stack:
        node, trail = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return trail + [start]
            if nxt not in trail:
                stack.append((nxt, trail + [nxt]))
    return None


def check(entries: list, broken: set[str] | frozenset[str] = frozenset()) -> list[Issue]:
    """Unknown referenced KPIs, level/frequency mismatches and dependency cycles (reported once per cycle)."""
    by_id = {e.definition.id: e for e in entries}
    out = []
    graph: dict[str, set[str]] = {}
    for e in entries:
        d = e.definition
        graph[d.id] = d.kpi_refs()
        for i, v in enumerate(d.versions):
            if not v.measure.formula:
                continue
            for name, term in v.measure.formula.terms.items():
                if not isinstance(term, KpiRef):
                    continue
                where = ("versions", i, "measure", "formula", "terms", name, "kpi")
                ref = by_id.get(term.kpi)
                if ref is None and term.kpi in broken:
                    continue
                if ref is None:
                    out.append(e.issue(f"formula term '{name}' refers to unknown KPI '{term.kpi}'", *where))
                    continue
                r = ref.definition
                missing = [lv for lv in d.levels if lv not in r.levels]
                if missing:
                    out.append(e.issue(f"formula term '{name}': KPI '{r.id}' is not computed at level(s) "
                                       f"{', '.join(missing)}", *where))
                if r.frequency != d.frequency:
                    out.append(e.issue(f"formula term '{name}': KPI '{r.id}' is {r.frequency}, this KPI is "
                                       f"{d.frequency}", *where))
    reported: set[frozenset[str]] = set()
    for kpi_id in sorted(graph):
        cycle = _find_cycle(graph, kpi_id)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            e = by_id[kpi_id]
            out.append(e.issue(f"cycle between derived KPIs: {' -> '.join(cycle)}", "versions"))
    return out
