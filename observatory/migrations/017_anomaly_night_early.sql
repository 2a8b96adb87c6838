-- A night worked through midnight is one night (anomaly/scenarios.py, after_hours): the staff-day keeps how many
-- people were looked up without a case in the deep night of its early morning (local hour before
-- anomaly.features.NIGHT_EARLY_BEFORE), so that the night ending on a day is that count with the rest of the day
-- before's deep night. NULL on the rows of runs before this migration (their nights are not joined across midnight).
ALTER TABLE anomaly_staff_days ADD COLUMN n_night_unexpl_early BIGINT;
