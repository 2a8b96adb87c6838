"""Alert lifecycle storage: transitions, history, permissions, audit, bulk actions and triage figures."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from observatory.errors import NotFound, PermissionDenied, UserError
from observatory.security import alerts as store
from observatory.security import audit
from observatory.security.alerts import Actor, DetectedAlert
from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace

ANALYST = Actor("sato", ("security",))
LEAD = Actor("suzuki", ("security",))
CIO = Actor("cio1", ("cio",))
MINISTRY = Actor("min1", ("ministry",))
DAY = date(2026, 10, 5)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws, _ = init_workspace(tmp_path_factory.mktemp("alerts") / "ws")
    return ws


@pytest.fixture
def con(ws):
    with for_workspace(ws).connect() as c:
        yield c


def _found(staff: str, first: date = DAY, last: date | None = None, scenario: str = "household",
           score: float = 6.0, severity: str = "high", events: tuple[str, ...] = ("E1", "E2")) -> DetectedAlert:
    reason = {"code": scenario, "text_ja": "案件なしで同一世帯の記録を2件閲覧",
              "text_en": "viewed 2 records in own household without a case",
              "evidence": {"score": score, "subjects": ["p:abc", "p:def"]}}
    return DetectedAlert(staff_id=staff, org_code="131016", first_seen=first, last_seen=last or first, score=score,
                         severity=severity, scenarios=[scenario], reasons=[reason], event_ids=list(events),
                         baseline={"role": "caseworker"})


def test_lifecycle_transitions_and_full_history(con):
    alert_id, action = store.upsert_detected(con, _found("S-life"))
    assert action == "created"
    store.assign(con, ANALYST, alert_id, "sato")
    store.set_status(con, ANALYST, alert_id, "investigating", note="asked the unit head")
    store.add_note(con, ANALYST, alert_id, "the relative had no procedure that week")
    a = store.set_status(con, ANALYST, alert_id, "true_positive", note="confirmed")
    assert a["status"] == "true_positive" and a["closed_at"] is not None and a["assignee"] == "sato"
    hist = store.history(con, ANALYST, alert_id)
    assert [(h["action"], h["from_status"], h["to_status"]) for h in hist] == [
        ("created", None, "new"), ("assigned", None, None), ("status", "new", "investigating"),
        ("note", None, None), ("status", "investigating", "true_positive")]
    assert [h["note"] for h in hist][2:] == ["asked the unit head", "the relative had no procedure that week",
                                             "confirmed"]
    # the notes may describe the person under investigation: the security role's, as the evidence
    assert [h["note"] for h in store.history(con, CIO, alert_id)] == [
        store.NOTE_WITHHELD if h["note"] else h["note"] for h in hist]
    # closed -> new is not a transition; reopening goes back to investigating
    with pytest.raises(UserError, match="cannot go from true_positive to new"):
        store.set_status(con, ANALYST, alert_id, "new")
    assert store.set_status(con, LEAD, alert_id, "investigating")["closed_at"] is None


def test_bad_status_and_unknown_alert_are_user_errors(con):
    alert_id, _ = store.upsert_detected(con, _found("S-bad"))
    with pytest.raises(UserError, match="not one of"):
        store.set_status(con, ANALYST, alert_id, "closed")
    with pytest.raises(NotFound, match="no such alert"):
        store.get_alert(con, ANALYST, 99_999_999)
    with pytest.raises(UserError, match="empty"):
        store.add_note(con, ANALYST, alert_id, "  ")


def test_typed_text_longer_than_its_field_is_refused_on_the_server(con):
    """The pages limit a note to 2,000 characters and an assignee to 80; a request that skips the page (a probe
    stored a 5 MB note and a 1 MB assignee) is held to the same limits."""
    alert_id, _ = store.upsert_detected(con, _found("S-long"))
    before = store.history(con, ANALYST, alert_id)
    with pytest.raises(UserError, match="at most 2,000"):
        store.add_note(con, ANALYST, alert_id, "x" * 2001)
    with pytest.raises(UserError, match="at most 2,000"):
        store.set_status(con, ANALYST, alert_id, "investigating", note="x" * 2001)
    with pytest.raises(UserError, match="at most 80"):
        store.assign(con, ANALYST, alert_id, "y" * 81)
    assert store.history(con, ANALYST, alert_id) == before
    assert store.get_alert(con, ANALYST, alert_id)["status"] == "new"
    store.add_note(con, ANALYST, alert_id, "x" * 2000)
    assert store.assign(con, ANALYST, alert_id, "y" * 80)["assignee"] == "y" * 80


def test_permissions_and_audit(con):
    alert_id, _ = store.upsert_detected(con, _found("S-perm"))
    with pytest.raises(PermissionDenied):
        store.evidence(con, CIO, alert_id)
    with pytest.raises(PermissionDenied):
        store.set_status(con, CIO, alert_id, "investigating")
    with pytest.raises(PermissionDenied):
        store.list_alerts(con, MINISTRY)
    denied = audit.entries(con, actor="cio1", action="alerts.evidence")
    assert denied and denied[0]["outcome"] == "denied"
    # the CIO's office sees the alert and its reasons, not who was looked up or which events
    seen = store.get_alert(con, CIO, alert_id)
    assert seen["event_ids"] is None and "evidence" not in seen["reasons"][0]
    full = store.get_alert(con, ANALYST, alert_id)
    assert full["reasons"][0]["evidence"]["subjects"] == ["p:abc", "p:def"]
    assert audit.entries(con, actor="sato", action="alerts.get")[0]["target"] == str(alert_id)


def test_evidence_reads_the_event_archive(ws, con):
    import pandas as pd

    part = ws.events_dir / "month=2026-10"
    part.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame({"event_id": ["EV-1", "EV-2", "EV-3"], "staff_id": ["S-ev"] * 3})
    con.register("_e", df)
    con.execute(f"COPY (SELECT event_id, TIMESTAMPTZ '2026-10-05 10:00:00+09' AS occurred_at, staff_id, "
                f"'131016' AS org_code, 'p:abc' AS subject_id, 'view' AS action, 'resident' AS record_type, "
                f"NULL::VARCHAR AS case_id, 1 AS record_count, '131016-HQ-1' AS terminal_id, NULL::BIGINT AS run_id "
                f"FROM _e) TO '{part / 'part-00000.parquet'}' (FORMAT parquet)")
    from observatory.warehouse import refresh_access_view

    refresh_access_view(con, ws.events_dir)
    alert_id, _ = store.upsert_detected(con, _found("S-ev", events=("EV-1", "EV-3")))
    rows = store.evidence(con, ANALYST, alert_id)
    assert [r["event_id"] for r in rows] == ["EV-1", "EV-3"]
    assert audit.entries(con, actor="sato", action="alerts.evidence")[0]["detail"]


def test_list_filters_and_order(con):
    low, _ = store.upsert_detected(con, _found("S-l1", scenario="neighbour", score=4.5, severity="low"))
    crit, _ = store.upsert_detected(con, _found("S-l2", scenario="terminated", score=10, severity="critical"))
    store.assign(con, ANALYST, low, "tanaka")
    rows = store.list_alerts(con, ANALYST, status="new")
    ids = [r["alert_id"] for r in rows]
    assert ids.index(crit) < ids.index(low)  # most severe first
    assert [r["alert_id"] for r in store.list_alerts(con, ANALYST, scenario="terminated")] == [crit]
    assert [r["alert_id"] for r in store.list_alerts(con, ANALYST, assignee="tanaka")] == [low]
    assert all(r["org_code"] == "131016" for r in store.list_alerts(con, CIO, org="131016"))
    with pytest.raises(UserError):
        store.list_alerts(con, ANALYST, status="done")


def test_related_and_bulk(con):
    a1, _ = store.upsert_detected(con, _found("S-rel", first=DAY))
    a2, _ = store.upsert_detected(con, _found("S-rel", first=DAY + timedelta(days=20), scenario="curiosity"))
    assert a1 != a2
    assert [r["alert_id"] for r in store.related(con, ANALYST, a1)] == [a2]
    result = store.bulk(con, ANALYST, [a1, a2, 123456789], status="false_positive", assignee="sato", note="test data")
    assert result[a1] == "ok" and result[a2] == "ok" and "no such alert" in result[123456789]
    assert {store.get_alert(con, ANALYST, a)["status"] for a in (a1, a2)} == {"false_positive"}


def test_upsert_merges_open_episode_and_respects_closed(con):
    a, action = store.upsert_detected(con, _found("S-up", first=DAY))
    assert action == "created"
    assert store.upsert_detected(con, _found("S-up", first=DAY)) == (a, "unchanged")
    b, action = store.upsert_detected(con, _found("S-up", first=DAY + timedelta(days=1), scenario="neighbour",
                                                  events=("E3",)))
    assert (b, action) == (a, "updated")
    merged = store.get_alert(con, ANALYST, a)
    assert merged["scenarios"] == ["household", "neighbour"] and merged["event_ids"] == ["E1", "E2", "E3"]
    assert merged["last_seen"] == DAY + timedelta(days=1)
    store.set_status(con, ANALYST, a, "false_positive")
    assert store.upsert_detected(con, _found("S-up", first=DAY))[1] == "closed"
    # evidence well after the closed episode is a new alert
    c, action = store.upsert_detected(con, _found("S-up", first=DAY + timedelta(days=10)))
    assert action == "created" and c != a


def test_benign_suppression_rows(con):
    a, _ = store.upsert_detected(con, _found("S-ben", first=DAY, scenario="neighbour"))
    store.set_status(con, ANALYST, a, "benign", suppression_days=30)
    assert ("S-ben", "neighbour") in store.active_suppressions(con, DAY + timedelta(days=30))
    assert ("S-ben", "neighbour") not in store.active_suppressions(con, DAY + timedelta(days=31))
    store.set_status(con, ANALYST, a, "investigating")  # reopened: the suppression is withdrawn
    assert ("S-ben", "neighbour") not in store.active_suppressions(con, DAY)


def test_per_day_triage_times_and_export(con):
    a, _ = store.upsert_detected(con, _found("S-exp", first=DAY + timedelta(days=2)))
    per_day = store.alerts_per_day(con, CIO, DAY, DAY + timedelta(days=3), budget=2.0)
    assert [r["day"] for r in per_day] == [DAY + timedelta(days=i) for i in range(4)]
    assert per_day[2]["alerts"] >= 1 and per_day[2]["budget"] == 2.0
    store.assign(con, ANALYST, a, "sato")
    t = store.triage_times(con, CIO)
    assert t["total"] >= 1 and t["median_hours_to_first_action"] is not None and t["open"] >= 1
    rows = store.export_rows(con, ANALYST, status="open")
    mine = next(r for r in rows if r["alert_id"] == a)
    assert set(mine) >= {"alert_id", "staff_id", "org_code", "first_seen", "last_seen", "score", "severity",
                         "status", "reasons", "event_ids"}
    assert mine["reasons"][0]["code"] == "household" and "own household" in mine["reasons"][0]["text"]
    assert mine["event_ids"] == ["E1", "E2"]
    assert next(r for r in store.export_rows(con, CIO) if r["alert_id"] == a)["event_ids"] == []


def test_a_later_day_extending_an_alert_keeps_the_recurrence_it_rests_on(con):
    """An alert raised on a recurrence (one reason on separate days: anomaly.alerts.recurrences) names the code and
    its days in its baseline, which the alerts page shows. A later run's episode that extends the alert without a
    recurrence of its own brings the latest peers and floor, and the recurrence stays; one it repeats is not
    doubled, and a new one is added."""
    recurrence = {"code": "sensitive", "days": [DAY - timedelta(days=9), DAY], "evidence": 5.6}
    first = _found("S-recur")
    first.baseline = {"role": "caseworker", "floor": 5.32, "recurrence": [recurrence]}
    alert_id, _ = store.upsert_detected(con, first)
    later = _found("S-recur", first=DAY + timedelta(days=1), events=("E3",))
    later.baseline = {"role": "caseworker", "floor": 5.4}
    assert store.upsert_detected(con, later) == (alert_id, "updated")
    stored = store.get_alert(con, ANALYST, alert_id)["baseline"]
    assert stored["floor"] == 5.4
    assert stored["recurrence"] == [{"code": "sensitive", "days": [str(d) for d in recurrence["days"]],
                                     "evidence": 5.6}]
    again = _found("S-recur", first=DAY + timedelta(days=2), events=("E4",))
    another = {"code": "neighbour", "days": [DAY - timedelta(days=5), DAY + timedelta(days=2)], "evidence": 5.5}
    again.baseline = {"role": "caseworker", "floor": 5.4, "recurrence": [recurrence, another]}
    store.upsert_detected(con, again)
    codes = [r["code"] for r in store.get_alert(con, ANALYST, alert_id)["baseline"]["recurrence"]]
    assert codes == ["sensitive", "neighbour"]
