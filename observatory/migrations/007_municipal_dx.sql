-- Digital Agency DX dashboards (自治体DXの取組に関するダッシュボード), kind municipal-dx (collectors/municipal_dx.py).
-- One row per indicator, entity and release: municipalities (6-digit code) and prefectural governments' own
-- figures (2-digit code) side by side, told apart by entity_level. No data (調査無し, blank) is value NULL.

CREATE TABLE municipal_dx (
    indicator_id VARCHAR NOT NULL,     -- stable id (dx_indicators), or dx_<hash> for an indicator not yet listed
    group_ja VARCHAR,                  -- indicator group as published (NULL when the file leaves it empty)
    name_ja VARCHAR NOT NULL,          -- indicator as published, trimmed
    name_en VARCHAR,                   -- from dx_indicators (NULL for an unlisted indicator)
    entity_level VARCHAR NOT NULL,     -- municipality | prefecture
    entity_code VARCHAR NOT NULL,      -- 6-digit municipality code or 2-digit prefecture code
    released_on DATE NOT NULL,         -- release date of the dashboard (--released-on, or Last-Modified)
    value DOUBLE,                      -- 88.8 for 88.8%, 1/0 for 実施/未実施, the integer for counts; NULL: no data
    text_value VARCHAR,                -- the cell as published (NULL when blank)
    unit VARCHAR NOT NULL,             -- percent | flag | count
    run_id BIGINT,
    PRIMARY KEY (indicator_id, entity_level, entity_code, released_on)
);

-- The indicators the observatory knows (observatory/reference/data/dx_indicators.csv), loaded like the other
-- reference data.
CREATE TABLE dx_indicators (
    indicator_id VARCHAR PRIMARY KEY,
    group_ja VARCHAR NOT NULL,
    group_en VARCHAR NOT NULL,
    name_ja VARCHAR NOT NULL,
    name_en VARCHAR NOT NULL,
    unit VARCHAR NOT NULL              -- percent | flag | count
);
