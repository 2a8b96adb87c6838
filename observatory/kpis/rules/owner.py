"""Rule: owners, submitters and override entities exist in the reference data."""

from __future__ import annotations

from functools import cache

from observatory import reference
from observatory.kpis.issues import Issue


@cache
def _codes() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    return (frozenset(m.code for m in reference.ministries()),
            frozenset(p.code for p in reference.prefectures()),
            frozenset(m.code for m in reference.municipalities()))


def check(entries: list) -> list[Issue]:
    """Owner and submitter ministry codes, and override entity codes, must be known reference codes."""
    ministries, prefectures, municipalities = _codes()
    known = {"ministry": ministries, "prefecture": prefectures, "municipality": municipalities}
    out = []
    for e in entries:
        d = e.definition
        if d.owner not in ministries:
            out.append(e.issue(f"owner '{d.owner}' is not a ministry/office code in the reference data", "owner"))
        if d.submission:
            for i, code in enumerate(d.submission.submitters):
                if code not in ministries:
                    out.append(e.issue(f"submitter '{code}' is not a ministry/office code in the reference data",
                                       "submission", "submitters", i))
        for i, o in enumerate(d.overrides):
            for j, code in enumerate(o.entities):
                if code not in known[o.level]:
                    out.append(e.issue(f"override entity '{code}' is not a known {o.level} code",
                                       "overrides", i, "entities", j))
            for j, code in enumerate(o.prefectures):
                if code not in prefectures:
                    out.append(e.issue(f"override prefecture '{code}' is not a prefecture code (01-47)",
                                       "overrides", i, "prefectures", j))
            if o.level not in d.levels:
                out.append(e.issue(f"override for level {o.level}, which the KPI is not computed at",
                                   "overrides", i, "level"))
    return out
