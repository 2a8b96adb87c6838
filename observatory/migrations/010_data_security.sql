-- Data security (issue 11): a run records the process that runs it, so that a run left `running` by a killed
-- process can be recognised and marked failed at the next start; the raw archive is encrypted at rest and
-- pruned after its retention period (the row stays as lineage, the bytes go).
ALTER TABLE collector_runs ADD COLUMN pid INTEGER;
ALTER TABLE collector_runs ADD COLUMN host VARCHAR;
ALTER TABLE collector_runs ADD COLUMN process_started VARCHAR;  -- start time of that process (/proc), against pid reuse
ALTER TABLE archived_files ADD COLUMN pruned_at TIMESTAMPTZ;
