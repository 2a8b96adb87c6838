"""The raw archive: every fetched or received file is kept, content-addressed, before it is parsed.

Files are encrypted at rest (AES-GCM, observatory.security.sealed) with the workspace's archive key: the name is
the SHA-256 of the plaintext (what lineage records), the bytes on disk are sealed. `open_archived` reads them back
as a stream; `prune` removes files older than the retention setting (the archived_files row stays, marked).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from observatory.security import sealed
from observatory.security.pseudonym import mask_text


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    sha256: str
    path: Path  # absolute path of the archived copy
    size_bytes: int
    original_name: str | None
    already_known: bool  # True when the same bytes were archived before


def _relative(archive_dir: Path, digest: str) -> Path:
    return Path(digest[:2]) / digest[2:4] / digest


def _record(con: duckdb.DuckDBPyConnection, archive_dir: Path, digest: str, size: int, original_name: str | None,
            source: str | None, received_by: str | None, origin: str | None) -> bool:
    known = con.execute("SELECT 1 FROM archived_files WHERE sha256 = ?", [digest]).fetchone() is not None
    if not known:
        con.execute(
            "INSERT INTO archived_files (sha256, path, size_bytes, original_name, first_seen_at, source, "
            "received_by, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            # a file's name, where it came from and who sent it are the sender's text: an Individual Number in them is
            # masked
            [digest, str(Path("archive") / _relative(archive_dir, digest)), size, _masked(original_name),
             datetime.now(UTC), source, _masked(received_by), _masked(origin)],
        )
    return known


def archive_bytes(con: duckdb.DuckDBPyConnection, archive_dir: Path, data: bytes, *, original_name: str | None,
                  source: str | None, key: bytes, received_by: str | None = None,
                  origin: str | None = None) -> ArchivedFile:
    """Store `data` sealed under archive/aa/bb/<sha256> (written atomically) and record it; idempotent."""
    digest = hashlib.sha256(data).hexdigest()
    target = archive_dir / _relative(archive_dir, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(sealed.seal_bytes(data, key))
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    known = _record(con, archive_dir, digest, len(data), original_name, source, received_by, origin)
    return ArchivedFile(digest, target, len(data), original_name, known)


def archive_file(con: duckdb.DuckDBPyConnection, archive_dir: Path, path: Path, *, source: str | None, key: bytes,
                 received_by: str | None = None, origin: str | None = None,
                 original_name: str | None = None) -> ArchivedFile:
    """Archive a file on disk by streaming it through the cipher (large access logs are never read whole);
    `original_name` when the file's own name is not the one it came by (a download's scratch file)."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    tmp = archive_dir / f".incoming-{os.getpid()}-{os.urandom(4).hex()}"
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fin, open(tmp, "wb") as fout:
            os.chmod(tmp, 0o600)
            size = sealed.seal_stream(fin, fout, key, on_plain=h.update)
        digest = h.hexdigest()
        target = archive_dir / _relative(archive_dir, digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    name = original_name or path.name
    known = _record(con, archive_dir, digest, size, name, source, received_by, origin or str(path))
    return ArchivedFile(digest, target, size, name, known)


def open_archived(path: Path, key: bytes):
    """The plaintext of an archived file as a binary stream (sealed files are decrypted chunk by chunk)."""
    return sealed.open_plain(path, key)


@dataclass
class Pruned:
    removed: int = 0
    bytes_removed: int = 0
    sealed: int = 0  # plain files from before encryption, sealed now
    failed_removed: int = 0


def prune(con: duckdb.DuckDBPyConnection, home: Path, archive_dir: Path, drop_dirs: list[Path], key: bytes,
          retention_days: int, *, now: datetime | None = None, dry_run: bool = False) -> Pruned:
    """Remove archived files first seen more than `retention_days` ago (their rows stay, with pruned_at) and
    failed/ drop files older than that; seal any plain file left from before encryption."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    out = Pruned()
    rows = con.execute("SELECT sha256, path, size_bytes FROM archived_files WHERE pruned_at IS NULL "
                       "AND first_seen_at < ?", [cutoff]).fetchall()
    for digest, rel, size in rows:
        out.removed += 1
        out.bytes_removed += int(size or 0)
        if not dry_run:
            (home / rel).unlink(missing_ok=True)
            con.execute("UPDATE archived_files SET pruned_at = ? WHERE sha256 = ?", [now, digest])
    for d in drop_dirs:
        for f in sorted((d / "failed").glob("*")) if (d / "failed").is_dir() else []:
            if f.is_file() and datetime.fromtimestamp(f.stat().st_mtime, UTC) < cutoff:
                out.failed_removed += 1
                if not dry_run:
                    f.unlink()
    if archive_dir.is_dir():
        for f in archive_dir.glob("??/??/*"):
            if f.is_file() and not sealed.is_sealed(f):
                out.sealed += 1
                if not dry_run:
                    sealed.seal_file(f, f, key)
    for d in drop_dirs:
        for f in sorted((d / "failed").glob("*")) if (d / "failed").is_dir() else []:
            if f.is_file() and not sealed.is_sealed(f):
                out.sealed += 1
                if not dry_run:
                    sealed.seal_file(f, f.with_name(f.name + ".sealed"), key)
                    f.unlink()
    return out


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_text(text)
