"""Submitting a KPI data file end to end: permission, archive, parse, validate, load, recompute, audit, receipt.

`submit` is what both the CLI and the dashboard call. Its steps, in order:
1. the acting user must be allowed to submit this KPI for this ministry (else status denied);
2. the original bytes are archived (content hash, who, when, from where) before anything reads them;
3. an identical file already accepted and current for this KPI and ministry is a duplicate, not loaded again;
4. the file is parsed and checked into a private scratch table (no warehouse lock held meanwhile);
5. a file with any error is recorded as rejected with its full report; nothing of it reaches a data table;
6. a clean file is loaded in ONE transaction: submission row, values, period history, supersession, audit;
7. the KPI engine recomputes what the submission touches, and the receipt lists the KPI values that changed.
Writers are serialised across processes by the workspace lock and across threads by a per-workspace lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb

from observatory import archive, bounded, calendar, cells
from observatory.config import User
from observatory.errors import NotFound, PermissionDenied, UserError
from observatory.security import audit, sealed
from observatory.security.pseudonym import mask_text
from observatory.submissions import access, catalogue, store
from observatory.submissions.problems import Problem, Report
from observatory.submissions.staging import Staging
from observatory.submissions.validate import check_file
from observatory.warehouse import for_workspace, next_id, transaction
from observatory.workspace import Workspace

Status = Literal["accepted", "rejected", "duplicate", "denied"]
_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()
KPI_CHANGE_SAMPLE = 20
HOLD_LOCK_BELOW = 2 * 1024 * 1024  # bytes; bigger files are parsed without holding the workspace lock


@dataclass
class SubmissionOutcome:
    """What happened to one submission attempt: status, the validation report and (unless denied) a receipt."""

    status: Status
    report: Report
    submission_id: int | None = None
    receipt: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def receipt_lines(self) -> list[str]:
        """The receipt as text (CLI and page)."""
        r = self.receipt
        if not r:
            return [self.message]
        lines = [self.message,
                 f"submission id / 受付番号: {r.get('submission_id')}",
                 f"KPI: {r.get('kpi_id')}   ministry / 府省: {r.get('ministry_code')}   by / 提出者: {r.get('submitted_by')}",
                 f"file / ファイル: {r.get('file_name')}  sha256 {r.get('file_sha256')}",
                 f"format / 形式: {r.get('file_format')} {r.get('encoding') or ''}".rstrip(),
                 f"rows accepted / 受理行数: {r.get('rows_accepted')} of {r.get('rows_total')}"]
        if r.get("duplicate_of"):
            lines.append(f"identical to submission {r['duplicate_of']} / 受付番号 {r['duplicate_of']} と同一のファイルです")
        for p in r.get("periods", []):
            sup = f", supersedes {p['supersedes']}" if p.get("supersedes") else ""
            lines.append(f"  {p['period']}: {p['rows']} rows (added {p['added']}, changed {p['changed']}, "
                         f"removed {p['removed']}, unchanged {p['unchanged']}{sup})")
        kv = r.get("kpi_values")
        if kv is not None:
            lines.append(f"KPI values changed / 更新されたKPI値: {kv.get('changed', 0)} ({kv.get('note', '')})".rstrip())
            for v in kv.get("sample", []):
                lines.append(f"  {v['kpi_id']} {v['level']} {v['entity_code']} {v['period']}: "
                             f"{v.get('old')} -> {v.get('new')} [{v.get('status')}]")
        return lines


def _file_name(raw: str) -> str | None:
    """The name as shown and stored: no directories (a browser's C:\\fakepath\\, a shell's ../), invisible
    characters written as escapes, no Individual Number (a file named after a person's: masked before the escapes,
    which would part its digits with a backslash and a letter, and after)."""
    return mask_text(cells.shown(mask_text(re.split(r"[\\/]", raw)[-1])))[:255] or None


def _write_lock(ws: Workspace) -> threading.RLock:
    with _locks_guard:
        return _locks.setdefault(ws.db_path.resolve(), threading.RLock())


def _today(ws: Workspace) -> date:
    return calendar.today(ws.config.timezone)  # config refuses an unknown zone name


def submit(ws: Workspace, data: bytes | Path, *, filename: str | None, kpi_id: str, ministry_code: str,
           user: str | User, role: str | None = None, origin: str | None = "cli", sheet: str | None = None,
           today: date | None = None, kpis: Mapping[str, catalogue.SubmittableKpi] | None = None
           ) -> SubmissionOutcome:
    """Submit one file (bytes, or a path streamed from disk) for a KPI on behalf of a ministry."""
    path = data if isinstance(data, Path) else None
    name = filename or (path.name if path else None)
    name = None if name is None else _file_name(name)
    username = access.username_of(user)
    report = Report(file_name=name)
    wh = for_workspace(ws)
    lock = _write_lock(ws)

    def refuse(status: Status, code: str, reason: str, acting_role: str | None) -> SubmissionOutcome:
        report.error(code, reason, reason)
        with lock, wh.connect() as con:
            audit.record(con, actor=username, role=acting_role, action="submission.submit",
                         target=f"{kpi_id}/{ministry_code}", outcome=status,
                         detail={"file_name": name, "reason": reason}, client=origin)
        label = "denied / 拒否" if status == "denied" else "rejected / 受理できません"
        return SubmissionOutcome(status, report, message=f"{label}: {reason}")

    try:
        who = access.acting_user(ws, user, role)
    except PermissionDenied as exc:
        return refuse("denied", "denied", str(exc), role)
    acting = access.acting_role(who, role)
    try:
        kpi = _kpi(ws, kpis, kpi_id)
    except UserError as exc:  # unknown KPI, or a KPI catalogue that does not load: a clear refusal, no traceback
        return refuse("rejected", "unknown_kpi", str(exc).splitlines()[0], acting)
    problem = access.submit_problem(who, acting, kpi, ministry_code)
    if problem:
        return refuse("denied", "denied", problem, acting)

    size = path.stat().st_size if path else len(data)
    max_bytes = int(ws.config.submissions.max_file_mb * 1024 * 1024)
    attempt_args = dict(kpi_id=kpi_id, ministry_code=ministry_code, submitted_by=username, role=acting,
                        origin=origin, file_name=name, sheet=None)
    if size > max_bytes:  # not archived: an oversized upload must not fill the archive disk
        sha = _sha256(data)
        return _check_and_load(ws, data, sha, report, kpi, attempt_args, sheet, today, max_bytes, archived=False,
                               from_catalogue=kpis is None)
    with contextlib.ExitStack() as hold:
        if size <= HOLD_LOCK_BELOW:  # a small file is checked in well under a second: keep one connection
            hold.enter_context(lock)
            hold.enter_context(wh.connect())
        return _archive_check_and_load(ws, data, path, name, username, origin, report, kpi, attempt_args, sheet,
                                       today, max_bytes, kpis is None)


def _archive_check_and_load(ws: Workspace, data: bytes | Path, path: Path | None, name: str | None, username: str,
                            origin: str | None, report: Report, kpi: catalogue.SubmittableKpi,
                            attempt_args: dict[str, Any], sheet: str | None, today: date | None, max_bytes: int,
                            from_catalogue: bool) -> SubmissionOutcome:
    """Archive first, spot an accepted twin, then check and load (the connection is reopened only for big files)."""
    wh = for_workspace(ws)
    with _write_lock(ws), wh.connect() as con:
        with transaction(con):
            if path:
                kept = archive.archive_file(con, ws.archive_dir, path, source="submission", received_by=username,
                                            origin=origin, key=sealed.workspace_key(ws))
            else:
                kept = archive.archive_bytes(con, ws.archive_dir, data, original_name=name, source="submission",
                                             received_by=username, origin=origin, key=sealed.workspace_key(ws))
        twin = store.accepted_twin(con, attempt_args["kpi_id"], attempt_args["ministry_code"], kept.sha256)
        if twin is not None:
            return _duplicate(con, twin, kept.sha256, report, attempt_args)
    return _check_and_load(ws, data, kept.sha256, report, kpi, attempt_args, sheet, today, max_bytes, archived=True,
                           from_catalogue=from_catalogue)


def _kpi(ws: Workspace, kpis: Mapping[str, catalogue.SubmittableKpi] | None,
         kpi_id: str) -> catalogue.SubmittableKpi:
    if kpis is None:
        return catalogue.definition(ws, kpi_id)
    kpi = kpis.get(kpi_id)
    if kpi is None or kpi.submission is None:
        raise NotFound(f"no submittable KPI {kpi_id!r} / 提出対象のKPIがありません")
    return kpi


def _sha256(data: bytes | Path) -> str:
    if isinstance(data, Path):
        h = hashlib.sha256()
        with open(data, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
        return h.hexdigest()
    return hashlib.sha256(data).hexdigest()


def _attempt(con: duckdb.DuckDBPyConnection, sha: str, report: Report, args: dict[str, Any]) -> store.Attempt:
    return store.Attempt(next_id(con), args["kpi_id"], args["ministry_code"], args["submitted_by"], args["role"],
                         datetime.now(UTC), args["origin"], sha, args["file_name"], report.encoding,
                         report.sheet)


def _duplicate(con: duckdb.DuckDBPyConnection, twin: int, sha: str, report: Report,
               args: dict[str, Any]) -> SubmissionOutcome:
    original = store.one(con, twin) or {}
    report.file_format = (original.get("report") or {}).get("file_format")
    report.encoding = original.get("encoding")
    report.add(_info_duplicate(twin))
    with transaction(con):
        a = _attempt(con, sha, report, args)
        receipt = _receipt(a, report, status="duplicate", rows_accepted=0, periods=[], kpi_values=None,
                           duplicate_of=twin)
        store.insert(con, a, status="duplicate", periods=list(original.get("periods") or []), rows_total=0,
                     rows_accepted=0, errors=0, warnings=0, report=report.to_json(), receipt=receipt,
                     duplicate_of=twin)
        audit.record(con, actor=a.submitted_by, role=a.role, action="submission.submit",
                     target=f"{a.kpi_id}/{a.ministry_code}", outcome="duplicate",
                     detail={"submission_id": a.submission_id, "duplicate_of": twin, "sha256": sha}, client=a.origin)
    return SubmissionOutcome("duplicate", report, a.submission_id, receipt,
                             f"duplicate: identical to submission {twin}, not loaded again / "
                             f"受付番号 {twin} と同一のファイルのため読み込みませんでした")


def _info_duplicate(twin: int):
    return Problem("info", "duplicate_file", f"identical to accepted submission {twin}; not loaded again",
                   f"受理済みの受付番号 {twin} と同一のファイルです（再読込しません）")


def _check_and_load(ws: Workspace, data: bytes | Path, sha: str, report: Report, kpi: catalogue.SubmittableKpi,
                    args: dict[str, Any], sheet: str | None, today: date | None, max_bytes: int,
                    archived: bool, from_catalogue: bool) -> SubmissionOutcome:
    spec = kpi.submission
    assert spec is not None  # catalogue.definitions only returns KPIs with a submission section
    freq = catalogue.frequency(kpi)
    wh = for_workspace(ws)
    lock = _write_lock(ws)
    with Staging(spec) as staging:
        checked = check_file(data, file_name=report.file_name, spec=spec, freq=freq, today=today or _today(ws),
                             staging=staging, sheet=sheet, max_bytes=max_bytes, timezone=ws.config.timezone,
                             ministry_code=args["ministry_code"])
        checked.problems.sort(key=lambda p: (p.row or 0))
        if not checked.ok:
            with lock, wh.connect() as con, transaction(con):
                a = _attempt(con, sha, checked, args)
                receipt = _receipt(a, checked, status="rejected", rows_accepted=0, periods=[], kpi_values=None)
                receipt["archived"] = archived
                store.insert(con, a, status="rejected", periods=[], rows_total=checked.rows_total, rows_accepted=0,
                             errors=checked.errors, warnings=checked.warnings, report=checked.to_json(),
                             receipt=receipt)
                audit.record(con, actor=a.submitted_by, role=a.role, action="submission.submit",
                             target=f"{a.kpi_id}/{a.ministry_code}", outcome="rejected",
                             detail={"submission_id": a.submission_id, "sha256": sha, "errors": checked.errors,
                                     "file_name": a.file_name}, client=a.origin)
            return SubmissionOutcome("rejected", checked, a.submission_id, receipt,
                                     f"rejected: {checked.errors} error(s); nothing was loaded / "
                                     f"受理できません: エラー {checked.errors} 件（データは読み込んでいません）")
        period_rows = staging.periods()
        periods = [p for p, _ in period_rows]
        with lock, wh.connect() as con:
            # both locks are held from here on: no other writer can slip in between this check and the load
            twin = store.accepted_twin(con, args["kpi_id"], args["ministry_code"], sha)
            if twin is not None:  # an identical file was accepted while this one was being checked
                return _duplicate(con, twin, sha, checked, args)
            a, changes, supersedes = bounded.within_memory(
                con, bounded.LOAD_MEMORY_LIMIT, lambda: _accept(con, sha, checked, args, staging, periods, period_rows))
            kpi_values = recompute(ws, con, a.kpi_id, periods, from_catalogue)
            receipt = _receipt(a, checked, status="accepted", rows_accepted=checked.rows_valid, periods=changes,
                               kpi_values=kpi_values)
            receipt["supersedes"] = supersedes
            store.set_receipt(con, a.submission_id, receipt)
    note = f", superseding {', '.join(map(str, supersedes))}" if supersedes else ""
    return SubmissionOutcome("accepted", checked, a.submission_id, receipt,
                             f"accepted: {checked.rows_valid} rows loaded{note} / 受理しました（{checked.rows_valid} 行）")


def _accept(con: Any, sha: str, checked: Report, args: dict[str, Any], staging: Any, periods: list[date],
            period_rows: list[Any]) -> tuple[store.Attempt, list[dict[str, Any]], list[int]]:
    """The accepted file's values in, the versions they supersede marked, the audit entry: one transaction."""
    with transaction(con):
        a = _attempt(con, sha, checked, args)
        store.insert(con, a, status="accepted", periods=periods, rows_total=checked.rows_total,
                     rows_accepted=checked.rows_valid, errors=0, warnings=checked.warnings,
                     report=checked.to_json(), receipt=None)
        store.load_values(con, a.submission_id, a.kpi_id, a.ministry_code, staging)
        changes = store.supersede(con, a.submission_id, a.kpi_id, a.ministry_code, period_rows)
        supersedes = sorted({c["supersedes"] for c in changes if c["supersedes"]})
        if supersedes:
            con.execute("UPDATE submissions SET supersedes = ? WHERE submission_id = ?",
                        [supersedes[-1], a.submission_id])
        audit.record(con, actor=a.submitted_by, role=a.role, action="submission.submit",
                     target=f"{a.kpi_id}/{a.ministry_code}", outcome="ok",
                     detail={"submission_id": a.submission_id, "sha256": sha, "rows": checked.rows_valid,
                             "periods": [p.isoformat() for p in periods], "supersedes": supersedes},
                     client=a.origin)
        bounded.before_commit(con)
    return a, changes, supersedes


