"""Minimal KPI definitions for submission tests: only the fields submissions read (id, name, owner, frequency,
submission), so these tests do not depend on the shipped catalogue or the full definition format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from observatory.kpis.submission_spec import SubmissionSpec


@dataclass(frozen=True)
class KpiDefinition:
    id: str
    name: dict[str, str]
    owner: str
    frequency: str
    submission: SubmissionSpec | None


def _from_mapping(doc: dict[str, Any]) -> KpiDefinition:
    sub = doc.get("submission")
    name = doc.get("name") or {}
    return KpiDefinition(str(doc["id"]), name if isinstance(name, dict) else {"ja": str(name), "en": str(name)},
                         str(doc["owner"]), str(doc.get("frequency", "monthly")),
                         SubmissionSpec.model_validate(sub) if sub else None)


def load_yaml_definitions(directory: Path) -> dict[str, KpiDefinition]:
    """Every KPI in *.yaml under `directory` (one mapping, a list, or {kpis: [...]} per file)."""
    found: dict[str, KpiDefinition] = {}
    for path in sorted(Path(directory).glob("*.y*ml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs = data.get("kpis", [data]) if isinstance(data, dict) else (data or [])
        for doc in docs:
            if isinstance(doc, dict) and "id" in doc:
                kpi = _from_mapping(doc)
                found[kpi.id] = kpi
    return found
