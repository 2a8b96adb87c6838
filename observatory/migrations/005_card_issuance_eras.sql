-- My Number Card figures of every published era (issue 10).
-- MIC's tables of 2016-2022 count cards issued (交付枚数) on a reference date (算出基準日), with the population of
-- its own date (人口算出基準日); the 2023+ tables count cards held (保有枚数) at the end of a month. A row is one
-- municipality on one reference date (`as_of`); two publications in one month are two rows. `period` stays,
-- as the first day of as_of's month. Existing rows were monthly: their as_of becomes the month's last day.
CREATE TABLE card_issuance_new (
    municipality_code VARCHAR NOT NULL,
    as_of DATE NOT NULL,               -- the publication's reference date
    period DATE NOT NULL,              -- first day of as_of's month
    population BIGINT,
    population_as_of DATE,             -- reference date of the population (resident register)
    applications BIGINT,
    issued BIGINT,                     -- cards issued (2016-2022 tables); NULL where not published
    held BIGINT,                       -- cards held (2023+ tables); NULL where not published
    run_id BIGINT,
    submission_id BIGINT,
    PRIMARY KEY (municipality_code, as_of)
);
INSERT INTO card_issuance_new (municipality_code, as_of, period, population, applications, issued, held, run_id,
                               submission_id)
SELECT municipality_code, CAST(period + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE), period, population,
       applications, issued, held, run_id, submission_id
FROM card_issuance;
DROP TABLE card_issuance;
ALTER TABLE card_issuance_new RENAME TO card_issuance;

-- Prefecture tables as published (never altered; reconciled against the sum of their municipalities).
CREATE TABLE card_issuance_prefecture (
    prefecture_code VARCHAR NOT NULL,  -- two digits, JIS X 0401
    as_of DATE NOT NULL,
    period DATE NOT NULL,
    population BIGINT,
    population_as_of DATE,
    issued BIGINT,
    held BIGINT,
    run_id BIGINT,
    PRIMARY KEY (prefecture_code, as_of)
);
