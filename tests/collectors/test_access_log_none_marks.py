"""access-log: a dash alone is "none / not applicable" and a cell of spaces only is empty, as the one cell parser and
the rosters read them (README: an optional value stays empty, a required one is refused)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import collectors
from collectors import access_log
from observatory import cells
from tests.collectors.conftest import csv_bytes, query, write
from tests.collectors.test_access_log import HEADER, events_with


def _load(workspace, tmp_path: Path, name: str, rows: list[list]):
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, name, csv_bytes([HEADER, *rows]))])
    return result


def test_a_record_count_of_spaces_or_a_dash_is_absent(workspace, tmp_path: Path) -> None:
    """A record count of spaces only refused the file as '1 rows break the access-log rules' with no row named (the
    SQL refused what row_problem read as empty), and a dash ('-', '－', '―': not applicable) was refused as not a
    whole number, where every other optional count reads it as empty. Both are absent, as an empty cell is."""
    spelled = ["   ", "-", "－", "―", "", "5"]
    result = _load(workspace, tmp_path, "c.csv", events_with("record_count", spelled))
    assert result.status == "ok", result.error
    assert [r[0] for r in query(workspace, "SELECT record_count FROM access_events ORDER BY event_id")] == \
        [1, 1, 1, 1, 1, 5]
    known = access_log.org_codes()
    for value in spelled:
        rec = dict(zip(HEADER, events_with("record_count", [value])[0], strict=True))
        assert access_log.row_problem(rec, known) is None, value


@pytest.mark.parametrize("column", ["subject_id", "case_id", "terminal_id"])
def test_an_optional_identifier_of_a_dash_is_absent(workspace, tmp_path: Path, column: str) -> None:
    """A subject, case or terminal id written '-' (a legacy export's "none") was stored as the id '-': every event
    without a person became a look-up of one person '-' (the rosters read '-' as no subject), and '-' a case."""
    result = _load(workspace, tmp_path, "d.csv", events_with(column, ["-", "－", "ー", "―", " - ", "X1"]))
    assert result.status == "ok", result.error
    got = [r[0] for r in query(workspace, f"SELECT {column} FROM access_events ORDER BY event_id")]  # noqa: S608
    assert got == [None, None, None, None, None, "X1"]


@pytest.mark.parametrize("column", ["event_id", "staff_id"])
def test_a_required_identifier_of_a_dash_is_refused_at_its_row(workspace, tmp_path: Path, column: str) -> None:
    rows = events_with(column, ["E1", "－", "E3"] if column == "event_id" else ["ST1", "－", "ST3"])
    result = _load(workspace, tmp_path, "r.csv", rows)
    assert result.status == "failed"
    assert result.error.startswith(f"r.csv: row 3, column {column}"), result.error
    assert "none / not applicable" in result.error and "/ " in result.error
    assert query(workspace, "SELECT count(*) FROM access_events") == [(0,)]


def test_a_record_type_of_spaces_is_absent_and_a_dash_is_kept(workspace, tmp_path: Path) -> None:
    """The record type is text: spaces only are empty (it was stored as '  '), a dash is kept as written, as the
    rosters keep a dash in their text columns."""
    result = _load(workspace, tmp_path, "t.csv", events_with("record_type", ["  ", "住民票", "-"]))
    assert result.status == "ok", result.error
    assert [r[0] for r in query(workspace, "SELECT record_type FROM access_events ORDER BY event_id")] == \
        [None, "住民票", "-"]


def test_the_dash_spellings_are_every_character_read_as_a_dash() -> None:
    """NONE_MARK_SPELLINGS (the SQL's list) is every character the one cell parser reads as a dash alone."""
    found = {chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000 and cells.is_none_mark(chr(c))}
    assert set(access_log.NONE_MARK_SPELLINGS) == found
