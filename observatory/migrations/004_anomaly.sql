-- Unauthorised-viewing detector state (anomaly package) and analyst feedback (observatory.security.alerts).

-- A pattern closed as benign (same staff, same kind of access) is not raised again until `until`.
CREATE TABLE alert_suppressions (
    staff_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    until DATE NOT NULL,
    alert_id BIGINT NOT NULL,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (staff_id, scenario, alert_id)
);

-- Per staff-day activity summary: the history the per-person and peer baselines are computed from.
CREATE TABLE anomaly_staff_days (
    staff_id VARCHAR NOT NULL,
    day DATE NOT NULL,
    org_code VARCHAR,
    role VARCHAR,
    unit VARCHAR,
    n_events BIGINT,
    n_subjects BIGINT,
    n_case_events BIGINT,             -- explained by an open case
    n_unexpl_events BIGINT,           -- not explained by a case
    n_unexpl_subjects BIGINT,         -- distinct subjects of unexplained single-person accesses
    peak_hour_unexpl BIGINT,          -- most unexplained single-person accesses within one clock hour
    n_unexpl_home BIGINT,             -- distinct unexplained subjects resident in the staff's own municipality
    n_unexpl_out BIGINT,              -- distinct unexplained subjects resident outside the organisation's area
    n_after_hours BIGINT,
    n_after_hours_unexpl BIGINT,
    n_night_unexpl BIGINT,            -- of those, more than two hours away from the working day (deep night)
    n_exports BIGINT,
    max_records BIGINT,               -- largest record_count of an export or search
    n_updates_unexpl BIGINT,
    n_terminals BIGINT
);

-- Unexplained (no open case) accesses per staff, subject and day: raw material of the low-and-slow detector.
CREATE TABLE anomaly_unexplained (
    staff_id VARCHAR NOT NULL,
    subject_id VARCHAR NOT NULL,
    day DATE NOT NULL,
    n_events BIGINT NOT NULL
);

-- Scenario findings per staff, day and reason code, with their evidence score (higher = more suspicious).
CREATE TABLE anomaly_findings (
    staff_id VARCHAR NOT NULL,
    day DATE NOT NULL,
    scenario VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    evidence DOUBLE NOT NULL,
    observed DOUBLE,
    expected DOUBLE,
    n_subjects BIGINT,
    event_ids VARCHAR[],
    subjects VARCHAR[],               -- pseudonymous subject keys only
    detail JSON
);
-- The detector replaces whole days of these three tables, so they carry no keys (inserts stay fast).

-- Analyst feedback as labels for retraining: one row per closed alert and scenario.
CREATE VIEW alert_feedback AS
SELECT a.alert_id, a.staff_id, a.org_code, a.first_seen, a.last_seen, a.score, unnest(a.scenarios) AS scenario,
       a.status AS label, a.closed_at
FROM alerts a
WHERE a.status IN ('true_positive', 'benign', 'false_positive');
