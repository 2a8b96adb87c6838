"""Every rejection reason: a fixture file, the exact report line, and nothing of the file in any data table."""

from __future__ import annotations

import pytest

from observatory.submissions import submit
from observatory.warehouse import for_workspace
from observatory.workspace import load_workspace
from tests.submissions.conftest import FIXTURES, TAX, TODAY, query
from tests.submissions.kpi_fixtures import load_yaml_definitions

LINE = "{name}: "
CASES = {
    "unknown_code.csv": 'row 2, column 市区町村コード, value "011991": error: unknown municipality code (valid check '
                        "digit, but no such municipality) / 存在しない市区町村コードです（検査数字は正しい）",
    "check_digit.csv": 'row 2, column 市区町村コード, value "011003": error: check digit should be 2 / '
                       "検査数字が不正です（正しくは2）",
    "name_unknown.csv": 'row 2, column 市区町村名, value "北海道 存在しない市": error: no municipality of this name in '
                        "北海道 / 北海道にこの名前の市区町村はありません",
    "name_ambiguous.csv": 'row 2, column 市区町村名, value "府中市": error: name matches 2 municipalities (132063 '
                          "東京都府中市, 342084 広島県府中市); give the prefecture or the code / 同名の市区町村が2件あります"
                          "（132063 東京都府中市, 342084 広島県府中市）。都道府県名またはコードを入力してください",
    "name_without_prefecture.csv": "row 1, column 都道府県名 (prefecture): error: required column is missing: a "
                                   "municipality name alone is ambiguous (25 names repeat across prefectures) / "
                                   "必須の列がありません：市区町村名だけでは特定できません（同名の市区町村があります）",
    "duplicate_key.csv": 'row 4, column 市区町村コード, value "011002": error: duplicate of row 2 (same period 2025-04 '
                         "and entity 011002) / 2行目と重複しています（期間 2025-04、対象 011002）",
    "wrong_type.csv": 'row 2, column 特別徴収義務者数, value "十": error: not a number (column type integer) / '
                      "数値ではありません（列の型: integer）",
    "negative.csv": 'row 2, column 電子的送付件数, value "-3": error: negative: must be ≥ 0 / 0 以上である必要があります',
    "rate_over_100.csv": 'row 2, column 電子化率, value "120%": error: above the maximum: must be ≤ 100 % / '
                         "上限 100 % を超えています",
    "numerator_gt_denominator.csv": 'row 2, column 電子的送付件数, value "11 > 10": error: electronic notices exceed '
                                    "employers (11 > 10) / 電子的送付件数が特別徴収義務者数を超えています（11 > 10）",
    "period_frequency.csv": "row 2, column 期間, value \"FY2025\": error: period does not match the KPI's monthly "
                            "frequency; write YYYY-MM (e.g. 2025-04) / 期間がKPIの集計単位（月次）と合いません。"
                            "YYYY-MM（例: 2025-04） の形で入力してください",
    "period_future.csv": 'row 2, column 期間, value "2027-01": error: period 2027-01 is in the future / '
                         "期間 2027-01 は未来です",
    "missing_column.csv": "row 1, column 電子的送付件数 (employers_electronic): error: required column is missing / "
                          "必須の列がありません",
    "unknown_column.csv": 'row 1, column 担当者, value "担当者": error: unknown column; allowed: municipality_code, '
                          "prefecture, municipality_name, period, employers_total, employers_electronic, "
                          "electronic_rate, sends_electronically, note / 不明な列です。使える列: 市区町村コード、"
                          "都道府県名、市区町村名、期間、特別徴収義務者数、電子的送付件数、電子化率、電子的送付の実施、備考",
    "empty.csv": "error: the file is empty / ファイルが空です",
    "header_only.csv": "error: the file has a header but no data rows / データ行がありません",
    "enum_value.csv": 'row 2, column 電子的送付の実施, value "済み": error: not an allowed value (実施, 未実施) '
                      "(column type enum) / 入力できない値です（実施, 未実施）（列の型: enum）",
    "undecodable.csv": "error: text is neither UTF-8 nor Shift_JIS (CP932) (first bad byte 4) / "
                       "文字コードが UTF-8 でも Shift_JIS（CP932）でもありません（byte 4）",
}
DATA_TABLES_UNCHANGED = ("submission_values", "submission_periods", "kpi_values", "procedure_usage", "card_issuance")