def _receipt(a: store.Attempt, report: Report, *, status: str, rows_accepted: int, periods: list[dict[str, Any]],
             kpi_values: dict[str, Any] | None, duplicate_of: int | None = None) -> dict[str, Any]:
    return {
        "submission_id": a.submission_id, "status": status, "kpi_id": a.kpi_id, "ministry_code": a.ministry_code,
        "submitted_by": a.submitted_by, "role": a.role, "submitted_at": a.submitted_at.isoformat(),
        "origin": a.origin, "file_name": a.file_name, "file_sha256": a.file_sha256,
        "file_format": report.file_format, "encoding": report.encoding, "sheet": report.sheet,
        "rows_total": report.rows_total, "rows_accepted": rows_accepted, "errors": report.errors,
        "warnings": report.warnings, "duplicate_of": duplicate_of,
        "periods": [{**p, "period": p["period"].isoformat() if hasattr(p["period"], "isoformat") else p["period"]}
                    for p in periods],
        "kpi_values": kpi_values,
    }


def _kpi_snapshot(con: duckdb.DuckDBPyConnection, kpi_id: str) -> dict[tuple, tuple]:
    rows = con.execute(
        "SELECT level, entity_code, period, version, value, status FROM kpi_values WHERE kpi_id = ?", [kpi_id]
    ).fetchall()
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in rows}


