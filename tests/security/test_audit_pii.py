"""What people type (a user name at sign-in, URL parameters, triage notes, an assignee) never puts an Individual
Number in clear into the append-only audit log or the alert history: both are masked as they are written."""

from __future__ import annotations

from datetime import date

import pytest

from observatory.security import alerts as store
from observatory.security import audit
from observatory.security.alerts import Actor, DetectedAlert
from observatory.security.scan import ScanResult, scan_database
from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace
from tests.security.test_pseudonym_finder import PROBE

N = PROBE[0]
ANALYST = Actor("sato", ("security",))


@pytest.fixture
def ws(tmp_path):
    ws, _ = init_workspace(tmp_path / "ws")
    return ws


def _findings(con) -> list[str]:
    result = ScanResult()
    scan_database(con, result, "wh")
    return [f.line() for f in result.findings]


def test_audit_entries_mask_individual_numbers_and_the_chain_still_verifies(ws) -> None:
    with for_workspace(ws).connect() as con:
        audit.record(con, actor=N, action="signin", outcome="failed", detail={"reason": "bad_credentials"})
        audit.record(con, actor="sec1", action="dashboard.alerts.view", target=f"{N[:4]}-{N[4:8]}-{N[8:]}",
                     detail={"assignee": N, "note": f"本人 {N} に確認"})
        rows = con.execute("SELECT actor, target, CAST(detail AS VARCHAR) FROM audit_log ORDER BY audit_id").fetchall()
        assert all(N not in str(value).replace("-", "") for row in rows for value in row), rows
        assert rows[0][0] == "********" + N[-4:]
        assert _findings(con) == []
        audit.seal(con, ws.home)
        assert audit.verify_chain(con, ws.home) == []


def test_triage_notes_and_assignees_are_masked(ws) -> None:
    found = DetectedAlert(staff_id="S1", org_code="131016", first_seen=date(2026, 10, 5), last_seen=date(2026, 10, 5),
                          score=6.0, severity="high", scenarios=["household"], reasons=[], event_ids=["E1"])
    with for_workspace(ws).connect() as con:
        aid, _ = store.upsert_detected(con, found)
        store.add_note(con, ANALYST, aid, f"called the subject, number {N}")
        store.set_status(con, ANALYST, aid, "investigating", note=f"番号 {N[:4]} {N[4:8]} {N[8:]}")
        store.assign(con, ANALYST, aid, N)
        notes = [r["note"] for r in store.history(con, ANALYST, aid)]
        assert all(N not in (n or "").replace(" ", "") for n in notes), notes
        assert _findings(con) == []


def test_a_number_in_a_detail_is_masked_and_the_entry_still_written(ws) -> None:
    """Masking the detail's JSON text turned a 12-digit number into ********9012, invalid JSON the column refused:
    the audited action itself would have failed."""
    with for_workspace(ws).connect() as con:
        audit.record(con, actor="sec1", action="x", detail={"count": int(N), "ids": [N, 3], N: "key"})
        [(detail,)] = con.execute("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'x'").fetchall()
        assert N not in detail and N[-4:] in detail
        assert _findings(con) == []
