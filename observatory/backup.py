"""Backup, restore and verify a workspace (`observatory backup DIR`, `restore DIR`, `verify`).

A backup is taken under the workspace lock, so it is consistent while the server runs (the fair lock lets
the requests already running finish, then the server waits a few seconds): the warehouse (checkpointed,
then copied), the event archive, the raw archive, observatory.yaml and the audit chain's head. Secrets are
never copied; a keyed fingerprint of each is recorded instead, so that `restore` refuses to bring back data
under a different pseudonym key (pseudonyms would no longer match) or archive key (the raw archive could no
longer be read). manifest.json, written last, lists every file with its sha256 and every table's row count.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from observatory import events
from observatory.config import CONFIG_NAME, parse_config
from observatory.errors import UserError
from observatory.files import private_dir, private_tree, write_private
from observatory.security import audit
from observatory.warehouse import for_workspace, schema_version
from observatory.workspace import RESTORING, Workspace, load_workspace

MANIFEST = "manifest.json"
FORMAT = 1
DB_NAME = "observatory.duckdb"
TREES = ("events", "archive")  # copied whole (events: the Parquet archive; archive: raw files as received)
SKIP_NAMES = (".staging", ".work")  # work in progress, never part of a backup
FINGERPRINT_LABEL = b"observatory backup secret fingerprint v1"
REFUSE_ON_MISMATCH = ("pseudonym", "archive")


class BackupError(UserError):
    """A backup that cannot be taken or restored; the message names the file or secret and why."""


@dataclass
class BackupResult:
    target: Path
    files: int
    bytes: int
    tables: dict[str, int]

    def __str__(self) -> str:
        return (f"backup written to {self.target}: {self.files} files, {self.bytes / 1e6:.1f} MB, "
                f"{len(self.tables)} tables, {sum(self.tables.values()):,} rows")


@dataclass
class RestoreResult:
    home: Path
    files: int
    tables: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"restored into {self.home}: {self.files} files, {len(self.tables)} tables, " \
               f"{sum(self.tables.values()):,} rows (row counts match the backup)"
        return "\n".join([text, *self.notes])


@dataclass
class VerifyReport:
    checked: dict[str, int]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = ", ".join(f"{v} {k}" for k, v in self.checked.items())
        if self.ok:
            return f"verify: ok ({head})"
        return "\n".join([f"verify: {len(self.problems)} problem(s) ({head})", *self.problems])


# ------------------------------------------------------------------------------------------------ secrets


def _secret_names(ws: Workspace) -> dict[str, str]:
    sec = ws.config.security
    names = {"session": sec.session_secret_env, "pseudonym": sec.pseudonym_key_env}
    archive_env = getattr(sec, "archive_key_env", None)
    if archive_env:
        names["archive"] = archive_env
    return names


def _secret_value(ws: Workspace, env_name: str) -> str | None:
    """The secret as the workspace would read it (environment, else its local fallback file), never created."""
    value = os.environ.get(env_name)
    if value:
        return value
    path = ws.secrets_dir / env_name
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def secret_fingerprints(ws: Workspace) -> dict[str, str | None]:
    """{role: keyed fingerprint or None}: says whether two secrets are equal without revealing either."""
    out: dict[str, str | None] = {}
    for role, env_name in _secret_names(ws).items():
        value = _secret_value(ws, env_name)
        out[role] = hmac.new(value.encode("utf-8"), FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:32] \
            if value else None
    return out


# ------------------------------------------------------------------------------------------------- helpers


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of every base table of the warehouse (views excluded), by name."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND NOT temporary ORDER BY table_name").fetchall()]
    return {n: int(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}  # catalogue names


def _files_under(root: Path) -> list[Path]:
    if not root.exists():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES)
        out.extend(Path(dirpath) / f for f in sorted(filenames) if ".tmp" not in f and not f.startswith("."))
    return out


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(dst.parent, 0o700)
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o600)


# -------------------------------------------------------------------------------------------------- backup


def backup(ws: Workspace, target: Path) -> BackupResult:
    """Copy the workspace into `target` (new or empty) under the workspace lock; manifest.json last."""
    target = Path(target).resolve()
    if target == ws.home.resolve() or ws.home.resolve() in target.parents:
        raise BackupError(f"{target}: バックアップ先がワークスペースの中です / a backup cannot be written inside the "
                          "workspace it backs up")
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target}: バックアップ先が空ではありません / the directory is not empty")
    created = not target.exists()
    private_dir(target)
    try:
        return _backup(ws, target)
    except BaseException:  # a full disk, Ctrl-C: no half backup is left to be mistaken for one (or to block a retry)
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def _backup(ws: Workspace, target: Path) -> BackupResult:
    files: dict[str, dict[str, Any]] = {}
    with for_workspace(ws).connect() as con:
        audit.seal(con, ws.home)
        con.execute("CHECKPOINT")  # the database file alone is now complete; nobody else writes while we hold it
        tables = table_counts(con)
        version = schema_version(con)
        sources: list[tuple[Path, str]] = [(ws.db_path, DB_NAME), (ws.config_path, CONFIG_NAME)]
        head = audit.head_path(ws.home)
        if head.exists():
            sources.append((head, "state/audit-head"))
        for tree in TREES:
            sources += [(p, p.relative_to(ws.home).as_posix()) for p in _files_under(ws.home / tree)]
        for src, rel in sources:
            _copy(src, target / rel)
    for _, rel in sources:
        path = target / rel
        files[rel] = {"sha256": _sha256(path), "size": path.stat().st_size}
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "workspace": str(ws.home),
                "schema_version": version, "tables": tables, "secrets": secret_fingerprints(ws),
                "audit_head": audit.read_head(ws.home), "files": files}
    write_private(target / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
    return BackupResult(target, len(files), sum(f["size"] for f in files.values()), tables)


# ------------------------------------------------------------------------------------------------- restore


_SHA256 = re.compile(r"[0-9a-f]{64}")
ROOT_FILES = (DB_NAME, CONFIG_NAME, "state/audit-head")  # the files a backup holds outside TREES


def read_manifest(source: Path) -> dict[str, Any]:
    """manifest.json, refused unless every part has the shape `backup` writes: a backup is a file an operator
    may be handed, so a name in it must stay inside the workspace (no absolute path, no '..', only the
    warehouse, the configuration, the audit head and files under the TREES)."""
    path = Path(source) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path}: バックアップが不完全です / no manifest, so not a complete backup") from None
    except (ValueError, OSError) as exc:
        raise BackupError(f"{path}: マニフェストが読めません / not readable JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("files"), dict):
        shown = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise BackupError(f"{path}: 形式が不明です / unknown backup format {shown!r}")
    problem = _manifest_problem(manifest)
    if problem:
        raise BackupError(f"{path}: マニフェストが不正です / not a manifest `observatory backup` writes: {problem}")
    return manifest


def _manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with a manifest's parts (files, tables, secrets, schema_version), or None."""
    for rel, meta in manifest["files"].items():
        if not _inside_workspace(rel):
            return f"file name {rel!r} is not a workspace file (absolute, '..', or outside {', '.join(TREES)})"
        if not (isinstance(meta, dict) and isinstance(meta.get("sha256"), str) and _SHA256.fullmatch(meta["sha256"])
                and type(meta.get("size")) is int and meta["size"] >= 0):
            return f"file {rel!r}: expected {{sha256: 64 hex digits, size: bytes}}, got {str(meta)[:80]!r}"
    if DB_NAME not in manifest["files"] or CONFIG_NAME not in manifest["files"]:
        return f"{DB_NAME} and {CONFIG_NAME} must both be listed"
    tables = manifest.get("tables")
    if not (isinstance(tables, dict) and all(isinstance(k, str) and type(v) is int for k, v in tables.items())):
        return "'tables' must map each table to its row count"
    secrets = manifest.get("secrets", {})
    if not (secrets is None or isinstance(secrets, dict)
            and all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in secrets.items())):
        return "'secrets' must map each secret to its fingerprint (or null)"
    if "schema_version" in manifest and type(manifest["schema_version"]) is not int:
        return "'schema_version' must be a number"
    return None


