"""One ministry file, two paths: `observatory ingest usage-rates` and `observatory submit` read its cells with
one meaning (observatory/cells.py, issue 13), so the values they store are the same."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import collectors
from observatory.submissions import submit
from tests.submissions.conftest import TODAY, query
from tests.submissions.kpi_fixtures import load_yaml_definitions

KPI = """\
id: test_usage_by_ministry
name: {ja: 手続のオンライン利用, en: Online use of a procedure}
owner: MIC
frequency: monthly
submission:
  level: ministry
  columns:
    - {name: procedure_id, label_ja: 手続ID, type: text}
    - {name: field, label_ja: 分野, type: text}
    - {name: cases_total, label_ja: 総手続件数, type: integer}
    - {name: cases_online, label_ja: オンライン手続件数, type: integer}
    - {name: online_available, label_ja: オンライン化状況, type: boolean}
"""
HEADER = "府省コード,手続ID,分野,期間,総手続件数,オンライン手続件数,オンライン化状況"
# every row spells its cells another way a ministry might: eras, full width, separators, units, ○ / はい / 有
ROWS = [
    'MIC,MIC-001,local_tax,令和7年4月,"１，２３４","1,000",◯',
    "MIC,MIC-001,local_tax,R7.5,12件,０,はい",
    'MIC,MIC-001,local_tax,2025年6月分,"5,000",4999,有',
    "MIC,MIC-001,local_tax,２０２５/０７,７,0,×",
    "MIC,MIC-001,local_tax,202508,10,10,on",
    "MIC,MIC-001,local_tax,2025-09-01,3,1,いいえ",
]
EXPECTED = [(date(2025, 4, 1), 1234, 1000, True), (date(2025, 5, 1), 12, 0, True), (date(2025, 6, 1), 5000, 4999, True),
            (date(2025, 7, 1), 7, 0, False), (date(2025, 8, 1), 10, 10, True), (date(2025, 9, 1), 3, 1, False)]


@pytest.fixture
def usage_kpi(tmp_path: Path) -> dict:
    (tmp_path / "kpis").mkdir()
    (tmp_path / "kpis" / "usage.yaml").write_text(KPI, encoding="utf-8")
    return load_yaml_definitions(tmp_path / "kpis")


def _file(tmp_path: Path, name: str, rows: list[str], encoding: str) -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-16"])
def test_one_file_gives_the_same_values_through_ingest_and_submit(ws, usage_kpi, tmp_path, encoding) -> None:
    path = _file(tmp_path, "usage.csv", ROWS, encoding)
    [run] = collectors.ingest_files(ws, "usage-rates", [path])
    assert run.status == "ok", run.error
    outcome = submit(ws, path, filename="usage.csv", kpi_id="test_usage_by_ministry", ministry_code="MIC",
                     user="mic1", role="ministry", kpis=usage_kpi, today=TODAY)
    assert outcome.status == "accepted", outcome.report.lines()
    ingested = query(ws, "SELECT period, cases_total, cases_online, online_available FROM procedure_usage "
                         "ORDER BY period")
    submitted = query(ws, "SELECT period, max(value) FILTER (WHERE column_name = 'cases_total'), "
                          "max(value) FILTER (WHERE column_name = 'cases_online'), "
                          "max(value) FILTER (WHERE column_name = 'online_available') "
                          "FROM submission_values GROUP BY period ORDER BY period")
    assert ingested == EXPECTED
    assert [(p, int(t), int(o), bool(a)) for p, t, o, a in submitted] == EXPECTED


@pytest.mark.parametrize(("cell", "column"), [("-", "総手続件数"), ("－", "オンライン化状況"), ("1.2E+3", "総手続件数")])
def test_both_paths_refuse_the_same_cell(ws, usage_kpi, tmp_path, cell: str, column: str) -> None:
    """A dash means "none / not applicable" (never 0, never no) and a whole number in exponent notation may have
    lost digits: where a value is required, both paths refuse the file naming row 3 and the column."""
    cells = dict(zip(HEADER.split(","), ROWS[1].split(","), strict=True))
    cells[column] = cell
    rows = [ROWS[0], ",".join(cells.values())]
    path = _file(tmp_path, "bad.csv", rows, "utf-8")
    [run] = collectors.ingest_files(ws, "usage-rates", [path])
    outcome = submit(ws, path, filename="bad.csv", kpi_id="test_usage_by_ministry", ministry_code="MIC",
                     user="mic1", role="ministry", kpis=usage_kpi, today=TODAY)
    assert run.status == "failed" and "row 3" in run.error
    assert outcome.status == "rejected"
    assert any("row 3" in line and column in line for line in outcome.report.lines()), outcome.report.lines()
    assert query(ws, "SELECT count(*) FROM procedure_usage") == [(0,)]
