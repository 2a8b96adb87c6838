"""The public site served live by the dashboard, without sign-in: `blueprint(ws) -> flask.Blueprint`.

/public/...        the same pages as the static build, rendered from the warehouse on request
/public/data/latest/<file>.csv|.json, datapackage.json, catalog.jsonld   the same downloads
/api/public/       the read-only JSON API: /api/public/<page path without .html> returns that page's model,
                   i.e. exactly the titles, summaries, facts and table rows the page shows.

The warehouse is read at most once per CACHE_SECONDS (a handful of queries) and the lock released at once.
Only paths of known pages, tables and vendored assets are answered: nothing is looked up on disk by a
user-supplied name except through `send_from_directory` of the assets folder.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from flask import Blueprint, Response, abort, jsonify, redirect, send_from_directory

from dashboards.publish import opendata, pages, views
from dashboards.publish.data import SiteData
from dashboards.publish.definitions import PublicKpi
from dashboards.publish.i18n import LANGS
from dashboards.publish.model import Page, Table
from dashboards.publish.site import (
    ASSET_FILES,
    ASSETS_DIR,
    kpi_units,
    read_site_data,
    snapshot_name,
    unique_tables,
)
from observatory.workspace import Workspace

CACHE_SECONDS = 60.0


@dataclass
class _Snapshot:
    data: SiteData
    read_at: float
    _tables: dict[str, Table] | None = None
    _files: dict[str, bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def tables(self) -> dict[str, Table]:
        """Every downloadable table by path (builds all page models once per snapshot)."""
        with self._lock:
            if self._tables is None:
                self._tables = {tb.path: tb for tb in unique_tables(list(views.all_pages(self.data)))}
            return self._tables

    def files(self) -> dict[str, bytes]:
        """The open-data files of this snapshot by path (the same bytes the static build writes)."""
        tables = self.tables()
        with self._lock:
            if self._files is None:
                self._files = opendata.package_files(list(tables.values()), self.data.built_at,
                                                     snapshot_name(self.data.built_at))
            return self._files


class LiveSite:
    """SiteData read from the warehouse, reused for CACHE_SECONDS."""

    def __init__(self, ws: Workspace, cache_seconds: float = CACHE_SECONDS,
                 definitions: list[PublicKpi] | None = None) -> None:
        self.ws = ws
        self.cache_seconds = cache_seconds
        self.definitions = definitions
        self._snap: _Snapshot | None = None
        self._lock = threading.Lock()

    def current(self) -> _Snapshot:
        with self._lock:
            now = time.monotonic()
            if self._snap is None or now - self._snap.read_at > self.cache_seconds:
                self._snap = _Snapshot(read_site_data(self.ws, self.definitions), now)
            return self._snap


def resolve(data: SiteData, path: str, tables: dict[str, Table] | None = None) -> Page | None:
    """The page model at `path` (relative to a language root, e.g. 'kpi/online_rate.html'), or None."""
    fixed = {
        "index.html": views.overview, "kpi/index.html": views.kpi_index, "ministry/index.html": views.ministry_index,
        "prefecture/index.html": views.prefecture_index, "municipality/index.html": views.municipality_index,
        "freshness.html": views.freshness, "how.html": views.how_we_measure, "security.html": views.security,
    }
    if path in fixed:
        return fixed[path](data)
    if path == "data.html":
        return views.data_page(list((tables or {}).values()), None)  # the live site stores no snapshot
    section, _, name = path.partition("/")
    if not name.endswith(".html") or "/" in name:
        return None
    key = name[: -len(".html")]
    if section == "kpi":
        k = next((k for k in data.kpis if views._slug(k.kpi_id) == key), None)
        return views.kpi_page(data, k) if k else None
    if section == "ministry":
        m = next((m for m in data.ministries if views._slug(m.code) == key), None)
        return views.ministry_page(data, m.code) if m else None
    if section == "prefecture" and any(p.code == key for p in data.prefectures):
        return views.prefecture_page(data, key)
    if section == "municipality" and any(m.code == key for m in data.municipalities):
        return views.municipality_page(data, key)
    return None


def _html(text: str) -> Response:
    resp = Response(text, mimetype="text/html")
    resp.headers["Cache-Control"] = "public, max-age=60"
    return resp


def blueprint(ws: Workspace, cache_seconds: float = CACHE_SECONDS,
              definitions: list[PublicKpi] | None = None) -> Blueprint:
    """Routes /public/... (pages, assets, downloads) and /api/public/... (JSON), no sign-in.

    `definitions` overrides the KPI catalogue (tests); by default it is read from the workspace.
    """
    bp = Blueprint("public_site", __name__)
    site = LiveSite(ws, cache_seconds, definitions)

    @bp.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        return resp

    _site_routes(bp, site)
    _api_routes(bp, site)
    return bp


def _site_routes(bp: Blueprint, site: LiveSite) -> None:
    """/public/...: the language chooser, the pages, the vendored assets and the open-data downloads."""

    @bp.get("/public/")
    @bp.get("/public/index.html")
    def chooser() -> Response:
        return _html(pages.language_chooser(site.current().data.built_at))

    @bp.get("/public/<lang>/")
    def lang_root(lang: str) -> Response:
        if lang not in LANGS:
            abort(404)
        return redirect(f"/public/{lang}/index.html")

    @bp.get("/public/<lang>/<path:path>")
    def page(lang: str, path: str) -> Response:
        if lang not in LANGS:
            abort(404)
        snap = site.current()
        found = resolve(snap.data, path, snap.tables() if path == "data.html" else None)
        if found is None:
            abort(404)
        return _html(pages.render(found, lang, snap.data.built_at, kpi_units(snap.data)))

    @bp.get("/public/assets/<name>")
    def asset(name: str) -> Response:
        if name not in ASSET_FILES:
            abort(404)
        return send_from_directory(ASSETS_DIR, name, max_age=3600)

    @bp.get("/public/data/latest/<path:path>")
    def download(path: str) -> Response:
        content = site.current().files().get(path)
        if content is None:
            abort(404)
        if path.endswith(".csv"):
            name = path.replace("/", "-")
            return Response(content, mimetype="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return Response(content, mimetype="application/json")


def _api_routes(bp: Blueprint, site: LiveSite) -> None:
    """/api/public/...: the read-only JSON API, each page's model as the page shows it."""

    @bp.get("/api/public/")
    def api_index() -> Response:
        snap = site.current()
        return jsonify({
            "built_at": snap.data.built_at.isoformat(),
            "pages": "GET /api/public/<page> where <page> is a page path without .html, e.g. index, "
                     "kpi/index, kpi/<kpi_id>, ministry/<code>, prefecture/<code>, municipality/<code>, "
                     "freshness, how, security",
            "kpis": [k.kpi_id for k in snap.data.kpis],
            "downloads": "/public/data/latest/datapackage.json",
        })

    @bp.get("/api/public/<path:path>")
    def api_page(path: str) -> Response:
        snap = site.current()
        found = resolve(snap.data, f"{path}.html", snap.tables() if path == "data" else None)
        if found is None:
            return Response(json.dumps({"error": f"no public page {path!r}"}), status=404,
                            mimetype="application/json")
        body = found.to_dict()
        body["built_at"] = snap.data.built_at.isoformat()
        return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
