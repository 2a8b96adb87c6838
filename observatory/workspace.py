"""Workspaces: a directory, the paths inside it and its parsed observatory.yaml (`Workspace`); opening one
(`load_workspace`) and creating or upgrading one (`init_workspace`, `observatory init`).

A workspace is a directory holding `observatory.yaml`, the DuckDB file `observatory.duckdb`, the raw archive
`archive/`, drop directories and the access-event Parquet archive. Secrets never live in the YAML: it names
environment variables, and `Workspace.secret()` reads them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _secrets
from pathlib import Path

import yaml

from observatory import reference
from observatory.calendar import DEFAULT_TIMEZONE
from observatory.config import CONFIG_NAME, Config, ConfigError, parse_config, shipped_kpi_dir
from observatory.files import make_private, private_dir, write_private
from observatory.warehouse import for_workspace, schema_version


class Workspace:
    """A workspace directory and its parsed configuration."""

    def __init__(self, home: Path, config: Config) -> None:
        self.home = home
        self.config = config

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def db_path(self) -> Path:
        return self.home / "observatory.duckdb"

    @property
    def lock_path(self) -> Path:
        return self.home / "observatory.lock"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def events_dir(self) -> Path:
        """Month-partitioned Parquet archive of access events (layout: observatory/events.py)."""
        return self.home / "events" / "access"

    @property
    def drop_dir(self) -> Path:
        return self.home / "drop"

    @property
    def secrets_dir(self) -> Path:
        return self.home / ".secrets"

    @property
    def kpi_dir(self) -> Path:
        if self.config.kpi_definitions:
            return (self.home / self.config.kpi_definitions).resolve()
        return shipped_kpi_dir()

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the workspace home."""
        p = Path(path)
        return p if p.is_absolute() else self.home / p

    def secret(self, env_name: str) -> str:
        """A secret from the environment; a workspace-local fallback file (0600) keeps a demo working.

        The pseudonym and archive keys must stay the same for the life of the workspace (a person's pseudonym, a
        sealed file's key): the first one used leaves a fingerprint in .secrets/, and another one (the variable set
        in one shell and not in the next, or set later over the demo's fallback) is refused instead of silently
        pseudonymising people anew or sealing files no other run can open."""
        value = os.environ.get(env_name)
        path = self.secrets_dir / env_name
        if not value and path.exists():
            value = path.read_text(encoding="utf-8").strip()
        kept = env_name in (self.config.security.pseudonym_key_env, self.config.security.archive_key_env)
        if kept:
            _check_fingerprint(self.secrets_dir / f"{env_name}.fingerprint", env_name, value)
        if value:
            return value
        private_dir(self.secrets_dir)
        value = _secrets.token_hex(32)
        write_private(path, value)
        if kept:
            _check_fingerprint(self.secrets_dir / f"{env_name}.fingerprint", env_name, value)
        return value

    def save_config(self) -> None:
        """Write the configuration back (used by `observatory users ...`)."""
        data = self.config.model_dump(mode="json", exclude_defaults=False)
        write_private(self.config_path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))  # hashes: 0600


FINGERPRINT_LABEL = b"observatory workspace secret fingerprint v1"
RESTORING = ".restore-unfinished"  # observatory.backup.restore's mark while it copies: the workspace is refused


def _check_fingerprint(path: Path, env_name: str, value: str | None) -> None:
    """Record the fingerprint of the first key a workspace uses; refuse a missing or different one after that."""
    if not path.exists():
        if value:
            private_dir(path.parent)
            write_private(path, hmac.new(value.encode("utf-8"), FINGERPRINT_LABEL, hashlib.sha256).hexdigest())
        return
    if not value:
        raise ConfigError(f"{env_name} が設定されていません / {env_name} is not set: this workspace's data was "
                          f"keyed with it; set it as before")
    seen = hmac.new(value.encode("utf-8"), FINGERPRINT_LABEL, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(seen, path.read_text(encoding="utf-8").strip()):
        raise ConfigError(f"{env_name} がこのワークスペースの鍵と異なります / {env_name} is not the key this workspace "
                          f"has used (fingerprint {path}); set it as before")


def load_workspace(home: Path) -> Workspace:
    """Open an existing workspace; a clear error when `observatory init` has not been run there."""
    path = home / CONFIG_NAME
    if (home / RESTORING).exists():
        raise ConfigError(f"{home}: 復元が完了していません / a restore into this workspace did not finish (it was "
                          f"interrupted); run `observatory --home {home} restore` from the backup again")
    if not path.exists():
        raise ConfigError(f"{path}: ワークスペースがありません / no workspace here; run `observatory --home {home} init` first")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: byte {exc.start + 1}: UTF-8で保存してください / not UTF-8 text; save it as UTF-8") from None
    return Workspace(home, parse_config(text, str(path)))

SETTINGS = """\
alerts:
  daily_budget: 2.0            # alerts a day the security team can triage
  per_1000_staff_days: 1.0     # and never more than this per 1,000 staff-days
  chance_share: 0.1            # share of that chance alone may fill (sets the significance floor)
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

DEFAULT_CONFIG = f"""\
# Observatory workspace configuration. Paths are relative to this directory.
# Secrets are never written here: security.* names the environment variables that hold them.
timezone: {DEFAULT_TIMEZONE}
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
    with for_workspace(ws).connect() as con:
        counts = reference.load_into(con)
        counts["schema_version"] = schema_version(con)
    return ws, counts
