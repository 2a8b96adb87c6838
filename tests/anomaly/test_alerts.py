"""Episodes -> alerts: grouping, idempotent re-runs, closed alerts never reopened, benign suppression."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from pydantic import ValidationError

import anomaly
from anomaly.alerts import budget_for, combined_days, day_scores, fisher, significance_floor
from observatory.config import AlertSettings
from observatory.security import alerts as store
from observatory.security.alerts import Actor
from observatory.warehouse import for_workspace
from tests.anomaly import world as w

ANALYST = Actor("sato", ("security",))


def _household(built: w.World, day: date, subjects=(1, 2)) -> None:
    for i, s in enumerate(subjects):
        built.event("CW1", day, 10 + i / 10, w.rid(s))


def _detect(built: w.World, since: date = w.START):
    built.flush()
    return anomaly.detect(built.ws, built.ws.config, since=since)


def test_consecutive_days_and_scenarios_make_one_alert(built):
    w.ordinary_test_day(built)
    _household(built, w.TEST_DAY - timedelta(days=1))
    for i in range(5):  # next day, another scenario by the same person
        built.event("CW1", w.TEST_DAY, 16 + i / 10, w.rid(400 + i))
    result = _detect(built)
    a = w.alerts(built.ws)
    assert len(a) == 1, result.summary()
    row = a.iloc[0]
    assert row["staff_id"] == "CW1"
    assert set(row["scenarios"]) == {"household", "out_of_jurisdiction"}
    assert row["first_seen"] == w.TEST_DAY - timedelta(days=1) and row["last_seen"] == w.TEST_DAY
    assert row["severity"] in ("high", "critical")
    assert len(row["event_ids"]) == 7


def test_rerun_is_idempotent_and_new_evidence_updates_the_open_alert(built):
    _household(built, w.TEST_DAY - timedelta(days=1))
    first = _detect(built)
    assert len(first.created) == 1
    again = _detect(built)
    assert again.created == [] and again.unchanged == 1
    assert len(w.alerts(built.ws)) == 1
    # the next day's collection brings more of the same: the open alert grows, no second alert
    _household(built, w.TEST_DAY, subjects=(3, 0))
    w.ordinary_test_day(built)
    third = _detect(built, since=w.TEST_DAY)
    a = w.alerts(built.ws)
    assert len(a) == 1 and third.updated == first.created
    assert a.iloc[0]["last_seen"] == w.TEST_DAY and len(a.iloc[0]["event_ids"]) == 4
    with for_workspace(built.ws).connect() as con:
        hist = store.history(con, ANALYST, int(a.iloc[0]["alert_id"]))
    assert [h["action"] for h in hist] == ["created", "updated"]


def test_closed_alert_is_never_reopened_or_duplicated(built):
    _household(built, w.TEST_DAY - timedelta(days=1))
    first = _detect(built)
    alert_id = first.created[0]
    with for_workspace(built.ws).connect() as con:
        store.set_status(con, ANALYST, alert_id, "true_positive", note="confirmed with the manager")
    again = _detect(built)
    a = w.alerts(built.ws)
    assert len(a) == 1 and a.iloc[0]["status"] == "true_positive"
    assert again.created == [] and again.updated == []


def test_benign_closure_suppresses_the_same_pattern(built):
    _household(built, w.START + timedelta(days=10))
    first = _detect(built)
    with for_workspace(built.ws).connect() as con:
        store.set_status(con, ANALYST, first.created[0], "benign", note="her own family's procedure at the desk",
                         suppression_days=built.ws.config.alerts.benign_suppression_days)
    # the same person and kind of access again a week and a half later: suppressed
    _household(built, w.TEST_DAY, subjects=(1, 2, 3))
    w.ordinary_test_day(built)
    second = _detect(built, since=w.TEST_DAY)
    assert second.created == [] and second.suppressed >= 1
    # a different kind of access by the same person is still raised
    for i in range(5):
        built.event("CW1", w.TEST_DAY, 16 + i / 10, w.rid(400 + i))
    third = _detect(built, since=w.TEST_DAY)
    a = w.alerts(built.ws)
    assert len(third.created) == 1
    assert list(a[a["alert_id"] == third.created[0]].iloc[0]["scenarios"]) == ["out_of_jurisdiction"]
    with for_workspace(built.ws).connect() as con:
        labels = store.feedback(con)
    assert [(x["scenario"], x["label"]) for x in labels] == [("household", "benign")]


def test_budget_caps_alerts_most_suspicious_first(built):
    """Five people misbehave on one day; the budget (2 a day) keeps the two most suspicious."""
    built.ws.config.alerts.per_1000_staff_days = 1000.0
    built.ws.config.alerts.daily_budget = 2.0 / 30  # two alerts over the 30-day budget period
    for i in range(5):
        built.event("CW1", w.TEST_DAY, 16 + i / 10, w.rid(400 + i))  # strong: 5 out of jurisdiction
    built.event("TX1", w.TEST_DAY, 10, w.rid(200))  # critical: account used after termination
    _household(built, w.TEST_DAY)
    built.event("CW4", w.TEST_DAY, 14, w.rid(60))
    w.ordinary_test_day(built)
    result = _detect(built)
    a = w.alerts(built.ws)
    assert result.budget == 2 and len(a) == 2 and result.over_budget >= 1
    assert "TX1" in set(a["staff_id"])
    assert result.threshold is not None and (a["score"] >= result.threshold).all()


def test_floor_and_budget_arithmetic():
    assert significance_floor(1.0, n_tests=1) == 4.0
    assert significance_floor(10.0, n_tests=1) == 3.0
    assert abs(significance_floor(1.0, n_tests=10) - 5.0) < 1e-12
    assert budget_for(30, 75_000, 2.0, 1.0) == 60
    assert budget_for(1, 2_500, 2.0, 1.0) == 2
    assert budget_for(30, 300, 2.0, 1.0) == 1  # a small office: at least one alert a period (below)
    assert budget_for(30, 0, 2.0, 1.0) == 0  # no staff-days, nothing to alert on


def test_a_small_office_at_the_default_budget_can_still_raise_an_alert(built):
    """Thirteen staff over three weeks are some 270 staff-days: at the default ceiling of 1 alert per 1,000
    staff-days the budget rounded down to 0, so no incident in a village office could ever be raised. The floor
    (evidence against chance) is what keeps false alarms rare; the budget only caps the analysts' queue."""
    built.ws.config.alerts.per_1000_staff_days = 1.0
    w.ordinary_test_day(built)
    built.event("TX1", w.TEST_DAY, 10, w.rid(200))  # critical: the account used after its holder left
    result = _detect(built)
    assert result.budget >= 1, result.summary()
    assert "TX1" in set(w.alerts(built.ws)["staff_id"]), result.summary()


