"""The DuckDB warehouse: connections under a workspace lock, versioned migrations, the access-event view.

DuckDB lets one process write a database file at a time. Every operation therefore opens the file for as
short a time as it can, under an advisory lock on `observatory.lock`: `ingest` run while `serve` is up
waits for the server's current request to finish (printing what it waits for) instead of failing with
"database is locked". Within one process, threads share one connection through cursors.

The lock is fair: a process passes a turnstile (`observatory.lock.intent`) before it waits for the lock,
and keeps the turnstile until it has the lock. A process that holds the lock for many overlapping requests
(the server) sees the turnstile taken, stops admitting new requests to its connection, lets the requests
already running finish and releases; the new requests queue behind the waiting process instead of
starving it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from observatory import events

MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# Called with (warehouse, connection) just before a process lets go of the warehouse, when no cursor of the
# process is open (observatory.security.audit seals the audit log's hash chain there).
RELEASE_HOOKS: list[Callable[[Warehouse, duckdb.DuckDBPyConnection], None]] = []
log = logging.getLogger(__name__)


class LockTimeout(Exception):
    """The workspace stayed locked by another process for longer than the caller would wait."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in observatory/migrations, in order."""
    found = []
    for entry in resources.files("observatory.migrations").iterdir():
        m = MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this database has not seen, each in its own transaction; returns their versions."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        [version, name, datetime.now(UTC)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    ensure_change_triggers(con)
    return applied


# Tables whose changes do not move the data version: the version's own log, and the audit log (written by every
# view of a sensitive page; no cached page shows it).
UNVERSIONED = frozenset({"data_changes", "audit_log"})


