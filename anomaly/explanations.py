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
implement it: `explain(engine, ExplainInputs) -> Explanations` (anomaly.engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from anomaly.engine import Engine, num
from anomaly.engine.duckdb_engine import as_engine

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
    contacts: CONTACT_COLUMNS, earlier case-explained (staff, person, day) before the events' first day.
    Each is a relation name on the engine (or, on a DuckDB connection, a DuckDB relation)."""

    events: Any
    cases: Any
    subjects: Any
    contacts: Any


@dataclass(frozen=True)
class Explanations:
    """flags: FLAG_COLUMNS, one row per input event (path NULL = unexplained); paths: PATH_COLUMNS per
    organisation and path; contacts: CONTACT_COLUMNS of the events' own case-explained accesses.
    The engine's own handles on relations explain_flags, explain_paths and explain_contacts."""

    flags: Any
    paths: Any
    contacts: Any


def bind(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, name: str, columns: tuple[str, ...]) -> None:
    """Expose an input relation to the stage's SQL as temp view `name` with exactly its declared columns
    (the relation must not carry bound parameters: callers pass tables or plain queries)."""
    as_engine(con).bind(name, rel, columns)


def _path_hits(eng: Engine, events: str, out: str, contacts: str | None, case_paths: bool = True) -> None:
    """Relation `out` (event_id, org_code, path) of every path that holds on the events of `events`: the case
    paths (case_unit, referral), and with `contacts` the paths built on them (follow-up, household, repeat)."""
    grace, follow = f"INTERVAL {CASE_GRACE_DAYS} DAY", f"INTERVAL {FOLLOW_UP_DAYS} DAY"
    open_case = f"""c.subject_id = e.subject_id AND c.org_code = e.org_code AND e.occurred_at >= c.opened_at
           AND (c.closed_at IS NULL OR e.occurred_at <= c.closed_at + {grace})"""
    same_unit = "(c.unit IS NULL OR e.unit IS NULL OR c.unit = e.unit)"
    parts = []
    if case_paths:
        parts += [f"SELECT e.event_id, e.org_code, 'case_unit' AS path FROM {events} e SEMI JOIN _x_cases c "
                  f"ON {open_case} AND {same_unit}",
                  f"SELECT e.event_id, e.org_code, 'referral' AS path FROM {events} e SEMI JOIN _x_cases c "
                  f"ON {open_case}"]
    if contacts is not None:
        parts += [
            f"""SELECT e.event_id, e.org_code, 'follow_up' AS path FROM {events} e SEMI JOIN _x_cases c
                ON c.subject_id = e.subject_id AND c.org_code = e.org_code AND c.closed_at IS NOT NULL
               AND e.occurred_at > c.closed_at AND e.occurred_at <= c.closed_at + {follow} AND {same_unit}""",
            f"""SELECT e.event_id, e.org_code, 'household_of_case' AS path FROM
                (SELECT e.event_id, e.org_code, e.staff_id, e.subject_id, e.day, s.household_key
                 FROM {events} e JOIN _x_subjects s ON s.subject_id = e.subject_id
                 WHERE s.household_key IS NOT NULL) e
                SEMI JOIN _x_household_contacts h
                ON h.staff_id = e.staff_id AND h.household_key = e.household_key AND h.subject_id <> e.subject_id
               AND h.day <= e.day AND h.day >= {eng.add_days("e.day", -HOUSEHOLD_DAYS)}""",
            f"""SELECT e.event_id, e.org_code, 'repeat' AS path FROM {events} e SEMI JOIN {contacts} k
                ON k.staff_id = e.staff_id AND k.subject_id = e.subject_id AND k.day < e.day
               AND k.day >= {eng.add_days("e.day", -REPEAT_DAYS)}"""]
    eng.create(out, "\nUNION ALL\n".join(parts))


def explain(target: Any, inputs: ExplainInputs, *, seed: int = 0) -> Explanations:
    """Learn each organisation's accepted paths from its real and fake accesses, then label every event.
    `target` is a detection engine (or a DuckDB connection, wrapped in one)."""
    eng = as_engine(target)
    _bind_inputs(eng, inputs)
    _path_hits(eng, "_x_events", "_x_first_hits", None)
    _fake_accesses(eng, seed)
    _contacts(eng)
    _path_hits(eng, "_x_events", "_x_later_hits", "_x_all_contacts", case_paths=False)
    eng.create("_x_hits", "SELECT event_id, org_code, path FROM _x_first_hits UNION ALL "
                          "SELECT event_id, org_code, path FROM _x_later_hits")
    _path_hits(eng, "_x_fake", "_x_fake_hits", "_x_all_contacts")
    _judge_paths(eng)
    _label_events(eng)
    return Explanations(flags=eng.table("explain_flags"), paths=eng.table("explain_paths"),
                        contacts=eng.table("explain_contacts"))


def _bind_inputs(eng: Engine, inputs: ExplainInputs) -> None:
    """The inputs as relations _x_input_events (every event), _x_events (those naming a person), _x_cases,
    _x_subjects and _x_prior_contacts."""
    eng.bind("_x_input_events", inputs.events, EVENT_COLUMNS)
    eng.create("_x_events", "SELECT * FROM _x_input_events WHERE subject_id IS NOT NULL")
    eng.bind("_x_cases", inputs.cases, CASE_COLUMNS)
    eng.bind("_x_subjects", inputs.subjects, SUBJECT_COLUMNS)
    eng.bind("_x_prior_contacts", inputs.contacts, CONTACT_COLUMNS)


def _fake_accesses(eng: Engine, seed: int) -> None:
    """Relation _x_fake (EVENT_COLUMNS): a sample of the accesses the case does not explain (_x_first_hits),
    with their people shuffled within the organisation and day (people often looked up stay often looked up)."""
    n = eng.count("_x_events")
    modulus = max(1, -(-n // FAKE_SAMPLE))
    cut = f"'{16 ** 8 // modulus - 1:08x}'"  # keep about 1/modulus of the events, the same ones on every engine
    eng.create("_x_fake", f"""
        WITH sample AS (
            SELECT e.*, row_number() OVER (PARTITION BY e.org_code, e.day
                                           ORDER BY {eng.digest("e.event_id", repr(str(seed)))}, e.event_id) AS rn_self,
                      row_number() OVER (PARTITION BY e.org_code, e.day
                                         ORDER BY {eng.digest("e.event_id", repr(str(seed + 7)))}, e.event_id) AS rn_other
            FROM _x_events e ANTI JOIN (SELECT event_id FROM _x_first_hits WHERE path = 'case_unit') c
              ON c.event_id = e.event_id
            WHERE substr({eng.digest("e.event_id", repr(str(seed)))}, 1, 8) <= {cut})
        SELECT a.event_id, a.occurred_at, a.day, a.staff_id, a.org_code, a.unit, b.subject_id
        FROM sample a JOIN sample b ON b.org_code = a.org_code AND b.day = a.day AND b.rn_other = a.rn_self""")


def _contacts(eng: Engine) -> None:
    """Contacts for repeats and household work: explain_contacts (this window's case-explained accesses),
    _x_all_contacts (with earlier runs') and _x_household_contacts (with the person's household)."""
    eng.create("explain_contacts", """
        SELECT DISTINCT e.staff_id, e.subject_id, e.day FROM _x_events e
        SEMI JOIN _x_first_hits h ON h.event_id = e.event_id""")
    eng.create("_x_all_contacts", "SELECT staff_id, subject_id, day FROM _x_prior_contacts UNION ALL "
                                  "SELECT staff_id, subject_id, day FROM explain_contacts")
    eng.create("_x_household_contacts", """
        SELECT DISTINCT k.staff_id, k.subject_id, k.day, s.household_key
        FROM _x_all_contacts k JOIN _x_subjects s ON s.subject_id = k.subject_id
        WHERE s.household_key IS NOT NULL""")


def _paths_sql() -> str:
    """PATHS as rows (path, rank): the order of precedence."""
    return " UNION ALL ".join(f"SELECT '{p}' AS path, {i} AS rank" for i, p in enumerate(PATHS))


def _judge_paths(eng: Engine) -> None:
    """Relation explain_paths (PATH_COLUMNS): each path's support on real accesses (_x_hits) and on fake ones
    (_x_fake_hits) per organisation, pooled over all for small ones, and whether it is accepted. Counted first
    (_x_path_counts: accesses and hits per organisation and path, real and fake), then judged."""
    eng.create("_x_path_counts", f"""
        WITH p AS ({_paths_sql()}),
        -- every path but the case itself is judged on the accesses the case does not explain
        real_n AS (SELECT e.org_code, count(*) AS n, count(*) - count(c.event_id) AS n_rest FROM _x_events e
                   LEFT JOIN (SELECT event_id FROM _x_first_hits WHERE path = 'case_unit') c
                   ON c.event_id = e.event_id GROUP BY e.org_code),
        fake_n AS (SELECT f.org_code, count(*) AS n, count(*) - count(c.event_id) AS n_rest FROM _x_fake f
                   LEFT JOIN (SELECT event_id FROM _x_fake_hits WHERE path = 'case_unit') c
                   ON c.event_id = f.event_id GROUP BY f.org_code),
        real_h AS (SELECT h.org_code, h.path, count(*) AS k FROM _x_hits h
                   LEFT JOIN (SELECT DISTINCT event_id FROM _x_first_hits WHERE path = 'case_unit') c
                   ON c.event_id = h.event_id
                   WHERE h.path = 'case_unit' OR c.event_id IS NULL
                   GROUP BY h.org_code, h.path),
        fake_h AS (SELECT h.org_code, h.path, count(*) AS k FROM _x_fake_hits h
                   LEFT JOIN (SELECT DISTINCT event_id FROM _x_fake_hits WHERE path = 'case_unit') c
                   ON c.event_id = h.event_id
                   WHERE h.path = 'case_unit' OR c.event_id IS NULL
                   GROUP BY h.org_code, h.path),
        per_org AS (
            SELECT r.org_code, p.path, r.n AS n_events,
                   CASE WHEN p.path = 'case_unit' THEN r.n ELSE r.n_rest END AS n_real,
                   CASE WHEN p.path = 'case_unit' THEN coalesce(f.n, 0) ELSE coalesce(f.n_rest, 0) END AS n_fake,
                   coalesce(rh.k, 0) AS k_real, coalesce(fh.k, 0) AS k_fake
            FROM real_n r CROSS JOIN p LEFT JOIN fake_n f ON f.org_code = r.org_code
            LEFT JOIN real_h rh ON rh.org_code = r.org_code AND rh.path = p.path
            LEFT JOIN fake_h fh ON fh.org_code = r.org_code AND fh.path = p.path)
        SELECT * FROM per_org""")
    _judge(eng)


def _judge(eng: Engine) -> None:
    """Relation explain_paths (PATH_COLUMNS) from _x_path_counts: support and chance support per organisation
    (pooled over all organisations for small ones), and whether the path is accepted."""
    half, one, zero = num(0.5), num(1.0), num(0.0)
    eng.create("explain_paths", f"""
        WITH rates AS (
            SELECT org_code, path, n_events, k_real / greatest(n_real, 1) AS support,
                   (k_fake + {half}) / (n_fake + {one}) AS chance_support, n_real, k_real, n_fake, k_fake
            FROM _x_path_counts),
        pooled AS (
            SELECT path, sum(k_real) / greatest(sum(n_real), 1) AS support,
                   (sum(k_fake) + {half}) / (sum(n_fake) + {one}) AS chance_support
            FROM _x_path_counts GROUP BY path),
        judged AS (
            SELECT o.org_code, o.path, o.n_events,
                   CASE WHEN o.n_events >= {MIN_ORG_EVENTS} THEN o.support ELSE g.support END AS support,
                   CASE WHEN o.n_events >= {MIN_ORG_EVENTS} THEN o.chance_support ELSE g.chance_support END
                       AS chance_support
            FROM rates o JOIN pooled g ON g.path = o.path)
        SELECT org_code, path, n_events, support, chance_support,
               greatest({zero}, {one} - chance_support / greatest(support, 1e-9)) AS confidence,
               path IN ({", ".join(f"'{p}'" for p in ALWAYS_ACCEPTED)})
               OR (support >= {num(MIN_SUPPORT)}
                   AND {one} - chance_support / greatest(support, 1e-9) >= {num(MIN_CONFIDENCE)}) AS accepted
        FROM judged""")


def _label_events(eng: Engine) -> None:
    """Relation explain_flags (FLAG_COLUMNS): every input event with the first accepted path that holds on it."""
    eng.create("explain_flags", f"""
        WITH p AS ({_paths_sql()}),
        best AS (SELECT h.event_id, min_by(h.path, p.rank) AS path
                 FROM _x_hits h JOIN p ON p.path = h.path
                 JOIN explain_paths a ON a.org_code = h.org_code AND a.path = h.path AND a.accepted
                 GROUP BY h.event_id)
        SELECT e.event_id, b.path FROM _x_input_events e LEFT JOIN best b ON b.event_id = e.event_id""")
