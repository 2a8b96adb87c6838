"""access-log: organisation codes are matched without regard to case (`nta` is the known `NTA`)."""

from __future__ import annotations

from pathlib import Path

import collectors
from tests.collectors.conftest import csv_bytes, query, write
from tests.collectors.test_access_log import HEADER


def test_lower_case_ministry_code_is_the_known_code(workspace, tmp_path: Path) -> None:
    rows = [[f"E{i}", "2026-04-01T10:00:00+09:00", "ST1", code, f"S{i}", "view", "resident", "", "1", "T1"]
            for i, code in enumerate(["nta", "Nta", "NTA", "132063"])]
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "a.csv", csv_bytes([HEADER, *rows],
                                                                                                     "utf-8"))])
    assert result.status == "ok", result.error
    assert result.rows_loaded == 4
    got = query(workspace, "SELECT org_code FROM access_events ORDER BY event_id")
    assert [r[0] for r in got] == ["NTA", "NTA", "NTA", "132063"]


def test_unknown_code_is_still_refused_whatever_its_case(workspace, tmp_path: Path) -> None:
    rows = [["E1", "2026-04-01T10:00:00+09:00", "ST1", "zzz", "S1", "view", "resident", "", "1", "T1"]]
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "b.csv", csv_bytes([HEADER, *rows],
                                                                                                     "utf-8"))])
    assert result.status == "failed" and "org_code" in (result.error or "")
