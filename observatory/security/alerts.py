"""Alert lifecycle storage for the unauthorised-viewing detector and the triage screens.

An alert is a case about one staff member and one episode: new -> investigating -> closed as
true_positive, benign (real but justified) or false_positive. Every function takes the acting user
(anything with `.username` and `.has(role)`, e.g. `observatory.config.User` or `Actor`) and writes the
audit log. Only the security role sees evidence events or changes an alert; cio and admin may read the list.
Scores follow one sign everywhere: higher = more suspicious.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import duckdb

from observatory.errors import NotFound, PermissionDenied, UserError
from observatory.security import audit
from observatory.security.pseudonym import mask_text
from observatory.warehouse import next_id

OPEN = ("new", "investigating")
CLOSED = ("true_positive", "benign", "false_positive")
STATUSES = OPEN + CLOSED
SEVERITIES = ("low", "medium", "high", "critical")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("investigating",) + CLOSED,
    "investigating": CLOSED,
    "true_positive": ("investigating",),
    "benign": ("investigating",),
    "false_positive": ("investigating",),
}
READ_ROLES = ("security", "cio", "admin")
DETECTOR = "detector"
_COLUMNS = ("alert_id, staff_id, org_code, first_seen, last_seen, score, severity, status, assignee, scenarios, "
            "reasons, event_ids, baseline, created_at, updated_at, closed_at")
_SEVERITY_RANK = "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"


class ActingUser(Protocol):
    username: str

    def has(self, role: str) -> bool: ...


@dataclass(frozen=True)
class Actor:
    """A minimal acting user (the CLI, the scheduler and tests); config.User works the same way."""

    username: str
    roles: tuple[str, ...] = ()

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass
class DetectedAlert:
    """One episode as produced by the detector, before it is stored."""

    staff_id: str
    org_code: str | None
    first_seen: date
    last_seen: date
    score: float
    severity: str
    scenarios: list[str]
    reasons: list[dict[str, Any]]
    event_ids: list[str]
    baseline: dict[str, Any] = field(default_factory=dict)


def _role_of(actor: ActingUser) -> str | None:
    for role in ("security", "cio", "admin", "ministry"):
        if actor.has(role):
            return role
    return None


def _require(con: duckdb.DuckDBPyConnection, actor: ActingUser, roles: Sequence[str], action: str,
             target: str | None) -> None:
    if any(actor.has(r) for r in roles):
        return
    audit.record(con, actor=actor.username, role=_role_of(actor), action=action, target=target, outcome="denied")
    raise PermissionDenied(f"{actor.username}: {action} needs the role {' or '.join(roles)}")


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        item = dict(zip(names, row, strict=True))
        for key in ("reasons", "baseline"):
            if isinstance(item.get(key), str):
                item[key] = json.loads(item[key])
        out.append(item)
    return out


def _redact(alert: dict[str, Any], actor: ActingUser) -> dict[str, Any]:
    """Non-security readers see reasons and counts, not which subjects or events are involved."""
    if actor.has("security"):
        return alert
    alert = dict(alert)
    alert["reasons"] = [{k: v for k, v in r.items() if k != "evidence"} for r in alert.get("reasons") or []]
    alert["event_ids"] = None
    alert["n_events"] = None
    return alert


def list_alerts(con: duckdb.DuckDBPyConnection, actor: ActingUser, *, status: str | Sequence[str] | None = None,
                scenario: str | None = None, org: str | None = None, assignee: str | None = None,
                limit: int = 500) -> list[dict[str, Any]]:
    """Alerts matching the filters, most severe first, then oldest first (the triage queue)."""
    _require(con, actor, READ_ROLES, "alerts.list", None)
    sql = f"SELECT {_COLUMNS}, len(event_ids) AS n_events FROM alerts WHERE 1=1"
    params: list[Any] = []
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        bad = [s for s in statuses if s not in STATUSES and s not in ("open", "closed")]
        if bad:
            raise UserError(f"status {bad[0]!r}: not one of {', '.join(STATUSES)}, open, closed")
        expanded = [x for s in statuses for x in (OPEN if s == "open" else CLOSED if s == "closed" else (s,))]
        sql += " AND list_contains(?, status)"
        params.append(expanded)
    if scenario:
        sql += " AND list_contains(scenarios, ?)"
        params.append(scenario)
    if org:
        sql += " AND org_code = ?"
        params.append(org)
    if assignee:
        sql += " AND assignee = ?"
        params.append(assignee)
    sql += f" ORDER BY {_SEVERITY_RANK} DESC, created_at ASC, alert_id ASC LIMIT ?"
    params.append(int(limit))
    rows = _rows(con.execute(sql, params))
    audit.record(con, actor=actor.username, role=_role_of(actor), action="alerts.list",
                 detail={"status": status, "scenario": scenario, "org": org, "assignee": assignee,
                         "returned": len(rows)})
    return [_redact(r, actor) for r in rows]


def _fetch(con: duckdb.DuckDBPyConnection, alert_id: int) -> dict[str, Any]:
    rows = _rows(con.execute(f"SELECT {_COLUMNS}, len(event_ids) AS n_events FROM alerts WHERE alert_id = ?",
                             [int(alert_id)]))
    if not rows:
        raise NotFound(f"alert {alert_id}: no such alert")
    return rows[0]


def get_alert(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_id: int) -> dict[str, Any]:
    """One alert with its reasons and baseline (evidence details only for the security role)."""
    _require(con, actor, READ_ROLES, "alerts.get", str(alert_id))
    alert = _fetch(con, alert_id)
    audit.record(con, actor=actor.username, role=_role_of(actor), action="alerts.get", target=str(alert_id))
    return _redact(alert, actor)


def evidence(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_id: int,
             limit: int = 1000) -> list[dict[str, Any]]:
    """The access events behind an alert (security role only; every look is audited)."""
    _require(con, actor, ("security",), "alerts.evidence", str(alert_id))
    alert = _fetch(con, alert_id)
    ids = list(alert["event_ids"] or [])
    rows: list[dict[str, Any]] = []
    if ids:
        cur = con.execute(
            "SELECT event_id, occurred_at, staff_id, org_code, subject_id, action, record_type, case_id, "
            "record_count, terminal_id FROM access_events WHERE list_contains(?, event_id) "
            "ORDER BY occurred_at LIMIT ?", [ids, int(limit)])
        rows = _rows(cur)
    audit.record(con, actor=actor.username, role=_role_of(actor), action="alerts.evidence", target=str(alert_id),
                 detail={"events": len(rows)})
    return rows


def related(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_id: int) -> list[dict[str, Any]]:
    """Other alerts about the same staff member, newest first."""
    _require(con, actor, READ_ROLES, "alerts.related", str(alert_id))
    alert = _fetch(con, alert_id)
    rows = _rows(con.execute(
        f"SELECT {_COLUMNS}, len(event_ids) AS n_events FROM alerts WHERE staff_id = ? AND alert_id <> ? "
        "ORDER BY first_seen DESC", [alert["staff_id"], int(alert_id)]))
    audit.record(con, actor=actor.username, role=_role_of(actor), action="alerts.related", target=str(alert_id))
    return [_redact(r, actor) for r in rows]


MAX_NOTE_CHARS = 2000  # the pages' own limits (maxLength), held on the server too: a request may skip the page
MAX_ASSIGNEE_CHARS = 80


def _typed(alert_id: int, what: str, value: str | None, limit: int) -> None:
    """Refuse text a user typed that is longer than its field holds."""
    if value is not None and len(value) > limit:
        raise UserError(f"alert {alert_id}: the {what} is {len(value):,} characters long (at most {limit:,}) / "
                        f"{what}が長すぎます（{limit:,}文字まで）")


def _history_row(con: duckdb.DuckDBPyConnection, alert_id: int, actor: str, action: str,
                 from_status: str | None = None, to_status: str | None = None, note: str | None = None) -> None:
    con.execute("INSERT INTO alert_history (alert_id, at_time, actor, action, from_status, to_status, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [int(alert_id), datetime.now(UTC), actor, action, from_status, to_status,
                 None if note is None else mask_text(note)])


def assign(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_id: int, assignee: str | None) -> dict[str, Any]:
    """Give the alert to an analyst (None to unassign)."""
    _require(con, actor, ("security",), "alerts.assign", str(alert_id))
    _typed(alert_id, "assignee", assignee, MAX_ASSIGNEE_CHARS)
    alert = _fetch(con, alert_id)
    assignee = None if assignee is None else mask_text(assignee)  # typed text: never an Individual Number in clear
    con.execute("UPDATE alerts SET assignee = ?, updated_at = ? WHERE alert_id = ?",
                [assignee, datetime.now(UTC), int(alert_id)])
    _history_row(con, alert_id, actor.username, "assigned", note=f"{alert['assignee'] or '-'} -> {assignee or '-'}")
    audit.record(con, actor=actor.username, role="security", action="alerts.assign", target=str(alert_id),
                 detail={"assignee": assignee})
    return _fetch(con, alert_id)


def set_status(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_id: int, status: str, *,
               note: str | None = None, suppression_days: int = 90) -> dict[str, Any]:
    """Move an alert along its lifecycle; closing as benign suppresses the same pattern for suppression_days."""
    _require(con, actor, ("security",), "alerts.status", str(alert_id))
    if status not in STATUSES:
        raise UserError(f"status {status!r}: not one of {', '.join(STATUSES)}")
    _typed(alert_id, "note", note, MAX_NOTE_CHARS)
    alert = _fetch(con, alert_id)
    current = alert["status"]
    if status == current:
        return alert
    if status not in TRANSITIONS[current]:
        audit.record(con, actor=actor.username, role="security", action="alerts.status", target=str(alert_id),
                     outcome="rejected", detail={"from": current, "to": status})
        raise UserError(f"alert {alert_id}: cannot go from {current} to {status} "
                        f"(allowed: {', '.join(TRANSITIONS[current])})")
    now = datetime.now(UTC)
    closed_at = now if status in CLOSED else None
    con.execute("UPDATE alerts SET status = ?, updated_at = ?, closed_at = ? WHERE alert_id = ?",
                [status, now, closed_at, int(alert_id)])
    _history_row(con, alert_id, actor.username, "status", current, status, note)
    if status == "benign":
        until = alert["last_seen"] + timedelta(days=int(suppression_days))
        for scenario in alert["scenarios"] or []:
            con.execute("INSERT OR REPLACE INTO alert_suppressions (staff_id, scenario, until, alert_id, created_by, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        [alert["staff_id"], scenario, until, int(alert_id), actor.username, now])
    elif current == "benign":
        con.execute("DELETE FROM alert_suppressions WHERE alert_id = ?", [int(alert_id)])
    audit.record(con, actor=actor.username, role="security", action="alerts.status", target=str(alert_id),
                 detail={"from": current, "to": status, "note": note})
    return _fetch(con, alert_id)


def add_note(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_id: int, note: str) -> None:
    """Append an analyst's note to the alert's history."""
    _require(con, actor, ("security",), "alerts.note", str(alert_id))
    if not note or not note.strip():
        raise UserError(f"alert {alert_id}: the note is empty")
    _typed(alert_id, "note", note, MAX_NOTE_CHARS)
    _fetch(con, alert_id)
    _history_row(con, alert_id, actor.username, "note", note=note.strip())
    con.execute("UPDATE alerts SET updated_at = ? WHERE alert_id = ?", [datetime.now(UTC), int(alert_id)])
    audit.record(con, actor=actor.username, role="security", action="alerts.note", target=str(alert_id))


def bulk(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_ids: Iterable[int], *, status: str | None = None,
         assignee: str | None = None, note: str | None = None, suppression_days: int = 90) -> dict[int, str]:
    """Apply the same assignment, status and/or note to many alerts; returns {alert_id: 'ok' or the error}."""
    _require(con, actor, ("security",), "alerts.bulk", None)
    results: dict[int, str] = {}
    for alert_id in alert_ids:
        try:
            if assignee is not None:
                assign(con, actor, alert_id, assignee)
            if status is not None:
                set_status(con, actor, alert_id, status, note=note, suppression_days=suppression_days)
            elif note:
                add_note(con, actor, alert_id, note)
            results[int(alert_id)] = "ok"
        except UserError as exc:
            results[int(alert_id)] = str(exc)
    return results


NOTE_WITHHELD = "（調査担当のみ閲覧可 / for the security role only）"


def history(con: duckdb.DuckDBPyConnection, actor: ActingUser, alert_id: int) -> list[dict[str, Any]]:
    """Everything that happened to an alert, oldest first. The analysts' notes only for the security role, as the
    evidence: a note may name or describe the person under investigation (others see that a note was written)."""
    _require(con, actor, READ_ROLES, "alerts.history", str(alert_id))
    _fetch(con, alert_id)
    rows = _rows(con.execute("SELECT alert_id, at_time, actor, action, from_status, to_status, note "
                             "FROM alert_history WHERE alert_id = ? ORDER BY at_time, rowid", [int(alert_id)]))
    if not actor.has("security"):
        rows = [{**r, "note": NOTE_WITHHELD if r["note"] else r["note"]} for r in rows]
    audit.record(con, actor=actor.username, role=_role_of(actor), action="alerts.history", target=str(alert_id))
    return rows


def alerts_per_day(con: duckdb.DuckDBPyConnection, actor: ActingUser, start: date, end: date,
                   budget: float) -> list[dict[str, Any]]:
    """Alerts raised per day (by creation date) against the daily budget, one row per day in [start, end]."""
    _require(con, actor, READ_ROLES, "alerts.per_day", None)
    rows = con.execute(
        "SELECT d::DATE AS day, count(a.alert_id) AS alerts FROM range(?::DATE, ?::DATE + INTERVAL 1 DAY, "
        "INTERVAL 1 DAY) r(d) LEFT JOIN alerts a ON a.first_seen = d::DATE GROUP BY d ORDER BY d",
        [start, end]).fetchall()
    return [{"day": r[0], "alerts": int(r[1]), "budget": float(budget), "over_budget": r[1] > budget} for r in rows]


def triage_times(con: duckdb.DuckDBPyConnection, actor: ActingUser,
                 service_level_hours: float = 72.0) -> dict[str, Any]:
    """Hours from creation to first analyst action and to closure; open alerts past the service level."""
    _require(con, actor, READ_ROLES, "alerts.triage_times", None)
    row = con.execute(
        "WITH first_action AS (SELECT alert_id, min(at_time) AS t FROM alert_history "
        "  WHERE action IN ('assigned', 'status', 'note') GROUP BY alert_id) "
        "SELECT median(epoch(f.t - a.created_at)) / 3600, quantile_cont(epoch(f.t - a.created_at), 0.9) / 3600, "
        "  median(epoch(a.closed_at - a.created_at)) / 3600, "
        "  count(*) FILTER (WHERE a.status IN ('new', 'investigating')), "
        "  count(*) FILTER (WHERE a.status IN ('new', 'investigating') "
        "    AND epoch(now() - a.created_at) / 3600 > ?), count(*) "
        "FROM alerts a LEFT JOIN first_action f USING (alert_id)", [float(service_level_hours)]).fetchone()
    return {"median_hours_to_first_action": row[0], "p90_hours_to_first_action": row[1],
            "median_hours_to_close": row[2], "open": int(row[3]), "open_past_service_level": int(row[4]),
            "total": int(row[5]), "service_level_hours": service_level_hours}


def active_suppressions(con: duckdb.DuckDBPyConnection, on: date) -> set[tuple[str, str]]:
    """(staff_id, scenario) pairs closed as benign whose suppression still runs on the given day."""
    rows = con.execute("SELECT DISTINCT staff_id, scenario FROM alert_suppressions WHERE until >= ?",
                       [on]).fetchall()
    return {(r[0], r[1]) for r in rows}


def suppressions(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, date]]:
    """Every (staff_id, scenario, until) suppression, for the detector to filter findings by day."""
    return [(r[0], r[1], r[2]) for r in con.execute(
        "SELECT staff_id, scenario, max(until) FROM alert_suppressions GROUP BY ALL").fetchall()]


def feedback(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Closed alerts as labels (true_positive | benign | false_positive) per scenario, to retrain a model."""
    return _rows(con.execute("SELECT * FROM alert_feedback ORDER BY alert_id, scenario"))


