"""Workspace files are owner-only (0600/0700): the config with password hashes, the warehouse, secrets, raw and
event archives, the lock. The published site stays readable by the web server's account."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace, load_workspace


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the usual default: new files 0644, directories 0755
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(path: Path) -> None:
    assert path.exists(), path
    assert _mode(path) & 0o077 == 0, f"{path}: mode {oct(_mode(path))}"


def test_workspace_files_are_owner_only(tmp_path, loose_umask, monkeypatch) -> None:
    monkeypatch.delenv("OBSERVATORY_SECRET", raising=False)
    ws, _ = init_workspace(tmp_path / "ws")
    ws.secret("OBSERVATORY_SECRET")  # the demo fallback writes the secret into the workspace
    ws.save_config()  # `observatory users ...` rewrites the config
    with for_workspace(ws).connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS mode_probe (x INTEGER)")
        con.execute("INSERT INTO mode_probe VALUES (1)")
    for path in (ws.config_path, ws.db_path, ws.lock_path, ws.secrets_dir, ws.secrets_dir / "OBSERVATORY_SECRET",
                 ws.archive_dir, ws.events_dir.parent, ws.events_dir):
        _assert_private(path)


def test_init_repairs_an_older_workspace(tmp_path, loose_umask) -> None:
    ws, _ = init_workspace(tmp_path / "ws")
    for path in (ws.config_path, ws.db_path):
        os.chmod(path, 0o644)
    os.chmod(ws.archive_dir, 0o755)
    init_workspace(ws.home)
    for path in (ws.config_path, ws.db_path, ws.archive_dir):
        _assert_private(path)


def test_cli_init_under_a_loose_umask(tmp_path) -> None:
    home = tmp_path / "cli-ws"
    env = {**os.environ, "OBSERVATORY_SECRET": "s" * 40}
    subprocess.run([sys.executable, "-c", "import os, sys; os.umask(0o022); from observatory.cli import main; "
                    "main(sys.argv[1:])", "--home", str(home), "init"], check=True, env=env, capture_output=True)
    ws = load_workspace(home)
    for path in (ws.config_path, ws.db_path, ws.archive_dir, ws.events_dir.parent):
        _assert_private(path)


WRITE_WHILE_OPEN = """
import os, stat, sys
from pathlib import Path
from observatory.cli import main
from observatory.workspace import load_workspace
from observatory.warehouse import for_workspace
home = sys.argv[1]
try:
    main(["--home", home, "init"])
except SystemExit:
    pass
ws = load_workspace(Path(home))
with for_workspace(ws).connect() as con:
    con.execute("CREATE TABLE probe AS SELECT range AS x FROM range(1000)")
    wal = ws.db_path.with_name(ws.db_path.name + ".wal")
    print(oct(stat.S_IMODE(wal.stat().st_mode)) if wal.exists() else "no-wal")
"""


def test_the_warehouse_log_is_private_while_a_command_writes(tmp_path) -> None:
    """DuckDB creates its write-ahead log mid-connection with the process umask: commands run under 077."""
    env = {**os.environ, "OBSERVATORY_SECRET": "s" * 40}
    out = subprocess.run([sys.executable, "-c", "import os; os.umask(0o022)\n" + WRITE_WHILE_OPEN,
                          str(tmp_path / "w")], check=True, env=env, capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "0o600"


def test_published_site_stays_readable(tmp_path) -> None:
    from dashboards.publish import build_site

    old = os.umask(0o077)  # as under `observatory publish` / `serve`
    try:
        ws, _ = init_workspace(tmp_path / "ws")
        out = ws.resolve(ws.config.publish.outdir)
        build_site(ws, out)
    finally:
        os.umask(old)
    files = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert files
    for path in [out, *files]:
        assert _mode(path) & 0o004, f"{path}: not readable by others ({oct(_mode(path))})"
