"""Fixtures for the dashboards: one built warehouse per session (copied for tests that write), the Dash
app, and signed-in Flask test clients."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dashboards.app import create_app
from observatory.workspace import Workspace, init_workspace, load_workspace
from tests.dashboards import fixtures

SECRET_ENV = "OBSERVATORY_SECRET"


@pytest.fixture(scope="session")
def built_home(tmp_path_factory) -> tuple[Path, fixtures.Built]:
    """Initialise and fill one workspace for the whole session (init and build take seconds)."""
    home = tmp_path_factory.mktemp("dash") / "ws"
    ws, _ = init_workspace(home)
    built = fixtures.build(ws)
    return home, built


@pytest.fixture
def workspace(built_home, tmp_path, monkeypatch) -> Workspace:
    """A private copy of the built workspace (tests may write to it)."""
    monkeypatch.setenv(SECRET_ENV, "test-secret-" + "x" * 32)
    home = tmp_path / "ws"
    shutil.copytree(built_home[0], home, ignore=shutil.ignore_patterns("*.lock"))
    return load_workspace(home)


@pytest.fixture
def built(built_home) -> fixtures.Built:
    return built_home[1]


@pytest.fixture
def app(workspace, built):
    return create_app(workspace)


def sign_in(client, username: str, password: str | None = None):
    """Sign in through the real form (CSRF token included); returns the POST response."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"csrf": token, "username": username,
                                       "password": password or fixtures.password(username), "next": "/"})


@pytest.fixture
def client_for(app):
    def make(username: str | None):
        client = app.server.test_client()
        if username:
            resp = sign_in(client, username)
            assert resp.status_code == 302, resp.get_data(as_text=True)
        return client
    return make
