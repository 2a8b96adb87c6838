"""Rule: a KPI fed by ministry files has a `submission` section, at a level that can feed its levels."""

from __future__ import annotations

from observatory.kpis.issues import Issue
from observatory.kpis.tables import SUBMISSION

# Levels a submission at one level can be aggregated to.
FEEDS = {
    "municipality": {"municipality", "prefecture", "national"},
    "prefecture": {"prefecture", "national"},
    "ministry": {"ministry", "national"},
    "national": {"national"},
}


def reads_submission(definition) -> bool:
    return any((a.table or definition.source) == SUBMISSION
               for v in definition.versions for _n, a in v.measure.aggregates())


def check(entries: list) -> list[Issue]:
    """`source: submission` or an aggregate over `submission` needs the section; levels must be derivable."""
    out = []
    for e in entries:
        d = e.definition
        if reads_submission(d) and d.submission is None:
            out.append(e.issue("reads ministry submissions but has no `submission` section", "source"))
        if d.submission is not None:
            if not reads_submission(d):
                out.append(e.issue("has a `submission` section but no measure reads `submission`",
                                   "submission", severity="warning"))
            reachable = FEEDS[d.submission.level]
            for i, level in enumerate(d.levels):
                if reads_submission(d) and level not in reachable:
                    out.append(e.issue(f"level {level} cannot be computed from a {d.submission.level}-level "
                                       f"submission (possible: {', '.join(sorted(reachable))})", "levels", i))
    return out