def test_chance_share_sets_the_floor_and_the_same_episode_is_held_back_or_raised(built):
    """alerts.chance_share is the share of the budget chance may fill: a tenth of it puts the floor one decade
    higher than all of it, and an episode scoring between the two floors is raised only under the lower one."""
    assert abs(significance_floor(1.0, 0.01, n_tests=1) - significance_floor(1.0, 0.1, n_tests=1) - 1.0) < 1e-12
    w.ordinary_test_day(built)
    built.event("CW1", w.TEST_DAY, 16, w.rid(400))  # one look-up out of the area: moderate evidence
    built.flush()
    runs = {}
    for share in (0.1, 0.01):
        built.ws.config.alerts.chance_share = share
        with for_workspace(built.ws).connect() as con:
            con.execute("DELETE FROM alerts")
        result = anomaly.detect(built.ws, built.ws.config, since=w.START)
        runs[share] = (result, w.alerts(built.ws))
        assert f"{100 * share:g} % of the budget" in result.diagnostics()[1]
    (high, raised), (low, held) = runs[0.1], runs[0.01]
    assert abs(low.floor - high.floor - 1.0) < 1e-9
    assert list(raised["staff_id"]) == ["CW1"], high.summary()
    assert high.floor <= raised["score"].iloc[0] < low.floor  # the episode lies between the two floors
    assert held.empty and low.candidates == 0


def test_chance_share_must_be_a_share():
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValidationError):
            AlertSettings(chance_share=bad)
    assert AlertSettings().chance_share == 0.1


