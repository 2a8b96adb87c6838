-- The data version (issue 14): one row per statement that changed a table, appended by statement-level triggers
-- (observatory.warehouse.ensure_change_triggers puts them on every table but this one and the audit log).
-- Its row count is a version of everything the pages show: it moves in the same transaction as the change, in
-- whichever process writes, so the dashboards' render cache can never serve a page older than the data.
-- Append-only (the count must never go back); the audit log is left out because reading a sensitive page
-- writes to it.
CREATE TABLE data_changes (table_name VARCHAR NOT NULL, changed_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp);
