"""Collectors: files in (HTTP(S) sources, drop directories, `observatory ingest`), archived, validated, loaded.

Public API (used by observatory.jobs and the CLI): KINDS, Collector, RunResult, ingest_files, run_source.
"""

from __future__ import annotations

from collectors import (
    access_log,
    card_issuance,
    municipal_dx,
    procedure_inventory,
    roster,
    turnaround,
    usage_rates,
)
from collectors.base import Collector, Column, RowError, RunResult
from collectors.runs import ingest_files, run_source

KINDS: dict[str, Collector] = {
    c.kind: c
    for c in (
        usage_rates.COLLECTOR,
        card_issuance.COLLECTOR,
        procedure_inventory.COLLECTOR,
        municipal_dx.COLLECTOR,
        turnaround.COLLECTOR,
        access_log.COLLECTOR,
        roster.STAFF_COLLECTOR,
        roster.SUBJECTS_COLLECTOR,
        roster.CASES_COLLECTOR,
    )
}

__all__ = ["KINDS", "Collector", "Column", "RowError", "RunResult", "ingest_files", "run_source"]
