"""Set-based context joins in DuckDB: which accesses are explained, and per staff-day summaries.

An access is explained when a path accepted in its organisation holds (anomaly.explanations: an open case
in the staff member's unit, and the referral, household, follow-up and repeat paths the organisation's own
log supports). Everything else is raw material for the scenario detectors. The per staff-day summaries are stored (anomaly_staff_days) so
that an incremental run finds the per-person and peer baselines without rescanning the whole archive.
The stages run on a detection engine (anomaly.engine) over named relations; only event_range reads the warehouse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from anomaly import explanations
from anomaly.engine import Engine, Relation, archive, num
from observatory import calendar

BATCH_UPDATES = 20  # people updated without a case by one account in a day that make it a batch correction
# a window of at most this many days names few of the people: the explanation builds its per-person relations
# for those people only (an incremental run); a longer one names most of them, and the focus would cost a pass
FOCUS_DAYS = 7

# The relations this stage hands on (the scenario detectors read them).
EV = Relation("ev", ("event_id", "occurred_at", "staff_id", "org_code", "subject_id", "action", "record_count",
                     "day", "hr", "after_hours", "night", "terminal_id", "after_termination", "personal",
                     "out_area", "sensitive", "home_muni", "rel_household", "rel_surname", "rel_neighbour",
                     "rel_adjacent", "rel_coworker", "unit", "explained", "explained_by"))
STAFF_DAYS = Relation("staff_days", (
    "staff_id", "day", "org_code", "role", "unit", "n_events", "n_subjects", "n_case_events", "n_unexpl_events",
    "n_unexpl_subjects", "peak_hour_unexpl", "n_unexpl_home", "n_unexpl_out", "n_after_hours",
    "n_after_hours_unexpl", "n_night_unexpl", "n_night_unexpl_early", "n_exports", "max_records", "n_updates_unexpl",
    "n_terminals", "n_unexpl_households", "n_unexpl_home_households", "n_unexpl_out_households"))
# one row per (staff, person, day): the window's rows are grouped so, and the stored history holds the days
# before the window (each run replaces its window's days: detect._store_state). `updated`: the accesses
# included an update; `revisit`: the staff member had accessed the person without a case on an earlier day
# within REVISIT_DAYS (both NULL on rows stored before they were kept)
UNEXPLAINED = Relation("unexplained", ("staff_id", "subject_id", "day", "n_events", "updated", "revisit"))
REVISIT_DAYS = 14
# A night desk: a terminal at which after-hours work without a case is a routine of colleagues taking turns, not one
# person's choice (宿日直: one clerk a night at the night-duty window, receiving death and birth notifications and
# checking the register). Per (organisation, terminal, day, staff member) of use, whether the staff member looked
# someone up there after hours without a case (`late`): TERMINAL_DAYS, stored as anomaly_terminal_days for the runs
# after this one. A staff member's after-hours look-ups at a terminal are not counted as the person's after-hours
# work (night_desks) where, on its other days within the lookback, at least DESK_STAFF other staff each worked late
# there alone (DESK_HANDOVER) on at least DESK_NIGHTS nights in all, at most DESK_TURNS nights each on average, and
# such nights are at least DESK_SHARE of the days the terminal was used at all (a desk kept for the night). Not a
# desk: a unit's shared terminals, used every working day, at which its night-shift staff or a colleague on overtime
# sometimes work late (their own patterns: scenarios._shift_work, scenarios._overtime), or at which many worked at
# once on a disaster night (the organisation's surge: scenarios._surges). The relationship and volume tests are
# unchanged: a relative looked up at the night desk is still a relative.
TERMINAL_DAYS = Relation("terminal_days", ("org_code", "terminal_id", "day", "staff_id", "late"))
# The people each batch correction of the window updated (build_events), stored as anomaly_batch_updates: a run whose
# window starts the day after a batch reads that day's rows back (hist_batch_updated), for the batch's checks.
BATCH_UPDATED = Relation("batch_updated", ("staff_id", "day", "subject_id"))
DESK_STAFF = 3
DESK_NIGHTS = 5
DESK_TURNS = 3
DESK_SHARE = 0.5
DESK_HANDOVER = 2  # a night through midnight is two days' look-ups: a day of a desk has the night's end and the next
                   # one's start, so "alone" is at most two colleagues late there in a day (three or more: a crowd)
# per staff member the sizes of the related-person sets and of the populations they are drawn from
# (residence_context), stored with the key that identifies them (anomaly_staff_context)
STAFF_CONTEXT = Relation("staff_ctx", (
    "staff_id", "own_muni", "pop", "n_household", "n_surname", "n_neighbour", "n_adjacent", "n_kin_near",
    "pop_households", "n_adjacent_households", "n_surname_households", "n_neighbour_households",
    "n_kin_near_households", "n_coworker", "org_pop"))
# The deep night before this local hour is the early morning of the day, after it the night of the evening: a night
# worked through midnight is two days' counts, n_night_unexpl_early of the later day and the rest of the earlier
# (scenarios.after_hours tests the night as one). Noon lies inside every working day whatever the hours.
NIGHT_EARLY_BEFORE = 12

# How ev's columns are computed, in three places. On the window's events (explain_events), from the event `e`
# (local_ts: its local time), the staff member's own record `so`, the organisation as a municipality `m` and
# co-workers `cw`:
_EVENT_EXPRESSIONS = {
    "event_id": "e.event_id", "occurred_at": "e.occurred_at", "day": "CAST(e.local_ts AS DATE)",
    "staff_id": "e.staff_id", "org_code": "e.org_code", "unit": "so.unit", "subject_id": "e.subject_id",
    "action": "lower(e.action)", "record_count": "coalesce(e.record_count, 1)",
    "hr": "CAST(hour(e.local_ts) AS TINYINT)",
    "after_hours": "(hour(e.local_ts) < $start_h OR hour(e.local_ts) >= $end_h)",
    "night": "(hour(e.local_ts) < $start_h - 2 OR hour(e.local_ts) >= $end_h + 2)",
    "terminal_id": "e.terminal_id", "case_id": "nullif(trim(e.case_id), '')",
    "after_termination": "coalesce(so.status = 'terminated' AND CAST(e.local_ts AS DATE) > so.terminated_on, false)",
    "org_is_muni": "m.code IS NOT NULL", "cw_staff": "cw.staff_id",
}
# ... in the explanation's one pass over the events (carried with its flags), from the event `e`, its person
# `p` (subject_blocks) and its staff member's own record `s` (staff_own). A neighbourhood key is read within its
# municipality (本町1丁目 is in many cities); a person without a household key is in no one's household.
_OTHER_HOUSEHOLD = "NOT coalesce(p.household_key = s.own_hh, false)"


def household_unit(p: str, subject: str | None = None) -> str:
    """The household person `p` counts in, as text: the household key within its municipality, or the person
    alone (`subject`: the person's id where `p` may be missing). Look-ups come in households (a family at the
    counter is three or four records of one visit), so the relationship and out-of-jurisdiction tests count
    households, not people, in what they observe and in what chance would draw. Read where it is counted (the
    window's unexplained people, batch corrections, related accesses), not carried with every event."""
    return f"coalesce({p}.municipality_code || '/' || {p}.household_key, '#' || {subject or f'{p}.subject_id'})"


_CARRIED = {
    **{c: f"e.{c}" for c in ("action", "record_count", "hr", "after_hours", "night", "terminal_id",
                             "after_termination")},
    "out_area": "coalesce(e.org_is_muni AND p.municipality_code <> e.org_code, false)",
    "sensitive": "coalesce(p.sensitive, false)",
    "home_muni": "coalesce(p.municipality_code = s.own_muni, false)",
    "rel_household": "coalesce(p.household_key = s.own_hh, false)",
    "rel_surname": "coalesce(p.surname_key = s.own_surname AND p.municipality_code = s.own_muni "
                   f"AND {_OTHER_HOUSEHOLD}, false)",
    "rel_neighbour": "coalesce(p.neighbourhood_key = s.own_nb AND p.municipality_code = s.own_muni "
                     f"AND {_OTHER_HOUSEHOLD}, false)",
    "rel_adjacent": "coalesce(p.nb_stem = s.own_nb_stem AND abs(p.nb_num - s.own_nb_num) = 1 "
                    f"AND p.municipality_code = s.own_muni AND {_OTHER_HOUSEHOLD}, false)",
    "rel_coworker": f"coalesce(e.cw_staff IS NOT NULL AND e.cw_staff <> e.staff_id AND {_OTHER_HOUSEHOLD}, false)",
}
# ... and in ev itself, from the explained event `r` (explain_flags) and the batch-correction days `b`.
_EV_EXPRESSIONS = {
    **{c: f"r.{c}" for c in EV.columns},
    "personal": "((r.record_count <= 1 OR r.action = 'update') "
                "AND NOT (r.path IS NULL AND b.staff_id IS NOT NULL "
                "AND ((b.batch AND r.action = 'update') OR coalesce(array_contains(b.updated, r.subject_id), false))))",
    "explained": "r.path IS NOT NULL", "explained_by": "r.path",
}
# A neighbourhood key's block: its last run of digits is the block number, the text around it the street
# (千代田区霞が関1丁目 -> 千代田区霞が関#丁目 and 1; 01100-0003-2 -> 01100-0003-# and 2; NB000123 -> NB# and 123).
# Two blocks whose keys differ only by one in that number are adjacent (the next chome, the next block of a
# town) when they are in the same municipality; a key without digits (an opaque code) has no adjacent block.
# Registers write a chome in kanji as often as in digits (霞が関一丁目, 本町十二丁目): the key is read with its kanji
# numerals up to 九十九 as digits first (KANJI_NUMERALS; full-width digits are already ASCII, every identifier
# being read in NFKC). Same spelling on every engine.
_BLOCK_PATTERN = "'^(.*?)([0-9]{1,15})([^0-9]*)$'"
KANJI_NUMERALS = ("〇一二三四五六七八九", "0123456789")


def _numerals(eng: Engine, key: str) -> str:
    """The key with kanji numerals written in digits: 一..九 and 〇 digit by digit, then 十 by its place
    (二十三 -> 23, 二十 -> 20, 十二 -> 12, 十 -> 10)."""
    digits = f"translate({key}, '{KANJI_NUMERALS[0]}', '{KANJI_NUMERALS[1]}')"
    tens_units = eng.replace_all(digits, "'([1-9])十([1-9])'", "'\\1\\2'")
    tens = eng.replace_all(tens_units, "'([1-9])十'", "'\\10'")
    ten_units = eng.replace_all(tens, "'十([1-9])'", "'1\\1'")
    return f"replace({ten_units}, '十', '10')"


def block_sql(eng: Engine, key: str = "neighbourhood_key") -> tuple[str, str]:
    """SQL of a key's block: (street, number), NULL both when the key has no number."""
    k = _numerals(eng, key)
    stem = (f"CASE WHEN regexp_extract({k}, {_BLOCK_PATTERN}, 2) <> '' THEN "
            f"regexp_extract({k}, {_BLOCK_PATTERN}, 1) || '#' || regexp_extract({k}, {_BLOCK_PATTERN}, 3) END")
    return stem, f"TRY_CAST(regexp_extract({k}, {_BLOCK_PATTERN}, 2) AS BIGINT)"



@dataclass(frozen=True)
class Window:
    """Local calendar days [first, last] to detect on, in the configured time zone."""

    first: date
    last: date
    timezone: str = calendar.DEFAULT_TIMEZONE

    @property
    def n_days(self) -> int:
        return (self.last - self.first).days + 1


def event_range(con: duckdb.DuckDBPyConnection, timezone: str, root: Path | None = None) -> tuple[date, date] | None:
    """First and last local day present in the access-event archive (None when it is empty): from the first and
    last month partitions under `root` (the archive the warehouse's access_events view reads) when it can, else
    from the whole view (whose failure on a damaged file names the problem)."""
    try:
        row = archive.time_range(root, con)
    except duckdb.Error:
        row = None
    if row is None:
        row = con.execute("SELECT min(occurred_at), max(occurred_at) FROM access_events").fetchone()
    if row is None or row[0] is None:
        return None
    days = con.execute("SELECT (?::TIMESTAMPTZ AT TIME ZONE ?)::DATE, (?::TIMESTAMPTZ AT TIME ZONE ?)::DATE",
                       [row[0], timezone, row[1], timezone]).fetchone()
    return days[0], days[1]


def window_bounds(window: Window) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of the window's local days."""
    tz = calendar.zone(window.timezone)
    start = datetime.combine(window.first, dtime(0), tz).astimezone(UTC)
    end = datetime.combine(window.last + timedelta(days=1), dtime(0), tz).astimezone(UTC)
    return start, end


def residences(eng: Engine) -> None:
    """Relations neighbourhood_blocks (neighbourhood_key, nb_stem, nb_num: each key's block, parsed once per key,
    a few thousand rows), subject_blocks (every person of `subjects` with the block of their key, computed when
    read: a join with the small relation, not a copy of the population) and staff_own (every member of `staff`
    with their own resident record)."""
    sql = _residences_sql(eng)
    eng.create("neighbourhood_blocks", sql["neighbourhood_blocks"])
    eng.view("subject_blocks", sql["subject_blocks"])
    eng.create("staff_own", sql["staff_own"])


def _residences_sql(eng: Engine) -> dict[str, str]:
    stem, number = block_sql(eng)
    return {"neighbourhood_blocks": f"""
        SELECT neighbourhood_key, {stem} AS nb_stem, {number} AS nb_num
        FROM (SELECT DISTINCT neighbourhood_key FROM subjects WHERE neighbourhood_key IS NOT NULL) d""",
            "subject_blocks": """
        SELECT s.*, k.nb_stem, k.nb_num FROM subjects s
        LEFT JOIN neighbourhood_blocks k ON k.neighbourhood_key = s.neighbourhood_key""",
            # the staff member's own resident record, once per person rather than once per event
            "staff_own": """
        SELECT s.staff_id, s.org_code, s.unit, s.role, s.status, s.terminated_on,
               o.municipality_code AS own_muni,
               o.household_key AS own_hh, o.surname_key AS own_surname, o.neighbourhood_key AS own_nb,
               o.nb_stem AS own_nb_stem, o.nb_num AS own_nb_num
        FROM staff s LEFT JOIN subject_blocks o ON o.subject_id = s.subject_id"""}


def build_events(eng: Engine, window: Window, work_hours: tuple[int, int]) -> int:
    """Relation ev (EV): the window's events with their explanation and relationship flags; returns its size.

    Inputs: `events` (the archive), `staff`, `subjects`, `cases`, `municipalities`, `prior_contacts`,
    `hist_batch_updated` (BATCH_UPDATED: the stored batch corrections' people; those of the day before the window
    are read). Leaves `batch_updated`, the window's, for the runs after this one.
    Also leaves the relations of `residences` (`neighbourhood_blocks`, `subject_blocks`, `staff_own`) and the
    explanation stage's outputs `explain_flags`, `explain_paths`, `explain_contacts`."""
    start, end = window_bounds(window)
    params = {"tz": window.timezone, "t0": start, "t1": end,
              "start_h": int(work_hours[0]), "end_h": int(work_hours[1])}
    residences(eng)
    # the window's events with what is known of them before they meet their people
    eng.view("explain_events", f"""
        WITH cw AS (SELECT subject_id, org_code, min(staff_id) AS staff_id FROM staff
                    WHERE subject_id IS NOT NULL GROUP BY subject_id, org_code)
        SELECT {", ".join(f"{x} AS {c}" for c, x in _EVENT_EXPRESSIONS.items())}
        FROM (SELECT r.*, {eng.local_time("r.occurred_at", "$tz")} AS local_ts FROM events r
              WHERE r.occurred_at >= $t0 AND r.occurred_at < $t1) e
        LEFT JOIN staff_own so ON so.staff_id = e.staff_id
        LEFT JOIN municipalities m ON m.code = e.org_code
        LEFT JOIN cw ON cw.subject_id = e.subject_id AND cw.org_code = e.org_code""", params)
    # explained: a path from the log accepted in the organisation (anomaly.explanations); the same pass over
    # the events with their people computes the columns of ev that need the person
    explained = explanations.explain(eng, explanations.ExplainInputs(
        events="explain_events", cases="cases", subjects="subject_blocks", contacts="prior_contacts",
        staff="staff_own", carry=_CARRIED, focus=window.n_days <= FOCUS_DAYS))
    # a staff-day updating many people's records without a case is a batch correction (data cleansing, a
    # fiscal-year switch), not a look at particular people: its updates (`batch`), and the unexplained views of the
    # people it updated on the same day or the day after (the checks of a batch run into the night: `updated`), are
    # not counted as personal accesses (not in the counts the volume tests compare), but the relationship tests still
    # see the updates, with the people it updated among their draws (scenarios.related_accesses: padding a day to a
    # batch must not hide a relative's record in it). A day after a batch that is no batch itself has a row with no
    # counts (batch false), for its checks; the window's first day has one for a batch of the day before the window
    # (hist_batch_updated: stored by the run that covered that day), so that the nightly run judges the checks as
    # a run over both days does.
    unit = household_unit("p", "u.subject_id")
    eng.create("batch_updates", "SELECT staff_id, day, subject_id, home_muni FROM explain_flags "
                                "WHERE action = 'update' AND path IS NULL AND staff_id IS NOT NULL")
    eng.create("batch_updated", f"""
        SELECT DISTINCT u.staff_id, u.day, u.subject_id FROM batch_updates u
        SEMI JOIN (SELECT staff_id, day FROM batch_updates GROUP BY staff_id, day
                   HAVING count(DISTINCT subject_id) >= {BATCH_UPDATES}) b ON b.staff_id = u.staff_id AND b.day = u.day""")
    eng.create("batch_days", f"""
        WITH upd AS (SELECT u.* FROM batch_updates u
                     SEMI JOIN batch_updated b ON b.staff_id = u.staff_id AND b.day = u.day),
        counted AS (
            SELECT u.staff_id, u.day, count(DISTINCT u.subject_id) AS n_subjects,
                   count(DISTINCT CASE WHEN u.home_muni THEN u.subject_id END) AS n_home,
                   count(DISTINCT CASE WHEN u.home_muni THEN {unit} END) AS n_home_households
            FROM upd u LEFT JOIN subjects p ON p.subject_id = u.subject_id
            GROUP BY u.staff_id, u.day),
        checked AS (
            SELECT staff_id, day, {eng.sorted_set("subject_id")} AS updated
            FROM (SELECT staff_id, day, subject_id FROM batch_updated UNION ALL
                  SELECT staff_id, {eng.add_days("day", 1)} AS day, subject_id FROM batch_updated UNION ALL
                  SELECT staff_id, {eng.add_days("day", 1)} AS day, subject_id FROM hist_batch_updated
                  WHERE day = $before) c
            GROUP BY staff_id, day)
        SELECT k.staff_id, k.day, n.staff_id IS NOT NULL AS batch, coalesce(n.n_subjects, 0) AS n_subjects,
               coalesce(n.n_home, 0) AS n_home, coalesce(n.n_home_households, 0) AS n_home_households, k.updated
        FROM checked k LEFT JOIN counted n ON n.staff_id = k.staff_id AND n.day = k.day""",
               {"before": window.first - timedelta(days=1)})
    # every later stage reads it: stored on DuckDB, a view over the stored flags on Spark (Engine.derive)
    eng.derive("ev", f"""
        SELECT {", ".join(f"{_EV_EXPRESSIONS[c]} AS {c}" for c in EV.columns)}
        FROM explain_flags r LEFT JOIN batch_days b ON b.staff_id = r.staff_id AND b.day = r.day""")
    return explained.n_events  # ev's rows: one per flagged event (its joins are on unique keys)


def batch_corrections(eng: Engine) -> dict[str, int]:
    """The window's batch corrections (batch_days): staff-days, the people they updated (counted per staff-day)
    and the threshold that makes one (BATCH_UPDATES)."""
    df = eng.frame("SELECT count(*) AS staff_days, coalesce(sum(n_subjects), 0) AS people FROM batch_days WHERE batch")
    return {"staff_days": int(df["staff_days"].iloc[0]), "people": int(df["people"].iloc[0]),
            "threshold": BATCH_UPDATES}


def night_desk_counts(eng: Engine) -> dict[str, Any]:
    """The window's night desks (night_desks): terminals, the staff-days whose after-hours look-ups there were not
    counted as after-hours work, the thresholds and the busiest terminal (an example for the analyst)."""
    df = eng.frame("SELECT terminal_id, count(*) AS n FROM night_desks GROUP BY terminal_id "
                   "ORDER BY n DESC, terminal_id")
    out: dict[str, Any] = {"terminals": len(df), "staff_days": int(df["n"].sum()) if len(df) else 0,
                           "other_staff": DESK_STAFF, "other_nights": DESK_NIGHTS}
    return out | ({"example": str(df["terminal_id"].iloc[0])} if len(df) else {})


def explained_shares(eng: Engine) -> dict[str, float]:
    """Share of the window's accesses explained, in all and by path (from ev)."""
    df = eng.frame("SELECT explained_by, count(*) AS n FROM ev GROUP BY explained_by")
    rows = [(None if pd.isna(p) else p, int(n)) for p, n in zip(df["explained_by"], df["n"], strict=True)]
    total = sum(n for _, n in rows) or 1
    out = {p: round(n / total, 4) for p, n in rows if p is not None}
    return {"explained": round(sum(n for p, n in rows if p is not None) / total, 4)} | dict(sorted(out.items()))


def staff_days(eng: Engine) -> int:
    """Relations window_staff_days and window_unexplained from ev, and staff_days / unexplained: the stored
    history (hist_staff_days, hist_unexplained, days before the window) with the window's rows."""
    # per (staff, person, day) of the unexplained single-person accesses: their count and what they were
    # (one aggregation, read by the staff-day summaries and, as window_unexplained, by the later stages)
    _night_desks(eng)
    # (the after-hours flags leave out the look-ups at a night desk: `d`)
    late = "e.{} AND d.staff_id IS NULL"
    eng.hold("window_unexplained_people", f"""
        SELECT g.*, {household_unit("p", "g.subject_id")} AS household
        FROM (SELECT e.staff_id, e.subject_id, e.day, count(*) AS n_events, bool_or(e.home_muni) AS u_home,
                     bool_or(e.out_area) AS u_out, bool_or({late.format("after_hours")}) AS u_ah,
                     bool_or({late.format("night")}) AS u_night,
                     bool_or({late.format("night")} AND e.hr < {NIGHT_EARLY_BEFORE}) AS u_night_early,
                     bool_or(e.action = 'update') AS u_upd
              FROM ev e LEFT JOIN night_desks d ON d.org_code = e.org_code AND d.terminal_id = e.terminal_id
                   AND d.staff_id = e.staff_id AND d.day = e.day
              WHERE NOT e.explained AND e.personal AND e.subject_id IS NOT NULL
              GROUP BY e.staff_id, e.subject_id, e.day) g
        LEFT JOIN subjects p ON p.subject_id = g.subject_id""")
    _revisits(eng)
    _window_staff_days(eng)
    # views: each is read two or three times, and a copy of the history would cost more than rereading it
    eng.view("staff_days", f"SELECT {STAFF_DAYS.select()} FROM hist_staff_days UNION ALL "
                           f"SELECT {STAFF_DAYS.select()} FROM window_staff_days")
    eng.view("unexplained", f"SELECT {UNEXPLAINED.select()} FROM hist_unexplained UNION ALL "
                            f"SELECT {UNEXPLAINED.select()} FROM window_unexplained")
    return eng.count("window_staff_days")


def _night_desks(eng: Engine) -> None:
    """Relations terminal_days (TERMINAL_DAYS: the window's use of each terminal by each staff member per day, and
    whether they looked someone up there after hours without a case) and night_desks (org_code, terminal_id,
    staff_id, day): the window's late staff-days at a night desk, judged on the terminal's other days in the
    window and the stored history (hist_terminal_days). A staff member's own nights never make their terminal a
    desk, nor the day tested, nor nights when several worked late there at once."""
    eng.create("terminal_days", f"""
        SELECT org_code, terminal_id, day, staff_id,
               bool_or({_UNEXPLAINED} AND after_hours AND subject_id IS NOT NULL) AS late
        FROM ev WHERE terminal_id IS NOT NULL AND org_code IS NOT NULL AND staff_id IS NOT NULL
        GROUP BY org_code, terminal_id, day, staff_id""")
    key = "a.org_code = w.org_code AND a.terminal_id = w.terminal_id AND a.day <> w.day"
    eng.create("night_desks", f"""
        WITH every AS (SELECT {TERMINAL_DAYS.select()} FROM terminal_days UNION ALL
                       SELECT {TERMINAL_DAYS.select("h")} FROM hist_terminal_days h),
        days AS (SELECT org_code, terminal_id, day, count(CASE WHEN late THEN 1 END) AS n_late
                 FROM every GROUP BY org_code, terminal_id, day),
        alone AS (SELECT e.org_code, e.terminal_id, e.day, e.staff_id FROM every e
                  JOIN days d ON d.org_code = e.org_code AND d.terminal_id = e.terminal_id AND d.day = e.day
                  WHERE e.late AND d.n_late <= {DESK_HANDOVER}),
        used AS (SELECT w.org_code, w.terminal_id, w.staff_id, w.day, count(*) AS n_used
                 FROM terminal_days w JOIN days a ON {key} WHERE w.late
                 GROUP BY w.org_code, w.terminal_id, w.staff_id, w.day),
        turns AS (SELECT w.org_code, w.terminal_id, w.staff_id, w.day, {eng.count_distinct("a.staff_id")} AS n_staff,
                         {eng.count_distinct("a.day")} AS n_nights
                  FROM terminal_days w JOIN alone a ON {key} AND a.staff_id <> w.staff_id WHERE w.late
                  GROUP BY w.org_code, w.terminal_id, w.staff_id, w.day)
        SELECT t.org_code, t.terminal_id, t.staff_id, t.day
        FROM turns t JOIN used u ON u.org_code = t.org_code AND u.terminal_id = t.terminal_id
             AND u.staff_id = t.staff_id AND u.day = t.day
        WHERE t.n_staff >= {DESK_STAFF} AND t.n_nights >= {DESK_NIGHTS} AND t.n_nights <= {DESK_TURNS} * t.n_staff
          AND t.n_nights >= {num(DESK_SHARE)} * u.n_used""")


def _revisits(eng: Engine) -> None:
    """Relation window_unexplained (UNEXPLAINED): the window's unexplained (staff, person, day) rows, with whether
    they included an update and whether the staff member had accessed the person without a case on an earlier
    day within REVISIT_DAYS (in the window or the stored history: its last REVISIT_DAYS before the window)."""
    prior = eng.add_days("w.day", -REVISIT_DAYS)
    eng.create("window_unexplained", f"""
        WITH earlier AS (
            SELECT staff_id, subject_id, day FROM hist_unexplained
            WHERE day >= (SELECT {eng.add_days("min(day)", -REVISIT_DAYS)} FROM window_unexplained_people)
            UNION ALL SELECT staff_id, subject_id, day FROM window_unexplained_people),
        seen AS (
            SELECT DISTINCT w.staff_id, w.subject_id, w.day FROM window_unexplained_people w
            JOIN earlier e ON e.staff_id = w.staff_id AND e.subject_id = w.subject_id AND e.day < w.day
             AND e.day >= {prior})
        SELECT w.staff_id, w.subject_id, w.day, w.n_events, w.u_upd AS updated, s.staff_id IS NOT NULL AS revisit
        FROM window_unexplained_people w
        LEFT JOIN seen s ON s.staff_id = w.staff_id AND s.subject_id = w.subject_id AND s.day = w.day""")


# an access no path explains, to one person (not a list or a batch correction)
_UNEXPLAINED = "NOT explained AND personal"


def _window_staff_days(eng: Engine) -> None:
    """Relation window_staff_days (STAFF_DAYS) from ev: plain counts per (staff, day); distinct-people counts
    only over the unexplained single-person accesses (window_unexplained_people), and the same in households
    (n_unexpl_households, n_unexpl_home_households, n_unexpl_out_households: household_unit)."""
    unexpl = _UNEXPLAINED
    eng.create("window_staff_days", f"""
        WITH plain AS (
            SELECT staff_id, day, min(org_code) AS org_code, count(*) AS n,
                   {eng.count_distinct('subject_id')} AS n_subjects,
                   count(CASE WHEN explained THEN 1 END) AS n_case, count(CASE WHEN NOT explained THEN 1 END) AS n_unexpl,
                   count(CASE WHEN after_hours THEN 1 END) AS n_ah,
                   count(CASE WHEN action = 'export' THEN 1 END) AS n_exp,
                   coalesce(max(CASE WHEN action IN ('export', 'search') THEN record_count END), 0) AS max_rec,
                   {eng.count_distinct('terminal_id')} AS n_terminals
            FROM ev GROUP BY staff_id, day
        ), u AS (
            SELECT staff_id, day, count(*) AS n_u, count(CASE WHEN u_home THEN 1 END) AS n_home,
                   count(CASE WHEN u_out THEN 1 END) AS n_out, count(CASE WHEN u_ah THEN 1 END) AS n_uah,
                   count(CASE WHEN u_night THEN 1 END) AS n_unight,
                   count(CASE WHEN u_night_early THEN 1 END) AS n_unight_early,
                   count(CASE WHEN u_upd THEN 1 END) AS n_upd
            FROM window_unexplained_people GROUP BY staff_id, day
        ), hh AS (
            SELECT staff_id, day, count(*) AS n_hh, count(CASE WHEN u_home THEN 1 END) AS n_home,
                   count(CASE WHEN u_out THEN 1 END) AS n_out
            FROM (SELECT staff_id, day, household, bool_or(u_home) AS u_home, bool_or(u_out) AS u_out
                  FROM window_unexplained_people GROUP BY staff_id, day, household) x
            GROUP BY staff_id, day
        ), hourly AS (
            SELECT staff_id, day, hr, count(*) AS n FROM ev WHERE {unexpl} GROUP BY staff_id, day, hr
        ), peak AS (
            SELECT staff_id, day, max(n) AS peak FROM hourly GROUP BY staff_id, day
        )
        SELECT p.staff_id, p.day, p.org_code, so.role, so.unit, p.n AS n_events, p.n_subjects,
               p.n_case AS n_case_events, p.n_unexpl AS n_unexpl_events,
               CAST(coalesce(u.n_u, 0) AS BIGINT) AS n_unexpl_subjects,
               CAST(coalesce(peak.peak, 0) AS BIGINT) AS peak_hour_unexpl,
               CAST(coalesce(u.n_home, 0) AS BIGINT) AS n_unexpl_home,
               CAST(coalesce(u.n_out, 0) AS BIGINT) AS n_unexpl_out, p.n_ah AS n_after_hours,
               CAST(coalesce(u.n_uah, 0) AS BIGINT) AS n_after_hours_unexpl,
               CAST(coalesce(u.n_unight, 0) AS BIGINT) AS n_night_unexpl,
               CAST(coalesce(u.n_unight_early, 0) AS BIGINT) AS n_night_unexpl_early, p.n_exp AS n_exports,
               CAST(p.max_rec AS BIGINT) AS max_records, CAST(coalesce(u.n_upd, 0) AS BIGINT) AS n_updates_unexpl,
               p.n_terminals, CAST(coalesce(hh.n_hh, 0) AS BIGINT) AS n_unexpl_households,
               CAST(coalesce(hh.n_home, 0) AS BIGINT) AS n_unexpl_home_households,
               CAST(coalesce(hh.n_out, 0) AS BIGINT) AS n_unexpl_out_households
        FROM plain p LEFT JOIN u ON u.staff_id = p.staff_id AND u.day = p.day
        LEFT JOIN hh ON hh.staff_id = p.staff_id AND hh.day = p.day
        LEFT JOIN peak ON peak.staff_id = p.staff_id AND peak.day = p.day
        LEFT JOIN staff_own so ON so.staff_id = p.staff_id
    """)


def residence_context(eng: Engine, population: str | None = None, stored: Any = None) -> str | None:
    """Relations muni_pop, staff_adjacent_keys and staff_near_keys (staff_id, neighbourhood_key: the blocks adjacent
    to the own; those and the own) and staff_ctx: per staff member the sizes of the related-person sets and of the
    population they are drawn from, in people and in households (*_households: household_unit; n_adjacent: the
    blocks adjacent to the own; n_kin_near: the own surname in the own or an adjacent block, outside the own
    household: likely relatives), so that 'how many related people would random lookups hit' can be computed.
    Inputs: `subjects`, `staff`, and `staff_own` and `neighbourhood_blocks` (residences). Each count reads only
    the people it counts (those sharing a key with some staff member's own record).

    staff_ctx depends on the roster and the resident register alone, which change far less often than days pass:
    with `population` (a fingerprint of both, read from the warehouse: detect._snapshot) the relation is known by a
    key (context_key: the fingerprint and the statements that compute it on this engine), and `stored` (a pyarrow
    Table of STAFF_CONTEXT's columns and context_key, an earlier run's) is used as it is when its key is that key,
    rather than counted again from the population (an incremental day's largest fixed cost; muni_pop, read by that
    count alone, is then not made either). Returns the key of a staff_ctx computed here, to be stored
    (detect._store_state), or None (reused, or no fingerprint given)."""
    _staff_blocks(eng)
    statements = {"muni_pop": _municipal_populations_sql(eng), "staff_ctx": _staff_context_sql(eng)}
    key = None if population is None else hashlib.sha256("\n".join(
        [population, eng.name, *_residences_sql(eng).values(), *_staff_blocks_sql().values(),
         *statements.values()]).encode()).hexdigest()
    if key is not None and stored is not None and stored.num_rows \
            and set(stored.column("context_key").to_pylist()) == {key}:
        eng.put("staff_ctx", stored.select(list(STAFF_CONTEXT.columns)))
        return None
    for name, sql in statements.items():
        eng.create(name, sql)
    return key


def _staff_context_sql(eng: Engine) -> str:
    """staff_ctx (STAFF_CONTEXT) from staff_own, muni_pop, staff_near_keys, staff_adjacent_keys and subjects."""
    unit = household_unit("p")
    return f"""
        WITH own AS (
            SELECT staff_id, org_code, own_muni, own_hh AS household_key, own_surname AS surname_key,
                   own_nb AS neighbourhood_key, own_nb_stem AS nb_stem, own_nb_num AS nb_num
            FROM staff_own
        ),
        hh AS (SELECT household_key, count(*) AS n FROM subjects
               WHERE household_key IN (SELECT household_key FROM own) GROUP BY household_key),
        -- people per municipality and surname (the staff members' surnames), and per municipality and key (the
        -- keys near a staff member's own)
        sn AS (SELECT municipality_code, surname_key, count(*) AS n, {eng.count_distinct(unit)} AS n_hh FROM subjects p
               WHERE surname_key IN (SELECT surname_key FROM own) GROUP BY municipality_code, surname_key),
        nb AS (SELECT municipality_code, neighbourhood_key, count(*) AS n, {eng.count_distinct(unit)} AS n_hh
               FROM subjects p WHERE neighbourhood_key IN (SELECT neighbourhood_key FROM staff_near_keys)
               GROUP BY municipality_code, neighbourhood_key),
        cw AS (SELECT s.org_code, count(*) AS n FROM staff s WHERE s.subject_id IS NOT NULL GROUP BY s.org_code),
        adj AS (SELECT own.staff_id, sum(nb.n) AS n, sum(nb.n_hh) AS n_hh FROM own
                JOIN staff_adjacent_keys a ON a.staff_id = own.staff_id
                JOIN nb ON nb.municipality_code = own.own_muni AND nb.neighbourhood_key = a.neighbourhood_key
                GROUP BY own.staff_id),
        -- the own surname in the own and the adjacent blocks (a staff member meets the blocks of the surname,
        -- not every person of it: a common surname is thousands in a city), less the own household's members
        kin_all AS (SELECT own.staff_id, count(*) AS n, {eng.count_distinct(unit)} AS n_hh FROM own
                    JOIN staff_near_keys a ON a.staff_id = own.staff_id
                    JOIN subjects p ON p.municipality_code = own.own_muni AND p.surname_key = own.surname_key
                     AND p.neighbourhood_key = a.neighbourhood_key
                    GROUP BY own.staff_id),
        -- the own household's members the surname and neighbour relations leave out (rel_surname, rel_neighbour:
        -- same municipality and key, in the own household): a member of another surname or block is in neither set
        hh_rel AS (SELECT own.staff_id, count(CASE WHEN p.surname_key = own.surname_key THEN 1 END) AS n_surname,
                          count(CASE WHEN p.neighbourhood_key = own.neighbourhood_key THEN 1 END) AS n_neighbour
                   FROM own JOIN subjects p ON p.household_key = own.household_key
                    AND p.municipality_code = own.own_muni
                   GROUP BY own.staff_id),
        kin_hh AS (SELECT own.staff_id, count(*) AS n FROM own
                   JOIN subjects p ON p.household_key = own.household_key
                    AND p.municipality_code = own.own_muni AND p.surname_key = own.surname_key
                   JOIN staff_near_keys a ON a.staff_id = own.staff_id AND a.neighbourhood_key = p.neighbourhood_key
                   GROUP BY own.staff_id)
        SELECT own.staff_id, own.own_muni, coalesce(mp.pop, 0) AS pop, coalesce(hh.n, 0) AS n_household,
               greatest(coalesce(sn.n, 0) - coalesce(hh_rel.n_surname, 0), 0) AS n_surname,
               greatest(coalesce(nb.n, 0) - coalesce(hh_rel.n_neighbour, 0), 0) AS n_neighbour,
               CAST(coalesce(adj.n, 0) AS BIGINT) AS n_adjacent,
               CAST(greatest(coalesce(kin_all.n, 0) - coalesce(kin_hh.n, 0), 0) AS BIGINT) AS n_kin_near,
               -- the same sets in households, less the own household when it has a member in the set
               coalesce(mp.pop_households, 0) AS pop_households, CAST(coalesce(adj.n_hh, 0) AS BIGINT) AS n_adjacent_households,
               greatest(coalesce(sn.n_hh, 0) - least(coalesce(hh_rel.n_surname, 0), 1), 0) AS n_surname_households,
               greatest(coalesce(nb.n_hh, 0) - least(coalesce(hh_rel.n_neighbour, 0), 1), 0) AS n_neighbour_households,
               CAST(greatest(coalesce(kin_all.n_hh, 0) - least(coalesce(kin_hh.n, 0), 1), 0) AS BIGINT) AS n_kin_near_households,
               -- the others with a record: the staff member's own is subtracted only when they have one
               greatest(coalesce(cw.n, 0) - CASE WHEN me.subject_id IS NULL THEN 0 ELSE 1 END, 0) AS n_coworker,
               coalesce(op.pop, (SELECT count(*) FROM subjects)) AS org_pop
        FROM own
        LEFT JOIN muni_pop mp ON mp.municipality_code = own.own_muni
        LEFT JOIN muni_pop op ON op.municipality_code = own.org_code
        LEFT JOIN hh ON hh.household_key = own.household_key
        LEFT JOIN sn ON sn.municipality_code = own.own_muni AND sn.surname_key = own.surname_key
        LEFT JOIN nb ON nb.municipality_code = own.own_muni AND nb.neighbourhood_key = own.neighbourhood_key
        LEFT JOIN cw ON cw.org_code = own.org_code
        LEFT JOIN staff me ON me.staff_id = own.staff_id
        LEFT JOIN adj ON adj.staff_id = own.staff_id
        LEFT JOIN kin_all ON kin_all.staff_id = own.staff_id
        LEFT JOIN kin_hh ON kin_hh.staff_id = own.staff_id
        LEFT JOIN hh_rel ON hh_rel.staff_id = own.staff_id
    """


def _staff_blocks(eng: Engine) -> None:
    """Relations staff_adjacent_keys and staff_near_keys (staff_id, neighbourhood_key): the keys of the blocks
    adjacent to each staff member's own (the next number on the same street), and those with the own key. Small
    relations of their own, each read by several counts of staff_ctx and by scenarios.place_surges (as CTEs Spark
    recomputed them for every reference, and without their size joined them by shuffles)."""
    for name, sql in _staff_blocks_sql().items():
        eng.create(name, sql)


def _staff_blocks_sql() -> dict[str, str]:
    return {"staff_adjacent_keys": """
        SELECT o.staff_id, k.neighbourhood_key
        FROM staff_own o CROSS JOIN (SELECT -1 AS step UNION ALL SELECT 1 AS step) d
        JOIN neighbourhood_blocks k ON k.nb_stem = o.own_nb_stem AND k.nb_num = o.own_nb_num + d.step""",
            "staff_near_keys": """
        SELECT staff_id, neighbourhood_key FROM staff_adjacent_keys UNION
        SELECT staff_id, own_nb AS neighbourhood_key FROM staff_own WHERE own_nb IS NOT NULL"""}


def _municipal_populations_sql(eng: Engine) -> str:
    """Relation muni_pop (read by staff_ctx alone): per municipality its residents (pop), their households (pop_households:
    household_unit) and the share of sensitive records, from `subjects`."""
    return f"""
        SELECT municipality_code, count(*) AS pop, {eng.count_distinct(household_unit("p"))} AS pop_households,
               avg(CAST(sensitive AS INTEGER)) AS sensitive_share
        FROM subjects p GROUP BY municipality_code"""


def history_start(window: Window, lookback_days: int) -> date:
    """First day of the history a window's baselines look at."""
    return window.first - timedelta(days=lookback_days)