def test_fisher_combination():
    """Two p = 0.01 findings are stronger than one but weaker than p = 0.0001; one finding is itself."""
    assert fisher([2.0]) == 2.0
    both = fisher([2.0, 2.0])
    assert 2.0 < both < 4.0
    f = pd.DataFrame({"staff_id": ["a", "a", "b"], "day": [w.TEST_DAY] * 3, "code": ["household", "neighbour",
                      "household"], "evidence": [2.0, 2.0, 5.0]})
    s = day_scores(f).set_index("staff_id")["rule_score"]
    assert abs(s["a"] - both) < 1e-9 and s["b"] == 5.0


def test_episode_days_combine_but_chance_does_not():
    """Two or three weak days of one episode cross the floor that neither crosses alone; a single day scores
    as itself; a fortnight of the everyday p ~ 0.1 findings (after paying for the codes) never does."""
    floor = significance_floor(1.0)
    d0 = w.TEST_DAY
    assert combined_days([d0], [4.4]) == 4.4
    two = combined_days([d0, d0 + timedelta(days=1)], [4.4, 4.4])
    assert two >= floor > 4.4
    assert combined_days([d0, d0 + timedelta(days=2), d0 + timedelta(days=4)], [4.3, 4.3, 4.3]) >= floor
    # the same two days far apart are not one run: no combination beyond the worst day
    assert combined_days([d0, d0 + timedelta(days=30)], [4.4, 4.4]) == 4.4
    # quiet days in between dilute: two weak days a week apart are weaker than on consecutive days
    assert combined_days([d0, d0 + timedelta(days=7)], [4.4, 4.4]) < two
    everyday = [d0 + timedelta(days=i) for i in range(14)]
    assert combined_days(everyday, [2.2] * 14) < floor
    # the learned model's term is not a p-value: added once per run (its largest), never summed over days
    pair = [d0, d0 + timedelta(days=1)]
    assert combined_days([d0], [4.0], model=[0.8]) == 4.8
    assert abs(combined_days(pair, [4.0, 4.0], model=[1.0, 0.5]) - (combined_days(pair, [4.0, 4.0]) + 1.0)) < 1e-9


def test_analyst_verdicts_travel_to_new_candidates_of_the_same_pattern(built):
    """A few closures are enough (no 30-alert minimum): confirmed household alerts in the organisation raise a
    new household candidate's expected confirmation, and the alert says on how many verdicts it rests."""
    from anomaly.explain import reason
    from observatory.security.alerts import DetectedAlert

    with for_workspace(built.ws).connect() as con:
        for i in range(6):
            code = "household" if i % 2 else "neighbour"
            found = DetectedAlert(staff_id=f"OLD{i}", org_code=w.ORG, first_seen=w.START, last_seen=w.START,
                                  score=5.0, severity="high", scenarios=[code],
                                  reasons=[reason(code, {"score": 5.0 + i % 3, "n": 2})], event_ids=[f"X{i}"])
            alert_id, _ = store.upsert_detected(con, found)
            store.set_status(con, ANALYST, alert_id, "true_positive" if code == "household" else "false_positive")
    _household(built, w.TEST_DAY)
    w.ordinary_test_day(built)
    _detect(built)
    a = w.alerts(built.ws)
    import json

    baseline = json.loads(a[a["staff_id"] == "CW1"].iloc[0]["baseline"])
    assert baseline["analyst_confirmation_probability"] > 0.8
    assert baseline["similar_verdicts_in_org"] == 3 and baseline["feedback_shift"] > 0


def test_incremental_run_combines_the_episode_across_its_boundary(built):
    """Day A is detected in one run, day B of the same episode in the next (since B): the alert is scored on
    both days together (stored findings of the days before the window are read back), not on B alone."""
    day_a, day_b = w.TEST_DAY - timedelta(days=1), w.TEST_DAY
    _household(built, day_a, subjects=(1, 2))
    first = _detect(built)
    _household(built, day_b, subjects=(3, 0))
    w.ordinary_test_day(built)
    second = _detect(built, since=day_b)
    a = w.alerts(built.ws)
    assert len(a) == 1, second.summary()
    row = a.iloc[0]
    assert row["first_seen"] == day_a and row["last_seen"] == day_b
    f = w.findings(built.ws, "CW1")
    ev = {d: float(f[(f["day"] == d) & (f["code"] == "household")]["evidence"].max()) for d in (day_a, day_b)}
    together = combined_days([day_a, day_b], [ev[day_a], ev[day_b]])
    assert together > max(ev.values())
    assert row["score"] >= together - 1e-6
    assert first.created and (second.updated == first.created)
    assert {r["evidence"]["day"] for r in json.loads(row["reasons"])} >= {day_a.isoformat()}