def _merge_reasons(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_code = {r["code"]: r for r in old}
    for r in new:
        prev = by_code.get(r["code"])
        if prev is None or float(r.get("evidence", {}).get("score", 0)) >= float(
                prev.get("evidence", {}).get("score", 0)):
            by_code[r["code"]] = r
    return sorted(by_code.values(), key=lambda r: -float(r.get("evidence", {}).get("score", 0)))


def _merged_baseline(stored: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any] | None:
    """The baseline of an alert a new episode extends: the new one (the latest run's peers and floor), keeping the
    stored recurrences (which reason recurred on which days: anomaly.alerts.recurrences) that the new episode does
    not repeat, so that what the alert rests on is not lost when a later day without a recurrence extends it."""
    if not new:
        return stored
    def key(r: Any) -> str:  # stored rows have been through JSON (dates as text), new ones not yet
        return json.dumps(r, sort_keys=True, ensure_ascii=False, default=str)

    again = {key(r) for r in new.get("recurrence") or []}
    kept = [r for r in (stored or {}).get("recurrence") or [] if key(r) not in again]
    return new if not kept else {**new, "recurrence": kept + list(new.get("recurrence") or [])}


def upsert_detected(con: duckdb.DuckDBPyConnection, found: DetectedAlert, *, gap_days: int = 2,
                    actor: str = DETECTOR) -> tuple[int | None, str]:
    """Store one detected episode: update the staff member's open alert it continues, never reopen or
    duplicate a closed one. Returns (alert_id, 'created' | 'updated' | 'unchanged' | 'closed')."""
    lo = found.first_seen - timedelta(days=gap_days)
    hi = found.last_seen + timedelta(days=gap_days)
    rows = _rows(con.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE staff_id = ? AND first_seen <= ? AND last_seen >= ? "
        "ORDER BY list_contains(['new', 'investigating'], status) DESC, alert_id DESC", [found.staff_id, hi, lo]))
    now = datetime.now(UTC)
    open_rows = [r for r in rows if r["status"] in OPEN]
    if open_rows:
        cur = open_rows[0]
        new_ids = sorted(set(cur["event_ids"] or []) | set(found.event_ids))
        scenarios = sorted(set(cur["scenarios"] or []) | set(found.scenarios))
        first_seen = min(cur["first_seen"], found.first_seen)
        last_seen = max(cur["last_seen"], found.last_seen)
        if (new_ids == sorted(cur["event_ids"] or []) and scenarios == sorted(cur["scenarios"] or [])
                and first_seen == cur["first_seen"] and last_seen == cur["last_seen"]):
            return int(cur["alert_id"]), "unchanged"
        severity = max(cur["severity"], found.severity, key=SEVERITIES.index)
        reasons = _merge_reasons(cur["reasons"] or [], found.reasons)
        con.execute(
            "UPDATE alerts SET first_seen = ?, last_seen = ?, score = ?, severity = ?, scenarios = ?, reasons = ?, "
            "event_ids = ?, baseline = ?, updated_at = ? WHERE alert_id = ?",
            [first_seen, last_seen, max(float(cur["score"]), found.score), severity, scenarios,
             json.dumps(reasons, ensure_ascii=False, default=str), new_ids,
             json.dumps(_merged_baseline(cur["baseline"], found.baseline), ensure_ascii=False, default=str), now,
             int(cur["alert_id"])])
        _history_row(con, cur["alert_id"], actor, "updated",
                     note=f"+{len(set(found.event_ids) - set(cur['event_ids'] or []))} events; {','.join(scenarios)}")
        return int(cur["alert_id"]), "updated"
    closed_rows = [r for r in rows if r["status"] in CLOSED and r["last_seen"] >= found.first_seen]
    if closed_rows:
        return int(closed_rows[0]["alert_id"]), "closed"
    alert_id = next_id(con)
    con.execute(
        "INSERT INTO alerts (alert_id, staff_id, org_code, first_seen, last_seen, score, severity, status, assignee, "
        "scenarios, reasons, event_ids, baseline, created_at, updated_at, closed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'new', NULL, ?, ?, ?, ?, ?, ?, NULL)",
        [alert_id, found.staff_id, found.org_code, found.first_seen, found.last_seen, float(found.score),
         found.severity, sorted(set(found.scenarios)), json.dumps(found.reasons, ensure_ascii=False, default=str),
         sorted(set(found.event_ids)), json.dumps(found.baseline, ensure_ascii=False, default=str), now, now])
    _history_row(con, alert_id, actor, "created", None, "new", ", ".join(sorted(set(found.scenarios))))
    audit.record(con, actor=actor, action="alerts.create", target=str(alert_id),
                 detail={"staff_id": found.staff_id, "scenarios": found.scenarios})
    return alert_id, "created"


