-- The window's unexplained views of a co-worker's own resident record with their event ids, as each detection run
-- found them (anomaly/scenarios.py, coworker_span: coworker_views). A later run's co-worker-span finding lists the
-- views of the 28 days before it as evidence: it reads these rows back instead of the event archive, and reads the
-- archive only for days no run has stored (days detected before this migration). The window's rows are replaced
-- by each run, as anomaly_unexplained's; deleting them costs an archive read, never a result.
CREATE TABLE anomaly_coworker_views (
    staff_id VARCHAR,
    subject_id VARCHAR,
    day DATE,
    event_ids VARCHAR[]
);
