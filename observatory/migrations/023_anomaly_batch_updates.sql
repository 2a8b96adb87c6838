-- The people a batch correction updated without a case (20 people or more by one account in a day: data cleansing, a
-- fiscal-year switch), per staff member and day, as each detection run found them (anomaly/features.py:
-- batch_updated). The checks of a batch run into the night: views of its people on the next day are the batch's,
-- not look-ups of particular people. A run whose window starts the day after a batch reads that day's rows back
-- (hist_batch_updated), so that the nightly run of one day judges the checks as a run over both days does. The
-- window's rows are replaced by each run, as anomaly_unexplained's.
CREATE TABLE anomaly_batch_updates (
    staff_id VARCHAR,
    day DATE,
    subject_id VARCHAR
);
