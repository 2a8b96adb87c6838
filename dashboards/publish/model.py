"""The language-neutral model of a public page: its tables, figures and facts.

A page model is what the HTML shows, what the JSON API returns and what the downloads contain: the HTML
renderer, the API and the open-data writer all read the same `Page`, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

Text = tuple[str, str]  # (ja, en)


@dataclass(frozen=True)
class Column:
    """One column of a published table, described once for the HTML, the CSV and datapackage.json."""

    name: str
    type: str  # string | integer | number | date | datetime (Frictionless types)
    title: Text
    unit: str | None = None  # percent | count | days | ... (from the KPI definition)
    lang: str | None = None  # shown in the HTML of this language only (name_ja / name_en)
    kind: str | None = None  # status | period | code: how the HTML formats it
    link: str | None = None  # page path template filled from the row, e.g. "municipality/{code}.html"
    description: str | None = None
    html: bool = True  # False: in the downloads and the API, left out of the page's table (space on phones)
    # a column of latest values: (the newest period among them, the KPI's frequency); an older value shows its
    # period (held in the row's `<name>_period`) beside it
    latest_of: tuple[date, str] | None = None


@dataclass
class Table:
    """A downloadable table: written as data/<path>.csv and .json and listed in datapackage.json."""

    name: str  # Frictionless resource name: lowercase, digits, '-', '_', '.'
    path: str  # without extension, relative to the data directory
    title: Text
    columns: list[Column]
    rows: list[dict[str, Any]]
    primary_key: list[str]
    frequency: str | None = None  # formats period columns
    sources: tuple[dict[str, str], ...] = ()  # publications the figures come from ({"title", "path"}, Frictionless)
    empty: Text | None = None  # what the page's table says without rows (default: no data submitted)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": {"ja": self.title[0], "en": self.title[1]},
            "columns": [c.name for c in self.columns],
            "primary_key": self.primary_key,
            "rows": [{k: jsonable(v) for k, v in r.items()} for r in self.rows],
        }


@dataclass
class Figure:
    """A chart (or a table standing alone) with its text summary and its data table."""

    fid: str
    title: Text
    summary: Text
    table: Table
    chart: dict | None = None  # {"kind": "bars"|"line", ...}; None: a table without a chart
    download: Table | None = None  # the file to download when it is not `table` itself (a superset)
    note: Text | None = None

    @property
    def resource(self) -> Table:
        return self.download or self.table

    def to_dict(self) -> dict:
        return {
            "id": self.fid,
            "title": {"ja": self.title[0], "en": self.title[1]},
            "summary": {"ja": self.summary[0], "en": self.summary[1]},
            "chart": self.chart["kind"] if self.chart else None,
            "download": self.resource.path,
            "table": self.table.to_dict(),
        }


@dataclass
class Page:
    """One page of the site, in both languages."""

    path: str  # relative to the language root, e.g. "kpi/online_rate.html"
    kind: str  # overview | kpi | kpis | ministry | ministries | prefecture | prefectures | ...
    title: Text
    lead: list[Text] = field(default_factory=list)
    facts: list[tuple[Text, Text]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    links: list[tuple[Text, list[tuple[str, Text]]]] = field(default_factory=list)  # heading, [(path, text)]
    tables: list[Table] = field(default_factory=list)  # extra downloadable tables (figure downloads)
    crumbs: list[tuple[str, Text]] = field(default_factory=list)  # [(path, text)] above this page
    search: bool = False  # the municipality list: adds the filter box
    status: dict[str, Any] | None = None  # a KPI page: the headline judgement (code, target year, reason)

    def all_tables(self) -> list[Table]:
        """Every table this page offers for download, once each."""
        seen: dict[str, Table] = {}
        for t in [f.resource for f in self.figures] + self.tables:
            seen.setdefault(t.name, t)
        return list(seen.values())

    def to_dict(self) -> dict:
        out = {"status": self.status} if self.status is not None else {}
        return out | {
            "path": self.path,
            "kind": self.kind,
            "title": {"ja": self.title[0], "en": self.title[1]},
            "lead": [{"ja": ja, "en": en} for ja, en in self.lead],
            "facts": [{"label": {"ja": a[0], "en": a[1]}, "value": {"ja": b[0], "en": b[1]}}
                      for a, b in self.facts],
            "figures": [f.to_dict() for f in self.figures],
            "links": [{"heading": {"ja": h[0], "en": h[1]},
                       "items": [{"path": p, "text": {"ja": x[0], "en": x[1]}} for p, x in items]}
                      for h, items in self.links],
        }


def jsonable(value: Any) -> Any:
    """Dates as ISO strings; everything else as is."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
