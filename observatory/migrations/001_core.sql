-- Core schema: reference data, raw archive, collector runs, facts, KPI values, submissions, alerts, audit.
-- Periods are DATE values holding the first day of the month the figures cover.
-- Every fact row carries its lineage: run_id (collector_runs) or submission_id (submissions).

CREATE SEQUENCE IF NOT EXISTS id_seq START 1;

CREATE TABLE prefectures (
    code VARCHAR PRIMARY KEY,          -- JIS X 0401, two digits
    name_ja VARCHAR NOT NULL,
    name_kana VARCHAR NOT NULL,
    name_en VARCHAR NOT NULL,
    lg_code VARCHAR NOT NULL           -- six-digit local government code of the prefecture
);

CREATE TABLE municipalities (
    code VARCHAR PRIMARY KEY,          -- JIS X 0402, six digits with check digit
    prefecture_code VARCHAR NOT NULL,
    name_ja VARCHAR NOT NULL,
    name_kana VARCHAR NOT NULL,
    name_en VARCHAR NOT NULL
);

CREATE TABLE ministries (
    code VARCHAR PRIMARY KEY,
    name_ja VARCHAR NOT NULL,
    name_en VARCHAR NOT NULL,
    kind VARCHAR NOT NULL
);

-- Every file fetched or received, kept content-addressed under archive/ before it is parsed.
CREATE TABLE archived_files (
    sha256 VARCHAR PRIMARY KEY,
    path VARCHAR NOT NULL,             -- relative to the workspace
    size_bytes BIGINT NOT NULL,
    original_name VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    source VARCHAR,                    -- collector source name or 'submission'
    received_by VARCHAR,               -- user or 'scheduler'
    origin VARCHAR                     -- URL, drop path or client address
);

CREATE TABLE collector_runs (
    run_id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,           -- running | ok | not_modified | no_input | failed | skipped
    rows_read BIGINT DEFAULT 0,
    rows_loaded BIGINT DEFAULT 0,
    rows_rejected BIGINT DEFAULT 0,
    error VARCHAR,
    file_hashes VARCHAR[],
    detail JSON,
    triggered_by VARCHAR               -- scheduler | cli | demo | server
);

-- HTTP validators remembered for conditional GET.
CREATE TABLE http_cache (
    url VARCHAR PRIMARY KEY,
    etag VARCHAR,
    last_modified VARCHAR,
    sha256 VARCHAR,
    fetched_at TIMESTAMPTZ
);

CREATE TABLE procedure_usage (
    ministry_code VARCHAR NOT NULL,
    procedure_id VARCHAR NOT NULL,
    procedure_name VARCHAR,
    field VARCHAR NOT NULL,            -- registration | social_insurance | employment_insurance | labour_insurance | national_tax | local_tax | ...
    period DATE NOT NULL,
    cases_total BIGINT NOT NULL,
    cases_online BIGINT NOT NULL,
    online_available BOOLEAN NOT NULL, -- can be completed online end to end
    run_id BIGINT,
    submission_id BIGINT,
    PRIMARY KEY (procedure_id, period)
);

CREATE TABLE card_issuance (
    municipality_code VARCHAR NOT NULL,
    period DATE NOT NULL,
    population BIGINT NOT NULL,
    applications BIGINT,
    issued BIGINT,
    held BIGINT,
    run_id BIGINT,
    submission_id BIGINT,
    PRIMARY KEY (municipality_code, period)
);

CREATE TABLE procedure_cases (
    case_ref VARCHAR PRIMARY KEY,
    procedure_id VARCHAR NOT NULL,
    ministry_code VARCHAR NOT NULL,
    municipality_code VARCHAR,
    channel VARCHAR NOT NULL,          -- online | counter | post
    submitted_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ,
    standard_days INTEGER,             -- standard processing period (標準処理期間), days
    run_id BIGINT,
    submission_id BIGINT
);

