"""Shared fixtures: a fresh workspace with a real DuckDB file per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from observatory.warehouse import Warehouse, for_workspace
from observatory.workspace import Workspace, init_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """An initialised workspace (schema + reference data) in a temporary directory."""
    ws, _ = init_workspace(tmp_path / "ws")
    return ws


@pytest.fixture
def warehouse(workspace: Workspace) -> Warehouse:
    return for_workspace(workspace)
