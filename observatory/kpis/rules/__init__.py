"""Validation rules over parsed KPI definitions: one rule per module, each `check(entries) -> list[Issue]`."""

from __future__ import annotations

from observatory.kpis.issues import Issue
from observatory.kpis.rules import (
    derived,
    duplicate_ids,
    names,
    owner,
    shown_with,
    submission,
    targets,
    versions,
)

RULES = (duplicate_ids, owner, versions, names, submission, derived, targets, shown_with)


def run_rules(entries: list, broken: set[str] | frozenset[str] = frozenset()) -> list[Issue]:
    """Issues from every rule (each rule sees every parsed KPI; `broken` ids failed to parse)."""
    out: list[Issue] = []
    for rule in RULES:
        out.extend(rule.check(entries, broken) if rule is derived else rule.check(entries))
    return out
