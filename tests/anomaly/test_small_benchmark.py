"""A seeded small run of the benchmark's data: recall and budget floors (seconds, not minutes)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd

import anomaly
from anomaly.synthetic import generate, load_generated
from observatory.warehouse import for_workspace


def test_recall_precision_and_budget_floors(workspace, tmp_path):
    log = generate(tmp_path / "gen", n_staff=600, days=21, seed=11, incident_share=0.01, events_per_staff_day=15)
    with for_workspace(workspace).connect() as con:
        load_generated(con, workspace.events_dir, log)
        result = anomaly.detect(con, workspace.config)
        alerts = con.execute("SELECT staff_id, first_seen, last_seen, reasons FROM alerts").df()
        staff_days = con.execute("SELECT count(*) FROM anomaly_staff_days").fetchone()[0]
    assert result.events == log.n_events
    labels = pd.read_csv(log.labels, dtype=str)
    found = 0
    true_alerts = set()
    for lab in labels.itertuples():
        s0 = date.fromisoformat(lab.start_date) - timedelta(days=1)
        s1 = date.fromisoformat(lab.end_date) + timedelta(days=1)
        hits = alerts[(alerts["staff_id"] == lab.staff_id) & (pd.to_datetime(alerts["first_seen"]).dt.date <= s1)
                      & (pd.to_datetime(alerts["last_seen"]).dt.date >= s0)]
        found += len(hits) > 0
        true_alerts |= set(hits.index)
    recall = found / len(labels)
    per_1000 = 1000 * len(alerts) / staff_days
    assert len(labels) == 6
    assert recall >= 0.66, (recall, result.summary())
    assert per_1000 <= workspace.config.alerts.per_1000_staff_days
    assert len(true_alerts) / max(len(alerts), 1) >= 0.4
    assert all(json.loads(r) for r in alerts["reasons"])  # every alert has at least one reason code
