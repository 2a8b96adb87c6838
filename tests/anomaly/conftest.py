"""Fixtures: the hand-built world is built once per session and copied for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.anomaly import world as w


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return w.template(tmp_path_factory.mktemp("anomaly_world") / "ws")


@pytest.fixture
def built(world_template: Path, tmp_path: Path) -> w.World:
    """A private copy of the world, ready for scenario events on the test day."""
    return w.world_in(w.copy_of(world_template, tmp_path / "ws"))
