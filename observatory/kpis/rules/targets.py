"""Rule: targets exist for the KPI's target year and later ones, and agree with its direction."""

from __future__ import annotations

from observatory.kpis.issues import Issue
from observatory.kpis.model import TARGET_YEARS


def _direction_issues(e, targets: dict, path: tuple, baseline) -> list[Issue]:
    d = e.definition
    better = (lambda a, b: a >= b) if d.direction == "higher_is_better" else (lambda a, b: a <= b)
    word = "below" if d.direction == "higher_is_better" else "above"
    out = []
    previous = None
    for year in TARGET_YEARS:
        t = targets.get(year)
        if t is None:
            continue
        if baseline is not None and not better(t.value, baseline.value):
            out.append(e.issue(f"target {year} ({t.value:g}) is {word} the baseline ({baseline.value:g}) "
                               f"for a {d.direction} KPI", *path, year, "value"))
        if previous is not None and not better(t.value, previous[1].value):
            out.append(e.issue(f"target {year} ({t.value:g}) is {word} target {previous[0]} "
                               f"({previous[1].value:g}) for a {d.direction} KPI", *path, year, "value"))
        if previous is not None and t.date <= previous[1].date:
            out.append(e.issue(f"target {year} date {t.date} is not after target {previous[0]}'s {previous[1].date}",
                               *path, year, "date"))
        if not (int(year) - 1 <= t.date.year <= int(year) + 1):
            out.append(e.issue(f"target {year} date {t.date} is not in or next to {year}", *path, year, "date"))
        if d.unit == "percent" and not 0 <= t.value <= 100:
            out.append(e.issue(f"target {year} value {t.value:g} is not a percentage (0-100)", *path, year, "value"))
        previous = (year, t)
    return out


def check(entries: list) -> list[Issue]:
    """Missing targets; targets contradicting the direction (vs baseline, vs earlier targets); baseline date.

    `targets: {}` says the KPI has no target (nothing official to cite: status no_target); a KPI giving any
    target needs one for its target year and each later one."""
    out = []
    for e in entries:
        d = e.definition
        needed = [y for y in TARGET_YEARS if int(y) >= d.target_year_group] if d.targets else []
        for year in needed:
            if year not in d.targets:
                out.append(e.issue(f"missing target for {year} (a {d.target_year_group} KPI needs targets for "
                                   f"{', '.join(needed)})", "targets"))
        out.extend(_direction_issues(e, d.targets, ("targets",), d.baseline))
        for i, o in enumerate(d.overrides):
            out.extend(_direction_issues(e, o.targets, ("overrides", i, "targets"), d.baseline))
        if d.baseline is not None and d.targets:
            first = min(d.targets.values(), key=lambda t: t.date)
            if d.baseline.date >= first.date:
                out.append(e.issue(f"baseline date {d.baseline.date} is not before the first target "
                                   f"({first.date})", "baseline", "date"))
    return out
