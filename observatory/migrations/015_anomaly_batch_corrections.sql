-- A detection run's batch corrections (anomaly/features.py, batch_days): staff-days on which one account
-- updated anomaly.features.BATCH_UPDATES people or more without a case (data cleansing). Their updates are not
-- counted as personal accesses by the volume tests, so the analyst is told how many there were; the
-- relationship and sensitive-record tests still see them. Counts only: no person is named here. NULL on the
-- rows of runs before this migration.
ALTER TABLE anomaly_runs ADD COLUMN batch_corrections JSON;  -- {"staff_days": n, "people": n, "threshold": 20}
