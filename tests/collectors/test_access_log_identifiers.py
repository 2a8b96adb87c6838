"""access-log: identifiers mean what the rosters' identifiers mean (observatory.cells.text: NFKC, stripped), so a log
exported full-width (ＳＴ００１, common from Shift_JIS systems) names the roster's ST001, its cases and subjects."""

from __future__ import annotations

from pathlib import Path

import pytest

import collectors
from collectors import access_log
from observatory.security.pseudonym import pseudonymise
from tests.collectors.conftest import csv_bytes, query, write
from tests.collectors.test_access_log import HEADER
from tests.security.test_pseudonym_finder import FULL, PROBE

WIDE = str.maketrans({**{chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}, " ": "\u3000"})  # ASCII -> full-width


def _event(event_id: str, staff: str, org: str, subject: str, case: str, terminal: str = "T1") -> list[str]:
    return [event_id, "2026-04-01T10:00:00+09:00", staff, org, subject, "view", "resident", case, "1", terminal]


def _rosters(ws, tmp_path: Path) -> None:
    staff = [["staff_id", "org_code", "unit", "role", "status"], ["ST001", "132063", "市民課", "clerk", "active"]]
    cases = [["case_id", "subject_id", "org_code", "opened_at"], ["C1", "S0001", "132063", "2026-03-01T09:00:00+09:00"]]
    for kind, rows in (("staff", staff), ("cases", cases)):
        [result] = collectors.ingest_files(ws, kind, [write(tmp_path, f"{kind}.csv", csv_bytes(rows))])
        assert result.status == "ok", result.error


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_full_width_identifiers_are_the_rosters_ascii_ones(workspace, tmp_path: Path, encoding: str) -> None:
    """A log written full-width stored ＳＴ００１ beside the roster's ST001: every event's staff was unknown to the
    detector (no role, no unit) and no event matched its case. Padded ids are the same ids, an optional one of
    ideographic spaces only is absent, and an Individual Number written full-width is still replaced."""
    _rosters(workspace, tmp_path)
    number = PROBE[0]
    rows = [_event(*(v.translate(WIDE) for v in ("E1", "ST001", "132063", "S0001", "C1", "T1"))),
            _event("E2", " ST001 ", "\u3000１３２０６３", number.translate(FULL), "Ｃ１\u3000"),
            _event("E3", "ST001", "ｍｈｌｗ", "S0001", "C1", terminal="\u3000")]
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "w.csv", csv_bytes([HEADER, *rows], encoding))])
    assert result.status == "ok", result.error
    assert result.detail["individual_numbers_replaced"] == 1
    got = query(workspace, "SELECT a.event_id, a.staff_id, a.org_code, a.subject_id, a.case_id, a.terminal_id, "
                           "s.role, c.case_id IS NOT NULL FROM access_events a "
                           "LEFT JOIN staff s ON s.staff_id = a.staff_id "
                           "LEFT JOIN cases c ON c.case_id = a.case_id AND c.subject_id = a.subject_id "
                           "ORDER BY a.event_id")
    pseudonym = pseudonymise(number, workspace.secret(workspace.config.security.pseudonym_key_env))
    assert got == [("E1", "ST001", "132063", "S0001", "C1", "T1", "clerk", True),
                   ("E2", "ST001", "132063", pseudonym, "C1", "T1", "clerk", False),
                   ("E3", "ST001", "MHLW", "S0001", "C1", None, "clerk", True)]
    stored = b"".join(p.read_bytes() for p in workspace.events_dir.rglob("*.parquet"))
    assert number.encode() not in stored and number.translate(FULL).encode() not in stored


def test_an_event_id_written_full_width_and_in_ascii_is_one_event(workspace, tmp_path: Path) -> None:
    """The duplicate checks (within a file, and against the stored events) compare the ids as the rosters read
    them: ＥＶ００１ and EV001 are one event."""
    first = write(tmp_path, "a.csv", csv_bytes([HEADER, _event("ＥＶ００１", "ST001", "132063", "S1", ""),
                                                _event("EV002", "ST001", "132063", "S1", ""),
                                                _event("ＥＶ００２", "ST001", "132063", "S1", "")]))
    second = write(tmp_path, "b.csv", csv_bytes([HEADER, _event("EV001", "ST001", "132063", "S1", ""),
                                                 _event(" EV003", "ST001", "132063", "S1", "")]))
    r1, r2 = collectors.ingest_files(workspace, "access-log", [first, second])
    assert (r1.status, r2.status) == ("ok", "ok"), (r1.error, r2.error)
    assert (r1.rows_loaded, r1.detail["duplicates_dropped"]) == (2, 1)
    assert (r2.rows_loaded, r2.detail["duplicates_dropped"]) == (1, 1)
    assert query(workspace, "SELECT event_id FROM access_events ORDER BY 1") == [("EV001",), ("EV002",), ("EV003",)]


def test_row_problem_reads_a_full_width_organisation_code_as_the_rules_do() -> None:
    known = access_log.org_codes()
    good = dict(zip(HEADER, _event("E1", "ST001", "132063", "S1", ""), strict=True))
    assert access_log.row_problem({**good, "org_code": "１３２０６３"}, known) is None
    assert access_log.row_problem({**good, "org_code": " ｍｈｌｗ "}, known) is None
    assert access_log.row_problem({**good, "org_code": "１３２０６４"}, known)[0] == "org_code"


def _compatibility_digits(number: str) -> dict[str, str]:
    """An Individual Number in characters NFKC turns into its digits, some shorter than twelve characters."""
    circled = "".join("⓪" if d == "0" else chr(0x2460 + int(d) - 1) for d in number)
    return {"circled": circled, "mathematical": "".join(chr(0x1D7CE + int(d)) for d in number),
            "circled, two digits in one": chr(0x2460 + int(number[:2]) - 1) + circled[2:] if number[0] != "0" else circled}


@pytest.mark.parametrize("form", ["circled", "mathematical", "circled, two digits in one"])
def test_an_individual_number_the_fold_makes_is_never_stored_in_clear(workspace, tmp_path: Path, form: str) -> None:
    """The pre-filter looks for ASCII and full-width digits, but the fold reads ①②③ or 𝟏𝟐𝟑 as 123 too: a subject
    written so was stored as the twelve digits in clear, and in a case, terminal or record type it loaded."""
    number = next(p for p in PROBE if 10 <= int(p[:2]) <= 20)
    written = _compatibility_digits(number)[form]
    rows = [HEADER, _event("E1", "ST001", "132063", written, "")]
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "s.csv", csv_bytes(rows))])
    assert result.status == "ok", result.error
    assert result.detail["individual_numbers_replaced"] == 1
    pseudonym = pseudonymise(number, workspace.secret(workspace.config.security.pseudonym_key_env))
    assert query(workspace, "SELECT subject_id FROM access_events") == [(pseudonym,)]
    for i, column in enumerate(("case_id", "terminal_id", "record_type")):
        event = _event(f"E{i + 2}", "ST001", "132063", "S1", "")
        event[HEADER.index(column)] = ("記録" if column == "record_type" else "") + written
        [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, f"{column}.csv",
                                                                          csv_bytes([HEADER, event]))])
        assert result.status == "failed", column
        assert result.error.startswith(f"{column}.csv: row 2, column {column}, value '"), result.error
        assert "個人番号" in result.error and number not in result.error
    assert query(workspace, "SELECT count(*) FROM access_events") == [(1,)]
    stored = b"".join(p.read_bytes() for p in workspace.events_dir.rglob("*.parquet"))
    assert number.encode() not in stored and written.encode() not in stored
