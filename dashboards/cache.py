"""The render cache: a page as the router sent it, kept for the next request that would get exactly the same page.

Only Dash's page-router requests of the pages with a `cache` clock in access.PAGES are kept. The key holds
everything a page's content depends on:
  - the router request's input values (path, query string), and the language it is shown in;
  - the user's access scope: primary role, roles, ministry, disabled (never the user name: a cached page shows
    no per-user content; a page that does is not marked cacheable);
  - the data version (observatory.warehouse.data_version: moves in the same transaction as any change to any
    table but the audit log, whichever process writes), the observatory.yaml stamp and the KPI definitions;
  - the clock: the minute for pages showing ages, deadlines or freshness, the day (Japan) for pages judged on
    today only (access.PageRule.cache); a kept render computes every time-dependent value for the start of
    that minute or day (context.now()), so the same key always means the same content.

The permission check runs before the cache is consulted (auth.guard, then `lookup` checks again), and every
audit entry a render writes is captured (`capture`) and written again, in the name of the current user and
client, on every hit. A render that changes data, fails, or writes an audit entry for another actor is not kept.
Size is bounded by entries and bytes (least recently used first out). Requests for a page being rendered wait
for that render instead of rendering it again (a new minute would otherwise start every user's render at once).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import duckdb
import flask

from dashboards import access
from dashboards.context import (
    PINNED_NOW,
    WS_KEY,
    client_address,
    connect,
    current_lang,
    current_user,
    current_ws,
)
from dashboards.i18n import normalise_lang
from observatory import calendar
from observatory.config import User
from observatory.errors import UserError
from observatory.kpis import cached_catalogue
from observatory.security import audit
from observatory.security.users import roles_of
from observatory.warehouse import data_version, next_id, transaction

CACHE_KEY = "OBSERVATORY_RENDER_CACHE"
ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."
MAX_ENTRIES = 2000
MAX_BYTES = 64 * 2**20
WAIT_SECONDS = 10.0  # how long a request waits for the same page's render before rendering it itself


@dataclass(frozen=True)
class AuditLine:
    """One audit entry a render wrote, without who/when/where (written again for each viewer)."""

    role: str | None
    action: str
    target: str | None
    outcome: str
    detail: str  # JSON text as stored


@dataclass(frozen=True)
class Entry:
    """A kept router response and the audit entries each view of it writes."""

    body: bytes
    mimetype: str
    audit: tuple[AuditLine, ...] = ()


class Ident:
    """Hashes by identity and keeps the object alive (so its id cannot be reused while a key holds it)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ident) and other.obj is self.obj


@dataclass(frozen=True)
class RenderKey:
    """Everything a cached page depends on (see the module docstring)."""

    page: str
    inputs: str  # the router request's input and state values, as canonical JSON
    query: tuple[tuple[str, str], ...]
    lang: str
    scope: tuple[str | None, tuple[str, ...], str | None, bool]
    version: int
    config: Any
    definitions: Ident
    clock: int  # the minute or the day, as an instant's seconds since the epoch


def scope_of(user: User) -> tuple[str | None, tuple[str, ...], str | None, bool]:
    """What decides what a user may see on a cacheable page: primary role (the audit log's), roles, ministry
    (and whether the account is disabled, which the guard refuses before this is asked)."""
    return user.role, tuple(sorted(roles_of(user))), user.ministry, user.disabled


def query_of(search: str | None) -> tuple[tuple[str, str], ...]:
    """A query string in normal form: its pairs sorted (order and encoding do not make two pages)."""
    return tuple(sorted(parse_qsl((search or "").lstrip("?"), keep_blank_values=True)))


def router_path(body: dict[str, Any]) -> tuple[str, str] | None:
    """(pathname, search) of a page-router request, else None."""
    if body.get("output") != ROUTER_OUTPUT:
        return None
    values = {i.get("property"): i.get("value") for i in body.get("inputs") or [] if isinstance(i, dict)}
    path = values.get("pathname")
    search = values.get("search")
    if not isinstance(path, str) or not isinstance(search, str | None):
        return None
    return path, search or ""


