"""The alert queue and the alert page tell the story: age and deadline per alert consistent with the
time-to-triage panel, scenario names in Japanese, evidence expanded with the deciding facts."""

from __future__ import annotations

import json

from tests.dashboards.test_access import router_body


def _page(client, path: str, search: str = "") -> str:
    resp = client.post("/_dash-update-component", json=router_body(path, search))
    assert resp.status_code == 200
    return json.dumps(resp.get_json(), ensure_ascii=False)


def test_queue_shows_age_and_deadline_and_the_overdue_count_agrees(workspace, built, client_for) -> None:
    sec = client_for("sec1")
    text = _page(sec, "/alerts")
    data = json.loads(text)
    records = next(v for v in _walk(data) if isinstance(v, dict) and v.get("id") == "al-table")["data"]
    overdue_rows = [r for r in records if r["overdue"]]
    assert all(r["waiting"] and r["deadline"] != "-" for r in records)
    # the fixture's open alerts were raised 17-20 days ago: every one is past the 72-hour deadline
    assert overdue_rows and all(r["waiting"].endswith("日") for r in overdue_rows)
    panel = next(v for v in _walk(data) if isinstance(v, dict) and v.get("id") == "al-overdue")
    assert int(panel["children"]) == len(overdue_rows)
    assert "同一世帯の閲覧" in text and "要配慮者" in text  # scenario names in Japanese, not codes
    assert any(r["org"].startswith("千代田区（東京都） (131016)") for r in records)  # organisation by name
    assert '"sensitive"' not in text.replace('"value": "sensitive"', "")


def _walk(node):
    if isinstance(node, dict):
        if "props" in node:
            yield node["props"]
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_alert_page_tells_who_whom_when_and_whether_a_case_existed(workspace, built, client_for) -> None:
    text = _page(client_for("sec1"), f"/alert/{built.alert_ids[0]}")
    events = next(p for p in _walk(json.loads(text)) if "open" in p and "alx-events" in str(p.get("children")))
    assert events.get("open") is True  # expanded by default
    table = str(events["children"])
    assert "同一世帯" in table and "近隣住民" in table and "C-77" in table and "案件なし" in table
    assert "6件の証跡のうち、案件なし5件、本人と関係のある人2件" in text  # x-0 household, x-1 neighbour; x-2 had C-77
    assert "千代田区（東京都）" in text and "住民課" in text  # organisation by name, role and unit
    assert "本人 9:00–16:00、同僚 9:00–17:00" in text  # own and peers' usual hours (the fixture's day work)
    for s in ("不正閲覧 (確定)", "正当 (業務上)", "誤検知"):
        assert s in text  # one button per decision


def test_cio_reads_the_alert_without_evidence_or_buttons(workspace, built, client_for) -> None:
    text = _page(client_for("cio1"), f"/alert/{built.alert_ids[0]}")
    assert "alx-events" not in text and "alx-decide" not in text and "同一世帯の閲覧" in text


def test_every_detector_scenario_has_words_in_both_languages() -> None:
    """The dashboards keep their own copy of the scenario names (they must not import the detector)."""
    from anomaly.explain import SCENARIOS
    from dashboards.i18n import STRINGS

    missing = [s for s in SCENARIOS if f"scenario.{s}" not in STRINGS]
    assert not missing, missing


def test_previous_and_next_follow_the_queue_order(workspace, built, client_for) -> None:
    """queue_neighbours keeps a copy of the queue's order: it must walk the queue exactly as listed."""
    from dashboards import queries
    from observatory.security import alerts as alert_store
    from observatory.warehouse import for_workspace

    user = next(u for u in workspace.config.users if u.username == "sec1")
    with for_workspace(workspace).connect() as con:
        order = [r["alert_id"] for r in alert_store.list_alerts(con, user, status="open")]
        walked = [order[0]]
        while (nxt := queries.queue_neighbours(con, walked[-1])["next"]) is not None:
            walked.append(nxt)
        assert queries.queue_neighbours(con, order[-1])["previous"] == (order[-2] if len(order) > 1 else None)
    assert walked == order and len(order) >= 2
    text = _page(client_for("sec1"), f"/alert/{order[0]}")
    assert f'"href": "/alert/{order[1]}"' in text and "alx-next" in text


def test_deciding_facts_compare_surnames_and_blocks_within_a_known_municipality() -> None:
    """As detection does: a person whose municipality the register does not give is nobody's neighbour or
    relative by surname (None = None was once a match), where the same person in the staff member's
    municipality is."""
    import duckdb

    from dashboards import queries

    con = duckdb.connect()
    con.execute("CREATE TABLE staff (staff_id VARCHAR, org_code VARCHAR, subject_id VARCHAR)")
    con.execute("CREATE TABLE subjects (subject_id VARCHAR, household_key VARCHAR, surname_key VARCHAR, "
                "neighbourhood_key VARCHAR, municipality_code VARCHAR, sensitive BOOLEAN)")
    con.execute("CREATE TABLE cases (subject_id VARCHAR, org_code VARCHAR, opened_at TIMESTAMP, "
                "closed_at TIMESTAMP, case_id VARCHAR)")
    con.execute("INSERT INTO staff (staff_id, org_code, subject_id) VALUES ('ST1', '131016', 'ME'), ('ST2', '131016', 'ME2')")
    con.execute("INSERT INTO subjects (subject_id, household_key, surname_key, neighbourhood_key, "
                "municipality_code, sensitive) VALUES ('ME', 'H1', 'N1', 'B0', '131016', false), "
                "('ME2', 'H2', 'N2', 'B0', NULL, false), "
                "('P1', 'H3', 'N9', 'B0', '131016', false), ('P2', 'H4', 'N1', 'B7', '131016', false), "
                "('Q1', 'H5', 'N9', 'B0', NULL, false), ('Q2', 'H6', 'N2', 'B7', NULL, false)")
    facts = {f["subject_id"]: f["relation"] for f in queries.evidence_facts(
        con, "ST1", [{"subject_id": s} for s in ("P1", "P2", "Q1")])}
    assert facts == {"P1": "neighbour", "P2": "surname", "Q1": "none"}
    # a staff member without a municipality of record: the same block name and surname relate to no one
    facts = {f["subject_id"]: f["relation"] for f in queries.evidence_facts(
        con, "ST2", [{"subject_id": s} for s in ("Q1", "Q2")])}
    assert facts == {"Q1": "none", "Q2": "none"}


def test_an_alert_resting_on_a_recurrence_says_which_reason_recurred_on_which_days() -> None:
    """The detector's recurrence (one code on separate days weeks apart) is in the alert's baseline; the page says
    it in both languages beside the reasons, so the analyst knows why two days three weeks apart are one alert."""
    from dashboards.pages.alert import _reasons

    alert = {"reasons": [{"code": "sensitive", "text_ja": "案件なしで要配慮者 2人の記録を閲覧",
                          "text_en": "viewed 2 sensitive records without a case"}],
             "baseline": {"recurrence": [{"code": "sensitive", "days": ["2025-03-05", "2025-03-21"],
                                          "evidence": 5.46}]}}
    ja, en = str(_reasons(alert, "ja")), str(_reasons(alert, "en"))
    assert "同じ理由が4週間以内の別々の日（2025-03-05, 2025-03-21）に繰り返されています" in ja and "5.46" in ja
    assert "recurred on separate days within four weeks (2025-03-05, 2025-03-21" in en
    assert "recurred" not in str(_reasons({**alert, "baseline": {}}, "en"))
