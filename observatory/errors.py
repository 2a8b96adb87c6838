"""Errors a user can act on. The CLI prints their message on one line; no traceback."""

from __future__ import annotations

import errno


class UserError(Exception):
    """Bad input or a refused action: the message says which file, row, column, value and why."""

    exit_code = 2


class NotFound(UserError):
    exit_code = 3


class PermissionDenied(UserError):
    exit_code = 4


# errno of an OSError the user can act on: the exit code and the Japanese half of the message
_PERMISSION = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_BAD_PATH = {errno.ENOENT: "ありません", errno.ENOTDIR: "ディレクトリではありません", errno.EISDIR: "ディレクトリです",
             errno.ENAMETOOLONG: "名前が長すぎます", errno.ELOOP: "シンボリックリンクが循環しています",
             errno.EEXIST: "既にあります"}
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def os_problem(exc: OSError) -> tuple[str, int] | None:
    """One line and the exit code for an OSError on a path: 4 when refused (permissions, a read-only file system),
    2 for a path that is not what the command needs, 1 for a full disk (the run failed; free space and run it
    again); None for any other (an internal error)."""
    where = f"{exc.filename}: " if exc.filename is not None else ""
    if exc.errno in _PERMISSION:
        return f"{where}権限がありません / permission denied ({exc.strerror})", 4
    if exc.errno in _BAD_PATH:
        return f"{where}{_BAD_PATH[exc.errno]} / {exc.strerror}", 2
    if exc.errno in _NO_SPACE:
        return f"{where}ディスクの空きがありません / no space left on the device ({exc.strerror})", 1
    return None