def _inside_workspace(rel: object) -> bool:
    """A manifest name `backup` could have written: relative, forward slashes, no '.', '..' or empty part."""
    if not isinstance(rel, str) or "\\" in rel or "\x00" in rel:
        return False
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return False
    return rel in ROOT_FILES or (len(parts) > 1 and parts[0] in TREES)


def check_backup(source: Path, manifest: dict[str, Any]) -> list[str]:
    """Every file of the manifest present in the backup as a regular file (not a link: its content would come
    from outside the backup) with its recorded size and sha256."""
    problems = []
    root = Path(source).resolve()
    for rel, meta in manifest["files"].items():
        path = Path(source) / rel
        try:
            linked = any(p.is_symlink() for p in [path, *path.parents] if p != root and root in p.parents)
            regular = stat.S_ISREG(os.lstat(path).st_mode)
        except FileNotFoundError:
            problems.append(f"{path}: ファイルがありません / missing from the backup")
            continue
        if linked or not regular:
            problems.append(f"{path}: 通常のファイルではありません / not a regular file of the backup (a link or "
                            "special file), refused")
        elif path.stat().st_size != meta["size"] or _sha256(path) != meta["sha256"]:
            problems.append(f"{path}: 内容が一致しません / content differs from the manifest (sha256)")
    return problems