def export_rows(con: duckdb.DuckDBPyConnection, actor: ActingUser, *, status: str | Sequence[str] | None = None,
                limit: int = 100000) -> list[dict[str, Any]]:
    """Alerts in the export shape (alert_id, staff_id, org_code, first_seen, last_seen, score, severity, status,
    reasons [{code, text}], event_ids); event ids only for the security role. Audited."""
    _require(con, actor, READ_ROLES, "alerts.export", None)
    sql = f"SELECT {_COLUMNS} FROM alerts"
    params: list[Any] = []
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        expanded = [x for s in statuses for x in (OPEN if s == "open" else CLOSED if s == "closed" else (s,))]
        bad = [s for s in expanded if s not in STATUSES]
        if bad:
            raise UserError(f"status {bad[0]!r}: not one of {', '.join(STATUSES)}, open, closed")
        sql += " WHERE list_contains(?, status)"
        params.append(expanded)
    sql += " ORDER BY alert_id LIMIT ?"
    params.append(int(limit))
    out = []
    for a in _rows(con.execute(sql, params)):
        out.append({
            "alert_id": int(a["alert_id"]), "staff_id": a["staff_id"], "org_code": a["org_code"],
            "first_seen": a["first_seen"].isoformat(), "last_seen": a["last_seen"].isoformat(),
            "score": float(a["score"]), "severity": a["severity"], "status": a["status"],
            "scenarios": list(a["scenarios"] or []),
            "reasons": [{"code": r["code"], "text": r.get("text") or f"{r.get('text_ja')} / {r.get('text_en')}",
                         "text_ja": r.get("text_ja"), "text_en": r.get("text_en")} for r in a["reasons"] or []],
            "event_ids": list(a["event_ids"] or []) if actor.has("security") else [],
        })
    audit.record(con, actor=actor.username, role=_role_of(actor), action="alerts.export",
                 detail={"status": status, "alerts": len(out), "with_events": actor.has("security")})
    return out
