"""Fixtures for KPI tests: the shipped catalogue and helpers to insert fact rows directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from observatory.kpis.catalogue import Catalogue, load_catalogue

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "kpis"


@pytest.fixture(scope="session")
def shipped() -> Catalogue:
    return load_catalogue(ROOT / "kpi_definitions")


@pytest.fixture(scope="session")
def simple() -> Catalogue:
    return load_catalogue(FIXTURES / "good")


def values(con, kpi_id: str, level: str | None = None) -> dict:
    """{(level, entity, period iso): (version, value, status)} of a KPI, values rounded to 6 places."""
    sql = "SELECT level, entity_code, period, version, value, status FROM kpi_values WHERE kpi_id = ?"
    params: list = [kpi_id]
    if level:
        sql += " AND level = ?"
        params.append(level)
    return {(lv, e, p.isoformat()): (v, None if x is None else round(x, 6), s)
            for lv, e, p, v, x, s in con.execute(sql, params).fetchall()}


@pytest.fixture(scope="session")
def _template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised workspace (schema + reference data) per session; tests get copies (init is slow)."""
    from observatory.workspace import init_workspace

    home = tmp_path_factory.mktemp("kpi-template") / "ws"
    init_workspace(home)
    return home


@pytest.fixture
def warehouse(_template_home: Path, tmp_path: Path):
    """A fresh copy of the initialised workspace's warehouse (overrides the slower shared fixture)."""
    import shutil

    from observatory.warehouse import for_workspace
    from observatory.workspace import load_workspace

    home = tmp_path / "ws"
    shutil.copytree(_template_home, home, ignore=shutil.ignore_patterns("*.lock"))
    return for_workspace(load_workspace(home))
