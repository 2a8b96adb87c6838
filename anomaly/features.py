"""Set-based context joins in DuckDB: which accesses are explained, and per staff-day summaries.

An access is explained when a path accepted in its organisation holds (anomaly.explanations: an open case
in the staff member's unit, and the referral, household, follow-up and repeat paths the organisation's own
log supports). Everything else is raw material for the scenario detectors. The per staff-day summaries are stored (anomaly_staff_days) so
that an incremental run finds the per-person and peer baselines without rescanning the whole archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from anomaly import explanations

BATCH_UPDATES = 20  # people updated without a case by one account in a day that make it a batch correction


@dataclass(frozen=True)
class Window:
    """Local calendar days [first, last] to detect on, in the configured time zone."""

    first: date
    last: date
    timezone: str = "Asia/Tokyo"

    @property
    def n_days(self) -> int:
        return (self.last - self.first).days + 1


def event_range(con: duckdb.DuckDBPyConnection, timezone: str) -> tuple[date, date] | None:
    """First and last local day present in the access-event archive (None when it is empty)."""
    row = con.execute("SELECT min(occurred_at), max(occurred_at) FROM access_events").fetchone()
    if row is None or row[0] is None:
        return None
    days = con.execute("SELECT (?::TIMESTAMPTZ AT TIME ZONE ?)::DATE, (?::TIMESTAMPTZ AT TIME ZONE ?)::DATE",
                       [row[0], timezone, row[1], timezone]).fetchone()
    return days[0], days[1]


def build_events(con: duckdb.DuckDBPyConnection, window: Window, work_hours: tuple[int, int]) -> int:
    """Temp table ev: the window's events with their explanation and relationship flags; returns its size."""
    params = {"tz": window.timezone, "first": window.first, "last": window.last,
              "start_h": int(work_hours[0]), "end_h": int(work_hours[1])}
    # the staff member's own resident record, once per person rather than once per event
    con.execute("""
        CREATE OR REPLACE TEMP TABLE staff_own AS
        SELECT s.staff_id, s.unit, s.role, s.status, s.terminated_on, o.municipality_code AS own_muni,
               o.household_key AS own_hh, o.surname_key AS own_surname, o.neighbourhood_key AS own_nb
        FROM staff s LEFT JOIN subjects o ON o.subject_id = s.subject_id""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ev AS
        WITH raw AS (
            SELECT e.*, e.occurred_at AT TIME ZONE $tz AS local_ts
            FROM access_events e
            WHERE e.occurred_at >= ($first::TIMESTAMP AT TIME ZONE $tz)
              AND e.occurred_at < (($last + 1)::TIMESTAMP AT TIME ZONE $tz))
        SELECT r.event_id, r.occurred_at, r.staff_id, r.org_code, r.subject_id, lower(r.action) AS action,
               coalesce(r.record_count, 1) AS record_count, r.local_ts::DATE AS day,
               hour(r.local_ts)::TINYINT AS hr,
               (hour(r.local_ts) < $start_h OR hour(r.local_ts) >= $end_h) AS after_hours,
               (hour(r.local_ts) < $start_h - 2 OR hour(r.local_ts) >= $end_h + 2) AS night,
               r.terminal_id,
               coalesce(so.status = 'terminated' AND r.local_ts::DATE > so.terminated_on, false) AS after_termination,
               (coalesce(r.record_count, 1) <= 1 OR lower(r.action) = 'update') AS personal,
               false AS explained, NULL::VARCHAR AS explained_by,
               coalesce(m.code IS NOT NULL AND sub.municipality_code <> r.org_code, false) AS out_area,
               coalesce(sub.sensitive, false) AS sensitive,
               coalesce(sub.municipality_code = so.own_muni, false) AS home_muni,
               coalesce(sub.household_key = so.own_hh, false) AS rel_household,
               coalesce(sub.surname_key = so.own_surname AND sub.municipality_code = so.own_muni
                        AND sub.household_key IS DISTINCT FROM so.own_hh, false) AS rel_surname,
               coalesce(sub.neighbourhood_key = so.own_nb
                        AND sub.household_key IS DISTINCT FROM so.own_hh, false) AS rel_neighbour,
               coalesce(cw.staff_id IS NOT NULL AND cw.staff_id <> r.staff_id
                        AND sub.household_key IS DISTINCT FROM so.own_hh, false) AS rel_coworker
        FROM raw r
        LEFT JOIN staff_own so ON so.staff_id = r.staff_id
        LEFT JOIN subjects sub ON sub.subject_id = r.subject_id
        LEFT JOIN municipalities m ON m.code = r.org_code
        LEFT JOIN (SELECT subject_id, org_code, min(staff_id) AS staff_id FROM staff
                   WHERE subject_id IS NOT NULL GROUP BY ALL) cw
               ON cw.subject_id = r.subject_id AND cw.org_code = r.org_code
    """, params)
    # explained: a path from the log accepted in the organisation (anomaly.explanations)
    con.execute("CREATE OR REPLACE TEMP TABLE prior_contacts AS SELECT staff_id, subject_id, day "
                "FROM anomaly_case_contacts WHERE day < ? AND day >= ?",
                [window.first, window.first - timedelta(days=explanations.REPEAT_DAYS)])
    found = explanations.explain(con, explanations.ExplainInputs(
        events=con.sql("SELECT e.event_id, e.occurred_at, e.day, e.staff_id, e.org_code, so.unit, e.subject_id "
                       "FROM ev e LEFT JOIN staff_own so USING (staff_id)"),
        cases=con.table("cases"), subjects=con.table("subjects"), contacts=con.table("prior_contacts")))
    con.execute("CREATE OR REPLACE TEMP TABLE ev AS SELECT ev.* EXCLUDE (explained, explained_by), "
                "f.path IS NOT NULL AS explained, f.path AS explained_by "
                "FROM ev LEFT JOIN anomaly_explain_flags f USING (event_id)")
    _store_explanations(con, window, found)
    # a staff-day updating many people's records without a case is a batch correction (data cleansing), not
    # a look at particular people: its updates are not counted as personal accesses
    con.execute(f"""
        UPDATE ev SET personal = false WHERE action = 'update' AND NOT explained AND (staff_id, day) IN (
            SELECT (staff_id, day) FROM ev WHERE action = 'update' AND NOT explained GROUP BY ALL
            HAVING count(DISTINCT subject_id) >= {BATCH_UPDATES})""")
    return int(con.execute("SELECT count(*) FROM ev").fetchone()[0])