def ensure_change_triggers(con: duckdb.DuckDBPyConnection) -> int:
    """Give every base table (but UNVERSIONED) statement-level triggers that append to data_changes on INSERT,
    UPDATE and DELETE (COPY, appender and relation writes included); returns how many were created. Run after
    the migrations, so a table a later migration adds or rebuilds is covered too."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name = 'data_changes'").fetchone()[0]:
        return 0  # before migration 012
    have = {r[0] for r in con.execute("SELECT trigger_name FROM duckdb_triggers() WHERE schema_name = 'main'")
            .fetchall()}
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND NOT temporary ORDER BY table_name").fetchall() if r[0] not in UNVERSIONED]
    made = 0
    for table in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            name = f"data_change_{table}_{event.lower()}"
            if name in have:
                continue
            quoted = '"' + table.replace('"', '""') + '"'  # names from the catalogue, quoted as identifiers
            literal = "'" + table.replace("'", "''") + "'"
            con.execute(f'CREATE TRIGGER "{name}" AFTER {event} ON {quoted} FOR EACH STATEMENT '
                        f"INSERT INTO data_changes (table_name) VALUES ({literal})")
            made += 1
    return made


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    """How many changes the warehouse has seen (data_changes rows visible to this cursor's transaction): equal
    versions mean equal data in every table but the audit log. -1 before migration 012 (nothing may be cached)."""
    try:
        return int(con.execute("SELECT count(*) FROM data_changes").fetchone()[0])
    except duckdb.CatalogException:
        return -1


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def refresh_access_view(con: duckdb.DuckDBPyConnection, events_dir: Path) -> None:
    """(Re)create the view access_events over the month-partitioned Parquet archive; a no-op (one catalogue
    read, no write) when the stored view already fits, which is the case on almost every connect."""
    has_files = events.has_files(events_dir)
    pattern = events.pattern(events_dir).replace("'", "''")
    names = ", ".join(name for name, _ in events.COLUMNS)
    nulls = ", ".join(f"NULL::{sql_type} AS {name}" for name, sql_type in events.COLUMNS)
    row = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'access_events'").fetchone()
    stored = row[0] if row else None
    if stored is not None and (f"read_parquet('{pattern}'" in stored if has_files else "read_parquet" not in stored):
        return
    if has_files:
        try:
            con.execute(
                f"CREATE OR REPLACE VIEW access_events AS SELECT {names} "
                f"FROM read_parquet('{pattern}', hive_partitioning = false, union_by_name = true)"
            )
        except duckdb.Error as exc:
            # a damaged Parquet file must not make the whole warehouse unopenable (verify has to diagnose it):
            # the view fails when used, naming the problem, instead of silently showing no events
            reason = (f"access_events: the event archive {events_dir} cannot be read "
                      f"({str(exc).splitlines()[0]}); run `observatory verify` / イベントアーカイブが読めません")
            log.error("%s", reason)
            con.execute(
                f"CREATE OR REPLACE VIEW access_events AS SELECT {nulls} "
                "FROM (SELECT error('" + reason.replace("'", "''") + "') AS e) WHERE e IS NULL")
    else:
        con.execute(f"CREATE OR REPLACE VIEW access_events AS SELECT * FROM (SELECT {nulls}) WHERE false")


class Warehouse:
    """One DuckDB file and its lock. Use `with wh.connect() as con:` for every piece of work."""

    def __init__(self, db_path: Path, lock_path: Path | None = None, events_dir: Path | None = None,
                 wait_message: bool = True, timeout_s: float = 600.0) -> None:
        self.db_path = Path(db_path)
        self.lock_path = lock_path or self.db_path.with_suffix(".lock")
        self.events_dir = events_dir or self.db_path.parent / "events" / "access"
        self.wait_message = wait_message
        self.timeout_s = timeout_s
        self.intent_path = self.lock_path.with_name(self.lock_path.name + ".intent")
        self._mutex = threading.Condition(threading.RLock())
        self._users = 0
        self._draining = False
        self._local = threading.local()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock_fd: int | None = None
        self._probe_fd: int | None = None
        self._probe_lock = threading.Lock()
        self._migrated = False
        self.waits: list[float] = []  # seconds spent waiting for the file lock, per acquisition (benchmarks)
        self.holds: list[float] = []  # seconds the file lock was held, per acquisition
        self.spans: list[tuple[float, float]] = []  # (start, end) of each hold, wall-clock epoch seconds
        self._acquired_at = 0.0

    def _flock_polling(self, fd: int, deadline: float, told: bool) -> bool:
        """Take an exclusive flock on fd, polling until the deadline; returns whether the wait was announced."""
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return told
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"{self.db_path}: the workspace is busy (held by {self._holder()}); gave up after "
                        f"{self.timeout_s:.0f} s"
                    ) from None
                if self.wait_message and not told:
                    print(f"waiting for the workspace lock held by {self._holder()} ...", file=sys.stderr)
                    told = True
                time.sleep(0.01)

    def _acquire_file_lock(self) -> None:
        started = time.monotonic()
        deadline = started + self.timeout_s
        turnstile = os.open(self.intent_path, os.O_RDWR | os.O_CREAT, 0o600)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            told = self._flock_polling(turnstile, deadline, False)  # from here on, newcomers queue behind us
            self._flock_polling(fd, deadline, told)
        except BaseException:
            os.close(fd)
            raise
        finally:
            os.close(turnstile)  # closing releases the turnstile
        self._acquired_at = time.monotonic()
        self.waits.append(self._acquired_at - started)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} {' '.join(sys.argv[:3])}".encode())
        self._lock_fd = fd

    def others_waiting(self) -> bool:
        """Whether another process is queued for the lock (holds the turnstile)."""
        with self._probe_lock:  # one probe at a time: threads share the probe's open file
            if self._probe_fd is None:
                self._probe_fd = os.open(self.intent_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(self._probe_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(self._probe_fd, fcntl.LOCK_UN)
            return False

    def _holder(self) -> str:
        try:
            return self.lock_path.read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            return "another process"

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the warehouse, holding the workspace lock until the outermost user leaves.

        A new (outermost) user does not join a connection another process is waiting behind: it waits until
        the users already inside leave and the lock has gone round, so a writer never waits for traffic that
        arrived after it."""
        depth = getattr(self._local, "depth", 0)
        with self._mutex:
            while depth == 0 and self._users > 0 and (self._draining or self.others_waiting()):
                self._draining = True
                self._mutex.wait(0.02)
            if self._users == 0:
                self._acquire_file_lock()
                try:
                    self._con = duckdb.connect(str(self.db_path))
                    self._private_files()
                    if not self._migrated:
                        migrate(self._con)
                        self._migrated = True
                    events.finish_replacements(self.events_dir)  # a compaction a killed process left halfway
                    refresh_access_view(self._con, self.events_dir)
                except Exception:
                    self._release()
                    raise
            self._users += 1
            cursor = self._con.cursor()
        self._local.depth = depth + 1
        try:
            yield cursor
        finally:
            self._local.depth = depth
            cursor.close()
            with self._mutex:
                self._users -= 1
                if self._users == 0:
                    self._release()
                    self._draining = False
                    self._mutex.notify_all()

    def _private_files(self) -> None:
        """The database and its write-ahead log are owner-only (DuckDB creates them with the umask's mode)."""
        for path in (self.db_path, self.db_path.with_name(self.db_path.name + ".wal")):
            try:
                if path.stat().st_mode & 0o077:
                    os.chmod(path, 0o600)
            except OSError:
                continue

    def _release(self) -> None:
        if self._con is not None:
            for hook in RELEASE_HOOKS:
                try:
                    hook(self, self._con)
                except Exception:  # noqa: BLE001 - a hook never keeps the lock held; verify finds what it missed
                    log.exception("warehouse release hook %s failed", getattr(hook, "__name__", hook))
            self._private_files()
            self._con.close()
            self._con = None
        if self._lock_fd is not None:
            held = time.monotonic() - self._acquired_at
            self.holds.append(held)
            self.spans.append((time.time() - held, time.time()))
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception (the exception propagates)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def dict_rows(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """The rows of an executed query as dicts keyed by column name."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def next_id(con: duckdb.DuckDBPyConnection) -> int:
    """A fresh id from the warehouse-wide sequence (runs, submissions, alerts, audit entries)."""
    return int(con.execute("SELECT nextval('id_seq')").fetchone()[0])


_warehouses: dict[Path, Warehouse] = {}
_registry_lock = threading.Lock()


def for_workspace(ws) -> Warehouse:
    """The process-wide Warehouse of a workspace (one per database file)."""
    with _registry_lock:
        key = ws.db_path.resolve()
        if key not in _warehouses:
            _warehouses[key] = Warehouse(ws.db_path, ws.lock_path, ws.events_dir)
        return _warehouses[key]
