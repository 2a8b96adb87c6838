-- Tamper-evident audit log (issue 11): every entry is sealed into a hash chain. chain_seq is the entry's
-- place in the chain (1, 2, 3, ... in the order entries were sealed), prev_hash the entry_hash of the entry
-- before it, entry_hash = sha256(prev_hash + the entry's canonical content). observatory.security.audit
-- seals committed entries whenever a process lets go of the warehouse; `observatory verify` checks the chain
-- and the head recorded outside the database (state/audit-head), so an edited or deleted entry is found.
ALTER TABLE audit_log ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR;
ALTER TABLE audit_log ADD COLUMN entry_hash VARCHAR;
