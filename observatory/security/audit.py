"""The append-only audit log: who viewed what sensitive data and who did what (who watched the watchers).

The log is tamper-evident: committed entries are sealed into a hash chain (chain_seq, prev_hash, entry_hash;
migration 008) whenever a process lets go of the warehouse, and the chain's head is also written outside the
database (state/audit-head). `verify_chain` finds an edited entry (its hash no longer matches), a deleted one
(a gap, a broken link, or a chain shorter than its recorded head) and a reordered one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from observatory import warehouse as _warehouse
from observatory.files import private_dir, write_private
from observatory.security.pseudonym import mask_data, mask_text
from observatory.warehouse import dict_rows, next_id

GENESIS = "0" * 64
_CONTENT = "audit_id, at_time, actor, role, action, target, outcome, CAST(detail AS VARCHAR), client"
_seal_lock = threading.Lock()


def record(con: duckdb.DuckDBPyConnection, *, actor: str, action: str, role: str | None = None,
           target: str | None = None, outcome: str = "ok", detail: dict[str, Any] | None = None,
           client: str | None = None) -> int:
    """Append one entry; there is deliberately no update or delete function in this module. Individual Numbers
    in what a user typed (a user name at sign-in, URL parameters, notes) are masked: the log can never be cleaned."""
    audit_id = next_id(con)
    con.execute(
        "INSERT INTO audit_log (audit_id, at_time, actor, role, action, target, outcome, detail, client) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [audit_id, datetime.now(UTC), mask_text(actor), role, action, None if target is None else mask_text(target),
         outcome, json.dumps(mask_data(detail or {}), ensure_ascii=False, default=str), client],
    )
    return audit_id


def entries(con: duckdb.DuckDBPyConnection, *, limit: int = 500, actor: str | None = None,
            action: str | None = None) -> list[dict[str, Any]]:
    """Newest first, optionally filtered by actor and action."""
    sql = "SELECT audit_id, at_time, actor, role, action, target, outcome, detail, client FROM audit_log WHERE 1=1"
    params: list[Any] = []
    if actor:
        sql += " AND actor = ?"
        params.append(actor)
    if action:
        sql += " AND action = ?"
        params.append(action)
    sql += " ORDER BY audit_id DESC LIMIT ?"
    params.append(limit)
    cur = con.execute(sql, params)
    return dict_rows(cur)


def head_path(home: Path) -> Path:
    """Where the chain's head (length and last hash) is kept outside the database."""
    return Path(home) / "state" / "audit-head"


def _canonical(row: tuple) -> str:
    audit_id, at_time, *rest = row
    when = at_time.astimezone(UTC).isoformat() if isinstance(at_time, datetime) else str(at_time)
    return json.dumps([int(audit_id), when, *rest], ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, row: tuple) -> str:
    """sha256 over the previous entry's hash and this entry's content (audit_id ... client)."""
    return hashlib.sha256((prev_hash + "\n" + _canonical(row)).encode("utf-8")).hexdigest()


def read_head(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads(head_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def seal(con: duckdb.DuckDBPyConnection, home: Path | None = None) -> int:
    """Chain every committed entry not sealed yet, in audit_id order; returns how many were sealed.

    Run where no other transaction of the process is open (warehouse release, backup, verify)."""
    import pyarrow as pa  # here: pyarrow only when the audit log is exported

    with _seal_lock:
        last = con.execute("SELECT chain_seq, entry_hash FROM audit_log WHERE chain_seq IS NOT NULL "
                           "ORDER BY chain_seq DESC LIMIT 1").fetchone()
        seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS)
        rows = con.execute(f"SELECT {_CONTENT} FROM audit_log WHERE entry_hash IS NULL "
                           "ORDER BY audit_id").fetchall()
        if rows:
            ids, seqs, prevs, hashes = [], [], [], []
            for row in rows:
                seq += 1
                digest = entry_hash(prev, row)
                ids.append(int(row[0]))
                seqs.append(seq)
                prevs.append(prev)
                hashes.append(digest)
                prev = digest
            updates = pa.table({"audit_id": ids, "chain_seq": seqs, "prev_hash": prevs, "entry_hash": hashes})
            con.register("audit_seal_updates", updates)
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute("UPDATE audit_log SET chain_seq = u.chain_seq, prev_hash = u.prev_hash, "
                            "entry_hash = u.entry_hash FROM audit_seal_updates u "
                            "WHERE audit_log.audit_id = u.audit_id")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.unregister("audit_seal_updates")
        if home is not None and (rows or read_head(home) is None):
            private_dir(head_path(home).parent)
            write_private(head_path(home), json.dumps({"seq": seq, "hash": prev}))
        return len(rows)


def verify_chain(con: duckdb.DuckDBPyConnection, home: Path | None = None) -> list[str]:
    """Problems with the audit chain, each naming the entry and why (empty when intact)."""
    problems: list[str] = []
    rows = con.execute(f"SELECT chain_seq, prev_hash, entry_hash, {_CONTENT} FROM audit_log "
                       "WHERE chain_seq IS NOT NULL ORDER BY chain_seq").fetchall()
    expected_seq, prev = 1, GENESIS
    for chain_seq, prev_hash, stored, *content in rows:
        where = f"audit_log entry {content[0]} (chain position {chain_seq})"
        if chain_seq != expected_seq:
            problems.append(f"{where}: positions {expected_seq}..{chain_seq - 1} are missing "
                            "(entries deleted) / 監査ログの記録が削除されています")
        elif prev_hash != prev:
            problems.append(f"{where}: does not follow the entry before it (an entry was deleted or replaced) "
                            "/ 直前の記録との連鎖が切れています")
        if entry_hash(str(prev_hash), tuple(content)) != stored:
            problems.append(f"{where}: its content no longer matches its hash (edited) / 記録が改ざんされています")
        expected_seq, prev = chain_seq + 1, str(stored)
    head = read_head(home) if home is not None else None
    if head is not None:
        seq, digest = int(head.get("seq", 0)), str(head.get("hash", ""))
        if expected_seq - 1 < seq:
            problems.append(f"audit_log: the chain ends at position {expected_seq - 1} but {seq} entries were "
                            "sealed (the last entries were deleted) / 監査ログの末尾の記録が削除されています")
        elif seq and {r[0]: str(r[2]) for r in rows}.get(seq) != digest:
            problems.append(f"audit_log: entry at chain position {seq} differs from the recorded head "
                            "/ 監査ログの先頭記録と一致しません")
    return problems


def _seal_on_release(wh: _warehouse.Warehouse, con: duckdb.DuckDBPyConnection) -> None:
    if wh.db_path.exists():
        seal(con, wh.db_path.parent)


_warehouse.RELEASE_HOOKS.append(_seal_on_release)
