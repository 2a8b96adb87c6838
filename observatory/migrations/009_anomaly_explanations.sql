-- Explanations mined from the log (anomaly/explanations.py): the case-explained contacts between a staff member
-- and a person per day, so that a later run can explain a repeat of an earlier explained access without
-- rescanning the archive; and the paths each run accepted per organisation, with their support and confidence.
CREATE TABLE anomaly_case_contacts (
    staff_id VARCHAR NOT NULL,
    subject_id VARCHAR NOT NULL,
    day DATE NOT NULL
);

CREATE TABLE anomaly_explanation_paths (
    first_day DATE NOT NULL,          -- the detection window the path was judged on
    last_day DATE NOT NULL,
    org_code VARCHAR NOT NULL,
    path VARCHAR NOT NULL,            -- case_unit | referral | household_of_case | follow_up | repeat
    n_events BIGINT,                  -- accesses of the organisation in the window
    support DOUBLE,                   -- share of those accesses on which the path holds
    chance_support DOUBLE,            -- share of fake accesses (random residents) on which it holds
    confidence DOUBLE,                -- 1 - chance_support / support
    accepted BOOLEAN NOT NULL
);

-- Findings keep the evidence before calibration to the peer group's own null (anomaly/calibration.py), so that
-- a later run calibrates on raw evidence; `evidence` is the calibrated value the alerts are scored on.
ALTER TABLE anomaly_findings ADD COLUMN raw_evidence DOUBLE;
