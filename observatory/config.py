"""Workspace configuration: where the workspace lives (`home_from`) and what `observatory.yaml` says (`Config`).

Secrets never live in the YAML: it names environment variables, which `Workspace.secret()`
(observatory/workspace.py) reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from observatory import crontab
from observatory.calendar import DEFAULT_TIMEZONE, zone
from observatory.errors import UserError

HOME_ENV = "OBSERVATORY_HOME"
DEFAULT_HOME = Path("workspace")
CONFIG_NAME = "observatory.yaml"

# The one declared list of source kinds (collectors.KINDS must implement exactly these; a test checks it).
SourceKind = Literal["usage-rates", "card-issuance", "procedure-inventory", "municipal-dx", "turnaround", "access-log",
                     "staff", "subjects", "cases"]
Role = Literal["cio", "ministry", "security", "admin"]


class ConfigError(UserError):
    """observatory.yaml is missing or invalid; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Model):
    """One configured data source: an HTTP(S) URL or a local drop directory, fetched on a cron schedule."""

    name: str
    kind: SourceKind
    url: str | None = None
    directory: str | None = None
    schedule: str = "0 * * * *"  # crontab: minute hour day month day_of_week
    freshness_hours: float = 24 * 40
    format: Literal["auto", "csv", "xlsx", "json"] = "auto"
    encoding: str | None = None  # None: detect UTF-8 / UTF-8 BOM / CP932
    sheet: str | None = None
    period: str | None = None  # YYYY-MM when the file does not say
    fiscal_year: int | None = None  # procedure-inventory: the fiscal year the file covers
    released_on: str | None = None  # municipal-dx: YYYY-MM-DD release date (HTTP: else Last-Modified)
    timeout_s: float = 30.0
    retries: int = 3
    enabled: bool = True

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        """Checked when the configuration loads, not first when the scheduler starts (observatory.crontab)."""
        return crontab.check(value)


class User(_Model):
    username: str
    role: Role
    roles: list[Role] = Field(default_factory=list)  # extra roles, e.g. a CIO officer who is also security
    ministry: str | None = None  # required for role ministry
    display_name: str | None = None
    password_hash: str = ""
    disabled: bool = False

    def has(self, role: str) -> bool:
        return role == self.role or role in self.roles


class AlertSettings(_Model):
    daily_budget: float = 2.0  # alerts a day the security team can triage
    per_1000_staff_days: float = 1.0  # budget ceiling relative to the size of the workforce
    # the share of that ceiling chance alone may fill: it sets the significance floor (0.1: 5.20 decades at
    # 1 per 1,000 staff-days; 0.5: 4.50). Higher finds weaker incidents and raises more false alarms
    # (benchmarks/anomaly_robustness.py --shares prints the trade on worlds with known incidents).
    chance_share: float = Field(default=0.1, gt=0, le=1)
    benign_suppression_days: int = 90
    triage_service_level_hours: float = 72.0
    work_hours: tuple[int, int] = (7, 21)


class SparkSettings(_Model):
    master: str = "local[2]"  # any Spark master URL (spark://host:7077, yarn, k8s://...) in production
    conf: dict[str, str] = Field(default_factory=dict)  # extra spark.* settings for the session
    # where stages write their relations (Parquet), shared by driver and executors: a local path in local
    # mode (default: the workspace's tmp/), hdfs:// or s3a:// on a cluster
    scratch_uri: str | None = None


# The one declared list of detection engines (anomaly.engine implements exactly these).
EngineKind = Literal["duckdb", "spark"]


class DetectionSettings(_Model):
    """Where the detector's heavy stages run (anomaly.engine): embedded DuckDB or Apache Spark."""

    engine: EngineKind = "duckdb"
    spark: SparkSettings = Field(default_factory=SparkSettings)
    events_uri: str | None = None  # the Parquet event archive (default: the workspace's events/access)
    memory_limit: str | None = None  # DuckDB engine: e.g. "3GB" (spills to disk beyond it)