def recompute(ws: Workspace, con: duckdb.DuckDBPyConnection, kpi_id: str, periods: list[date],
              from_catalogue: bool = True) -> dict[str, Any]:
    """Ask the KPI engine to recompute this KPI for these periods; report which kpi_values changed."""
    if not from_catalogue:
        return {"changed": 0, "sample": [], "note": "KPI definition supplied by the caller, not in the catalogue; "
                "not recomputed"}
    try:
        found = catalogue.engine(ws)
    except Exception as exc:  # noqa: BLE001 - e.g. an invalid catalogue: the submission stands, values are stale
        return {"changed": 0, "sample": [], "note": f"KPI catalogue not loadable ({exc}); run `observatory kpi compute`"}
    if found is None:
        return {"changed": 0, "sample": [], "note": "KPI engine not available; run `observatory kpi compute` / "
                "KPI計算エンジン未導入"}
    run, cat = found
    before = _kpi_snapshot(con, kpi_id)
    try:
        run(con, cat, tables=["submission_values"], kpi_ids=[kpi_id], periods=periods, timezone=ws.config.timezone)
    except Exception as exc:  # noqa: BLE001 - the data is committed; a failed recompute is reported, not fatal
        return {"changed": 0, "sample": [], "note": f"recompute failed: {type(exc).__name__}: {exc}; "
                "run `observatory kpi compute`"}
    after = _kpi_snapshot(con, kpi_id)
    changed = [k for k in after.keys() | before.keys() if before.get(k) != after.get(k)]
    changed.sort(key=lambda k: (k[2], k[0], k[1]))
    sample = [{"kpi_id": kpi_id, "level": k[0], "entity_code": k[1], "period": k[2].isoformat(), "version": k[3],
               "old": (before.get(k) or (None,))[0], "new": (after.get(k) or (None,))[0],
               "status": (after.get(k) or (None, None))[1]} for k in changed[:KPI_CHANGE_SAMPLE]]
    return {"changed": len(changed), "sample": sample, "note": "recomputed / 再計算済み"}


