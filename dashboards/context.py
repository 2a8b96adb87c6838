"""The request context the pages and callbacks run in: workspace, signed-in user, language, a short DB cursor.

Everything is read from the Flask app and the signed session, so several apps (tests) can share a process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import flask

from dashboards.i18n import normalise_lang
from observatory.config import User, Workspace
from observatory.security import audit
from observatory.security.users import roles_of
from observatory.warehouse import for_workspace

WS_KEY = "OBSERVATORY_WS"


def current_ws() -> Workspace:
    """The workspace of the app serving this request."""
    return flask.current_app.config[WS_KEY]


def current_user() -> User | None:
    """The signed-in user (set by the guard before every request), or None."""
    return getattr(flask.g, "user", None)


def current_lang() -> str:
    """'ja' (default) or 'en': ?lang= on the request, else the session's choice."""
    if flask.has_request_context():
        asked = flask.request.args.get("lang")
        if asked:
            return normalise_lang(asked)
        return normalise_lang(flask.session.get("lang"))
    return normalise_lang(None)


def client_address() -> str:
    """The client's address for the audit log ('' outside a request)."""
    return (flask.request.remote_addr or "") if flask.has_request_context() else ""


@contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived cursor under the workspace lock; never hold it across requests."""
    with for_workspace(current_ws()).connect() as con:
        yield con


def main_role(user: User | None) -> str | None:
    """The role written to the audit log."""
    return user.role if user else None


def audit_view(con: duckdb.DuckDBPyConnection, action: str, target: str | None = None,
               detail: dict[str, Any] | None = None, outcome: str = "ok") -> None:
    """Write one audit entry for the current user and client (views of sensitive data, denials)."""
    user = current_user()
    audit.record(con, actor=user.username if user else "anonymous", role=main_role(user), action=action,
                 target=target, outcome=outcome, detail=detail, client=client_address())


def role_names(user: User | None) -> list[str]:
    """Sorted role names for display."""
    return sorted(roles_of(user)) if user else []
