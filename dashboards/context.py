"""The request context the pages and callbacks run in: workspace, signed-in user, language, a short DB cursor.

Everything is read from the Flask app and the signed session, so several apps (tests) can share a process.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb
import flask

from dashboards.i18n import normalise_lang
from observatory.config import User
from observatory.security import audit
from observatory.security.users import roles_of
from observatory.warehouse import Warehouse, for_workspace
from observatory.workspace import Workspace

WS_KEY = "OBSERVATORY_WS"
PINNED_NOW = "observatory_render_now"  # flask.g attribute set by dashboards.cache


def current_ws() -> Workspace:
    """The workspace of the app serving this request."""
    return flask.current_app.config[WS_KEY]


def current_user() -> User | None:
    """The signed-in user (set by the guard before every request), or None."""
    return getattr(flask.g, "user", None)


def now() -> datetime:
    """The instant a page is rendered for: the start of its minute when the render cache keeps the page
    (dashboards.cache pins it, so a kept page is the same whenever in that minute it was rendered), else now."""
    pinned = getattr(flask.g, PINNED_NOW, None) if flask.has_request_context() else None
    return pinned if isinstance(pinned, datetime) else datetime.now(UTC)


def current_lang() -> str:
    """'ja' (default) or 'en': ?lang= on the request, else the session's choice."""
    if flask.has_request_context():
        asked = flask.request.args.get("lang")
        if asked:
            return normalise_lang(asked)
        return normalise_lang(flask.session.get("lang"))
    return normalise_lang(None)


def client_address() -> str:
    """The client's address for the audit log and the sign-in rate limit ('' outside a request).

    X-Forwarded-For is believed only when the connection comes from a configured proxy
    (security.trusted_proxies): the client is then the right-most forwarded address that is not itself a
    trusted proxy. Anything else could be written by the client to dodge the rate limit.
    """
    if not flask.has_request_context():
        return ""
    remote = flask.request.remote_addr or ""
    trusted = flask.current_app.config[WS_KEY].config.security.trusted_proxies
    if not trusted or not in_networks(remote, trusted):
        return remote
    forwarded = [a.strip() for h in flask.request.headers.getlist("X-Forwarded-For") for a in h.split(",")]
    for address in reversed([a for a in forwarded if a]):
        if not in_networks(address, trusted):
            return address if _is_ip(address) else remote
    return remote


def over_https() -> bool:
    """Whether this request reached us over HTTPS: directly, or through a configured proxy
    (security.trusted_proxies) that says so in X-Forwarded-Proto (its right-most value, the one the proxy
    added, as for X-Forwarded-For); a client's own header is not believed."""
    if not flask.has_request_context():
        return False
    if flask.request.is_secure:
        return True
    trusted = flask.current_app.config[WS_KEY].config.security.trusted_proxies
    proto = flask.request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()  # the proxy's own
    return proto == "https" and bool(trusted) and in_networks(flask.request.remote_addr or "", trusted)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def in_networks(address: str, networks: list[str]) -> bool:
    """Whether an address lies in any of the networks (single addresses or CIDRs; bad entries ignored)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in networks:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


class ConnectionKeeper:
    """Keeps the warehouse open between requests that follow each other closely, and only then.

    Opening the DuckDB file costs tens of milliseconds and starts with a cold cache, which would be paid
    by every request. While requests keep coming, a holder thread stays inside `warehouse.connect()` so
    that requests only take cursors; after `idle_s` without a request, or after `max_hold_s` in any case,
    it lets go so that other processes (ingest, the scheduler's CLI jobs) get the write lock in between,
    and at once when one of them is queued for the lock (Warehouse.others_waiting).
    """

    def __init__(self, warehouse: Warehouse, idle_s: float = 0.5, max_hold_s: float = 5.0) -> None:
        self.warehouse = warehouse
        self.idle_s = idle_s
        self.max_hold_s = max_hold_s
        self._cond = threading.Condition()
        self._last = 0.0
        self._holding = False

    def touch(self) -> None:
        """Note a request; start holding the warehouse open if nobody does."""
        with self._cond:
            self._last = time.monotonic()
            if self._holding:
                return
            self._holding = True
        threading.Thread(target=self._hold, name="warehouse-keeper", daemon=True).start()

    def _hold(self) -> None:
        try:
            with self.warehouse.connect():
                started = time.monotonic()
                with self._cond:
                    while True:
                        now = time.monotonic()
                        if now - self._last >= self.idle_s or now - started >= self.max_hold_s:
                            break
                        if self.warehouse.others_waiting():  # another process queued: let it in now
                            break
                        self._cond.wait(timeout=min(self.idle_s, 0.1))
        except Exception:  # noqa: BLE001 - the keeper is an optimisation; requests still open their own
            pass
        finally:
            with self._cond:
                self._holding = False


_keepers: dict[int, ConnectionKeeper] = {}
_keepers_lock = threading.Lock()


def keeper_for(warehouse: Warehouse) -> ConnectionKeeper:
    """The keeper of one warehouse (one per database file in this process)."""
    with _keepers_lock:
        found = _keepers.get(id(warehouse))
        if found is None:
            found = _keepers[id(warehouse)] = ConnectionKeeper(warehouse)
        return found


@contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor under the workspace lock for this request only; the keeper decides how long the file stays open."""
    warehouse = for_workspace(current_ws())
    if flask.has_app_context() and flask.current_app.config.get("OBSERVATORY_KEEP_OPEN", True):
        keeper_for(warehouse).touch()
    with warehouse.connect() as con:
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
