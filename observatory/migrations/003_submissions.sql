-- Submission history per period (observatory.submissions): which submission is current for each
-- (kpi_id, ministry_code, period), what it superseded and what changed against it.
ALTER TABLE submissions ADD COLUMN duplicate_of BIGINT;   -- status duplicate: the accepted submission with the same bytes
ALTER TABLE submissions ADD COLUMN sheet VARCHAR;          -- XLSX sheet read
ALTER TABLE submissions ADD COLUMN submitter_role VARCHAR; -- role the user acted in

CREATE TABLE submission_periods (
    submission_id BIGINT NOT NULL,
    kpi_id VARCHAR NOT NULL,
    ministry_code VARCHAR NOT NULL,
    period DATE NOT NULL,
    rows_total BIGINT NOT NULL,        -- file rows for this period
    supersedes BIGINT,                 -- the submission that was current for this period before
    superseded_by BIGINT,              -- NULL while this submission is current for the period
    rows_added BIGINT,                 -- vs the superseded version (all rows when there was none)
    rows_changed BIGINT,
    rows_removed BIGINT,
    rows_unchanged BIGINT,
    PRIMARY KEY (submission_id, period)
);

-- The values now in force: from the latest accepted submission per (kpi_id, ministry_code, period).
CREATE VIEW submission_current AS
SELECT v.*
FROM submission_values v
JOIN submission_periods p ON p.submission_id = v.submission_id AND p.period = v.period
WHERE p.superseded_by IS NULL;
