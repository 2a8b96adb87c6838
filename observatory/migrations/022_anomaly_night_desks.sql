-- A detection run's night desks (anomaly/features.py, night_desks): terminals kept for the night, at which colleagues
-- take turns working late alone, and the staff-days whose after-hours look-ups there were not counted as the
-- person's after-hours work; the thresholds and the busiest terminal's id as an example. No person is named here.
-- NULL on the rows of runs before this migration.
ALTER TABLE anomaly_runs ADD COLUMN night_desks JSON;  -- {"terminals": n, "staff_days": n, "other_staff": 3, ...}
