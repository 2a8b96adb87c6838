"""The raw archive: every fetched or received file is kept, content-addressed, before it is parsed."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb


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
            [digest, str(Path("archive") / _relative(archive_dir, digest)), size, original_name,
             datetime.now(UTC), source, received_by, origin],
        )
    return known


def archive_bytes(con: duckdb.DuckDBPyConnection, archive_dir: Path, data: bytes, *, original_name: str | None,
                  source: str | None, received_by: str | None = None, origin: str | None = None) -> ArchivedFile:
    """Store `data` under archive/aa/bb/<sha256> (written atomically) and record it; idempotent."""
    digest = hashlib.sha256(data).hexdigest()
    target = archive_dir / _relative(archive_dir, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    known = _record(con, archive_dir, digest, len(data), original_name, source, received_by, origin)
    return ArchivedFile(digest, target, len(data), original_name, known)


def archive_file(con: duckdb.DuckDBPyConnection, archive_dir: Path, path: Path, *, source: str | None,
                 received_by: str | None = None, origin: str | None = None) -> ArchivedFile:
    """Archive a file on disk by streaming it (large access logs are never read into memory whole)."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
            size += len(chunk)
    digest = h.hexdigest()
    target = archive_dir / _relative(archive_dir, digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    known = _record(con, archive_dir, digest, size, path.name, source, received_by, origin or str(path))
    return ArchivedFile(digest, target, size, path.name, known)
