-- Staff by name (issue 14): the roster may carry a display name (氏名) and its romanised form; the security pages
-- show "name (code)" to the roles that investigate, the public site never. NULL where the roster gives none, so
-- rosters without a name column load as before. Like every cell, a name is checked for Individual Numbers.
ALTER TABLE staff ADD COLUMN display_name VARCHAR;
ALTER TABLE staff ADD COLUMN display_name_en VARCHAR;