def test_stored_unexplained_accesses_stay_one_row_per_staff_person_and_day(built):
    """Overlapping runs (full, then from three days back, then the last day alone) replace their window's rows:
    the low-and-slow test counts a pair's rows as its days (anomaly.scenarios.low_and_slow)."""
    _household(built, w.TEST_DAY - timedelta(days=2))
    w.ordinary_test_day(built)
    for since in (w.START, w.TEST_DAY - timedelta(days=3), w.TEST_DAY):
        _detect(built, since=since)
    with for_workspace(built.ws).connect() as con:
        rows, keys = con.execute("SELECT count(*), count(DISTINCT (staff_id, subject_id, day)) "
                                 "FROM anomaly_unexplained").fetchone()
    assert rows > 0 and rows == keys


def test_accounts_the_staff_roster_does_not_know_are_named_in_the_runs_diagnostics(built):
    """An account in the log with no roster entry has no holder, role or unit, so no peers: the run says so (how
    many, their staff-days and events, one of them) instead of reading its accesses silently with no peers."""
    w.ordinary_test_day(built)
    for k in range(5):
        built.event("ZZ999", w.TEST_DAY, 10 + k / 10, w.rid(300 + k))
    result = _detect(built)
    assert result.unrostered["accounts"] == 1 and result.unrostered["example"] == "ZZ999"
    assert result.unrostered["events"] == 5
    assert any(line.startswith("accounts not in the staff roster: 1 (1 staff-days, 5 events), e.g. ZZ999")
               for line in result.diagnostics()), result.diagnostics()


def test_a_reason_seen_on_several_days_of_an_episode_says_so_with_all_its_events():
    """The reason's figures are its strongest day's: an account used after its holder left on three days reads
    '2 accesses' from that day, and the episode's three days and six events are said alongside (the alert holds
    all six)."""
    from anomaly.alerts import Episode, to_alert

    rows = pd.DataFrame({"code": ["terminated"] * 3, "day": [date(2026, 10, d) for d in (5, 6, 7)],
                         "evidence": [6.0, 7.0, 6.5], "observed": [2.0, 2.0, 2.0], "expected": [0.0] * 3,
                         "n_subjects": [2, 2, 2], "subjects": [["p:a", "p:b"], ["p:c", "p:d"], ["p:e", "p:f"]],
                         "event_ids": [["E1", "E2"], ["E3", "E4"], ["E5", "E6"]],
                         "detail": [{"terminated_on": "2026-10-01"}] * 3})
    alert = to_alert(Episode("TX1", date(2026, 10, 5), date(2026, 10, 7), 9.0, rows), "131016", {})
    [r] = alert.reasons
    assert r["text_en"] == ("account used for 2 accesses after its termination date 2026-10-01 "
                            "(on 3 days of the episode, 6 events in all)")
    assert r["text_ja"].endswith("（このエピソードでは3日間、計6件）") and len(alert.event_ids) == 6
    single = to_alert(Episode("TX1", date(2026, 10, 5), date(2026, 10, 5), 9.0, rows.iloc[:1]), "131016", {})
    assert "episode" not in single.reasons[0]["text_en"]