class SubmissionSettings(_Model):
    max_file_mb: float = 50.0


class SecuritySettings(_Model):
    session_secret_env: str = "OBSERVATORY_SECRET"
    pseudonym_key_env: str = "OBSERVATORY_PSEUDONYM_KEY"
    archive_key_env: str = "OBSERVATORY_ARCHIVE_KEY"  # AES-GCM key of the raw archive and failed/ files
    max_failed_logins: int = 5  # per account: failed sign-ins before that account is locked
    lockout_minutes: int = 15
    max_failures_per_address: int = 50  # per client address, over address_window_minutes, any accounts
    address_window_minutes: int = 15
    trusted_proxies: list[str] = Field(default_factory=list)  # addresses/CIDRs whose X-Forwarded-For is believed


class ArchiveSettings(_Model):
    retention_days: int = Field(default=400, ge=1)  # raw files older than this go at `observatory archive prune`


class PublishSettings(_Model):
    outdir: str = "site"
    schedule: str = "*/5 * * * *"  # how often the scheduler checks whether the data changed and republishes
    enabled: bool = True

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        return crontab.check(value)


class DemoFeed(_Model):
    """A local HTTP feed on loopback that serves the demo's published files (demo workspaces only)."""

    directory: str = "feeds"
    port: int = 8765


class Config(_Model):
    timezone: str = DEFAULT_TIMEZONE
    kpi_definitions: str | None = None  # directory of KPI YAML; default: the shipped kpi_definitions/
    sources: list[Source] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    submissions: SubmissionSettings = Field(default_factory=SubmissionSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    demo_feed: DemoFeed | None = None
    # Tables whose contents in this workspace are synthetic (the demo's, where nothing real is public), and
    # `submission` for generated ministry files: every page showing a KPI that reads them says so.
    synthetic_data: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """An IANA time zone name this machine knows (periods, schedules and SQL use it)."""
        try:
            zone(value)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Tokyo)") from None
        return value

    @model_validator(mode="after")
    def _names_unique(self) -> Config:
        """A source or user name means one thing: the scheduler keys its jobs on source names, sign-in on user
        names (a second entry with another role would never be read)."""
        for field, names in (("sources", [s.name for s in self.sources]), ("users", [u.username for u in self.users])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{field}: 名前が重複しています / duplicate name(s) {', '.join(map(repr, twice))}")
        return self

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"{CONFIG_NAME}: 取得元 {name!r} はありません / no source named {name!r} (known: {', '.join(s.name for s in self.sources)})")

    def user(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)


def shipped_realdata_dir() -> Path:
    """The realdata/ directory next to the packages: byte-identical copies of real publications (PROVENANCE.md)."""
    return Path(__file__).resolve().parent.parent / "realdata"


def shipped_kpi_dir() -> Path:
    """The kpi_definitions/ directory next to the packages (source checkout or editable install)."""
    return Path(__file__).resolve().parent.parent / "kpi_definitions"


def home_from(option: str | os.PathLike | None) -> Path:
    """--home, else $OBSERVATORY_HOME, else ./workspace."""
    if option:
        return Path(option).expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser().resolve() if env else DEFAULT_HOME.resolve()


def parse_config(text: str, origin: str = CONFIG_NAME) -> Config:
    """Parse observatory.yaml text; errors name the file and the field path."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark is not None else origin
        reason = " ".join(str(getattr(exc, "problem", None) or exc).split())  # PyYAML's own text spans lines
        raise ConfigError(f"{where}: YAMLとして読めません / not valid YAML: {reason}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: 最上位はキーと値の組（マッピング）にしてください / expected a mapping at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        where = f"{where}: " if where else ""  # no location: a rule over the whole file
        raise ConfigError(f"{origin}: {where}設定が不正です / {first['msg']} ({len(exc.errors())} problem(s))") from None
