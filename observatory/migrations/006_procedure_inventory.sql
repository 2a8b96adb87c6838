-- The Digital Agency's inventory of national administrative procedures (行政手続等の棚卸調査), one row per
-- procedure and fiscal year. Texts are kept as published (online_status such as '1 実施済', processing periods
-- such as '1月'); a blank count is unknown and stays NULL, never 0; days_* are whole days where the processing
-- period parses (日 1, 週 7, 月 30, 年 365), else NULL. `published` holds every published column under its exact
-- header.
CREATE TABLE procedure_inventory (
    procedure_id VARCHAR NOT NULL,            -- 手続ID
    fiscal_year INTEGER NOT NULL,             -- the fiscal year the file covers (--fiscal-year)
    period DATE NOT NULL,                     -- 1 April of fiscal_year
    ministry_code VARCHAR NOT NULL,           -- from 所管府省庁 through ministries / ministry_aliases
    ministry_name VARCHAR NOT NULL,           -- 所管府省庁 as published
    procedure_name VARCHAR,                   -- 手続名
    procedure_type VARCHAR,                   -- 手続類型, e.g. '1 申請等'
    online_status VARCHAR,                    -- オンライン化の実施状況, e.g. '1 実施済'
    cases_total BIGINT,                       -- 総手続件数
    cases_online BIGINT,                      -- オンライン手続件数
    cases_offline BIGINT,                     -- 非オンライン手続件数
    processing_period_online VARCHAR,         -- 処理期間(オンライン)
    processing_period_offline VARCHAR,        -- 処理期間(非オンライン)
    days_online INTEGER,
    days_offline INTEGER,
    published JSON NOT NULL,
    run_id BIGINT,
    PRIMARY KEY (procedure_id, fiscal_year)
);
