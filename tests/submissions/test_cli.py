"""The CLI: submit, template, list, show; a ministry user cannot submit or read another ministry's data."""

from __future__ import annotations

import json
from dataclasses import dataclass

import openpyxl
from click.testing import CliRunner

from observatory.cli import main
from tests.submissions.conftest import FIXTURES, SOCIAL, TAX, query

GOOD = "市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施\n011002,2025-04,10,5,実施\n"


@dataclass
class Ran:
    exit_code: int
    output: str  # stdout and stderr interleaved, as a user sees them
    stdout_bytes: bytes


def run(ws, *args: str) -> Ran:
    """Run the real entry point (`observatory.cli.main`: errors become one line and an exit code) in-process."""
    with CliRunner().isolation() as (out, _err, both):
        try:
            main(["--home", str(ws.home), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return Ran(code, both.getvalue().decode("utf-8", "replace"), out.getvalue())


def write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_submit_prints_report_and_receipt(ws, tmp_path) -> None:
    result = run(ws, "submit", write(tmp_path, "good.csv", GOOD, "cp932"), "--kpi", TAX, "--user", "mic1")
    assert result.exit_code == 0, result.output
    assert "good.csv: csv, encoding Shift_JIS (CP932); 1 data rows, 1 valid; 0 error(s), 0 warning(s)" in result.output
    assert "accepted: 1 rows loaded / 受理しました（1 行）" in result.output
    sha = query(ws, "SELECT file_sha256 FROM submissions")[0][0]
    assert f"sha256 {sha}" in result.output
    again = run(ws, "submit", str(tmp_path / "good.csv"), "--kpi", TAX, "--ministry", "MIC", "--user", "mic1")
    assert again.exit_code == 0 and "duplicate: identical to submission" in again.output


def test_rejected_file_exits_2_with_every_line_and_a_csv_report(ws, tmp_path) -> None:
    bad = GOOD + "011003,2025-04,10,5,実施\n011002,2025-04,1,5,実施\n"
    report = tmp_path / "report.csv"
    result = run(ws, "submit", write(tmp_path, "bad.csv", bad), "--kpi", TAX, "--user", "mic1",
                 "--report-csv", str(report))
    assert result.exit_code == 2
    assert 'bad.csv: row 3, column 市区町村コード, value "011003": error: check digit should be 2' in result.output
    assert "bad.csv: row 4, column 電子的送付件数, value \"5 > 1\": error: electronic notices exceed employers" in result.output
    assert 'bad.csv: row 4, column 市区町村コード, value "011002": error: duplicate of row 2' in result.output
    lines = report.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("重要度 severity,行 row,列 column,値 value")
    assert len(lines) == 1 + 3
    assert query(ws, "SELECT count(*) FROM submission_values") == [(0,)]


def test_ministry_user_cannot_submit_for_another_ministry(ws, tmp_path) -> None:
    path = write(tmp_path, "good.csv", GOOD)
    own_kpi_other = run(ws, "submit", path, "--kpi", TAX, "--user", "mhlw1")
    assert own_kpi_other.exit_code == 4
    assert "ministry MHLW does not submit KPI test_tax_notice_electronic" in own_kpi_other.output
    impersonate = run(ws, "submit", path, "--kpi", TAX, "--ministry", "MIC", "--user", "mhlw1")
    assert impersonate.exit_code == 4 and "user mhlw1 belongs to MHLW, not MIC" in impersonate.output
    unknown = run(ws, "submit", path, "--kpi", TAX, "--ministry", "MIC", "--user", "nobody")
    assert unknown.exit_code == 4 and "unknown user 'nobody'" in unknown.output
    unnamed = run(ws, "submit", path, "--kpi", TAX, "--user", "nobody")  # said "--ministry is required"
    assert unnamed.exit_code == 4 and "unknown user 'nobody'" in unnamed.output, unnamed.output
    disabled = run(ws, "submit", path, "--kpi", TAX, "--user", "mic_off")
    assert disabled.exit_code == 4 and "disabled" in disabled.output
    security = run(ws, "submit", path, "--kpi", TAX, "--ministry", "MIC", "--user", "sec1")
    assert security.exit_code == 4 and "role security may not submit" in security.output
    assert query(ws, "SELECT count(*) FROM submissions") == [(0,)]
    assert query(ws, "SELECT count(*) FROM archived_files") == [(0,)]
    outcomes = query(ws, "SELECT actor, outcome FROM audit_log WHERE action = 'submission.submit' ORDER BY audit_id")
    assert outcomes == [("mhlw1", "denied"), ("mhlw1", "denied"), ("nobody", "denied"), ("nobody", "denied"),
                        ("mic_off", "denied"), ("sec1", "denied")]  # the unknown user's attempts audited too


def test_listed_submitter_and_cio_on_behalf(ws, tmp_path) -> None:
    text = "都道府県,期間,オンライン件数,窓口件数\n北海道,FY2024,100,50\n13,2024年度,10,5\n"
    path = write(tmp_path, "si.csv", text)
    assert run(ws, "submit", path, "--kpi", SOCIAL, "--user", "jps1").exit_code == 0  # JPS is a listed submitter
    on_behalf = run(ws, "submit", write(tmp_path, "si2.csv", text.replace("100", "101")), "--kpi", SOCIAL,
                    "--ministry", "MHLW", "--user", "cio1")
    assert on_behalf.exit_code == 0, on_behalf.output
    assert query(ws, "SELECT ministry_code, submitted_by, submitter_role FROM submissions ORDER BY submission_id") == [
        ("JPS", "jps1", "ministry"), ("MHLW", "cio1", "cio")]
    assert sorted(query(ws, "SELECT DISTINCT entity_code FROM submission_values")) == [("01",), ("13",)]


def test_ministry_user_reads_only_their_own_ministry(ws, tmp_path) -> None:
    assert run(ws, "submit", write(tmp_path, "good.csv", GOOD), "--kpi", TAX, "--user", "mic1").exit_code == 0
    sid = query(ws, "SELECT submission_id FROM submissions")[0][0]
    mine = run(ws, "submission", "list", "--user", "mic1", "--format", "json")
    assert [r["submission_id"] for r in json.loads(mine.output)] == [sid]
    theirs = run(ws, "submission", "list", "--user", "mhlw1", "--format", "json")
    assert theirs.exit_code == 0 and json.loads(theirs.output) == []
    show = run(ws, "submission", "show", str(sid), "--user", "mhlw1")
    assert show.exit_code == 4 and "belongs to another ministry" in show.output and "011002" not in show.output
    assert run(ws, "submission", "list", "--user", "sec1").exit_code == 4
    ok = run(ws, "submission", "show", str(sid), "--user", "cio1")
    assert ok.exit_code == 0 and "periods / 期間別:" in ok.output and "status: accepted" in ok.output
    assert query(ws, "SELECT actor, outcome FROM audit_log WHERE action = 'submission.view' ORDER BY audit_id") == [
        ("mhlw1", "denied"), ("cio1", "ok")]


def test_template_command_writes_csv_to_stdout_and_xlsx_to_a_file(ws, tmp_path) -> None:
    result = run(ws, "submission", "template", TAX, "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf# KPI test_tax_notice_electronic")
    out = tmp_path / "t.xlsx"
    assert run(ws, "submission", "template", TAX, "--format", "xlsx", "--output", str(out)).exit_code == 0
    assert openpyxl.load_workbook(out).sheetnames == ["提出データ", "記入方法 instructions"]
    missing = run(ws, "submission", "template", "no_such_kpi")
    assert missing.exit_code == 3 and "no submittable KPI 'no_such_kpi'" in missing.output
    assert (FIXTURES / "kpis").exists()


def test_show_prints_a_stored_text_value_with_its_escapes(ws, tmp_path) -> None:
    """A text column keeps what the ministry wrote, ESC and CR/LF included; `submission show` prints its changes to
    a terminal, which must not obey them."""
    head = "市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施,備考\n"
    assert run(ws, "submit", write(tmp_path, "a.csv", head + "011002,2025-04,10,5,実施,ok\n"), "--kpi", TAX,
               "--user", "mic1").exit_code == 0
    note = '"\x1b]0;owned\x07x\r\nfake: line"'
    assert run(ws, "submit", write(tmp_path, "b.csv", head + f"011002,2025-04,10,5,実施,{note}\n"), "--kpi", TAX,
               "--user", "mic1").exit_code == 0
    sid = query(ws, "SELECT max(submission_id) FROM submissions WHERE status = 'accepted'")[0][0]
    shown = run(ws, "submission", "show", str(sid), "--user", "mic1")
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output and "fake: line" in shown.output
    assert not [line for line in shown.output.splitlines() if line.startswith("fake")]
    assert "ok -> \\x1b]0;owned\\x07x\\r\\nfake: line" in shown.output, shown.output


def test_a_report_path_that_cannot_be_written_is_refused_before_the_submission_is_stored(ws, tmp_path) -> None:
    """Before: the submission was stored, then writing the report failed and the command said only 'error'
    (exit 2, no receipt): the submitter, told it failed, sent it again."""
    result = run(ws, "submit", write(tmp_path, "good.csv", GOOD), "--kpi", TAX, "--user", "mic1",
                 "--report-csv", str(tmp_path / "no-such-dir" / "report.csv"))
    assert result.exit_code == 2
    assert "保存先のディレクトリがありません / --report-csv: no such directory" in result.output
    assert query(ws, "SELECT count(*) FROM submissions") == [(0,)]