def test_the_staff_context_is_counted_again_when_the_register_changes(built):
    """The first run counts the staff context and stores it; a second run on the same roster and register reuses
    it, with the same findings; a change to one resident's household (a relative moves in with CW1) makes the
    next run count it again, and CW1's household set grows by that person."""
    _household(built, w.TEST_DAY - timedelta(days=1))
    first = _detect(built)
    second = _detect(built)
    assert not first.context_reused and second.context_reused
    assert second.findings == first.findings and second.unchanged == len(first.created)

    def stored():
        with for_workspace(built.ws).connect() as con:
            return con.execute("SELECT count(DISTINCT context_key), any_value(context_key), "
                               "max(n_household) FILTER (WHERE staff_id = 'CW1') FROM anomaly_staff_context").fetchone()

    n_keys, key, household = stored()
    assert n_keys == 1
    with for_workspace(built.ws).connect() as con:
        own_hh = con.execute("SELECT household_key FROM subjects WHERE subject_id = "
                             "(SELECT subject_id FROM staff WHERE staff_id = 'CW1')").fetchone()[0]
        moved = con.execute("SELECT subject_id FROM subjects WHERE household_key <> ? AND municipality_code = "
                            "(SELECT municipality_code FROM subjects WHERE household_key = ? LIMIT 1) "
                            "ORDER BY subject_id LIMIT 1", [own_hh, own_hh]).fetchone()[0]
        con.execute("UPDATE subjects SET household_key = ? WHERE subject_id = ?", [own_hh, moved])
    w.ordinary_test_day(built)
    third = _detect(built, since=w.TEST_DAY)
    assert not third.context_reused
    n_keys, new_key, grown = stored()
    assert n_keys == 1 and new_key != key and grown == household + 1


def test_a_run_checkpoints_its_write_and_still_runs_beside_another_transaction(built):
    """The run's rows go from the write-ahead log into the database file at the end of the run (the connection
    still open: closing it would checkpoint anyway), so that the next run's commit does not pay for them; with
    another cursor's transaction open on the connection (a page's query), the run completes all the same."""
    _household(built, w.TEST_DAY)
    w.ordinary_test_day(built)
    built.flush()
    wh = for_workspace(built.ws)
    wal = wh.db_path.parent / (wh.db_path.name + ".wal")
    with wh.connect() as con:
        anomaly.detect(con, built.ws.config, since=w.START)
        assert not wal.exists() or wal.stat().st_size < 4096, wal.stat().st_size
        other = con.cursor()
        other.execute("BEGIN TRANSACTION")
        other.execute("SELECT count(*) FROM alerts").fetchall()
        try:
            result = anomaly.detect(con, built.ws.config, since=w.TEST_DAY)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert result.staff_days > 0
        assert con.execute("SELECT count(*) FROM anomaly_staff_days WHERE day = ?", [w.TEST_DAY]).fetchone()[0] > 0


def test_one_code_recurring_weeks_apart_is_raised_when_no_day_is(built):
    """Two sensitive records looked up without a case on one day, two more nine days later and again nine days
    after that: no day alone reaches the floor, nor the first two together (and the days are too far apart to be
    one run of days); the three do. The incremental run of the last day reads the earlier days' stored findings
    back (the first is eighteen days before it) and raises one alert over all three, saying which code recurred
    on which days. (The floor is raised by over two decades: in this small office of twelve the learned model
    adds its whole term, a decade, to a caseworker's day with such look-ups.)"""
    built.ws.config.alerts.per_1000_staff_days = 20.0 / 10 ** 2.2
    days = [w.TEST_DAY - timedelta(days=18), w.TEST_DAY - timedelta(days=9), w.TEST_DAY]
    for day in days[:2]:
        built.event("CW2", day, 11, w.rid(390))
        built.event("CW2", day, 11.1, w.rid(391))
    first = _detect(built)
    assert first.created == [], first.summary()
    built.event("CW2", days[2], 11, w.rid(391))
    built.event("CW2", days[2], 11.1, w.rid(392))
    w.ordinary_test_day(built)
    second = _detect(built, since=days[2])
    f = w.findings(built.ws, "CW2")
    each = f[f["code"] == "sensitive"].groupby("day")["evidence"].max()
    assert sorted(each.index) == days and (each + 1.0 < second.floor).all()
    assert len(second.created) == 1, second.summary()
    row = w.alerts(built.ws).iloc[0]
    assert row["staff_id"] == "CW2" and row["first_seen"] == days[0] and row["last_seen"] == days[2]
    [rec] = json.loads(row["baseline"])["recurrence"]
    assert rec["code"] == "sensitive" and rec["days"] == [d.isoformat() for d in days]
    assert row["score"] >= rec["evidence"] >= second.floor
    assert "candidate episodes with one reason recurring on separate days within 28 days: 1 of 1" in second.diagnostics()


