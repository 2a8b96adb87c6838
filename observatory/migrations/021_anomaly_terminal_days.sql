-- Per organisation, terminal, day and staff member who used the terminal that day, whether they looked someone up
-- there after hours without a case (late), as each detection run found them (anomaly/features.py: terminal_days). A
-- later run reads the lookback's rows back to know a night desk (a terminal kept for the night, at which colleagues
-- take turns working late alone: night_desks). The window's rows are replaced by each run, as anomaly_unexplained's.
CREATE TABLE anomaly_terminal_days (
    org_code VARCHAR,
    terminal_id VARCHAR,
    day DATE,
    staff_id VARCHAR,
    late BOOLEAN
);
