-- Per staff member the sizes of the related-person sets (household, surname, neighbours, co-workers) and of the
-- populations they are drawn from (anomaly/features.py, residence_context: STAFF_CONTEXT), as the last detection
-- run counted them from the staff roster and the resident register. context_key identifies what they were
-- counted from: a fingerprint of the roster and the register and the statements that count them on the engine;
-- a run whose key differs (either file reloaded with changes, or the detector upgraded) counts them again and
-- replaces every row. A cache: deleting the rows costs one recount, never a result.
CREATE TABLE anomaly_staff_context (
    context_key VARCHAR NOT NULL,
    staff_id VARCHAR,
    own_muni VARCHAR,
    pop BIGINT,
    n_household BIGINT,
    n_surname BIGINT,
    n_neighbour BIGINT,
    n_adjacent BIGINT,
    n_kin_near BIGINT,
    pop_households BIGINT,
    n_adjacent_households BIGINT,
    n_surname_households BIGINT,
    n_neighbour_households BIGINT,
    n_kin_near_households BIGINT,
    n_coworker BIGINT,
    org_pop BIGINT
);