-- Access events live in the Parquet archive events/access/month=YYYY-MM/*.parquet;
-- the view access_events is (re)created over it by observatory.warehouse.
CREATE TABLE staff (
    staff_id VARCHAR PRIMARY KEY,
    org_code VARCHAR NOT NULL,
    unit VARCHAR,
    role VARCHAR,
    subject_id VARCHAR,                -- the staff member's own resident record (pseudonymous)
    status VARCHAR NOT NULL,           -- active | terminated
    terminated_on DATE,
    run_id BIGINT
);

CREATE TABLE subjects (
    subject_id VARCHAR PRIMARY KEY,    -- pseudonymous person key
    municipality_code VARCHAR,
    surname_key VARCHAR,
    household_key VARCHAR,
    neighbourhood_key VARCHAR,
    sensitive BOOLEAN NOT NULL DEFAULT FALSE,
    run_id BIGINT
);

CREATE TABLE cases (
    case_id VARCHAR PRIMARY KEY,
    subject_id VARCHAR,
    org_code VARCHAR NOT NULL,
    unit VARCHAR,
    procedure_code VARCHAR,
    opened_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    run_id BIGINT
);

-- KPI engine output (observatory.kpis). status: on_track | at_risk | off_track | achieved | no_data | no_target
CREATE TABLE kpi_values (
    kpi_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    level VARCHAR NOT NULL,            -- national | ministry | prefecture | municipality
    entity_code VARCHAR NOT NULL,      -- 'JP' for national, ministry code, prefecture code, municipality code
    period DATE NOT NULL,              -- first day of the month / quarter / fiscal year (April)
    value DOUBLE,                      -- NULL with status no_data
    numerator DOUBLE,
    denominator DOUBLE,
    target DOUBLE,
    gap DOUBLE,
    status VARCHAR NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL,
    lineage JSON,                      -- {"runs": [...], "submissions": [...]}
    PRIMARY KEY (kpi_id, version, level, entity_code, period)
);

CREATE TABLE kpi_forecasts (
    kpi_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    level VARCHAR NOT NULL,
    entity_code VARCHAR NOT NULL,
    target_year INTEGER NOT NULL,      -- 2020 | 2023 | 2026
    target_date DATE,
    target_value DOUBLE,
    projected_value DOUBLE,
    lower DOUBLE,
    upper DOUBLE,
    attainment_date DATE,              -- estimated date the target is reached; NULL if not within horizon
    status VARCHAR NOT NULL,           -- on_track | at_risk | off_track | achieved | insufficient_data
    method VARCHAR,
    n_points INTEGER,
    computed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kpi_id, version, level, entity_code, target_year)
);

-- Ministry submissions (observatory.submissions)
CREATE TABLE submissions (
    submission_id BIGINT PRIMARY KEY,
    kpi_id VARCHAR NOT NULL,
    ministry_code VARCHAR NOT NULL,
    submitted_by VARCHAR NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL,
    origin VARCHAR,                    -- cli | web:<client address>
    file_sha256 VARCHAR NOT NULL,
    file_name VARCHAR,
    encoding VARCHAR,
    status VARCHAR NOT NULL,           -- accepted | rejected | duplicate | superseded
    supersedes BIGINT,
    periods DATE[],
    rows_total BIGINT,
    rows_accepted BIGINT,
    errors INTEGER,
    warnings INTEGER,
    report JSON,
    receipt JSON
);

CREATE TABLE submission_values (
    submission_id BIGINT NOT NULL,
    kpi_id VARCHAR NOT NULL,
    ministry_code VARCHAR NOT NULL,
    period DATE NOT NULL,
    entity_code VARCHAR NOT NULL,      -- municipality code, prefecture code, ministry code or 'JP'
    column_name VARCHAR NOT NULL,
    value DOUBLE,
    text_value VARCHAR
);

-- Alerts of the unauthorised-viewing detector and their lifecycle (observatory.security.alerts)
CREATE TABLE alerts (
    alert_id BIGINT PRIMARY KEY,
    staff_id VARCHAR NOT NULL,
    org_code VARCHAR,
    first_seen DATE NOT NULL,
    last_seen DATE NOT NULL,
    score DOUBLE NOT NULL,             -- higher = more suspicious
    severity VARCHAR NOT NULL,         -- low | medium | high | critical
    status VARCHAR NOT NULL,           -- new | investigating | true_positive | benign | false_positive
    assignee VARCHAR,
    scenarios VARCHAR[],
    reasons JSON,                      -- [{"code", "text_ja", "text_en", "evidence": {...}}]
    event_ids VARCHAR[],
    baseline JSON,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ
);

CREATE TABLE alert_history (
    alert_id BIGINT NOT NULL,
    at_time TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,           -- created | updated | assigned | status | note
    from_status VARCHAR,
    to_status VARCHAR,
    note VARCHAR
);

-- Append-only audit log of sensitive views and actions (observatory.security.audit)
CREATE TABLE audit_log (
    audit_id BIGINT PRIMARY KEY,
    at_time TIMESTAMPTZ NOT NULL,
    actor VARCHAR NOT NULL,
    role VARCHAR,
    action VARCHAR NOT NULL,
    target VARCHAR,
    outcome VARCHAR,                   -- ok | denied | rejected | failed
    detail JSON,
    client VARCHAR
);
