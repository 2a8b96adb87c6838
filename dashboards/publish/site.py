"""Building the static public site: `build_site(ws, outdir) -> BuildResult`.

Layout of OUTDIR (all links relative, so it works from disk and from any static server):

    index.html                      language chooser
    ja/..., en/...                  the same pages in each language
    assets/                         site.css, site.js, plotly-basic.min.js (+ licence, provenance)
    data/latest/                    CSV + JSON of every table, datapackage.json, catalog.jsonld
    data/snapshots/<UTC stamp>/     the same files as published at that time (never rewritten)

The warehouse is read once (a few set-based queries) and released before anything is written. Pages and the new
snapshot are written to a staging directory and swapped into place, so a reader never sees half a site and a
publish that fails leaves the previous one as it was (nothing written outside staging, which is removed).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dashboards.publish import opendata, pages, views
from dashboards.publish.data import SiteData, fetch
from dashboards.publish.definitions import PublicKpi, load_definitions
from dashboards.publish.i18n import LANGS
from dashboards.publish.model import Page, Table
from observatory.warehouse import for_workspace
from observatory.workspace import Workspace

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
ASSET_FILES = ("site.css", "site.js", "plotly-basic.min.js", "plotly-basic.LICENSE.txt", "PROVENANCE.md")


@dataclass(frozen=True)
class BuildResult:
    """What a publish produced: HTML pages, files and bytes of the published tree (latest/ and the new
    snapshot counted separately, though latest/ holds hard links), the wall time and the snapshot name."""

    outdir: Path
    pages: int
    files: int
    bytes: int
    seconds: float
    snapshot: str

    def __str__(self) -> str:
        return (f"published {self.pages:,} pages, {self.files:,} files, {self.bytes / 1e6:.1f} MB to {self.outdir} "
                f"in {self.seconds:.1f} s (snapshot {self.snapshot})")


def snapshot_name(at: datetime) -> str:
    """A UTC timestamp usable as a directory name and sorting in time order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")


def read_site_data(ws: Workspace, definitions: list[PublicKpi] | None = None,
                   now: datetime | None = None) -> SiteData:
    """Everything the site shows, read under the workspace lock which is released on return."""
    defs = definitions if definitions is not None else load_definitions(ws.kpi_dir)
    with for_workspace(ws).connect() as con:
        return fetch(con, ws.config, defs, now)


def site_pages(data: SiteData) -> list[Page]:
    """All page models, the open-data page last (it lists the others' tables)."""
    out = list(views.all_pages(data))
    tables = unique_tables(out)
    out.append(views.data_page(tables, snapshot_name(data.built_at)))
    return out


def unique_tables(page_list: list[Page]) -> list[Table]:
    """Every table to publish as a file, once each; an empty table gets no file (the page says so)."""
    seen: dict[str, Table] = {}
    for p in page_list:
        for tb in p.all_tables():
            if tb.path and tb.rows:
                seen.setdefault(tb.path, tb)
    return list(seen.values())


def kpi_units(data: SiteData) -> dict[str, str]:
    return {k.kpi_id: k.unit for k in data.kpis}


