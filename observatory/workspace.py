"""Creating and opening workspaces: `observatory init` and everything that needs the warehouse."""

from __future__ import annotations

from pathlib import Path

import yaml

from observatory import reference
from observatory.config import CONFIG_NAME, Workspace, load_workspace, parse_config
from observatory.files import make_private, private_dir, write_private
from observatory.warehouse import Warehouse, for_workspace, schema_version

SETTINGS = """\
alerts:
  daily_budget: 2.0            # alerts a day the security team can triage
  per_1000_staff_days: 1.0     # and never more than this per 1,000 staff-days
  benign_suppression_days: 90  # a pattern closed as benign is not raised again for this long
  triage_service_level_hours: 72
submissions:
  max_file_mb: 50
security:                      # names of the environment variables holding the secrets
  session_secret_env: OBSERVATORY_SECRET
  pseudonym_key_env: OBSERVATORY_PSEUDONYM_KEY
  archive_key_env: OBSERVATORY_ARCHIVE_KEY   # AES-GCM key of the raw archive (encrypted at rest)
archive:
  retention_days: 400          # raw received files older than this are removed by `observatory archive prune`
publish:
  outdir: site
  schedule: "*/5 * * * *"      # how often the scheduler republishes when the data changed
"""

DEFAULT_CONFIG = """\
# Observatory workspace configuration. Paths are relative to this directory.
# Secrets are never written here: security.* names the environment variables that hold them.
timezone: Asia/Tokyo
sources: []
users: []
""" + SETTINGS


def init_workspace(home: Path, config_text: str | None = None) -> tuple[Workspace, dict]:
    """Create (or upgrade) a workspace: config, directories, schema migrations, reference data."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / CONFIG_NAME
    if not path.exists():
        text = config_text or DEFAULT_CONFIG
        parse_config(text, str(path))
        write_private(path, text)
    ws = load_workspace(home)
    for d in (ws.archive_dir, ws.events_dir, ws.drop_dir):
        d.mkdir(parents=True, exist_ok=True)
    # raw files may hold personal data as received (before pseudonymisation), the config holds password
    # hashes, the warehouse pseudonymised events: owner-only access (also repairs older workspaces)
    for d in (ws.archive_dir, ws.events_dir.parent, ws.events_dir):
        private_dir(d)
    for f in (path, ws.db_path, ws.lock_path):
        make_private(f)
    with warehouse(ws).connect() as con:
        counts = reference.load_into(con)
        counts["schema_version"] = schema_version(con)
    return ws, counts


def warehouse(ws: Workspace) -> Warehouse:
    return for_workspace(ws)


def dump_config(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
