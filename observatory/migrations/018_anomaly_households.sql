-- Look-ups come in households (a family at the counter is three or four records of one visit): the staff-day
-- keeps its unexplained look-ups counted in households too (anomaly.features.household_unit: the household key
-- within its municipality, or the person alone), in all, in the own municipality and outside the jurisdiction,
-- so that the relationship and out-of-jurisdiction tests count households in what they observe and in what
-- chance would draw. NULL on the rows of runs before this migration (the rates leave them out).
ALTER TABLE anomaly_staff_days ADD COLUMN n_unexpl_households BIGINT;
ALTER TABLE anomaly_staff_days ADD COLUMN n_unexpl_home_households BIGINT;
ALTER TABLE anomaly_staff_days ADD COLUMN n_unexpl_out_households BIGINT;
