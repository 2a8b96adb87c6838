"""Server-side revocation of signed sessions (sign-out), shared by every server process of a workspace.

A session cookie is signed, so the server cannot delete it; signing out therefore records the session's
random id in `state/revoked-sessions` (one `id expiry` line each, owner-only). `user_from_session` refuses
a revoked id exactly as it refuses a session whose password changed or whose user was disabled.
Entries are dropped once the session would have expired anyway.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path


class RevokedSessions:
    """The set of revoked session ids of one workspace, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._ids: dict[str, float] = {}

    def _load(self) -> dict[str, float]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._ids = None, {}
            return self._ids
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            ids: dict[str, float] = {}
            for line in self.path.read_text(encoding="ascii", errors="replace").splitlines():
                parts = line.split()
                if len(parts) == 2:
                    try:
                        ids[parts[0]] = float(parts[1])
                    except ValueError:
                        continue
            self._stamp, self._ids = stamp, ids
        return self._ids

    def is_revoked(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._load()

    def revoke(self, session_id: str, expires_at: float) -> None:
        """Record one revoked session (kept until `expires_at`, epoch seconds); prunes expired entries."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                with os.fdopen(os.dup(fd), "r+", encoding="ascii") as fh:
                    now = time.time()
                    kept = [line for line in fh.read().splitlines()
                            if len(line.split()) == 2 and _expiry(line) > now]
                    kept.append(f"{session_id} {expires_at:.0f}")
                    fh.seek(0)
                    fh.truncate()
                    fh.write("\n".join(kept) + "\n")
            finally:
                os.close(fd)
            self._stamp = None


def _expiry(line: str) -> float:
    try:
        return float(line.split()[1])
    except (IndexError, ValueError):
        return 0.0
