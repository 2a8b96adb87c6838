-- KPI definition versions as first computed (observatory.kpis): a version's measure may not be rewritten
-- silently; changing it needs a new version with a change note, so past values stay reproducible.
CREATE TABLE kpi_definition_versions (
    kpi_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    valid_from DATE NOT NULL,
    change_note_ja VARCHAR,
    change_note_en VARCHAR,
    measure JSON NOT NULL,             -- the measure as computed (canonical JSON)
    measure_sha256 VARCHAR NOT NULL,
    first_computed_at TIMESTAMPTZ NOT NULL,
    redefined_at TIMESTAMPTZ,          -- set when an operator forced a rewrite (compute --allow-redefine)
    PRIMARY KEY (kpi_id, version)
);