class RenderCache:
    """A thread-safe LRU of Entry by RenderKey, bounded by entries and by bytes."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[RenderKey, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._rendering: dict[RenderKey, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: RenderKey) -> Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: RenderKey, entry: Entry) -> None:
        size = len(entry.body)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._items[key] = entry
            self._bytes += size
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped.body)

    def claim(self, key: RenderKey) -> threading.Event | None:
        """None: the caller renders this key (others will wait for it); else the event of the render under way."""
        with self._lock:
            busy = self._rendering.get(key)
            if busy is None:
                self._rendering[key] = threading.Event()
            return busy

    def done(self, key: RenderKey) -> None:
        """The claimed render of this key has ended (kept or not): release those waiting for it."""
        with self._lock:
            event = self._rendering.pop(key, None)
        if event is not None:
            event.set()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._bytes


@dataclass
class Pending:
    """A miss being rendered: its key, the instant it is rendered for, and (once captured) its audit lines."""

    key: RenderKey
    now: datetime
    claimed: bool = False  # this request renders for those waiting (RenderCache.claim)
    lines: tuple[AuditLine, ...] | None = None


def _request_body() -> dict[str, Any] | None:
    body = getattr(flask.g, "callback_body", None)
    return body if isinstance(body, dict) else None


def _lang_for(query: tuple[tuple[str, str], ...]) -> str:
    """The language the page is rendered in, as shell.guarded decides it: ?lang= of the page, else the session."""
    asked = next((v for k, v in query if k == "lang"), None)
    return normalise_lang(asked) if asked else current_lang()


def clock_start(granularity: str, at: float, timezone: str | None = None) -> datetime:
    """The start of the minute, or of the local day in `timezone` (the workspace's; the calendar's default
    zone, Japan, when None), holding the instant `at`."""
    instant = datetime.fromtimestamp(at, UTC)
    if granularity == "day":
        local = instant.astimezone(calendar.zone(timezone))
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    return instant.replace(second=0, microsecond=0)


def make_key(con: duckdb.DuckDBPyConnection, page: str, body: dict[str, Any], search: str, user: User,
             clock: datetime) -> RenderKey | None:
    """The key of a router request, or None when the page may not be kept right now."""
    app = flask.current_app
    ws = app.config[WS_KEY]
    version = data_version(con)
    if version < 0:
        return None
    try:
        definitions = cached_catalogue(ws.kpi_dir)
    except UserError:  # the pages keep the last valid catalogue; not a state worth keeping
        return None
    inputs = json.dumps([[i.get("id"), i.get("property"), i.get("value")] for key in ("inputs", "state")
                         for i in body.get(key) or [] if isinstance(i, dict)], sort_keys=True, default=str)
    query = query_of(search)
    return RenderKey(page=page, inputs=inputs, query=query, lang=_lang_for(query), scope=scope_of(user),
                     version=version, config=app.config.get("OBSERVATORY_CONFIG_STAMP"),
                     definitions=Ident(definitions), clock=int(clock.timestamp()))


def lookup() -> flask.Response | None:
    """before_request (after auth.guard): answer a router request from the cache, writing its audit entries;
    on a miss, leave a Pending for shell.guarded to render and capture."""
    cache: RenderCache | None = flask.current_app.config.get(CACHE_KEY)
    if cache is None or flask.request.path != "/_dash-update-component" or flask.request.method != "POST":
        return None
    body = _request_body()
    user = current_user()
    routed = router_path(body) if body else None
    if routed is None or user is None:
        return None
    page = access.page_for_path(routed[0])
    if page is None or not access.PAGES[page].cache or not access.allowed(user, page):
        return None  # the guard has refused it already; the page renders (and audits) a refusal itself
    clock = clock_start(access.PAGES[page].cache or "minute", time.time(), current_ws().config.timezone)
    with connect() as con:
        key = make_key(con, page, body, routed[1], user, clock)
    if key is None:
        return None
    entry = cache.get(key)
    claimed = False
    if entry is None:
        busy = cache.claim(key)
        claimed = busy is None
        if busy is not None:  # another request renders this page: wait for it (holding no cursor meanwhile)
            busy.wait(WAIT_SECONDS)
            entry = cache.get(key)
    if entry is None:
        found = Pending(key, clock, claimed=claimed)
        flask.g.render_pending = found
        setattr(flask.g, PINNED_NOW, found.now)
        return None
    if entry.audit:
        with connect() as con, transaction(con):
            for line in entry.audit:
                audit.record(con, actor=user.username, role=line.role, action=line.action, target=line.target,
                             outcome=line.outcome, detail=json.loads(line.detail or "{}"), client=client_address())
    return flask.Response(entry.body, mimetype=entry.mimetype)


def pending(page: str) -> Pending | None:
    """The miss of this request being rendered for `page`, if the cache wants its result."""
    if not flask.has_request_context():
        return None
    found = getattr(flask.g, "render_pending", None)
    return found if isinstance(found, Pending) and found.key.page == page else None


@contextmanager
def capture(con: duckdb.DuckDBPyConnection, found: Pending, username: str) -> Iterator[None]:
    """Run a render inside one transaction and note the audit entries it wrote (kept with the page) — unless
    the data moved since the key was made, the render changed data, or wrote an entry for someone else.

    Snapshot isolation makes this exact: every row of audit_log visible here with an id above a fresh
    sequence value was inserted by this transaction."""
    with transaction(con):
        mark = next_id(con)
        before = data_version(con)
        yield
        rows = con.execute("SELECT actor, role, action, target, outcome, CAST(detail AS VARCHAR) FROM audit_log "
                           "WHERE audit_id > ? ORDER BY audit_id", [mark]).fetchall()
        after = data_version(con)
    if before != found.key.version or after != before or any(r[0] != username for r in rows):
        return
    found.lines = tuple(AuditLine(role=r[1], action=r[2], target=r[3], outcome=r[4], detail=r[5] or "{}")
                        for r in rows)


def keep(resp: flask.Response) -> flask.Response:
    """after_request: keep a captured render's response (200 JSON only)."""
    found = getattr(flask.g, "render_pending", None) if flask.has_request_context() else None
    cache: RenderCache | None = flask.current_app.config.get(CACHE_KEY)
    if (isinstance(found, Pending) and found.lines is not None and cache is not None and resp.status_code == 200
            and resp.mimetype == "application/json" and not resp.direct_passthrough):
        cache.put(found.key, Entry(resp.get_data(), resp.mimetype, found.lines))
    return resp


def finish(_exc: BaseException | None = None) -> None:
    """teardown_request: release the requests waiting for this render, kept or not."""
    found = getattr(flask.g, "render_pending", None) if flask.has_request_context() else None
    cache: RenderCache | None = flask.current_app.config.get(CACHE_KEY)
    if isinstance(found, Pending) and found.claimed and cache is not None:
        cache.done(found.key)


def register(server: flask.Flask, cache: RenderCache | None = None) -> RenderCache:
    """Add the cache to the app's server; call after auth.register (the guard must run first)."""
    cache = cache or RenderCache()
    server.config[CACHE_KEY] = cache
    server.before_request(lookup)
    server.after_request(keep)
    server.teardown_request(finish)
    return cache
