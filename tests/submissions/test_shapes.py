"""File shapes ministries really send: title rows, 5-digit codes, code + name, national quarterly files."""

from __future__ import annotations

from observatory.submissions import submit
from tests.submissions.conftest import QUARTERLY, TAX, TODAY, query


def send(ws, kpis, text: str, kpi_id: str = TAX, ministry: str = "MIC", user: str = "mic1", name: str = "f.csv"):
    return submit(ws, text.encode("utf-8"), filename=name, kpi_id=kpi_id, ministry_code=ministry, user=user,
                  kpis=kpis, today=TODAY)


def test_title_rows_five_digit_codes_and_name_checks(ws, kpis) -> None:
    text = ("令和7年4月分 特別徴収税額通知 電子化状況調査,,,,,\n"
            "総務省自治税務局,,,,,\n"
            "市区町村コード,市区町村名,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施\n"
            "01100,札幌市,2025-04,10,5,実施\n"         # 5-digit code without check digit
            "11002,札幌市,2025-04,10,5,実施\n"         # Excel dropped the leading zero of 011002
            "012025,小樽市,2025-04,10,5,実施\n")       # code and name disagree
    outcome = send(ws, kpis, text)
    lines = outcome.report.lines()
    assert "f.csv: row 1: warning: rows 1-2 before the header were ignored / 見出し行より前の 1〜2 行目は読み飛ばしました" in lines
    assert ('f.csv: row 4, column 市区町村コード, value "01100": warning: 5-digit code read as 011002 札幌市 / '
            "5桁のコードを 011002（札幌市）と読みました") in lines
    assert ('f.csv: row 6, column 市区町村コード, value "012025 小樽市": error: code 012025 is 函館市, but the name column '
            "says 小樽市 / コード 012025 は函館市ですが、市区町村名は小樽市です") in lines
    # 11002 reads as 011002 (no municipality 11002x exists), which repeats row 4
    assert [(p.code, p.value) for p in outcome.report.problems if p.row == 5] == [
        ("lenient_code", "11002"), ("duplicate_key", "011002")]


def test_national_quarterly_file_with_dates_and_booleans(ws, kpis) -> None:
    text = ("期間,公開API数,測定日,検証済み\n"
            "2025-04,120,2025/6/30,はい\n"
            "FY2025-Q2,125,2025-09-30,FALSE\n"
            "2025-05,1,,\n")
    outcome = send(ws, kpis, text, kpi_id=QUARTERLY, ministry="DA", user="cio1")
    assert outcome.status == "rejected"
    assert outcome.report.lines()[1] == ('f.csv: row 4, column 期間, value "2025-05": error: period does not match the '
                                         "KPI's quarterly frequency; write the quarter's first month YYYY-MM (e.g. "
                                         "2025-04) or FY2025-Q1 / 期間がKPIの集計単位（四半期）と合いません。四半期の初月 "
                                         "YYYY-MM（例: 2025-04）または 2025年度第1四半期 の形で入力してください")
    fixed = send(ws, kpis, text.replace("2025-05,1,,\n", ""), kpi_id=QUARTERLY, ministry="DA", user="cio1",
                 name="g.csv")
    assert fixed.status == "accepted", fixed.report.lines()
    got = query(ws, "SELECT period, entity_code, column_name, value, text_value FROM submission_values "
                    "WHERE submission_id = ? ORDER BY ALL", [fixed.submission_id])
    assert [(str(p), e, c, v, t) for p, e, c, v, t in got] == [
        ("2025-04-01", "JP", "apis_published", 120.0, None), ("2025-04-01", "JP", "measured_on", None, "2025-06-30"),
        ("2025-04-01", "JP", "verified", 1.0, None),
        ("2025-07-01", "JP", "apis_published", 125.0, None), ("2025-07-01", "JP", "measured_on", None, "2025-09-30"),
        ("2025-07-01", "JP", "verified", 0.0, None)]


def test_a_date_column_reads_a_timestamp_in_the_workspace_time_zone(ws, kpis) -> None:
    """A measured_on of 02:00 UTC on 1 July is 30 June in New York (config.timezone), not its UTC date."""
    ws.config.timezone = "America/New_York"
    outcome = send(ws, kpis, "期間,公開API数,測定日\n2025-04,120,2025-07-01T02:00:00Z\n", kpi_id=QUARTERLY,
                   ministry="DA", user="cio1")
    assert outcome.status == "accepted", outcome.report.lines()
    got = query(ws, "SELECT text_value FROM submission_values WHERE column_name = 'measured_on'")
    assert got == [("2025-06-30",)]
