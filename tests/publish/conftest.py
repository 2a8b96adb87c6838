"""One fixture warehouse and one built site shared by the publish tests (building takes a few seconds)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from dashboards.publish import BuildResult, blueprint, build_site
from observatory.workspace import Workspace, init_workspace
from tests.publish.fixture import DEFINITIONS, NOW, populate


@dataclass
class BuiltSite:
    ws: Workspace
    root: Path
    result: BuildResult


@pytest.fixture(scope="session")
def published_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """An initialised workspace holding the fixture rows (KPI values for 60 municipalities, alerts, runs)."""
    ws, _ = init_workspace(tmp_path_factory.mktemp("publish") / "ws")
    populate(ws, municipalities=60)
    return ws


@pytest.fixture(scope="session")
def site(published_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The static site built from the fixture warehouse."""
    root = tmp_path_factory.mktemp("site") / "out"
    result = build_site(published_ws, root, definitions=DEFINITIONS, now=NOW)
    return BuiltSite(published_ws, root, result)


@pytest.fixture(scope="session")
def base_url(published_ws: Workspace) -> Iterator[str]:
    """The dashboard's public blueprint on a real HTTP server at 127.0.0.1 (ephemeral port)."""
    app = Flask(__name__)
    app.register_blueprint(blueprint(published_ws))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