def test_a_recurrence_keeps_the_floors_chance_rate():
    """Under chance (a code's p-value on a day uniform, days independent) a recurrence test reaches evidence x at
    most 10^-x / RECURRENCE_FAMILY of the time: checked by simulation at x = 2 and 3, where the count is large
    enough to see. Without paying for the choice of earlier days, it would reach 3 decades some 25 times as often."""
    import numpy as np

    from anomaly.alerts import GAP_DAYS, RECURRENCE_DAYS, RECURRENCE_FAMILY, recurrence_evidence

    rng = np.random.default_rng(7)
    n, m = 200_000, RECURRENCE_DAYS - 1 - GAP_DAYS
    ev = -np.log10(rng.random((n, m + 1)))
    earlier = -np.sort(-ev[:, 1:], axis=1)[:, :2]
    scores = np.array([recurrence_evidence(ev[i, 0], earlier[i])[0] for i in range(n)])
    for x in (2.0, 3.0):
        assert (scores >= x).sum() <= n * 10 ** -x / RECURRENCE_FAMILY, x
    unpaid = np.array([recurrence_evidence(ev[i, 0], earlier[i], n_earlier=1)[0] for i in range(n)])
    assert (unpaid >= 3.0).sum() > n * 10 ** -3.0


def test_a_recurrence_over_a_days_own_episode_is_one_episode():
    """A recurrence whose last day is also an episode of its own (another code that day) merges with it: one
    episode, one alert, the stronger score, both days' findings."""
    from anomaly.alerts import episodes

    def row(day, code, ev):
        return {"staff_id": "CW2", "day": day, "code": code, "evidence": ev, "observed": 2.0, "expected": 0.01,
                "n_subjects": 2, "event_ids": [f"{code}{day.day}"], "subjects": [], "detail": {}, "model": 0.0}

    d0, d1 = w.TEST_DAY - timedelta(days=10), w.TEST_DAY
    found = pd.DataFrame([row(d0, "sensitive", 5.0), row(d1, "sensitive", 5.0), row(d1, "household", 6.0)])
    scores = day_scores(found).assign(score=lambda s: s["rule_score"])
    floor = significance_floor(1.0)
    [ep] = episodes(found, scores, floor)
    assert (ep.first, ep.last) == (d0, d1) and ep.score > 6.0
    assert set(ep.rows["code"]) == {"sensitive", "household"} and len(ep.rows) == 3
    assert ep.recurrence and ep.recurrence[0]["code"] == "sensitive"


def test_episodes_the_stored_alert_would_merge_take_one_place_in_the_budget():
    """Two runs of days a week apart (of two codes) are two episodes; when the later one's evidence reaches back over the earlier
    (a low-and-slow finding whose span starts on the first day), the stored alert would merge them: they are one
    candidate before the budget is spent, not two places of which one is wasted."""
    from anomaly.alerts import alert_first, episodes

    d0, d1 = w.TEST_DAY - timedelta(days=7), w.TEST_DAY

    def row(day, code, detail):
        return {"staff_id": "CW3", "day": day, "code": code, "evidence": 6.0, "observed": 3.0, "expected": 0.01,
                "n_subjects": 1, "event_ids": [f"{code}{day.day}"], "subjects": [], "detail": detail, "model": 0.0}

    floor = significance_floor(1.0)
    apart = pd.DataFrame([row(d0, "household", {}), row(d1, "sensitive", {})])  # two codes: no recurrence
    assert len(episodes(apart, day_scores(apart).assign(score=lambda s: s["rule_score"]), floor)) == 2
    joined = pd.DataFrame([row(d0, "household", {}), row(d1, "low_and_slow", {"first_day": d0.isoformat()})])
    [ep] = episodes(joined, day_scores(joined).assign(score=lambda s: s["rule_score"]), floor)
    assert (alert_first(ep), ep.last) == (d0, d1) and set(ep.rows["code"]) == {"household", "low_and_slow"}
