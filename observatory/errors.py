"""Errors a user can act on. The CLI prints their message on one line; no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refused action: the message says which file, row, column, value and why."""

    exit_code = 2


class NotFound(UserError):
    exit_code = 3


class PermissionDenied(UserError):
    exit_code = 4
