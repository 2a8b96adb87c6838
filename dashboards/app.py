"""The signed-in dashboards: `create_app(ws)` builds the Dash app, `serve(ws)` runs it under waitress.

Layout of the package: pages/ (one module per page: register_page, layout, callbacks), ids.py (component
ids), queries.py and figures.py (pure functions shared with the public site), views.py (the rows behind
each table and CSV), auth.py (sign-in and the per-request role guard), i18n.py (all strings).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dash
import flask
from waitress.server import create_server

from dashboards import auth, cache, downloads
from dashboards.context import WS_KEY
from dashboards.i18n import DISPLAY_ZONE
from dashboards.pages import (
    alert,
    alerts,
    area,
    audit,
    home,
    kpi,
    ministry,
    municipality,
    overview,
    sources,
    submission,
)
from dashboards.shell import shell_layout
from observatory.workspace import Workspace

PAGES = (home, overview, kpi, area, municipality, sources, ministry, submission, alerts, alert, audit)
ASSETS = Path(__file__).resolve().parent / "assets"
log = logging.getLogger(__name__)


def _mount_public(server, ws: Workspace) -> bool:
    """Mount the public site's blueprint when dashboards.publish provides one."""
    try:
        from dashboards import publish  # optional: the app serves without the public site
    except ImportError:
        return False
    make = getattr(publish, "blueprint", None)
    if make is None:
        return False
    try:
        server.register_blueprint(make(ws))
    except Exception:  # noqa: BLE001 - the signed-in dashboards must still start if the public site fails
        log.exception("the public site could not be mounted")
        return False
    return True


def _show_in_zone(timezone: str) -> None:
    """before_request: stored instants on this request's pages are shown in the workspace's time zone (until
    the request ends: _zone_done)."""
    flask.g.display_zone_token = DISPLAY_ZONE.set(timezone)


def _zone_done(_exc: BaseException | None) -> None:
    token = flask.g.pop("display_zone_token", None)
    if token is not None:
        DISPLAY_ZONE.reset(token)


def create_app(ws: Workspace) -> dash.Dash:
    """Build the Dash app for a workspace: pages, callbacks, sign-in, role guard, downloads, public site."""
    app = dash.Dash(__name__, use_pages=True, pages_folder="", assets_folder=str(ASSETS),
                    suppress_callback_exceptions=True, title="電子行政オブザーバトリ / e-Government Observatory",
                    update_title=None, serve_locally=True, compress=False)
    server = app.server
    server.config[WS_KEY] = ws
    server.config["MAX_CONTENT_LENGTH"] = int(ws.config.submissions.max_file_mb * 1024 * 1024 * 1.4) + 2**20
    auth.configure_session(server, ws.secret(ws.config.security.session_secret_env),
                           secure=os.environ.get("OBSERVATORY_SECURE_COOKIES") == "1")
    server.config["OBSERVATORY_PUBLIC"] = _mount_public(server, ws)
    server.before_request(lambda: _show_in_zone(ws.config.timezone))
    server.teardown_request(_zone_done)
    auth.register(server)
    cache.register(server)  # after the guard: permissions are checked before the cache is consulted
    downloads.register(server)
    for page in PAGES:
        page.register(app)
    app.layout = shell_layout
    app.index_string = app.index_string.replace("<html>", '<html lang="ja">')
    server.config["OBSERVATORY_CALLBACKS"] = app.callback_map  # the guard checks callback requests against it
    # an unknown component bundle (an open path: anyone may ask) is a 404, not a 500 with a traceback in the log
    server.register_error_handler(dash.exceptions.DependencyException,
                                  lambda _exc: flask.make_response("not found\n", 404, {"Content-Type": "text/plain"}))

    @server.after_request
    def _security_headers(resp):  # every response, with the hashes of Dash's own inline scripts
        hashes = app.csp_hashes() if resp.mimetype == "text/html" else []
        return auth.security_headers(resp, hashes)

    return app


def make_server(ws: Workspace, host: str = "127.0.0.1", port: int = 0, threads: int = 8):
    """A waitress server for the app, not yet running (port 0: a free ephemeral port, see .effective_port)."""
    return create_server(create_app(ws).server, host=host, port=port, threads=threads, ident="observatory")


def serve(ws: Workspace, host: str = "127.0.0.1", port: int = 8050, threads: int = 8) -> None:
    """Serve the dashboards with waitress (a production WSGI server), blocking until stopped."""
    server = make_server(ws, host=host, port=port, threads=threads)
    log.info("dashboards on http://%s:%s/", host, server.effective_port)
    try:
        server.run()
    finally:
        server.close()
