-- The unexplained accesses' state gets what the update-after-view test reads from the stored history
-- (anomaly/scenarios.py, update_after_view): whether the accesses of the (staff, person, day) included an update,
-- and whether the staff member had accessed the person without a case on an earlier day within
-- anomaly.features.REVISIT_DAYS. NULL on the rows of runs before this migration (not counted in the rates).
ALTER TABLE anomaly_unexplained ADD COLUMN updated BOOLEAN;
ALTER TABLE anomaly_unexplained ADD COLUMN revisit BOOLEAN;
