"""Explanations mined from the log itself (explanation-based auditing): which accesses have a legitimate path.

A path is a chain in the data from the accessed person to the staff member: an open case for the person in
the staff member's unit (the contract's own explanation, always accepted), an open case in another unit of
the same organisation (a referral), a household member of a person the staff member accessed under a case
in the last HOUSEHOLD_DAYS days (household work), a case in the staff member's unit that closed in the last
FOLLOW_UP_DAYS days (follow-up), or an earlier case-explained access by the same staff member to the same
person within REPEAT_DAYS (a repeat).

Whether a path explains anything in an organisation is learned from that organisation's own log: its
support is the share of real accesses on which the path holds, its chance support the share of a sample of
*fake* accesses (a sample of the organisation's accesses that no case explains, with the people shuffled
among them within each day, so that frequently looked-up people stay frequent) on which it holds, and its confidence
1 - chance / support; every path but the case itself is judged on the accesses that the case does not
explain, because that is what it would explain away. A path is accepted in an
organisation when its support and confidence clear MIN_SUPPORT and MIN_CONFIDENCE: a path that holds on
random people about as often as on real ones would also explain away a snooper's look-ups.

The stage has explicit inputs and outputs (relations with declared columns), so that another engine can
implement it: `explain(con, ExplainInputs) -> Explanations`.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

EVENT_COLUMNS = ("event_id", "occurred_at", "day", "staff_id", "org_code", "unit", "subject_id")
CASE_COLUMNS = ("subject_id", "org_code", "unit", "opened_at", "closed_at")
SUBJECT_COLUMNS = ("subject_id", "municipality_code", "household_key")
CONTACT_COLUMNS = ("staff_id", "subject_id", "day")
FLAG_COLUMNS = ("event_id", "path")
PATH_COLUMNS = ("org_code", "path", "n_events", "support", "chance_support", "confidence", "accepted")

# in order of precedence: an access is labelled with the first accepted path that holds
PATHS = ("case_unit", "referral", "household_of_case", "follow_up", "repeat")
ALWAYS_ACCEPTED = ("case_unit",)
CASE_GRACE_DAYS = 1  # a closed case still explains filing work for a day
FOLLOW_UP_DAYS = 30
REPEAT_DAYS = 30
HOUSEHOLD_DAYS = 7  # a household member of a person the staff member worked a case for in the last week
MIN_SUPPORT = 0.002  # the path holds on at least 0.2 % of the organisation's accesses
MIN_CONFIDENCE = 0.8  # and on real accesses at least five times as often as on random people
MIN_ORG_EVENTS = 500  # smaller organisations use the paths accepted over all organisations
FAKE_SAMPLE = 50_000  # fake accesses drawn per run (at most, before shuffling)


@dataclass(frozen=True)
class ExplainInputs:
    """events: EVENT_COLUMNS (unit = the staff member's unit); cases: CASE_COLUMNS; subjects: SUBJECT_COLUMNS;
    contacts: CONTACT_COLUMNS, earlier case-explained (staff, person, day) before the events' first day."""

    events: duckdb.DuckDBPyRelation
    cases: duckdb.DuckDBPyRelation
    subjects: duckdb.DuckDBPyRelation
    contacts: duckdb.DuckDBPyRelation


@dataclass(frozen=True)
class Explanations:
    """flags: FLAG_COLUMNS, one row per input event (path NULL = unexplained); paths: PATH_COLUMNS per
    organisation and path; contacts: CONTACT_COLUMNS of the events' own case-explained accesses."""

    flags: duckdb.DuckDBPyRelation
    paths: duckdb.DuckDBPyRelation
    contacts: duckdb.DuckDBPyRelation


def bind(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, name: str, columns: tuple[str, ...]) -> None:
    """Expose an input relation to the stage's SQL as temp view `name` with exactly its declared columns
    (the relation must not carry bound parameters: callers pass tables or plain queries)."""
    missing = [c for c in columns if c not in rel.columns]
    if missing:
        raise ValueError(f"{name}: input lacks the declared columns {missing}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {', '.join(columns)} FROM ({rel.sql_query()})")


def _path_hits(con: duckdb.DuckDBPyConnection, events: str, out: str, contacts: str | None,
               case_paths: bool = True) -> None:
    """Table `out` (event_id, org_code, path) of every path that holds on the events of `events`: the case
    paths (case_unit, referral), and with `contacts` the paths built on them (follow-up, household, repeat)."""
    grace, follow = f"INTERVAL {CASE_GRACE_DAYS} DAY", f"INTERVAL {FOLLOW_UP_DAYS} DAY"
    open_case = f"""c.subject_id = e.subject_id AND c.org_code = e.org_code AND e.occurred_at >= c.opened_at
           AND (c.closed_at IS NULL OR e.occurred_at <= c.closed_at + {grace})"""
    same_unit = "(c.unit IS NULL OR e.unit IS NULL OR c.unit = e.unit)"
    parts = []
    if case_paths:
        parts += [f"SELECT e.event_id, e.org_code, 'case_unit' AS path FROM {events} e SEMI JOIN _x_cases c "
                  f"ON {open_case} AND {same_unit}",
                  f"SELECT e.event_id, e.org_code, 'referral' FROM {events} e SEMI JOIN _x_cases c ON {open_case}"]
    if contacts is not None:
        parts += [
            f"""SELECT e.event_id, e.org_code, 'follow_up' FROM {events} e SEMI JOIN _x_cases c
                ON c.subject_id = e.subject_id AND c.org_code = e.org_code AND c.closed_at IS NOT NULL
               AND e.occurred_at > c.closed_at AND e.occurred_at <= c.closed_at + {follow} AND {same_unit}""",
            f"""SELECT e.event_id, e.org_code, 'household_of_case' FROM
                (SELECT e.*, s.household_key FROM {events} e JOIN _x_subjects s USING (subject_id)
                 WHERE s.household_key IS NOT NULL) e
                SEMI JOIN _x_household_contacts h
                ON h.staff_id = e.staff_id AND h.household_key = e.household_key AND h.subject_id <> e.subject_id
               AND h.day <= e.day AND h.day >= e.day - {HOUSEHOLD_DAYS}""",
            f"""SELECT e.event_id, e.org_code, 'repeat' FROM {events} e SEMI JOIN {contacts} k
                ON k.staff_id = e.staff_id AND k.subject_id = e.subject_id AND k.day < e.day
               AND k.day >= e.day - {REPEAT_DAYS}"""]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS " + "\nUNION ALL\n".join(parts))


def explain(con: duckdb.DuckDBPyConnection, inputs: ExplainInputs, *, seed: int = 0) -> Explanations:
    """Learn each organisation's accepted paths from its real and fake accesses, then label every event."""
    bind(con, inputs.events, "_x_input_events", EVENT_COLUMNS)
    con.execute("CREATE OR REPLACE TEMP TABLE _x_events AS SELECT * FROM _x_input_events WHERE subject_id IS NOT NULL")
    bind(con, inputs.cases, "_x_cases", CASE_COLUMNS)
    bind(con, inputs.subjects, "_x_subjects", SUBJECT_COLUMNS)
    bind(con, inputs.contacts, "_x_prior_contacts", CONTACT_COLUMNS)
    n = con.execute("SELECT count(*) FROM _x_events").fetchone()[0]
    modulus = max(1, -(-n // FAKE_SAMPLE))
    # contacts for repeats: earlier runs' plus this window's case-explained accesses
    _path_hits(con, "_x_events", "_x_first_hits", None)
    # fake accesses: the accesses the case does not explain, with their people shuffled within the
    # organisation and day (people often looked up stay often looked up)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _x_fake AS
        WITH sample AS (
            SELECT *, row_number() OVER (PARTITION BY org_code, day ORDER BY hash(event_id, $seed)) AS rn_self,
                      row_number() OVER (PARTITION BY org_code, day ORDER BY hash(event_id, $seed + 7)) AS rn_other
            FROM _x_events WHERE hash(event_id, $seed) % $modulus = 0
              AND event_id NOT IN (SELECT event_id FROM _x_first_hits WHERE path = 'case_unit'))
        SELECT a.event_id, a.occurred_at, a.day, a.staff_id, a.org_code, a.unit, b.subject_id
        FROM sample a JOIN sample b ON b.org_code = a.org_code AND b.day = a.day AND b.rn_other = a.rn_self""",
                {"seed": seed, "modulus": modulus})
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _x_contacts AS
        SELECT DISTINCT e.staff_id, e.subject_id, e.day FROM _x_events e
        SEMI JOIN _x_first_hits h USING (event_id);
        CREATE OR REPLACE TEMP TABLE _x_all_contacts AS
        SELECT * FROM _x_prior_contacts UNION ALL SELECT * FROM _x_contacts;
        CREATE OR REPLACE TEMP TABLE _x_household_contacts AS
        SELECT DISTINCT k.staff_id, k.subject_id, k.day, s.household_key
        FROM _x_all_contacts k JOIN _x_subjects s USING (subject_id) WHERE s.household_key IS NOT NULL""")
    _path_hits(con, "_x_events", "_x_later_hits", "_x_all_contacts", case_paths=False)
    con.execute("CREATE OR REPLACE TEMP TABLE _x_hits AS SELECT * FROM _x_first_hits UNION ALL "
                "SELECT * FROM _x_later_hits")
    _path_hits(con, "_x_fake", "_x_fake_hits", "_x_all_contacts")
    paths_sql = ", ".join(f"('{p}', {i})" for i, p in enumerate(PATHS))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE anomaly_paths AS
        WITH p(path, rank) AS (VALUES {paths_sql}),
        -- every path but the case itself is judged on the accesses the case does not explain
        real_n AS (SELECT e.org_code, count(*) AS n, count(*) - count(c.event_id) AS n_rest FROM _x_events e
                   LEFT JOIN (SELECT event_id FROM _x_first_hits WHERE path = 'case_unit') c USING (event_id)
                   GROUP BY ALL),
        fake_n AS (SELECT f.org_code, count(*) AS n, count(*) - count(c.event_id) AS n_rest FROM _x_fake f
                   LEFT JOIN (SELECT event_id FROM _x_fake_hits WHERE path = 'case_unit') c USING (event_id)
                   GROUP BY ALL),
        real_h AS (SELECT h.org_code, h.path, count(*) AS k FROM _x_hits h
                   WHERE h.path = 'case_unit' OR h.event_id NOT IN (SELECT event_id FROM _x_first_hits
                                                                    WHERE path = 'case_unit') GROUP BY ALL),
        fake_h AS (SELECT h.org_code, h.path, count(*) AS k FROM _x_fake_hits h
                   WHERE h.path = 'case_unit' OR h.event_id NOT IN (SELECT event_id FROM _x_fake_hits
                                                                    WHERE path = 'case_unit') GROUP BY ALL),
        per_org AS (
            SELECT r.org_code, p.path, r.n AS n_events,
                   CASE WHEN p.path = 'case_unit' THEN r.n ELSE r.n_rest END AS n_real,
                   CASE WHEN p.path = 'case_unit' THEN coalesce(f.n, 0) ELSE coalesce(f.n_rest, 0) END AS n_fake,
                   coalesce(rh.k, 0) AS k_real, coalesce(fh.k, 0) AS k_fake
            FROM real_n r CROSS JOIN p LEFT JOIN fake_n f USING (org_code)
            LEFT JOIN real_h rh ON rh.org_code = r.org_code AND rh.path = p.path
            LEFT JOIN fake_h fh ON fh.org_code = r.org_code AND fh.path = p.path),
        rates AS (
            SELECT org_code, path, n_events, k_real / greatest(n_real, 1) AS support,
                   (k_fake + 0.5) / (n_fake + 1.0) AS chance_support, n_real, k_real, n_fake, k_fake FROM per_org),
        pooled AS (
            SELECT path, sum(k_real) / greatest(sum(n_real), 1) AS support,
                   (sum(k_fake) + 0.5) / (sum(n_fake) + 1.0) AS chance_support
            FROM per_org GROUP BY ALL),
        judged AS (
            SELECT o.org_code, o.path, o.n_events,
                   CASE WHEN o.n_events >= {MIN_ORG_EVENTS} THEN o.support ELSE g.support END AS support,
                   CASE WHEN o.n_events >= {MIN_ORG_EVENTS} THEN o.chance_support ELSE g.chance_support END
                       AS chance_support
            FROM rates o JOIN pooled g USING (path))
        SELECT org_code, path, n_events, support, chance_support,
               greatest(0.0, 1.0 - chance_support / greatest(support, 1e-9)) AS confidence,
               path IN ({", ".join(f"'{p}'" for p in ALWAYS_ACCEPTED)})
               OR (support >= {MIN_SUPPORT} AND 1.0 - chance_support / greatest(support, 1e-9) >= {MIN_CONFIDENCE})
                   AS accepted
        FROM judged""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE anomaly_explain_flags AS
        WITH p(path, rank) AS (VALUES {paths_sql}),
        best AS (SELECT h.event_id, arg_min(h.path, p.rank) AS path
                 FROM _x_hits h JOIN p USING (path)
                 JOIN anomaly_paths a ON a.org_code = h.org_code AND a.path = h.path AND a.accepted
                 GROUP BY h.event_id)
        SELECT e.event_id, b.path FROM _x_input_events e LEFT JOIN best b USING (event_id)""")
    return Explanations(flags=con.table("anomaly_explain_flags"), paths=con.table("anomaly_paths"),
                        contacts=con.table("_x_contacts"))
