"""The append-only audit log: who viewed what sensitive data and who did what (who watched the watchers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

from observatory.warehouse import dict_rows, next_id


def record(con: duckdb.DuckDBPyConnection, *, actor: str, action: str, role: str | None = None,
           target: str | None = None, outcome: str = "ok", detail: dict[str, Any] | None = None,
           client: str | None = None) -> int:
    """Append one entry; there is deliberately no update or delete function in this module."""
    audit_id = next_id(con)
    con.execute(
        "INSERT INTO audit_log (audit_id, at_time, actor, role, action, target, outcome, detail, client) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [audit_id, datetime.now(UTC), actor, role, action, target, outcome,
         json.dumps(detail or {}, ensure_ascii=False, default=str), client],
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
