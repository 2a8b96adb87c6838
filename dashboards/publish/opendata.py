"""Open data files: every published table as CSV (UTF-8 with BOM, for Excel) and JSON, described by a
Frictionless `datapackage.json` and a DCAT-style catalogue entry (`catalog.jsonld`).

CSV conventions: empty cell = no data; "x" = suppressed count (both declared as missingValues); text that a
spreadsheet would run as a formula starts with an apostrophe (cells.csv_safe, as every download).
JSON mirrors the CSV: null = no data, "x" = suppressed; text as written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime
from typing import Any

from dashboards.publish.model import Table
from observatory.cells import csv_safe

LICENCE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Government of Japan Standard Terms of Use (2.0), compatible with CC BY 4.0",
}
MISSING = ["", "x"]
UNIT_NOTE = {"row": "unit given in the column `unit` of the same row",
             "kpi": "unit of the KPI named in `kpi_id` (see kpis.csv)"}


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if value == value else ""  # shortest exact form, as in the JSON
    return csv_safe(value)  # a KPI's name comes from a ministry's YAML: never let Excel run it


def csv_bytes(table: Table) -> bytes:
    """The table as CSV, UTF-8 with BOM, header = column names."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    names = [c.name for c in table.columns]
    w.writerow(names)
    for r in table.rows:
        w.writerow([_csv_value(r.get(n)) for n in names])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def json_bytes(table: Table) -> bytes:
    """The table as a JSON array of objects with exactly the CSV's columns."""
    names = [c.name for c in table.columns]

    def conv(v: Any) -> Any:
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        if isinstance(v, float) and v != v:
            return None
        return v

    rows = [{n: conv(r.get(n)) for n in names} for r in table.rows]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def schema(table: Table) -> dict:
    """Frictionless Table Schema of a table: fields with types, titles, units; primary key; missing values."""
    fields = []
    for c in table.columns:
        f: dict[str, Any] = {"name": c.name, "type": c.type, "title": c.title[1], "description": c.title[0]}
        if c.type == "date":
            f["format"] = "default"
        if c.unit in UNIT_NOTE:
            f["description"] += f"; {UNIT_NOTE[c.unit]}"
        elif c.unit:
            f["unit"] = c.unit
        if c.description:
            f["description"] += f"; {c.description}"
        fields.append(f)
    return {"fields": fields, "primaryKey": list(table.primary_key), "missingValues": MISSING}


def resources(table: Table, csv_size: int, json_size: int, csv_hash: str, json_hash: str,
              schema_ref: str | dict | None = None) -> list[dict]:
    """The two datapackage resources (CSV and JSON) of one table; the schema inline or as a shared file path."""
    base = {"title": table.title[1], "description": table.title[0], "profile": "tabular-data-resource",
            "schema": schema_ref if schema_ref is not None else schema(table), "licenses": [LICENCE]}
    if table.sources:  # attribution travels with the data (CC BY)
        base["sources"] = [dict(s) for s in table.sources]
    return [
        {"name": table.name, "path": f"{table.path}.csv", "format": "csv", "mediatype": "text/csv",
         "encoding": "utf-8-sig", "bytes": csv_size, "hash": f"sha256:{csv_hash}",
         "dialect": {"delimiter": ",", "header": True}, **base},
        # no bytes/hash for JSON: Frictionless tools cannot check them on JSON sources and would report errors
        {"name": f"{table.name}.json", "path": f"{table.path}.json", "format": "json",
         "mediatype": "application/json", "encoding": "utf-8", **base},
    ]


def datapackage(resource_list: list[dict], built_at: datetime, snapshot: str) -> dict:
    """The Frictionless Data Package descriptor of one publication; `sources` names every publication the
    figures come from (each resource names its own)."""
    cited: dict[str, dict] = {}
    for r in resource_list:
        for src in r.get("sources", []):
            cited.setdefault(src["title"], src)
    return {
        "profile": "tabular-data-package",
        "name": "egov-observatory-public",
        "id": f"egov-observatory-public-{snapshot}",
        "title": "e-Government Progress: open data / 電子行政 進捗公開データ",
        "description": "The data behind every chart and table of the public e-government progress site. "
                       "Empty cell: no data submitted; \"x\": count suppressed for disclosure control; "
                       "in the CSV files, text starting with = + - @ is preceded by an apostrophe so that "
                       "spreadsheets show it rather than run it (the JSON files hold it as written).",
        "version": snapshot,
        "created": built_at.isoformat(),
        "licenses": [LICENCE],
        "keywords": ["e-government", "digital government", "KPI", "Japan", "電子行政", "デジタル・ガバメント"],
        **({"sources": list(cited.values())} if cited else {}),
        "resources": resource_list,
    }


