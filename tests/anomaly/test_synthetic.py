"""The seeded generator writes exactly the collector's file formats, with real municipality codes."""

from __future__ import annotations

import csv

from anomaly.synthetic import SCENARIOS, generate
from observatory.reference import is_valid_municipality_code

HEADERS = {
    "access_log": ["event_id", "occurred_at", "staff_id", "org_code", "subject_id", "action", "record_type", "case_id",
                   "record_count", "terminal_id"],
    "staff": ["staff_id", "org_code", "unit", "role", "subject_id", "status", "terminated_on", "display_name",
              "display_name_en"],
    "subjects": ["subject_id", "municipality_code", "surname_key", "household_key", "neighbourhood_key", "sensitive"],
    "cases": ["case_id", "subject_id", "org_code", "unit", "procedure_code", "opened_at", "closed_at"],
    "labels": ["staff_id", "scenario", "start_date", "end_date", "event_ids"],
}


def _rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_formats_codes_and_labels(tmp_path):
    log = generate(tmp_path, n_staff=150, days=10, seed=5, incident_share=0.1, events_per_staff_day=10)
    for name, header in HEADERS.items():
        rows = _rows(getattr(log, name))
        assert rows[0] == header, name
    events = _rows(log.access_log)[1:]
    assert len(events) == log.n_events
    assert {r[5] for r in events} <= {"view", "search", "print", "export", "update"}
    assert all(r[1].endswith("+09:00") and r[1][10] == "T" for r in events[:1000])
    staff = _rows(log.staff)[1:]
    assert all(is_valid_municipality_code(r[1]) for r in staff)
    assert {r[5] for r in staff} <= {"active", "terminated"}
    assert all(r[6] for r in staff if r[5] == "terminated")
    # invented names, labelled so on their face in both languages, and not all the same
    assert all(r[7].startswith("[架空] ") and r[8].startswith("[synthetic] ") for r in staff)
    assert len({r[7] for r in staff}) > 100 and len({r[8] for r in staff}) > 100
    labels = _rows(log.labels)[1:]
    assert len(labels) == 15 and {r[1] for r in labels} == set(SCENARIOS)
    ids = {r[0] for r in events}
    assert all(set(r[4].split()) <= ids for r in labels)
    assert len({r[0] for r in labels}) == len(labels)  # one incident per perpetrator


def test_seeded(tmp_path):
    a = generate(tmp_path / "a", n_staff=60, days=5, seed=9, events_per_staff_day=5)
    b = generate(tmp_path / "b", n_staff=60, days=5, seed=9, events_per_staff_day=5)
    assert a.access_log.read_bytes() == b.access_log.read_bytes()
    assert a.labels.read_bytes() == b.labels.read_bytes()


def test_one_injector_per_declared_scenario():
    from anomaly.explain import SCENARIOS as DECLARED
    from anomaly.synthetic import INJECTORS

    assert set(INJECTORS) == set(SCENARIOS) == set(DECLARED)
    assert len(SCENARIOS) == len(set(SCENARIOS))  # the generator's rotation order names each scenario once
