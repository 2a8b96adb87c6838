-- When the follow-up of a load (the KPI recompute of what it touched, detection after access data) finished.
-- NULL on a load whose follow-up did not run or failed (the process stopped after the load, a recompute that
-- failed): the next load's follow-up takes it up (observatory/jobs.py, after_load). Loads before this
-- migration are taken as followed up.
ALTER TABLE collector_runs ADD COLUMN followed_up_at TIMESTAMPTZ;
UPDATE collector_runs SET followed_up_at = finished_at WHERE status = 'ok';
