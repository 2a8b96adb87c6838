"""Fixtures for submission tests: a workspace with users of several ministries and the fixture KPI definitions."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from observatory.submissions import catalogue
from observatory.warehouse import for_workspace
from observatory.workspace import Workspace, init_workspace, load_workspace
from tests.submissions.kpi_fixtures import load_yaml_definitions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "submissions"
TODAY = date(2026, 1, 15)
TAX = "test_tax_notice_electronic"
SOCIAL = "test_social_insurance_channels"
QUARTERLY = "test_quarterly_national"

CONFIG = """\
kpi_definitions: {kpis}
submissions:
  max_file_mb: {max_mb}
users:
  - {{username: mic1, role: ministry, ministry: MIC}}
  - {{username: mic_off, role: ministry, ministry: MIC, disabled: true}}
  - {{username: mhlw1, role: ministry, ministry: MHLW}}
  - {{username: jps1, role: ministry, ministry: JPS}}
  - {{username: cio1, role: cio}}
  - {{username: sec1, role: security}}
"""


@pytest.fixture(scope="session")
def kpis() -> dict:
    """The fixture KPI definitions, built with the SubmissionSpec model (independent of the shipped catalogue)."""
    return load_yaml_definitions(FIXTURES / "kpis")


def make_workspace(home: Path, max_mb: float = 50) -> Workspace:
    ws, _ = init_workspace(home, CONFIG.format(kpis=FIXTURES / "kpis", max_mb=max_mb))
    return ws


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised workspace (schema + reference data) that each test copies: init is the slow part."""
    home = tmp_path_factory.mktemp("pristine") / "ws"
    make_workspace(home)
    return home


@pytest.fixture
def ws(tmp_path: Path, pristine: Path, kpis: dict, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh workspace whose KPI catalogue (as seen by submissions and the CLI) is the fixture set."""
    monkeypatch.setattr(catalogue, "_catalogue_items", lambda _ws: dict(kpis))
    monkeypatch.setattr(catalogue, "engine", lambda _ws: None)
    home = tmp_path / "ws"
    shutil.copytree(pristine, home)
    return load_workspace(home)


def query(ws: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    with for_workspace(ws).connect() as con:
        return con.execute(sql, params or []).fetchall()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def xlsx_bytes(rows: list[list], *, sheet: str = "提出データ", percent_cells: tuple[str, ...] = (),
               cached: dict[str, str] | None = None, extra_sheet_first: bool = False,
               text_cells: tuple[str, ...] = ()) -> bytes:
    """An XLSX built in code; `cached` gives formula cells (e.g. {"E4": "200"}) the value Excel would store."""
    import io
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if extra_sheet_first:
        ws.title = "表紙"
        ws.append(["cover page"])
        ws = wb.create_sheet(sheet)
    else:
        ws.title = sheet
    for row in rows:
        ws.append(row)
    for ref in percent_cells:
        ws[ref].number_format = "0.0%"
    for ref in text_cells:  # a string starting with '=' typed as text, not a formula
        ws[ref].data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    if not cached:
        return buf.getvalue()
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text = data.decode()
                for ref, value in cached.items():
                    start = text.index(f'<c r="{ref}"')
                    end = text.index("</c>", start)
                    text = text[:start] + text[start:end].replace("<v />", f"<v>{value}</v>") + text[end:]
                data = text.encode()
            dst.writestr(item, data)
    return out.getvalue()
