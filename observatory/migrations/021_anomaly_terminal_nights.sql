-- Per organisation, terminal and day, the staff members who looked people up without a case after hours there, as
-- each detection run found them (anomaly/features.py: terminal_nights). A later run reads the lookback's rows back
-- to know a night desk (a terminal where after-hours work is a routine of several colleagues: night_desks). The
-- window's rows are replaced by each run, as anomaly_unexplained's.
CREATE TABLE anomaly_terminal_nights (
    org_code VARCHAR,
    terminal_id VARCHAR,
    staff_id VARCHAR,
    day DATE
);