def write_data(tables: list[Table], target: Path, built_at: datetime, snapshot: str) -> tuple[int, int]:
    """Every open-data file (see opendata.package_files) into `target`; returns (files, bytes)."""
    files = opendata.package_files(tables, built_at, snapshot)
    dirs: set[Path] = set()
    for rel, content in files.items():
        path = target / rel
        if path.parent not in dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            dirs.add(path.parent)
        path.write_bytes(content)
    return len(files), sum(len(c) for c in files.values())


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a directory tree as hard links (falling back to copies across devices)."""
    for root, _dirs, names in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for n in names:
            try:
                os.link(Path(root) / n, dst / rel / n)
            except OSError:
                shutil.copy2(Path(root) / n, dst / rel / n)


def _swap(staging: Path, outdir: Path, names: list[str]) -> None:
    """Move each built item into place, replacing the previous publication's."""
    trash = outdir / f".old-{os.getpid()}-{time.monotonic_ns()}"
    trash.mkdir()
    for name in names:
        new, cur = staging / name, outdir / name
        if cur.exists() or cur.is_symlink():
            cur.rename(trash / name.replace("/", "_"))
        cur.parent.mkdir(parents=True, exist_ok=True)
        new.rename(cur)
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def prune_snapshots(outdir: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` dated snapshots; returns the names removed."""
    root = outdir / "data" / "snapshots"
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    removed = names[:-keep] if keep > 0 else names
    for name in removed:
        shutil.rmtree(root / name, ignore_errors=True)
    return removed


def build_site(ws: Workspace, outdir: Path | str, definitions: list[PublicKpi] | None = None,
               now: datetime | None = None, keep_snapshots: int | None = None) -> BuildResult:
    """Publish the whole site into `outdir` (pages in both languages, open data, a dated snapshot)."""
    started = time.perf_counter()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with _publish_lock(outdir):  # the scheduler and a CLI run may publish into the same directory
        for left in [*outdir.glob(".staging-*"), *outdir.glob(".old-*")]:  # of a publish that was killed
            shutil.rmtree(left, ignore_errors=True)
        return _build(ws, outdir, definitions, now, keep_snapshots, started)


def _world_readable(root: Path) -> None:
    """Directories 0755 and files 0644 under root (the one part of a workspace meant for other accounts)."""
    os.chmod(root, 0o755)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


@contextmanager
def _publish_lock(outdir: Path) -> Iterator[None]:
    fd = os.open(outdir / ".publish.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _build(ws: Workspace, outdir: Path, definitions: list[PublicKpi] | None, now: datetime | None,
           keep_snapshots: int | None, started: float) -> BuildResult:
    data = read_site_data(ws, definitions, now)
    snapshot = snapshot_name(data.built_at)
    page_list = site_pages(data)
    tables = unique_tables(page_list)
    staging = outdir / f".staging-{snapshot}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        result = _write(data, page_list, tables, staging, outdir, snapshot, started)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if keep_snapshots:
        prune_snapshots(outdir, keep_snapshots)
    return result


def _write(data: SiteData, page_list: list[Page], tables: list[Table], staging: Path, outdir: Path,
           snapshot: str, started: float) -> BuildResult:
    """Everything of one publication into staging, then swapped into outdir (the snapshot too: a snapshot of
    the same second is replaced whole, never rewritten in place, since latest/ holds its files' hard links)."""
    snap = f"data/snapshots/{snapshot}"
    snap_dir = staging / snap
    n_files, n_bytes = write_data(tables, snap_dir, data.built_at, snapshot)
    _link_tree(snap_dir, staging / "data" / "latest")
    n_files *= 2  # latest/ holds the same files (hard links)
    n_bytes *= 2
    units = kpi_units(data)
    n_pages = 0
    made: set[Path] = set()
    for lang in LANGS:
        for page in page_list:
            path = staging / lang / page.path
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            html = pages.render(page, lang, data.built_at, units).encode("utf-8")
            path.write_bytes(html)
            n_pages += 1
            n_bytes += len(html)
    chooser = pages.language_chooser(data.built_at).encode("utf-8")
    (staging / "index.html").write_bytes(chooser)
    n_pages += 1
    n_bytes += len(chooser)
    (staging / "assets").mkdir()
    for name in ASSET_FILES:
        shutil.copy2(ASSETS_DIR / name, staging / "assets" / name)
        n_bytes += (ASSETS_DIR / name).stat().st_size
    n_files += n_pages + len(ASSET_FILES)
    _world_readable(staging)  # a web server under another account must read the site, whatever the umask
    (outdir / "data" / "snapshots").mkdir(parents=True, exist_ok=True)
    for directory in (outdir, outdir / "data", outdir / "data" / "snapshots"):
        os.chmod(directory, 0o755)
    _swap(staging, outdir, [snap, "assets", "ja", "en", "data/latest", "index.html"])
    return BuildResult(outdir, n_pages, n_files, n_bytes, time.perf_counter() - started, snapshot)