def _store_explanations(con: duckdb.DuckDBPyConnection, window: Window,
                        found: explanations.Explanations) -> None:
    """Replace the window's case contacts (for later runs' repeats) and record the paths judged on it."""
    con.execute("DELETE FROM anomaly_case_contacts WHERE day BETWEEN ? AND ?", [window.first, window.last])
    found.contacts.insert_into("anomaly_case_contacts")
    con.execute("DELETE FROM anomaly_explanation_paths WHERE first_day = ? AND last_day = ?",
                [window.first, window.last])
    con.execute("INSERT INTO anomaly_explanation_paths SELECT ?, ?, org_code, path, n_events, support, "
                "chance_support, confidence, accepted FROM anomaly_paths", [window.first, window.last])


def explained_shares(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Share of the window's accesses explained, in all and by path (from ev)."""
    rows = con.execute("SELECT explained_by, count(*) FROM ev GROUP BY ALL").fetchall()
    total = sum(n for _, n in rows) or 1
    out = {p: round(n / total, 4) for p, n in rows if p is not None}
    return {"explained": round(sum(n for p, n in rows if p is not None) / total, 4)} | dict(sorted(out.items()))


def store_staff_days(con: duckdb.DuckDBPyConnection, window: Window) -> int:
    """Replace the window's rows of anomaly_staff_days and anomaly_unexplained from ev."""
    con.execute("DELETE FROM anomaly_staff_days WHERE day BETWEEN ? AND ?", [window.first, window.last])
    con.execute("DELETE FROM anomaly_unexplained WHERE day BETWEEN ? AND ?", [window.first, window.last])
    # plain counts per (staff, day); distinct-people counts only over the unexplained single-person accesses
    con.execute("""
        INSERT INTO anomaly_staff_days
        WITH plain AS (
            SELECT staff_id, day, any_value(org_code) AS org_code, count(*) AS n,
                   count(DISTINCT subject_id) AS n_subjects,
                   count(*) FILTER (WHERE explained) AS n_case, count(*) FILTER (WHERE NOT explained) AS n_unexpl,
                   count(*) FILTER (WHERE after_hours) AS n_ah, count(*) FILTER (WHERE action = 'export') AS n_exp,
                   coalesce(max(record_count) FILTER (WHERE action IN ('export', 'search')), 0) AS max_rec,
                   count(DISTINCT terminal_id) AS n_terminals
            FROM ev GROUP BY staff_id, day
        ), ss AS (
            SELECT staff_id, day, subject_id, bool_or(home_muni) AS u_home,
                   bool_or(out_area) AS u_out,
                   bool_or(after_hours) AS u_ah, bool_or(night) AS u_night, bool_or(action = 'update') AS u_upd
            FROM ev WHERE NOT explained AND personal AND subject_id IS NOT NULL
            GROUP BY staff_id, day, subject_id
        ), u AS (
            SELECT staff_id, day, count(*) AS n_u, count(*) FILTER (WHERE u_home) AS n_home,
                   count(*) FILTER (WHERE u_out) AS n_out, count(*) FILTER (WHERE u_ah) AS n_uah,
                   count(*) FILTER (WHERE u_night) AS n_unight,
                   count(*) FILTER (WHERE u_upd) AS n_upd
            FROM ss GROUP BY staff_id, day
        ), peak AS (
            SELECT staff_id, day, max(n) AS peak FROM (
                SELECT staff_id, day, hr, count(*) AS n FROM ev WHERE NOT explained AND personal GROUP BY ALL)
            GROUP BY ALL
        )
        SELECT p.staff_id, p.day, p.org_code, so.role, so.unit, p.n, p.n_subjects, p.n_case, p.n_unexpl,
               coalesce(u.n_u, 0), coalesce(peak.peak, 0), coalesce(u.n_home, 0), coalesce(u.n_out, 0),
               p.n_ah, coalesce(u.n_uah, 0), coalesce(u.n_unight, 0), p.n_exp, p.max_rec, coalesce(u.n_upd, 0), p.n_terminals
        FROM plain p LEFT JOIN u USING (staff_id, day) LEFT JOIN peak USING (staff_id, day)
        LEFT JOIN staff_own so ON so.staff_id = p.staff_id
    """)
    con.execute("""
        INSERT INTO anomaly_unexplained
        SELECT staff_id, subject_id, day, count(*)
        FROM ev WHERE NOT explained AND personal AND subject_id IS NOT NULL
        GROUP BY staff_id, subject_id, day
    """)
    return int(con.execute("SELECT count(*) FROM anomaly_staff_days WHERE day BETWEEN ? AND ?",
                           [window.first, window.last]).fetchone()[0])


def residence_context(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table staff_ctx: per staff member the sizes of the related-person sets and of the population
    they are drawn from, so that 'how many related people would random lookups hit' can be computed."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE muni_pop AS
        SELECT municipality_code, count(*) AS pop, avg(sensitive::INTEGER) AS sensitive_share
        FROM subjects GROUP BY municipality_code;
        CREATE OR REPLACE TEMP TABLE staff_ctx AS
        WITH own AS (
            SELECT s.staff_id, s.org_code, s.subject_id, o.municipality_code AS own_muni, o.household_key,
                   o.surname_key, o.neighbourhood_key
            FROM staff s LEFT JOIN subjects o ON o.subject_id = s.subject_id
        ), hh AS (SELECT household_key, count(*) AS n FROM subjects GROUP BY ALL),
        sn AS (SELECT municipality_code, surname_key, count(*) AS n FROM subjects GROUP BY ALL),
        nb AS (SELECT neighbourhood_key, count(*) AS n FROM subjects GROUP BY ALL),
        cw AS (SELECT s.org_code, count(*) AS n FROM staff s WHERE s.subject_id IS NOT NULL GROUP BY ALL)
        SELECT own.staff_id, own.own_muni, coalesce(mp.pop, 0) AS pop, coalesce(hh.n, 0) AS n_household,
               greatest(coalesce(sn.n, 0) - coalesce(hh.n, 0), 0) AS n_surname,
               greatest(coalesce(nb.n, 0) - coalesce(hh.n, 0), 0) AS n_neighbour,
               greatest(coalesce(cw.n, 0) - 1, 0) AS n_coworker,
               coalesce(op.pop, (SELECT count(*) FROM subjects)) AS org_pop
        FROM own
        LEFT JOIN muni_pop mp ON mp.municipality_code = own.own_muni
        LEFT JOIN muni_pop op ON op.municipality_code = own.org_code
        LEFT JOIN hh ON hh.household_key = own.household_key
        LEFT JOIN sn ON sn.municipality_code = own.own_muni AND sn.surname_key = own.surname_key
        LEFT JOIN nb ON nb.neighbourhood_key = own.neighbourhood_key
        LEFT JOIN cw ON cw.org_code = own.org_code
    """)


def history_start(window: Window, lookback_days: int) -> date:
    """First day of the history a window's baselines look at."""
    return window.first - timedelta(days=lookback_days)