def _backed_up_tables(db: Path) -> dict[str, int]:
    """Row counts of a warehouse file, opened read-only; a file that is no DuckDB warehouse is a BackupError."""
    try:
        raw = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise BackupError(f"{db}: 倉庫として読めません / not a readable warehouse "
                          f"({str(exc).splitlines()[0][:200]})") from None
    try:
        return table_counts(raw)
    finally:
        raw.close()


def _check_secrets(manifest: dict[str, Any], ws: Workspace) -> list[str]:
    """Notes for differing session secrets; refuses (raises) for a different pseudonym or archive key."""
    recorded: dict[str, str | None] = manifest.get("secrets") or {}
    current = secret_fingerprints(ws)
    names = _secret_names(ws)
    notes = []
    for role, fingerprint in recorded.items():
        if fingerprint is None or current.get(role) == fingerprint:
            continue
        env_name = names.get(role, role)
        if role in REFUSE_ON_MISMATCH:
            state = "is not set" if current.get(role) is None else "differs from the key the backup was taken with"
            raise BackupError(
                f"{env_name} の鍵がバックアップ時と異なるため復元できません / restore refused: the {role} key "
                f"({env_name}) {state}; set {env_name} to the key in use when the backup was taken")
        notes.append(f"note: セッション鍵が異なるため再サインインが必要です / {env_name} differs from the "
                     "backup's: everybody signs in again")
    return notes


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """The target's workspace lock, or a refusal when a server or command is using that workspace."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"{lock_path.parent}: 復元先のワークスペースが使用中です / the workspace is in use "
                              "(stop the server first)") from None
        yield
    finally:
        os.close(fd)


def restore(source: Path, home: Path, *, force: bool = False) -> RestoreResult:
    """Bring a backup back into `home` (empty or new unless force), after checking files and secrets."""
    source, home = Path(source).resolve(), Path(home).resolve()
    manifest = read_manifest(source)
    problems = check_backup(source, manifest)
    if problems:
        raise BackupError("バックアップが壊れているため復元しません / restore refused, the backup is damaged:\n" + "\n".join(problems))
    _check_counts(manifest, _backed_up_tables(source / DB_NAME))  # before anything is copied
    config_text = (source / CONFIG_NAME).read_text(encoding="utf-8")
    target_ws = Workspace(home, parse_config(config_text, str(source / CONFIG_NAME)))
    notes = _check_secrets(manifest, target_ws)
    unfinished = home / RESTORING
    if (home / DB_NAME).exists() and not force and not unfinished.exists():
        raise BackupError(f"{home / DB_NAME}: 復元先に既存のワークスペースがあります / a workspace already exists "
                          "here; restore into a new directory or pass --force to replace it")
    private_dir(home)
    with _exclusive(home / "observatory.lock"):
        write_private(unfinished, str(source))  # until the counts are checked: the workspace is not to be used
        for tree in TREES:
            if (home / tree).exists():
                shutil.rmtree(home / tree)
        (home / (DB_NAME + ".wal")).unlink(missing_ok=True)
        for rel in manifest["files"]:
            _copy(source / rel, home / rel)
        for tree in TREES:
            private_tree(home / tree)
        tables = _backed_up_tables(home / DB_NAME)  # as backed up: before any migration
    _check_counts(manifest, tables)
    unfinished.unlink()
    ws = load_workspace(home)
    with for_workspace(ws).connect() as con:  # a backup of an older version is upgraded in place, as `init` does
        version = schema_version(con)
    if version != manifest.get("schema_version", version):
        notes.append(f"スキーマを v{manifest['schema_version']} から v{version} に更新しました "
                     f"/ schema upgraded from v{manifest['schema_version']} to v{version}")
    return RestoreResult(home, len(manifest["files"]), tables, notes)


def _check_counts(manifest: dict[str, Any], tables: dict[str, int]) -> None:
    differ = {t: (n, tables.get(t)) for t, n in manifest["tables"].items() if tables.get(t) != n}
    if differ:
        raise BackupError(f"復元した倉庫の行数がバックアップと一致しません / restored warehouse differs from the backup: "
                          f"{differ}")


# -------------------------------------------------------------------------------------------------- verify


def _check_parquet(con: duckdb.DuckDBPyConnection, ws: Workspace, checked: dict[str, int]) -> list[str]:
    """Every Parquet file readable; rows per run_id equal to what collector_runs says each run loaded;
    no event stored twice (the archive is append-only)."""
    problems = []
    per_run: dict[int, int] = {}
    where: dict[int, list[str]] = {}  # run -> its files (month=YYYY-MM/part-....parquet), to name in a problem
    files = events.files(ws.events_dir)
    readable = []
    reader = duckdb.connect()
    try:
        for path in files:
            try:
                for run_id, n in reader.execute("SELECT run_id, count(*) FROM read_parquet(?) GROUP BY run_id",
                                                [str(path)]).fetchall():
                    key = int(run_id) if run_id is not None else -1
                    per_run[key] = per_run.get(key, 0) + int(n)
                    where.setdefault(key, []).append(str(path.relative_to(ws.events_dir)))
                readable.append(str(path))
            except duckdb.Error as exc:
                problems.append(f"{path}: 読めません / unreadable Parquet ({str(exc).splitlines()[0]})")
        if readable:
            per_month = reader.execute(
                "SELECT regexp_extract(filename, 'month=[0-9]{4}-[0-9]{2}') AS partition, "
                "count(*) - count(DISTINCT event_id) AS dup FROM read_parquet(?, filename = true, "
                "hive_partitioning = false) GROUP BY partition HAVING dup > 0 ORDER BY partition",
                [readable]).fetchall()
            for month, dup in per_month:
                problems.append(f"{ws.events_dir / month}: 重複したイベントがあります / {dup} events stored more "
                                "than once in this month")
            dup = reader.execute("SELECT count(*) - count(DISTINCT event_id) FROM read_parquet(?)",
                                 [readable]).fetchone()[0] - sum(d for _, d in per_month)
            if dup:  # the same event id in two months
                problems.append(f"{ws.events_dir}: 重複したイベントがあります / {dup} events stored more than once "
                                "across months")
    finally:
        reader.close()
    checked["parquet files"] = len(files)
    runs = dict(con.execute("SELECT run_id, rows_loaded FROM collector_runs WHERE kind = 'access-log' "
                            "AND status = 'ok'").fetchall())

    def named(run_id: int) -> str:
        shown = where.get(run_id, [])
        return f" (in {', '.join(shown[:5])}{', ...' if len(shown) > 5 else ''})" if shown else ""

    for run_id, n in sorted(per_run.items()):
        if run_id not in runs:
            problems.append(f"{ws.events_dir}: 記録のない実行の行があります / {n} rows of run {run_id}, which "
                            f"collector_runs does not list as a successful access-log run{named(run_id)}")
        elif runs[run_id] != n:
            problems.append(f"{ws.events_dir}: 行数が一致しません / run {run_id} has {n} rows in Parquet but "
                            f"collector_runs says {runs[run_id]} were loaded{named(run_id)}")
    for run_id, loaded in sorted(runs.items()):
        if loaded and run_id not in per_run:
            problems.append(f"{ws.events_dir}: Parquetに行がありません / run {run_id} loaded {loaded} rows but none are "
                            "in Parquet")
    return problems

def _archived_digest(ws: Workspace, path: Path) -> str:
    """sha256 of the file as received: sealed (encrypted) archive files are decrypted on the fly."""
    with open(path, "rb") as fh:
        start = fh.read(64)
    try:
        from observatory.security import sealed  # encryption at rest, where this version provides it
    except ImportError:
        sealed = None
    if sealed is not None and start.startswith(sealed.MAGIC):
        h = hashlib.sha256()
        with sealed.open_plain(path, sealed.workspace_key(ws)) as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
        return h.hexdigest()
    return _sha256(path)


def _check_archive(con: duckdb.DuckDBPyConnection, ws: Workspace, checked: dict[str, int]) -> list[str]:
    problems = []
    # files removed by `archive prune` keep their row (with pruned_at): retention, not a missing file
    rows = con.execute("SELECT sha256, path FROM archived_files WHERE pruned_at IS NULL ORDER BY path").fetchall()
    known = set()
    for digest, rel in rows:
        path = ws.home / rel
        known.add(path.resolve())
        if not path.is_file():
            problems.append(f"{path}: アーカイブのファイルがありません / archived file missing")
            continue
        try:
            actual = _archived_digest(ws, path)
        except UserError as exc:
            problems.append(f"{path}: 読み戻せません / cannot be read back ({exc})")
            continue
        if actual != digest:
            problems.append(f"{path}: ハッシュが一致しません / sha256 {actual[:12]}... but {digest[:12]}... was "
                            "recorded")
    checked["archived files"] = len(rows)
    for path in _files_under(ws.archive_dir):
        if path.resolve() not in known:
            problems.append(f"{path}: 記録のないファイルです / in the archive but not recorded in archived_files")
    return problems


def verify(ws: Workspace) -> VerifyReport:
    """Check the Parquet event archive against collector_runs, the raw archive's hashes and the audit chain."""
    checked: dict[str, int] = {}
    problems: list[str] = []
    with for_workspace(ws).connect() as con:
        problems += _check_parquet(con, ws, checked)
        problems += _check_archive(con, ws, checked)
        audit_problems = audit.verify_chain(con, ws.home)
        checked["audit entries"] = int(con.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    problems += audit_problems
    return VerifyReport(checked, problems)
