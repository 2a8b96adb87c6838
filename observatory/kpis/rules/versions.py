"""Rule: versions are numbered 1..n in the order they become valid, so past values stay reproducible."""

from __future__ import annotations

from observatory.kpis.issues import Issue


def check(entries: list) -> list[Issue]:
    """Version numbers unique and consecutive; valid_from strictly increasing with the number."""
    out = []
    for e in entries:
        versions = e.definition.versions
        numbers = [v.version for v in versions]
        for i, v in enumerate(versions):
            if numbers.count(v.version) > 1 and numbers.index(v.version) != i:
                out.append(e.issue(f"version {v.version} is defined twice", "versions", i, "version"))
        if sorted(set(numbers)) != list(range(1, len(set(numbers)) + 1)):
            out.append(e.issue(f"versions must be numbered 1..{len(set(numbers))}, got {sorted(numbers)}",
                               "versions"))
        by_number = sorted(enumerate(versions), key=lambda iv: iv[1].version)
        for (_i, prev), (j, cur) in zip(by_number, by_number[1:], strict=False):
            if cur.version != prev.version and cur.valid_from <= prev.valid_from:
                out.append(e.issue(
                    f"version {cur.version} valid_from {cur.valid_from} must be after version "
                    f"{prev.version}'s {prev.valid_from}", "versions", j, "valid_from"))
    return out
