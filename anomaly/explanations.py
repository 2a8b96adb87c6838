"""Explanations mined from the log itself (explanation-based auditing): which accesses have a legitimate path.

A path is a chain in the data from the accessed person to the staff member: an open case for the person in
the staff member's unit (the contract's own explanation, always accepted), the case the access itself names
(its case_id) open in the staff member's unit for another member of the person's household (a logged
case: household-based work such as public assistance, also always accepted), the case the access names open in
another unit of the organisation for the person or a member of the household (a logged referral: work under
another unit's case, as staff moved or lent to that unit do, judged like the paths below; chance hardly ever
names a real case of the person looked up), an open case in another unit of the same organisation (a referral), a household member of a person the staff member accessed under a case
in the last HOUSEHOLD_DAYS days (household work), a case in the staff member's unit that closed in the last
FOLLOW_UP_DAYS days (follow-up), or an earlier case-explained access by the same staff member to the same
person within REPEAT_DAYS (a repeat). An access is case-explained (a contact) when an accepted case path
explains it: under an open case of the staff member's own unit always, under another unit's case only in an
organisation that accepts referrals (elsewhere a snooper's look-up of one relative with a case anywhere in the
organisation would explain the rest of the household as household work), or under a case of a unit whose cases
the staff member's own accesses show they work (MIN_STAFF_ACCESSES: staff moved or lent to another unit).

Whether a path explains anything in an organisation is learned from that organisation's own log: its
support is the share of real accesses on which the path holds, its chance support the share of a sample of
*fake* accesses (a sample of the organisation's accesses that no case explains, with the people shuffled
among them within each day, so that frequently looked-up people stay frequent) on which it holds, and its confidence
1 - chance / support; every path but the case itself is judged on the accesses that the case does not
explain, because that is what it would explain away. A path is accepted in an
organisation when its support and confidence clear MIN_SUPPORT and MIN_CONFIDENCE (or a lower confidence,
MIN_LIFT_CONFIDENCE, where its chance support is at most MAX_HIDDEN): a path that holds on random people about
as often as on real ones would also explain away a snooper's look-ups.

Which paths hold on an access is one boolean column per path from one equality join of the events with the
people they name (_x_people: per person, the cases in every organisation as a list, and each staff member's
earlier contacts with the person and with the person's household as lists keyed by staff member), not one
join per path: the events are the big relation, and this is the one time they are matched to people. (On an
engine with `contacts_by_pair`, DuckDB, the contact lists are a relation per (person, staff member) instead,
met in a second equality join of the same pass: gathering every person's map and looking the staff member up
in it took DuckDB longer than the join: a full run at 5 M events 27.87 and 27.66 s with the maps, 26.82 and
26.34 s by pair, alternately; docs/SCALE.md.) Columns
a later stage computes from the event, its person and its staff member (`ExplainInputs.carry`) are computed
in the same pass and carried with the flags, so that no later stage joins the events back by event id.
The contacts the later paths build on (case-explained accesses) come first, from the join with the cases.

The stage has explicit inputs and outputs (relations with declared columns), so that another engine can
implement it: `explain(engine, ExplainInputs) -> Explanations` (anomaly.engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from anomaly.engine import Engine, num, source_columns
from anomaly.engine.duckdb_engine import as_engine

EVENT_COLUMNS = ("event_id", "occurred_at", "day", "staff_id", "org_code", "unit", "subject_id")
CASE_COLUMNS = ("subject_id", "org_code", "unit", "opened_at", "closed_at")
SUBJECT_COLUMNS = ("subject_id", "municipality_code", "household_key")
CONTACT_COLUMNS = ("staff_id", "subject_id", "day")
FLAG_COLUMNS = EVENT_COLUMNS + ("path",)  # and the carried columns (ExplainInputs.carry)
PATH_COLUMNS = ("org_code", "path", "n_events", "support", "chance_support", "confidence", "accepted")

# in order of precedence: an access is labelled with the first accepted path that holds
PATHS = ("case_unit", "logged_case", "logged_referral", "referral", "household_of_case", "follow_up", "repeat")
ALWAYS_ACCEPTED = ("case_unit", "logged_case")
# The logged case needs the events' and the cases' case_id (optional columns of both: without them it never holds).
CASE_ID = "case_id"
# The paths built on earlier case-explained accesses (contacts). Whether an access under another unit's case is
# one depends on whether the organisation accepts referrals, so each is flagged twice: h_<path> on every contact
# under an open case of the organisation, h_<path>_in_unit on the contacts under a case of the staff member's own
# unit; the organisation's accepted referral picks which one is judged and labels (`_choose_contact_variant`).
CONTACT_PATHS = ("household_of_case", "repeat")
IN_UNIT = "_in_unit"
JUDGED = PATHS + tuple(p + IN_UNIT for p in CONTACT_PATHS)
CASE_GRACE_DAYS = 1  # a closed case still explains filing work for a day
FOLLOW_UP_DAYS = 30
REPEAT_DAYS = 30
HOUSEHOLD_DAYS = 7  # a household member of a person the staff member worked a case for in the last week
MIN_SUPPORT = 0.002  # the path holds on at least 0.2 % of the organisation's accesses
MIN_CONFIDENCE = 0.8  # and on real accesses at least five times as often as on random people,
# or, where it would hide at most MAX_HIDDEN of a snooper's look-ups (its chance support: the share of random
# people it explains), at least twice as often. In a small town chance hits a household member of someone the
# staff member worked a case for one time in forty (its households are few), so household work held 0.70 there
# against 0.97 in a city: rejected, the weeks of a caseworker's household visits were low-and-slow alerts,
# though accepting it costs a snooper's random look-ups one in forty.
MIN_LIFT_CONFIDENCE = 0.5
MAX_HIDDEN = 0.05
MIN_ORG_EVENTS = 500  # smaller organisations use the paths accepted over all organisations
# A referral (another unit's open case) is also accepted for one staff-day and unit where the staff member's own
# accesses of the REFERRAL_DAYS ending that day show they work that unit's cases rather than their own unit's: of
# those the case does not explain, at least MIN_STAFF_ACCESSES, the share under that unit's open cases is a large
# part of them (MIN_STAFF_SHARE) and clears MIN_CONFIDENCE against the organisation's chance of it, and they
# outnumber the own unit's. Staff moved to another unit (the April transfers: the roster names the new unit, the
# log the old one's cases until the move) and staff lent to another unit (tax season) work other units' cases all
# day; a counter clerk meets them about as often as chance does, and a caseworker mostly works the own unit's:
# both stay judged with the organisation.
MIN_STAFF_ACCESSES = 20  # in the REFERRAL_DAYS ending on the day judged
MIN_STAFF_SHARE = 0.3  # of them under the unit's cases: a large part of the work the case does not explain
REFERRAL_DAYS = 7
FAKE_SAMPLE = 50_000  # fake accesses drawn per run (at most, before shuffling)


@dataclass(frozen=True)
class ExplainInputs:
    """events: EVENT_COLUMNS (unit = the staff member's unit) and, when the log names them, case_id; cases:
    CASE_COLUMNS and, for the logged case, case_id; subjects: SUBJECT_COLUMNS,
    one row per person; contacts: CONTACT_COLUMNS, earlier case-explained (staff, person, day) before the
    events' first day; staff (optional): one row per staff member (staff_id). Each is a relation name on the
    engine (or, on a DuckDB connection, a DuckDB relation); events, subjects and staff may have more columns.
    carry: columns the flags carry, name -> SQL expression over the event `e`, its person `p` (NULL when the
    event names no known person) and its staff member `s` (with `staff`).
    focus: build the per-person relations only for the people the events name and their households (the same
    flags; it pays when the events name few of the people, as on an incremental day, and costs one more pass
    over the events when they name most of them)."""

    events: Any
    cases: Any
    subjects: Any
    contacts: Any
    staff: Any = None
    carry: dict[str, str] = field(default_factory=dict)
    focus: bool = False


@dataclass(frozen=True)
class Explanations:
    """flags: FLAG_COLUMNS and the carried columns, one row per input event (path NULL = unexplained), computed
    when read (from the stored flags and the accepted paths); paths: PATH_COLUMNS per
    organisation and path; contacts: CONTACT_COLUMNS of the events' own case-explained accesses.
    The engine's own handles on relations explain_flags, explain_paths and explain_contacts. n_events: the input
    events (the rows of the flags), counted on the stored flags: on Spark the flags are a view, and counting
    them joins every event with the accepted paths again."""

    flags: Any
    paths: Any
    contacts: Any
    n_events: int


def bind(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, name: str, columns: tuple[str, ...]) -> None:
    """Expose an input relation to the stage's SQL as temp view `name` with exactly its declared columns
    (the relation must not carry bound parameters: callers pass tables or plain queries)."""
    as_engine(con).bind(name, rel, columns)


def explain(target: Any, inputs: ExplainInputs, *, seed: int = 0) -> Explanations:
    """Learn each organisation's accepted paths from its real and fake accesses, then label every event.
    `target` is a detection engine (or a DuckDB connection, wrapped in one)."""
    eng = as_engine(target)
    _bind_inputs(eng, inputs)
    # each person's cases in every organisation, as one list: the events meet their cases in one equality join
    eng.create("_x_case_lists", f"""
        SELECT subject_id, {eng.collect(eng.record(
                   org_code="org_code", unit="unit", opened_at="opened_at", closed_at="closed_at",
                   open_until=f"closed_at + INTERVAL {CASE_GRACE_DAYS} DAY",
                   follow_until=f"closed_at + INTERVAL {FOLLOW_UP_DAYS} DAY"))} AS cases
        FROM _x_cases WHERE subject_id IS NOT NULL GROUP BY subject_id""")
    logged = _logged_cases(eng, inputs.focus)
    _contacts(eng)
    _people(eng, inputs.focus, logged)
    _flags(eng, "_x_input_events", "_x_flags", inputs.carry, staff=inputs.staff is not None, logged=logged)
    eng.create("_x_real_counts", _counted("_x_flags"))
    _flags(eng, f"({_fake_accesses(eng, seed, logged)})", "_x_fake_flags", logged=logged)
    _judge_paths(eng)
    _staff_referrals(eng)
    _label_events(eng, tuple(inputs.carry))
    return Explanations(flags=eng.table("explain_flags"), paths=eng.table("explain_paths"),
                        contacts=eng.table("explain_contacts"), n_events=eng.count("_x_flags"))


def _bind_inputs(eng: Engine, inputs: ExplainInputs) -> None:
    """The inputs as relations _x_input_events (every event), _x_cases, _x_subjects, _x_prior_contacts and,
    when given, _x_staff; events, subjects and staff with all their columns (carry may read any). With
    `focus`, cases are kept only for the people the events name (_x_named), subjects and contacts for the people
    within reach of them (_x_reach)."""
    eng.bind("_x_input_events", inputs.events, _with_all(eng, inputs.events, EVENT_COLUMNS))
    case_columns = CASE_COLUMNS + ((CASE_ID,) if CASE_ID in source_columns(eng, inputs.cases) else ())
    per_person = {"_x_cases": (inputs.cases, case_columns),
                  "_x_subjects": (inputs.subjects, _with_all(eng, inputs.subjects, SUBJECT_COLUMNS)),
                  "_x_prior_contacts": (inputs.contacts, CONTACT_COLUMNS)}
    for name, (source, columns) in per_person.items():
        eng.bind(name + "_all" if inputs.focus else name, source, columns)
    if inputs.focus:  # the cases of the named people; the people and contacts of their households
        _reach(eng, per_person["_x_subjects"][1])
        for name in ("_x_cases", "_x_prior_contacts"):
            columns = per_person[name][1]
            eng.hold(name, f"SELECT {', '.join(columns)} FROM {name}_all WHERE subject_id IN "
                           f"(SELECT subject_id FROM {'_x_named' if name == '_x_cases' else '_x_reach'})")
    if inputs.staff is not None:
        eng.bind("_x_staff", inputs.staff, _with_all(eng, inputs.staff, ("staff_id",)))


def _reach(eng: Engine, subject_columns: tuple[str, ...]) -> None:
    """Relations _x_named (subject_id): the people the events name (the fake accesses' too: they shuffle the
    events' people); _x_subjects: those of them the subjects know and the other members of their households (the
    households found first, then the people read in one pass); and _x_reach (subject_id): the named and
    _x_subjects, everyone whose cases or contacts a path of these events can reach."""
    eng.hold("_x_named", "SELECT DISTINCT subject_id FROM _x_input_events WHERE subject_id IS NOT NULL")
    eng.hold("_x_subjects", f"""
        WITH households AS (SELECT DISTINCT household_key FROM _x_subjects_all
                            WHERE household_key IS NOT NULL AND subject_id IN (SELECT subject_id FROM _x_named))
        SELECT {", ".join(subject_columns)} FROM _x_subjects_all
        WHERE subject_id IN (SELECT subject_id FROM _x_named)
           OR household_key IN (SELECT household_key FROM households)""")
    eng.hold("_x_reach", "SELECT subject_id FROM _x_named UNION SELECT subject_id FROM _x_subjects")


def _with_all(eng: Engine, source: Any, declared: tuple[str, ...]) -> tuple[str, ...]:
    """The declared columns first, then the source's others."""
    return tuple(dict.fromkeys(declared + source_columns(eng, source)))


def _logged_cases(eng: Engine, focus: bool) -> bool:
    """Relation _x_household_cases (subject_id, hh_cases): per person the cases with a case id of the person (own)
    and of the other members of the person's household, for the logged case paths (logged_case: another member's
    case in the unit, the person's own being the case path's whatever the log names; logged_referral: the
    person's or a member's case in any unit), read by _x_people: the events meet them in the one join with their people,
    not in a join of their own on the case id (a shuffle of every event on Spark). False (no relation) when the
    events or the cases carry no case_id. With `focus`, for the people the events name (their households' cases
    from all the cases)."""
    if CASE_ID not in eng.columns("_x_input_events") or CASE_ID not in eng.columns("_x_cases"):
        return False
    cases = "_x_cases_all" if focus else "_x_cases"
    people = "(SELECT * FROM _x_subjects WHERE subject_id IN (SELECT subject_id FROM _x_named))" if focus \
        else "_x_subjects"
    eng.hold("_x_household_cases", f"""
        WITH members AS (
            SELECT m.subject_id, o.subject_id AS member FROM {people} m
            JOIN _x_subjects o ON o.household_key = m.household_key AND o.subject_id <> m.subject_id
            UNION ALL SELECT subject_id, subject_id AS member FROM {people})
        SELECT m.subject_id, {eng.collect(eng.record(
                   case_id=f"c.{CASE_ID}", org_code="c.org_code", unit="c.unit", opened_at="c.opened_at",
                   closed_at="c.closed_at", open_until=f"c.closed_at + INTERVAL {CASE_GRACE_DAYS} DAY",
                   own="m.member = m.subject_id"))} AS hh_cases
        FROM members m JOIN {cases} c ON c.subject_id = m.member
        WHERE c.{CASE_ID} IS NOT NULL GROUP BY m.subject_id""")
    return True


def _event_columns(logged: bool) -> tuple[str, ...]:
    """The event columns the flags keep: EVENT_COLUMNS, and the case the access names for the logged case path
    (the fake accesses keep their real access's)."""
    return EVENT_COLUMNS + ((CASE_ID,) if logged else ())


def _case_conditions(e: str) -> dict[str, str]:
    """The case paths' conditions on a case `x` (an element of a person's case list, with the ends of its grace
    day and follow-up month) for the event `e`: comparisons only, evaluated once per case in the list."""
    own_org = f"x.org_code = {e}.org_code"
    open_case = f"{e}.occurred_at >= x.opened_at AND (x.closed_at IS NULL OR {e}.occurred_at <= x.open_until)"
    same_unit = f"(x.unit IS NULL OR {e}.unit IS NULL OR x.unit = {e}.unit)"
    after_case = f"x.closed_at IS NOT NULL AND {e}.occurred_at > x.closed_at AND {e}.occurred_at <= x.follow_until"
    other_unit = f"x.unit IS NOT NULL AND {e}.unit IS NOT NULL AND x.unit <> {e}.unit"
    return {"case_unit": f"{own_org} AND {open_case} AND {same_unit}", "referral": f"{own_org} AND {open_case}",
            "follow_up": f"{own_org} AND {after_case} AND {same_unit}",
            "other_unit": f"{own_org} AND {open_case} AND {other_unit}"}


def _referral_unit(eng: Engine, cases: str, e: str, named: str | None = None) -> str:
    """The unit of an open case of the organisation in another unit than the staff member's, for the event `e`:
    the case the access names (`named`: a list of the household's cases with their case ids) when it is one,
    else the first such unit (in sort order) among the person's own cases (`cases`); NULL when there is none.
    What a staff member's referral is judged per (_staff_referrals)."""
    other = _case_conditions(e)["other_unit"]
    own = eng.least_of(cases, "x", other, "x.unit")
    if named is None:
        return own
    return f"coalesce({eng.least_of(named, 'x', f'x.{CASE_ID} = {e}.{CASE_ID} AND {other}', 'x.unit')}, {own})"


def _flags(eng: Engine, events: str, out: str, carry: dict[str, str] | None = None, staff: bool = False,
           logged: bool = False) -> None:
    """Relation `out`: one row per event of `events` with EVENT_COLUMNS, the `carry` columns (expressions over
    the event `e`, its person `p` from _x_people and, with `staff`, its staff member `s` from _x_staff) and a
    flag per path (h_<path>): the case paths from the person's cases, and the paths built on contacts
    (h_household_of_case, h_repeat) from the staff member's contacts with the person and with the person's
    household, each also from the contacts in the staff member's unit alone (h_<path>_in_unit, CONTACT_PATHS);
    with `logged`, the logged case from the person's household's cases (p.hh_cases), and the event's case_id kept;
    h_logged_referral: the case the access names open in any unit of the organisation for another member of the
    person's household, and ref_unit: the other unit whose case the access is under (_referral_unit) where the
    case does not explain it, both for the staff members' referrals (_staff_referrals). (ref_unit is looked for
    only where the case does not explain the access: a list lookup more on every event cost Spark's explanation a
    third more at 5 M events. Where it finds a unit a referral holds, h_referral or h_logged_referral: another
    unit's open case of the organisation is a referral's case, so that is not tested again.)"""
    cond = _case_conditions("e")
    household, repeat = "x.d <= e.day AND x.d >= e._household_from", "x.d < e.day AND x.d >= e._repeat_from"
    pair = eng.contacts_by_pair  # the staff member's contacts from _x_contact_lists k, else from their person's map
    contacts = {"household_of_case": ("k.household_days" if pair else eng.lookup("p.household_days", "e.staff_id"),
                                      household),
                "repeat": ("k.own_days" if pair else eng.lookup("p.own_days", "e.staff_id"), repeat)}
    cols = [f"e.{c}" for c in _event_columns(logged)] + [f"{expr} AS {name}" for name, expr in (carry or {}).items()]
    logged_case = logged_referral = "false"
    if logged:  # the named case, open in the staff member's unit, for another member of the person's household
        named = eng.any_of("p.hh_cases", "x", f"x.{CASE_ID} = e.{CASE_ID} AND NOT x.own AND {cond['case_unit']}")
        logged_case = f"(e.{CASE_ID} IS NOT NULL AND {named})"
        # and open in any unit of the organisation for the person or another member of the household (a path of
        # its own, judged, and a staff member's referral: _staff_referrals)
        named = eng.any_of("p.hh_cases", "x", f"x.{CASE_ID} = e.{CASE_ID} AND {cond['referral']}")
        logged_referral = f"(e.{CASE_ID} IS NOT NULL AND {named})"
    windows = (f"SELECT *, {eng.add_days('day', -HOUSEHOLD_DAYS)} AS _household_from, "
               f"{eng.add_days('day', -REPEAT_DAYS)} AS _repeat_from FROM {events}")
    eng.hold(out, f"""
        SELECT {", ".join(cols)},
               {", ".join(f'{eng.any_of("p.cases", "x", cond[p])} AS h_{p}' for p in ("case_unit", "referral", "follow_up"))},
               {", ".join(f'{eng.any_of(days, "x", c)} AS h_{p}, {eng.any_of(days, "x", f"{c} AND x.u = 1")} '
                          f'AS h_{p}{IN_UNIT}' for p, (days, c) in contacts.items())},
               {logged_case} AS h_logged_case, {logged_referral} AS h_logged_referral,
               CASE WHEN NOT {eng.any_of("p.cases", "x", cond["case_unit"])}
                    THEN {_referral_unit(eng, "p.cases", "e", "p.hh_cases" if logged else None)} END AS ref_unit
        FROM ({windows}) e LEFT JOIN _x_people p ON p.subject_id = e.subject_id
        {"LEFT JOIN _x_contact_lists k ON k.subject_id = e.subject_id AND k.staff_id = e.staff_id" if pair else ""}
        {"LEFT JOIN _x_staff s ON s.staff_id = e.staff_id" if staff else ""}""")


def _contacts(eng: Engine) -> None:
    """_x_contacts: this window's accesses under an open case for the person in the organisation (the referral
    path's condition) per (staff, person, day, organisation), and whether one of them was under a case of the
    staff member's own unit (in_unit: the case path's condition). Which of them are case-explained depends on
    whether the organisation accepts referrals, judged later (`explain_contacts`, `_label_events`); ref_unit:
    another unit whose case one of them was under where their own unit's was not (_referral_unit), for the staff
    members' referrals."""
    cond = _case_conditions("e")
    eng.create("_x_contacts", f"""
        SELECT staff_id, subject_id, day, org_code, max(in_unit) AS in_unit, min(ref_unit) AS ref_unit
        FROM (SELECT e.staff_id, e.subject_id, e.day, e.org_code,
                     CASE WHEN {eng.any_of("c.cases", "x", cond["case_unit"])} THEN 1 ELSE 0 END AS in_unit,
                     CASE WHEN NOT {eng.any_of("c.cases", "x", cond["case_unit"])}
                          THEN {_referral_unit(eng, "c.cases", "e")} END AS ref_unit
              FROM _x_input_events e JOIN _x_case_lists c ON c.subject_id = e.subject_id
              WHERE {eng.any_of("c.cases", "x", cond["referral"])}) k
        GROUP BY staff_id, subject_id, day, org_code""")


def _people(eng: Engine, focus: bool = False, logged: bool = False) -> None:
    """Relation _x_people: per person (known to the subjects, the cases or the contacts) the subjects' columns,
    the cases (_x_case_lists) and, per staff member, the days of contacts with the person (own_days) and with
    other members of the person's household (household_days), earlier runs' contacts included, and with `logged`
    the household's cases (hh_cases, _x_household_cases). With `focus`, only the people the events name
    (_x_named). With the engine's `contacts_by_pair`, the contact days are not in _x_people but in
    _x_contact_lists, one row per (staff member, person), and _x_people holds the people known to the subjects
    or the cases."""
    named = " WHERE subject_id IN (SELECT subject_id FROM _x_named)" if focus else ""
    contact = eng.record(d="day", u="in_unit")
    per_person = "SELECT * FROM per_staff" if eng.contacts_by_pair else (
        f"SELECT subject_id, {eng.to_map('staff_id', 'own_days')} AS own_days, "
        f"{eng.to_map('staff_id', 'household_days')} AS household_days FROM per_staff GROUP BY subject_id")
    eng.create("_x_contact_lists", f"""
        WITH k AS (SELECT staff_id, subject_id, day, 1 AS in_unit FROM _x_prior_contacts UNION ALL
                   SELECT staff_id, subject_id, day, in_unit FROM _x_contacts),
        own AS (SELECT staff_id, subject_id, day, in_unit, true AS own FROM k
                WHERE staff_id IS NOT NULL AND subject_id IS NOT NULL AND day IS NOT NULL),
        household AS (
            SELECT k.staff_id, m.subject_id, k.day, k.in_unit, false AS own
            FROM own k JOIN _x_subjects s ON s.subject_id = k.subject_id
            JOIN _x_subjects m ON m.household_key = s.household_key AND m.subject_id <> k.subject_id),
        per_staff AS (
            SELECT staff_id, subject_id, {eng.collect(f"CASE WHEN own THEN {contact} END")} AS own_days,
                   {eng.collect(f"CASE WHEN NOT own THEN {contact} END")} AS household_days
            FROM (SELECT * FROM own UNION ALL SELECT * FROM household) c{named} GROUP BY staff_id, subject_id)
        {per_person}""")
    subject_cols = [c for c in eng.columns("_x_subjects") if c != "subject_id"]
    # by pair, the events meet the contacts in a join of their own (_flags): a person known only from contacts
    # has nothing else to carry
    k = None if eng.contacts_by_pair else "k.subject_id"
    eng.hold("_x_people", f"""
        SELECT {_coalesce("s.subject_id", "c.subject_id", k)} AS subject_id,
               {", ".join(f"s.{c}" for c in subject_cols)}, c.cases{"" if k is None else ", k.own_days, k.household_days"}
               {", h.hh_cases" if logged else ""}
        FROM (SELECT * FROM _x_subjects{named}) s
        FULL JOIN _x_case_lists c ON c.subject_id = s.subject_id
        {"" if k is None else "FULL JOIN _x_contact_lists k ON k.subject_id = coalesce(s.subject_id, c.subject_id)"}
        {f"LEFT JOIN _x_household_cases h ON h.subject_id = {_coalesce('s.subject_id', 'c.subject_id', k)}"
         if logged else ""}""")


def _coalesce(*columns: str | None) -> str:
    """coalesce() of the columns given (None: left out)."""
    return f"coalesce({', '.join(c for c in columns if c is not None)})"


def _fake_accesses(eng: Engine, seed: int, logged: bool = False) -> str:
    """The fake accesses, as a query (EVENT_COLUMNS): a sample of the accesses the case does not explain, with
    their people shuffled within the organisation and day (people often looked up stay often looked up). The
    sample is drawn from the real accesses' flags (_x_flags: the case is already judged there, so the events
    are not read again) by a digest of the event id, the same rows on every engine. With `logged`, each keeps
    the case its access named (a shuffled person under a real access's case)."""
    n = int(eng.frame("SELECT coalesce(sum(n), 0) AS n FROM _x_real_counts")["n"].iloc[0])
    modulus = max(1, -(-n // FAKE_SAMPLE))
    cut = f"'{16 ** 8 // modulus - 1:08x}'"  # keep about 1/modulus of the events, the same ones on every engine
    # the sample first (small), so that it is drawn once, then paired with itself
    eng.hold("_x_fake_sample", f"""
        SELECT {", ".join("e." + c for c in _event_columns(logged))},
               row_number() OVER (PARTITION BY e.org_code, e.day
                                  ORDER BY {eng.digest("e.event_id", repr(str(seed)))}, e.event_id) AS rn_self,
               row_number() OVER (PARTITION BY e.org_code, e.day
                                  ORDER BY {eng.digest("e.event_id", repr(str(seed + 7)))}, e.event_id) AS rn_other
        FROM _x_flags e
        WHERE e.subject_id IS NOT NULL AND NOT e.h_case_unit
          AND substr({eng.digest("e.event_id", repr(str(seed)))}, 1, 8) <= {cut}""")
    return f"""
        SELECT a.event_id, a.occurred_at, a.day, a.staff_id, a.org_code, a.unit, b.subject_id
               {f", a.{CASE_ID}" if logged else ""}
        FROM _x_fake_sample a JOIN _x_fake_sample b ON b.org_code = a.org_code AND b.day = a.day
         AND b.rn_other = a.rn_self"""


def _counted(flags: str) -> str:
    """Per organisation: the accesses naming a person (n), those the case does not explain (n_rest), and the
    hits of each path and contact variant (k_<path>, JUDGED); every path but the case itself counted on the
    accesses the case does not explain, because that is what it would explain away."""
    hits = ", ".join(f"count(CASE WHEN h_{p}{'' if p == 'case_unit' else ' AND NOT h_case_unit'} THEN 1 END) AS k_{p}"
                     for p in JUDGED)
    return f"""SELECT org_code, count(*) AS n, count(CASE WHEN NOT h_case_unit THEN 1 END) AS n_rest, {hits}
               FROM {flags} WHERE subject_id IS NOT NULL GROUP BY org_code"""


def _paths_sql() -> str:
    """The judged paths (JUDGED: PATHS and the contact paths' in-unit variants) as rows (path, rank)."""
    return " UNION ALL ".join(f"SELECT '{p}' AS path, {i} AS rank" for i, p in enumerate(JUDGED))


def _judge_paths(eng: Engine) -> None:
    """Relation explain_paths (PATH_COLUMNS): each path's support on real accesses (_x_real_counts) and on fake
    ones (_x_fake_flags) per organisation, pooled over all for small ones, and whether it is accepted. Counted
    first (_x_fake_counts: the fake accesses' as _x_real_counts; _x_path_counts: accesses and hits per
    organisation and path, real and fake), then judged."""
    def per_path(counts: str) -> str:  # (org_code, path, k) rows of a counts relation
        k = " ".join(f"WHEN '{p}' THEN k_{p}" for p in JUDGED)
        return f"SELECT c.org_code, p.path, CASE p.path {k} END AS k FROM {counts} c CROSS JOIN p"

    eng.create("_x_fake_counts", _counted("_x_fake_flags"))
    eng.create("_x_path_counts", f"""
        WITH p AS ({_paths_sql()}),
        real_h AS ({per_path("_x_real_counts")}),
        fake AS (SELECT * FROM _x_fake_counts),
        fake_h AS ({per_path("fake")})
        SELECT r.org_code, p.path, r.n AS n_events,
               CASE WHEN p.path = 'case_unit' THEN r.n ELSE r.n_rest END AS n_real,
               CASE WHEN p.path = 'case_unit' THEN coalesce(f.n, 0) ELSE coalesce(f.n_rest, 0) END AS n_fake,
               coalesce(rh.k, 0) AS k_real, coalesce(fh.k, 0) AS k_fake
        FROM _x_real_counts r CROSS JOIN p LEFT JOIN fake f ON f.org_code = r.org_code
        LEFT JOIN real_h rh ON rh.org_code = r.org_code AND rh.path = p.path
        LEFT JOIN fake_h fh ON fh.org_code = r.org_code AND fh.path = p.path""")
    _judge(eng)


def _judge(eng: Engine) -> None:
    """Relation explain_paths (PATH_COLUMNS) from _x_path_counts: support and chance support per organisation
    (pooled over all organisations for small ones), and whether the path is accepted; judged for every path of
    JUDGED (_x_judged), then each contact path's variant chosen (_choose_contact_variant)."""
    half, one, zero = num(0.5), num(1.0), num(0.0)
    eng.create("_x_judged", f"""
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
                   AND ({one} - chance_support / greatest(support, 1e-9) >= {num(MIN_CONFIDENCE)}
                        OR ({one} - chance_support / greatest(support, 1e-9) >= {num(MIN_LIFT_CONFIDENCE)}
                            AND chance_support <= {num(MAX_HIDDEN)}))) AS accepted
        FROM judged""")
    _choose_contact_variant(eng)


def _choose_contact_variant(eng: Engine) -> None:
    """explain_paths: PATHS per organisation from _x_judged, each contact path (CONTACT_PATHS) judged on the
    contacts an accepted case path explains: all of them where the organisation accepts referrals, those in the
    staff member's unit where it does not (an access under another unit's case that is no explanation there is
    no contact either: one relative with a case anywhere in the organisation would explain the household)."""
    variants = ", ".join(f"'{p}{IN_UNIT}'" for p in CONTACT_PATHS)
    named = " ".join(f"WHEN '{p}{IN_UNIT}' THEN '{p}'" for p in CONTACT_PATHS)
    eng.create("explain_paths", f"""
        SELECT j.org_code, CASE j.path {named} ELSE j.path END AS path, j.n_events, j.support, j.chance_support,
               j.confidence, j.accepted
        FROM _x_judged j JOIN (SELECT org_code, accepted AS referral FROM _x_judged WHERE path = 'referral') r
          ON r.org_code = j.org_code
        WHERE CASE WHEN j.path IN ({variants}) THEN NOT r.referral
                   WHEN j.path IN ({", ".join(f"'{p}'" for p in CONTACT_PATHS)}) THEN r.referral
                   ELSE true END""")


def _staff_referrals(eng: Engine) -> None:
    """Relation _x_staff_referral (staff_id, day, units): per staff-day, the other units whose referral is accepted
    on the staff member's own accesses of the REFERRAL_DAYS ending that day (MIN_STAFF_ACCESSES): where more of
    them were under that unit's open cases than under the own unit's (they worked there: moved or lent, not a
    caseworker with a referral now and then), and, of those the case does not explain, the share under an open
    case of that unit (ref_unit: the person's, or the one the access names for a member of the person's
    household) is a large part of them (MIN_STAFF_SHARE: not a counter clerk one of whose visitors in five is that
    unit's client) and clears MIN_CONFIDENCE against how often the organisation's fake accesses (_x_fake_flags) fall
    under that unit's case by chance. Per unit, because a unit's cases are what a moved or lent caseworker works
    (a welfare unit's clients are a few in a hundred of the people, the open cases of all units one in four);
    over the days before, because a move is a change in time: over the whole window the weeks after it dilute the
    weeks before, and a week that holds the move day dilutes its days before the move. A caseworker whose own
    unit's cases are most of their work keeps the organisation's judgement: accepted for them, the other unit's
    case of a relative or of a person they kept coming back to explained the snooping (the robustness
    benchmark's worlds: a strong household and a strong low-and-slow incident), as it did a public figure's
    record for a counter clerk without the bar on the share (a strong sensitive incident). The events are counted
    once, per staff-day, organisation and referral unit (_x_referral_counts), and the first organisation taken from
    those rows: Spark takes a text's min over the events only by sorting them all (a sort aggregate)."""
    half, one = num(0.5), num(1.0)
    # the counts a relation of their own, read three times below: as a CTE, Spark read the flags for each (and
    # took the staff-day's first organisation from the flags themselves, sorting them all)
    eng.create("_x_referral_counts", """
        SELECT staff_id, day, org_code, ref_unit, count(CASE WHEN NOT h_case_unit THEN 1 END) AS n_rest,
               count(CASE WHEN h_case_unit THEN 1 END) AS n_case
        FROM _x_flags WHERE subject_id IS NOT NULL AND staff_id IS NOT NULL
        GROUP BY staff_id, day, org_code, ref_unit""")
    offsets = " UNION ALL ".join(f"SELECT {i} AS i" for i in range(REFERRAL_DAYS))
    eng.create("_x_staff_referral", f"""
        WITH own AS (SELECT staff_id, day, min(org_code) AS org_code FROM _x_referral_counts GROUP BY staff_id, day),
        -- each staff-day's counts count towards the REFERRAL_DAYS ending on it and the days after (`upto`): an
        -- equality join, not a join of every staff member's days with each other (a day range: Spark compares them)
        spread AS (
            SELECT c.*, {eng.add_days("c.day", "o.i")} AS upto FROM _x_referral_counts c CROSS JOIN ({offsets}) o),
        own_days AS (SELECT staff_id, upto AS day, sum(n_rest) AS n_rest, sum(n_case) AS n_case FROM spread
                     GROUP BY staff_id, upto),
        unit_days AS (SELECT staff_id, upto AS day, org_code, ref_unit, sum(n_rest) AS k FROM spread
                      WHERE ref_unit IS NOT NULL GROUP BY staff_id, upto, org_code, ref_unit),
        chance AS (
            SELECT u.org_code, u.ref_unit, (sum(u.k) + {half}) / (max(f.n_rest) + {one}) AS chance_support
            FROM (SELECT org_code, ref_unit, count(*) AS k FROM _x_fake_flags
                  WHERE subject_id IS NOT NULL AND NOT h_case_unit AND ref_unit IS NOT NULL
                  GROUP BY org_code, ref_unit) u JOIN _x_fake_counts f ON f.org_code = u.org_code
            GROUP BY u.org_code, u.ref_unit),
        units AS (
            SELECT o.staff_id, o.day, u.ref_unit, u.k, d.n_rest, d.n_case,
                   coalesce(c.chance_support, {half} / (f.n_rest + {one})) AS chance_support
            FROM own o JOIN own_days d ON d.staff_id = o.staff_id AND d.day = o.day
            JOIN unit_days u ON u.staff_id = o.staff_id AND u.day = o.day AND u.org_code = o.org_code
            LEFT JOIN _x_fake_counts f ON f.org_code = o.org_code
            LEFT JOIN chance c ON c.org_code = o.org_code AND c.ref_unit = u.ref_unit)
        SELECT staff_id, day, {eng.collect("ref_unit")} AS units FROM units
        WHERE n_rest >= {MIN_STAFF_ACCESSES} AND k > n_case AND k >= {num(MIN_STAFF_SHARE)} * n_rest
          AND chance_support IS NOT NULL
          AND {one} - chance_support * n_rest / greatest(k, 1) >= {num(MIN_CONFIDENCE)}
        GROUP BY staff_id, day""")


def _label_events(eng: Engine, carried: tuple[str, ...]) -> None:
    """Relation explain_flags: every input event (EVENT_COLUMNS and the carried columns) with the first
    accepted path that holds on it (a contact path by the variant its organisation judges), computed when read
    (a join with the accepted paths per organisation, _x_accepted, a few rows, not a copy of the events); and
    explain_contacts: the window's contacts an accepted case path explains (the in-unit ones, and the others
    where the organisation accepts referrals, or the staff member those of the case's unit: _x_staff_referral),
    what later runs build household work and repeats on. A staff member's referral labels the accesses under a
    case of a unit accepted for them (ref_unit: the person's, or the one the access names for a household member,
    h_logged_referral; a shuffled person is hardly ever of the named case's household, so the unit's chance is
    that of the people's own cases); where the staff member has one, their contact paths count every contact as
    the organisation's do where it accepts referrals."""
    accepted = ", ".join(f"max(CASE WHEN path = '{p}' AND accepted THEN 1 ELSE 0 END) AS a_{p}" for p in PATHS)
    # the organisation's, or the staff member's for the unit of the case the access is under (ref_unit)
    referral = "(a.a_referral = 1 OR r.staff_id IS NOT NULL)"  # which contacts count (any of the staff's units)

    def staff_unit(x: str) -> str:
        return eng.any_of("r.units", "u", f"u = {x}.ref_unit")

    def labels(p: str) -> str:  # the path holds and is accepted
        if p == "referral":
            return f"((e.h_referral AND a.a_referral = 1) OR {staff_unit('e')})"
        if p not in CONTACT_PATHS:
            return f"(e.h_{p} AND a.a_{p} = 1)"
        return f"(CASE WHEN {referral} THEN e.h_{p} ELSE e.h_{p}{IN_UNIT} END AND a.a_{p} = 1)"

    first = " ".join(f"WHEN {labels(p)} THEN '{p}'" for p in PATHS)
    eng.create("_x_accepted", f"SELECT org_code, {accepted} FROM explain_paths GROUP BY org_code")
    eng.view("explain_flags", f"""
        SELECT {", ".join("e." + c for c in EVENT_COLUMNS + carried)}, CASE {first} END AS path
        FROM _x_flags e LEFT JOIN _x_accepted a ON a.org_code = e.org_code
        LEFT JOIN _x_staff_referral r ON r.staff_id = e.staff_id AND r.day = e.day""")
    eng.create("explain_contacts", f"""
        SELECT DISTINCT k.staff_id, k.subject_id, k.day
        FROM _x_contacts k LEFT JOIN _x_accepted a ON a.org_code = k.org_code
        LEFT JOIN _x_staff_referral r ON r.staff_id = k.staff_id AND r.day = k.day
        WHERE k.in_unit = 1 OR a.a_referral = 1 OR {staff_unit("k")}""")