def table_counts(ws) -> dict[str, int]:
    with for_workspace(ws).connect() as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}  # names from the catalogue


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejection_reason_is_reported_exactly_and_nothing_is_loaded(ws, kpis, name: str) -> None:
    before = table_counts(ws)
    outcome = submit(ws, (FIXTURES / "bad" / name).read_bytes(), filename=name, kpi_id=TAX, ministry_code="MIC",
                     user="mic1", role="ministry", origin="cli", kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    lines = outcome.report.lines()
    assert f"{name}: {CASES[name]}" in lines, "\n".join(lines)
    after = table_counts(ws)
    changed = {t for t in after if after[t] != before.get(t)}
    # data_changes: the data version (migration 012) counts the receipt written to submissions
    assert changed <= {"submissions", "audit_log", "archived_files", "data_changes"}
    for table in DATA_TABLES_UNCHANGED:
        assert after[table] == before[table] == 0
    status, errors, receipt_rows = query(ws, "SELECT status, errors, rows_accepted FROM submissions "
                                             "WHERE submission_id = ?", [outcome.submission_id])[0]
    assert (status, receipt_rows) == ("rejected", 0) and errors >= 1
    assert query(ws, "SELECT outcome FROM audit_log WHERE action = 'submission.submit'") == [("rejected",)]


def test_every_problem_is_listed_at_once(ws, kpis) -> None:
    text = ("市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施\n"
            "011003,2025-04,10,5,実施\n"        # check digit
            "011002,2025-13,10,5,実施\n"        # bad month
            "012025,2025-04,-1,5,実施\n"        # negative
            "012033,2025-04,10,abc,実施\n"      # wrong type
            "012041,2025-04,10,5,\n")           # missing enum value
    outcome = submit(ws, text.encode(), filename="many.csv", kpi_id=TAX, ministry_code="MIC", user="mic1",
                     kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    assert [(p.row, p.code) for p in outcome.report.problems] == [
        (2, "bad_entity"), (3, "bad_period"), (4, "out_of_range"), (5, "wrong_type"), (6, "missing_value")]


def test_file_over_the_configured_size_limit_is_rejected_unread(ws, kpis) -> None:
    config = ws.home / "observatory.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("max_file_mb: 50", "max_file_mb: 0.001"),
                      encoding="utf-8")
    ws = load_workspace(ws.home)  # 0.001 MB = 1,048 bytes
    data = ("市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施\n" + "011002,2025-04,10,5,実施\n" * 60).encode()
    outcome = submit(ws, data, filename="big.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", kpis=kpis,
                     today=TODAY)
    assert outcome.status == "rejected"
    assert outcome.report.lines()[1] == (f'big.csv: value "{len(data)}": error: the file is 0.0 MB; the limit is 0 MB / '
                                         "ファイルサイズ 0.0 MB が上限 0 MB を超えています")
    assert query(ws, "SELECT count(*) FROM archived_files") == [(0,)]  # oversized uploads are not kept
    assert query(ws, "SELECT count(*) FROM submission_values") == [(0,)]


MINISTRY_KPI = """\
id: test_apis_by_ministry
name: {ja: 公開API数, en: Published APIs}
owner: DA
frequency: fiscal_year
submission:
  level: ministry
  submitters: [MIC, MHLW]
  columns:
    - {name: apis_published, label_ja: 公開API数, type: integer}
"""


@pytest.mark.parametrize(("user", "role"), [("mic1", "ministry"), ("cio1", "cio")])
def test_a_ministry_file_carries_only_the_submitting_ministrys_rows(ws, tmp_path, user: str, role: str) -> None:
    """At ministry level a row's entity is a ministry: a file submitted for MIC that also gives MHLW's figure
    would set MHLW's KPI value (the latest row per entity wins), so it is refused, naming the row."""
    (tmp_path / "kpis").mkdir()
    (tmp_path / "kpis" / "apis.yaml").write_text(MINISTRY_KPI, encoding="utf-8")
    kpis = load_yaml_definitions(tmp_path / "kpis")
    own = "府省コード,期間,公開API数\nMIC,FY2024,3\n".encode()
    assert submit(ws, own, filename="own.csv", kpi_id="test_apis_by_ministry", ministry_code="MIC", user="mic1",
                  kpis=kpis, today=TODAY).status == "accepted"
    data = "府省コード,期間,公開API数\nmic,FY2023,4\nMHLW,FY2024,0\n".encode()
    outcome = submit(ws, data, filename="other.csv", kpi_id="test_apis_by_ministry", ministry_code="MIC", user=user,
                     role=role, kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    assert 'other.csv: row 3, column 府省コード, value "MHLW": error: a row for ministry MHLW in a file for MIC: ' \
           "a ministry submits only its own figures / MIC の提出ファイルに MHLW の行があります（自府省の値のみ提出できます）" \
           in outcome.report.lines(), "\n".join(outcome.report.lines())
    assert query(ws, "SELECT DISTINCT entity_code FROM submission_values") == [("MIC",)]


def test_a_file_name_keeps_neither_directories_nor_control_characters(ws, kpis) -> None:
    """The name a browser or a shell hands over is shown in receipts, lists and terminals: directories are
    dropped and characters nobody sees (ESC, CR, LF, NUL) are written as their escapes, so a name cannot forge a
    line or recolour a terminal."""
    data = ("市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施\n011002,2025-04,10,5,実施\n").encode()
    outcome = submit(ws, data, filename="..\\..\\C:/etc/pa\x1b[31mss\r\nwd\x00.csv", kpi_id=TAX, ministry_code="MIC",
                     user="mic1", kpis=kpis, today=TODAY)
    assert outcome.status == "accepted"
    shown = "pa\\x1b[31mss\\r\\nwd\\x00.csv"
    assert outcome.receipt["file_name"] == shown and outcome.report.lines()[0].startswith(shown + ": csv")
    assert query(ws, "SELECT file_name FROM submissions") == [(shown,)]
    assert query(ws, "SELECT original_name FROM archived_files") == [(shown,)]


def test_a_report_line_shows_invisible_characters_as_escapes(ws, kpis) -> None:
    """A report line goes to a terminal (submit, submission show): a cell or header holding CR/LF would forge a
    line of the report, one holding ESC would drive the terminal. They are printed as escapes; the stored value
    and the CSV report keep the cell as written."""
    data = ("市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施\n"
            '011002,2025-04,"1\r\nfake.csv: accepted",5,実施\n'
            "\x1b]0;owned\x07012025,2025-04,10,5,実施\n").encode()
    outcome = submit(ws, data, filename="esc.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", kpis=kpis,
                     today=TODAY)
    lines = outcome.report.lines()
    assert not [line for line in lines if "\r" in line or "\n" in line or "\x1b" in line or "\x07" in line]
    assert 'esc.csv: row 2, column 特別徴収義務者数, value "1\\r\\nfake.csv: accepted": error: not a number ' \
           "(column type integer) / 数値ではありません（列の型: integer）" in lines, "\n".join(lines)
    assert any('value "\\x1b]0;owned\\x07012025"' in line for line in lines), "\n".join(lines)
    assert "1\r\nfake.csv: accepted" in [p.value for p in outcome.report.problems]


def test_a_refusal_already_in_both_languages_is_reported_once(ws, kpis) -> None:
    outcome = submit(ws, b"x", filename="x.csv", kpi_id="NO_SUCH_KPI", ministry_code="MIC", user="mic1", kpis=kpis,
                     today=TODAY)
    assert outcome.status == "rejected"
    assert outcome.report.lines()[1] == \
        "x.csv: error: no submittable KPI 'NO_SUCH_KPI' / 提出対象のKPIがありません"
