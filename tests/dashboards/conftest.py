"""Fixtures for the dashboards: a built warehouse, the Dash app and signed-in Flask test clients."""

from __future__ import annotations

import re

import pytest

from dashboards.app import create_app
from tests.dashboards import fixtures


@pytest.fixture
def built(workspace, monkeypatch):
    monkeypatch.setenv(workspace.config.security.session_secret_env, "test-secret-" + "x" * 32)
    return fixtures.build(workspace)


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
