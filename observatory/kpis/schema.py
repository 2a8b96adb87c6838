"""The JSON Schema of KPI definition files, generated from the pydantic models (one source of truth).

Editors use the published copy `kpi-definition.schema.json` for completion and checks; `validate` uses the
same schema first so that structural problems are reported with their line before the typed rules run.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from observatory.kpis.model import KpiDefinition

SCHEMA_PATH = Path(__file__).with_name("kpi-definition.schema.json")
SCHEMA_ID = "https://observatory.example.go.jp/schemas/kpi-definition.schema.json"


@cache
def file_schema() -> dict:
    """Schema of one definition file: a single KPI mapping, or `kpis:` holding a list of them."""
    kpi = KpiDefinition.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = kpi.pop("$defs", {})
    defs["KpiDefinition"] = kpi
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "e-Government Observatory KPI definition file / KPI定義ファイル",
        "description": "One KPI, or `kpis:` with a list of KPIs. See observatory/kpis/FORMAT.md.",
        "oneOf": [
            {"$ref": "#/$defs/KpiDefinition"},
            {
                "type": "object",
                "properties": {"kpis": {"type": "array", "minItems": 1,
                                        "items": {"$ref": "#/$defs/KpiDefinition"}}},
                "required": ["kpis"],
                "additionalProperties": False,
            },
        ],
        "$defs": defs,
    }


@cache
def kpi_schema() -> dict:
    """Schema of one KPI mapping (used to validate each KPI on its own, for precise messages)."""
    full = file_schema()
    return {"$schema": full["$schema"], "$ref": "#/$defs/KpiDefinition", "$defs": full["$defs"]}


def schema_text() -> str:
    """The published schema as JSON text (stable key order, UTF-8)."""
    return json.dumps(file_schema(), ensure_ascii=False, indent=2) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the published schema file (run after changing the models; a test checks it is current)."""
    path.write_text(schema_text(), encoding="utf-8")
    return path
