"""access-log through `observatory ingest`: what each file's line tells the user."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from observatory.cli import cli
from tests.collectors.conftest import csv_bytes, write
from tests.collectors.test_access_log import HEADER, events


def test_each_file_is_named_and_its_events_not_loaded_again_are_counted(workspace, tmp_path: Path) -> None:
    """A directory of logs printed one 'ok, read N, loaded M' line per file with no file named, and a file whose
    event ids were already stored said only 'loaded 0': the events it did not load (another system's event with the
    same id among them) were counted in collector_runs alone. An id already stored for a different event refuses
    its file (the event would be lost without a word)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    write(logs, "a.csv", csv_bytes([HEADER, *events(4)]))
    write(logs, "b.csv", csv_bytes([HEADER, *events(5)]))  # four of them delivered again
    reused = events(6)[5:]
    reused[0][HEADER.index("event_id")] = events(1)[0][HEADER.index("event_id")]  # a stored id for another event
    write(logs, "c.csv", csv_bytes([HEADER, *reused]))
    out = CliRunner().invoke(cli, ["--home", str(workspace.home), "ingest", "access-log", str(logs)],
                             catch_exceptions=False)
    assert out.exit_code != 0, out.output  # c.csv is refused
    lines = [line for line in out.output.splitlines() if line.startswith("ingest:access-log")]
    assert lines[0].startswith("ingest:access-log: ok, read 4, loaded 4, rejected 0 (a.csv)"), lines
    assert lines[1].startswith("ingest:access-log: ok, read 5, loaded 1, rejected 0 (b.csv)"), lines
    assert "4 events not loaded: their event ids were already stored or repeated in the file" in lines[1], lines
    assert "not loaded" not in lines[0], lines
    assert lines[2].startswith("ingest:access-log: failed, read 1, loaded 0, rejected 1 (c.csv)"), lines
    assert "c.csv: row 2, column event_id" in out.output and "already stored for a different event" in out.output