def dcat(built_at: datetime, snapshot: str, distributions: list[dict]) -> dict:
    """A DCAT-style (JSON-LD) catalogue entry for the dataset and its main distributions."""
    return {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                     "foaf": "http://xmlns.com/foaf/0.1/", "owl": "http://www.w3.org/2002/07/owl#"},
        "@type": "dcat:Catalog",
        "dct:title": [{"@language": "ja", "@value": "電子行政 進捗公開データ"},
                      {"@language": "en", "@value": "e-Government Progress open data"}],
        "dcat:dataset": [{
            "@type": "dcat:Dataset",
            "dct:identifier": "egov-observatory-public",
            "dct:title": [{"@language": "ja", "@value": "デジタル・ガバメントの指標と目標に対する進捗"},
                          {"@language": "en", "@value": "Digital government KPIs and progress against targets"}],
            "dct:description": [
                {"@language": "ja", "@value": "全国・府省・都道府県・市区町村の指標値、目標、予測、データの鮮度。"},
                {"@language": "en", "@value": "KPI values, targets, forecasts and data freshness, nationally "
                                             "and per ministry, prefecture and municipality."}],
            "dct:issued": built_at.date().isoformat(),
            "dct:modified": built_at.isoformat(),
            "dct:language": ["ja", "en"],
            "dct:spatial": "JP",
            "dct:publisher": {"@type": "foaf:Organization", "foaf:name": "内閣官房 政府CIO室 / Office of the "
                                                                        "Government CIO"},
            "dct:license": LICENCE["path"],
            "dcat:keyword": ["電子行政", "e-government", "KPI"],
            "dcat:accrualPeriodicity": "http://purl.org/cld/freq/monthly",
            "owl:versionInfo": snapshot,
            "dcat:distribution": distributions,
        }],
    }


def package_files(tables: list[Table], built_at: datetime, snapshot: str) -> dict[str, bytes]:
    """Every open-data file of one publication by relative path: CSV and JSON per table, the shared table
    schemas (schemas/<digest>.json, referenced by path so 3,000 per-area files do not repeat them),
    datapackage.json and catalog.jsonld. The static build writes these; the live site serves them."""
    files: dict[str, bytes] = {}
    resource_list: list[dict] = []
    for tb in tables:
        c, j = csv_bytes(tb), json_bytes(tb)
        files[f"{tb.path}.csv"], files[f"{tb.path}.json"] = c, j
        sch = json.dumps(schema(tb), ensure_ascii=False, sort_keys=True).encode("utf-8")
        ref = f"schemas/{hashlib.sha256(sch).hexdigest()[:16]}.json"
        files[ref] = sch
        resource_list += resources(tb, len(c), len(j), hashlib.sha256(c).hexdigest(),
                                   hashlib.sha256(j).hexdigest(), ref)
    main = [r for r in resource_list if "/" not in r["path"] or r["path"].startswith(("overview/", "freshness/"))]
    distributions = [{"@type": "dcat:Distribution", "dct:title": r["title"], "dcat:downloadURL": r["path"],
                      "dcat:mediaType": r["mediatype"], "dct:format": r["format"].upper(),
                      **({"dcat:byteSize": r["bytes"]} if "bytes" in r else {})} for r in main]
    distributions.append({"@type": "dcat:Distribution", "dct:title": "Data package descriptor",
                          "dcat:downloadURL": "datapackage.json", "dcat:mediaType": "application/json"})
    files["datapackage.json"] = json.dumps(datapackage(resource_list, built_at, snapshot), ensure_ascii=False,
                                           separators=(",", ":")).encode("utf-8")
    files["catalog.jsonld"] = json.dumps(dcat(built_at, snapshot, distributions), ensure_ascii=False,
                                         indent=1).encode("utf-8")
    return files