def list_submissions(con: duckdb.DuckDBPyConnection, *, user: User, role: str | None = None,
                     kpi_id: str | None = None, status: str | None = None, ministry_code: str | None = None,
                     limit: int = 200) -> list[dict[str, Any]]:
    """Submissions the user may see, newest first (a ministry user: only their ministry's). `ministry_code`
    narrows the list; asking for another ministry than one's own is refused."""
    visible = access.visible_ministry(user, role)
    if visible is not None and ministry_code not in (None, visible):
        raise PermissionDenied(f"ministry {ministry_code}: {user.username} sees only {visible} / "
                               f"{visible} 以外の提出データは閲覧できません")
    return store.summaries(con, ministry_code=visible or ministry_code, kpi_id=kpi_id, status=status, limit=limit)


def get_submission(con: duckdb.DuckDBPyConnection, submission_id: int, user: User, role: str | None = None,
                   *, changes: int = 50) -> dict[str, Any]:
    """One submission with its report, receipt, per-period history and value changes; checked and audited."""
    ministry = access.visible_ministry(user, role)
    row = store.one(con, submission_id)
    if row is None:
        raise NotFound(f"no submission {submission_id} / 受付番号 {submission_id} はありません")
    if ministry is not None and row["ministry_code"] != ministry:
        audit.record(con, actor=user.username, role=access.acting_role(user, role), action="submission.view",
                     target=str(submission_id), outcome="denied")
        raise PermissionDenied(f"submission {submission_id} belongs to another ministry / 他府省の提出データです")
    row["history"] = store.period_history(con, submission_id)
    row["changes"] = store.changed_rows(con, submission_id, changes)
    row["versions"] = store.summaries(con, ministry_code=row["ministry_code"], kpi_id=row["kpi_id"], limit=50)
    audit.record(con, actor=user.username, role=access.acting_role(user, role), action="submission.view",
                 target=str(submission_id), outcome="ok")
    return row
