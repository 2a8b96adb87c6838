-- One row per detection run (anomaly/detect.py), written in the run's own transaction: what an analyst reads
-- on the alerts page and in `observatory alerts detect` output (issue 12). The window and the engine, the
-- accesses examined and the share explained (in all and by path), the significance floor and the share of the
-- alert budget chance alone may fill at it, the staff-days per scenario whose evidence reached the floor
-- against the number chance would give, the peer groups whose null was shifted, and what the run raised.
-- Counts only: no person is named here.
CREATE TABLE anomaly_runs (
    run_id BIGINT PRIMARY KEY,
    ran_at TIMESTAMPTZ NOT NULL,
    engine VARCHAR NOT NULL,         -- duckdb | spark
    first_day DATE NOT NULL,
    last_day DATE NOT NULL,
    events BIGINT NOT NULL,
    staff_days BIGINT NOT NULL,
    findings BIGINT NOT NULL,
    candidates INTEGER NOT NULL,     -- episodes above the floor that analysts' verdicts left in the ranking
    budget INTEGER NOT NULL,
    floor DOUBLE NOT NULL,           -- decades (-log10 p) a staff-day's evidence must reach
    chance_share DOUBLE NOT NULL,    -- alerts.chance_share the floor was set from
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    over_budget INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    held_back INTEGER NOT NULL,
    seconds DOUBLE NOT NULL,
    explained JSON NOT NULL,         -- {"explained": share, "<path>": share, ...}
    by_scenario JSON NOT NULL,       -- {"<scenario>": {"at_floor": n, "expected_by_chance": x}, ...}
    calibration JSON NOT NULL        -- {"<reason code>": largest shift in decades, ...}
);
