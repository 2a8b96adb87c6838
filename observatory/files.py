"""Owner-only files and directories for the workspace (password hashes, the warehouse, raw and event archives).

The published site is the one part of a workspace another account (the web server) must read; everything
else is created 0600/0700 here, and `private_tree` repairs workspaces created before this rule.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create (if needed) a directory only its owner may enter."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def make_private(path: Path) -> None:
    """Owner-only mode on an existing file or directory (missing paths are ignored)."""
    try:
        os.chmod(path, DIR_MODE if Path(path).is_dir() else FILE_MODE)
    except FileNotFoundError:
        pass


def write_private(path: Path, data: bytes | str) -> None:
    """Write a file atomically, created 0600 from the start (never readable by others, not even briefly)."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def private_tree(root: Path) -> None:
    """Owner-only modes on a directory and everything under it."""
    root = Path(root)
    if not root.exists():
        return
    make_private(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            make_private(Path(dirpath) / name)
        for name in filenames:
            make_private(Path(dirpath) / name)
