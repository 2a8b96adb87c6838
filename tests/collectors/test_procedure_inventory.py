"""The procedure-inventory collector on the Digital Agency's real inventory (行政手続等の棚卸調査, FY2023 counts).

The full file (realdata/digital_agency, 75,071 procedures) is loaded once per module: 0 rejected rows, the checks of
SOURCES.md reproduce from the warehouse and from the KPIs. Re-saved variants (CP932, XLSX, rows shuffled) are built
from a subset of the real rows. `procedure_inventory_blanks.csv` (tests/fixtures/collectors) is 43 rows of the real
file (the first row of each of the 25 ministries, rows with line breaks and with the processing-period spellings)
with some counts blanked, since the real copy has none blank.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from collectors import ingest_files
from collectors.base import Column
from collectors.procedure_inventory import parse_days
from collectors.sources import read_table
from observatory.config import shipped_realdata_dir
from observatory.kpis import load_catalogue, recompute
from observatory.warehouse import for_workspace
from observatory.workspace import init_workspace
from tests.collectors.conftest import FIXTURES, query, run_row, write, xlsx_bytes

REAL = shipped_realdata_dir() / "digital_agency" / "procedures_inventory_fy2023.csv.gz"
BLANKS = FIXTURES / "procedure_inventory_blanks.csv"
KPI_DIR = Path(__file__).resolve().parents[2] / "kpi_definitions"
COLUMNS = ("procedure_id", "fiscal_year", "period", "ministry_code", "ministry_name", "procedure_name",
           "procedure_type", "online_status", "cases_total", "cases_online", "cases_offline",
           "processing_period_online", "processing_period_offline", "days_online", "days_offline", "published")
PAIRS = (("処理期間(オンライン)", "処理期間(非オンライン)"), ("情報システム(申請)", "情報システム(事務処理)"),
         ("手続が行われるイベント(個人)", "手続が行われるイベント(法人)"))


def real_records() -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the shipped real file, read with the csv module (not the collector)."""
    text = gzip.decompress(REAL.read_bytes()).decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    return header, rows


def csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    return buf.getvalue()


def excel_csv(header: list[str], rows: list[list]) -> str:
    """CSV as Excel saves it: CRLF after every record and inside quoted texts."""
    crlf = [[c.replace("\r\n", "\n").replace("\n", "\r\n") for c in r] for r in [header, *rows]]
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(crlf)
    return buf.getvalue()


def table_rows(ws, fiscal_year: int = 2023) -> dict[str, tuple]:
    """procedure_id -> the row's contract columns (published as a dict), lineage left out."""
    got = query(ws, f"SELECT {', '.join(COLUMNS)} FROM procedure_inventory WHERE fiscal_year = ?", [fiscal_year])
    return {r[0]: (*r[:-1], json.loads(r[-1])) for r in got}


# ------------------------------------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def real_ws(tmp_path_factory):
    """A workspace with the full real file loaded once (and the KPIs computed)."""
    ws, _ = init_workspace(tmp_path_factory.mktemp("inventory") / "ws")
    [result] = ingest_files(ws, "procedure-inventory", [REAL], fiscal_year=2023)
    with for_workspace(ws).connect() as con:
        recompute(con, load_catalogue(KPI_DIR), tables=["procedure_inventory"])
    return ws, result


def test_real_file_loads_whole_and_its_checks_reproduce(real_ws) -> None:
    ws, result = real_ws
    assert (result.status, result.error) == ("ok", None)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (75_071, 75_071, 0)
    # the four rows whose online count exceeds a total of 0 are kept as published, with a warning each
    assert result.detail["warnings_total"] == 4
    [(rows, online, total)] = query(ws, "SELECT count(*), sum(cases_online), sum(cases_total) "
                                        "FROM procedure_inventory WHERE fiscal_year = 2023")
    assert (rows, online, total) == (75_071, 3_422_908_418, 4_307_176_937)
    assert round(100 * online / total, 1) == 79.5
    statuses = dict(query(ws, "SELECT coalesce(online_status, ''), count(*) FROM procedure_inventory GROUP BY 1"))
    assert statuses == {"1 実施済": 36_315, "2 未実施": 22_695, "3 適用除外": 407, "4 その他": 13_235,
                        "5 一部実施済": 2_416, "": 3}
    assert query(ws, "SELECT DISTINCT period FROM procedure_inventory")[0][0].isoformat() == "2023-04-01"


def test_every_published_ministry_name_resolves(real_ws) -> None:
    ws, _ = real_ws
    names = dict(query(ws, "SELECT ministry_name, any_value(ministry_code) FROM procedure_inventory GROUP BY 1"))
    assert len(names) == 25
    assert query(ws, "SELECT count(DISTINCT ministry_code) FROM procedure_inventory")[0][0] == 25
    assert names["国家公安委員会・警察庁"] == "NPA"
    assert names["人事院"] not in ("NPA", None)
    known = {code for (code,) in query(ws, "SELECT code FROM ministries")}
    assert set(names.values()) <= known
    for name, code in names.items():  # a name of the reference list maps to its own code
        own = query(ws, "SELECT code FROM ministries WHERE name_ja = ?", [name])
        assert not own or own[0][0] == code, name


def test_columns_differing_only_in_brackets_stay_apart(real_ws) -> None:
    ws, _ = real_ws
    header, _ = real_records()
    [(keys,)] = query(ws, "SELECT json_keys(published) FROM procedure_inventory WHERE procedure_id = '1'")
    assert keys == header and len(keys) == 38
    for left, right in PAIRS:
        [(differ,)] = query(ws, "SELECT count(*) FROM procedure_inventory WHERE json_extract_string(published, ?) "
                                "<> json_extract_string(published, ?)", [f'$."{left}"', f'$."{right}"'])
        assert differ > 100, (left, right)
    # the typed columns come from their own published column, row by row
    for column, head in (("processing_period_online", PAIRS[0][0]), ("processing_period_offline", PAIRS[0][1])):
        [(wrong,)] = query(ws, f"SELECT count(*) FROM procedure_inventory WHERE coalesce({column}, '') "
                               "<> trim(json_extract_string(published, ?))", [f'$."{head}"'])
        assert wrong == 0, column
    [(online_days, offline_days)] = query(ws, "SELECT count(days_online), count(days_offline) FROM procedure_inventory")
    assert 0 < online_days != offline_days > 0


def test_kpis_compute_from_the_inventory(real_ws) -> None:
    ws, _ = real_ws
    got = dict(query(ws, "SELECT kpi_id, value FROM kpi_values WHERE level = 'national' AND period = '2023-04-01' "
                         "AND kpi_id LIKE 'inventory_%'"))
    assert round(got["inventory_online_usage_rate"], 1) == 79.5
    # online filing in place: 1 実施済 (+ 5 一部実施済) over every procedure but 3 適用除外 (blank status unknown)
    denominator = 36_315 + 22_695 + 13_235 + 2_416
    assert got["inventory_online_filing_share"] == pytest.approx(100 * (36_315 + 2_416) / denominator)
    assert got["inventory_online_filing_complete_share"] == pytest.approx(100 * 36_315 / denominator)
    header, rows = real_records()
    i_type, i_status = header.index("手続類型"), header.index("オンライン化の実施状況")
    apps = [r[i_status] for r in rows if r[i_type] == "1 申請等" and r[i_status] != "3 適用除外" and r[i_status]]
    assert got["inventory_online_filing_complete_share_application"] == pytest.approx(
        100 * apps.count("1 実施済") / len(apps))
    ministries = query(ws, "SELECT count(DISTINCT entity_code) FROM kpi_values "
                           "WHERE kpi_id = 'inventory_online_usage_rate' AND level = 'ministry'")[0][0]
    assert ministries == 25


def test_loading_the_real_file_again_changes_nothing(real_ws) -> None:
    ws, first = real_ws
    before = query(ws, "SELECT count(*) FROM procedure_inventory WHERE run_id = ?", [first.run_id])[0][0]
    [again] = ingest_files(ws, "procedure-inventory", [REAL], fiscal_year=2023)
    assert again.status == "ok"
    assert query(ws, "SELECT count(*) FROM procedure_inventory WHERE run_id = ?", [again.run_id])[0][0] == 0
    assert query(ws, "SELECT count(*) FROM procedure_inventory WHERE run_id = ?", [first.run_id])[0][0] == before


# ------------------------------------------------------------------------------------ re-saved variants


@pytest.fixture(scope="module")
def subset() -> tuple[list[str], list[list[str]]]:
    """400 real rows (every 150th, plus every row with a line break in 手続名) that CP932 can encode."""
    header, rows = real_records()
    i_name = header.index("手続名")
    chosen = [r for i, r in enumerate(rows) if i % 150 == 0 or "\n" in r[i_name]]
    encodable = []
    for r in chosen:
        try:
            "".join(r).encode("cp932")
        except UnicodeEncodeError:
            continue
        encodable.append(r)
    assert len(encodable) > 400
    return header, encodable


def _excel_typed(cell: str):
    """What Excel makes of a CSV cell: plain whole numbers become numbers, everything else stays text."""
    if cell.isascii() and cell.isdigit() and (cell == "0" or not cell.startswith("0")) and len(cell) < 15:
        return int(cell)
    return cell if cell != "" else None


def test_cp932_xlsx_shuffled_and_noted_copies_load_to_identical_rows(workspace, tmp_path: Path, subset) -> None:
    header, rows = subset
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    variants = {
        "inventory.csv": csv_text(header, rows).encode("utf-8-sig"),
        "inventory_nobom.csv": csv_text(header, rows).encode("utf-8"),
        "inventory_cp932.csv": excel_csv(header, rows).encode("cp932"),
        "inventory.xlsx": xlsx_bytes([header, *[[_excel_typed(c) for c in r] for r in rows]]),
        "inventory_shuffled.csv": csv_text(header, shuffled).encode("utf-8-sig"),
        # a source line under the table, as an edition may carry one: a note, not a procedure
        "inventory_notes.csv": (csv_text(header, rows) + "※ 出典：デジタル庁「行政手続等の棚卸結果」\n").encode("utf-8-sig"),
    }
    loaded = {}
    for name, data in variants.items():
        with for_workspace(workspace).connect() as con:
            con.execute("DELETE FROM procedure_inventory")
        [result] = ingest_files(workspace, "procedure-inventory", [write(tmp_path, name, data)], fiscal_year=2023)
        assert (result.status, result.rows_loaded) == ("ok", len(rows)), (name, result.error)
        loaded[name] = table_rows(workspace)
    reference = loaded.pop("inventory.csv")
    assert len(reference) == len(rows)
    for name, got in loaded.items():  # line breaks in texts are '\n' whatever the copy wrote (CRLF, none in XLSX)
        assert got == reference, name


# ------------------------------------------------------------------------------ blanks, errors, CLI


def test_blank_counts_stay_unknown_never_zero(workspace) -> None:
    [result] = ingest_files(workspace, "procedure-inventory", [BLANKS], fiscal_year=2023)
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("ok", 43, 0)
    header, *rows = list(csv.reader(io.StringIO(BLANKS.read_text(encoding="utf-8-sig"), newline="")))
    i_total, i_online, i_offline = (header.index(h) for h in ("総手続件数", "オンライン手続件数", "非オンライン手続件数"))
    got = {r[0]: r[1:] for r in query(workspace, "SELECT procedure_id, cases_total, cases_online, cases_offline "
                                                 "FROM procedure_inventory")}
    blanks = 0
    for r in rows:
        expected = [None if r[i] == "" else int(r[i]) for i in (i_total, i_online, i_offline)]
        assert list(got[r[0]]) == expected, r[0]
        blanks += expected.count(None)
    assert blanks == 6
    # the usage rate takes the procedures whose online and total counts are both known
    known = [r for r in rows if r[i_total] != "" and r[i_online] != ""]
    expected_rate = 100 * sum(int(r[i_online]) for r in known) / sum(int(r[i_total]) for r in known)
    with for_workspace(workspace).connect() as con:
        recompute(con, load_catalogue(KPI_DIR), tables=["procedure_inventory"])
    [(rate,)] = query(workspace, "SELECT value FROM kpi_values WHERE kpi_id = 'inventory_online_usage_rate' "
                                 "AND level = 'national'")
    assert rate == pytest.approx(expected_rate)
    days = dict(query(workspace, "SELECT processing_period_online, days_online FROM procedure_inventory "
                                 "UNION SELECT processing_period_offline, days_offline FROM procedure_inventory"))
    assert days["１月"] == 30 and days["２週間"] == 14 and days["不明"] is None and days["1日～1月"] is None


@pytest.mark.parametrize(("text", "days"), [
    ("1月", 30), ("１月", 30), ("14日", 14), ("2週", 14), ("2週間", 14), ("２週間", 14), ("1年", 365),
    ("3か月", 90), ("0", 0), ("０", 0), ("0日", 0), ("不明", None), ("なし", None), ("-", None), ("ー", None),
    ("1日～1月", None), ("15", None), ("一か月", None), ("", None), (None, None),
])
def test_processing_period_days(text, days) -> None:
    assert parse_days(text) == days


def test_unknown_ministry_name_is_an_error_naming_the_row(workspace, tmp_path: Path) -> None:
    text = BLANKS.read_text(encoding="utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    rows[9][1] = "架空庁"
    data = csv_text(header, rows)
    line = data[: data.index("架空庁")].count("\n") + 1  # a record's first line (texts hold line breaks)
    [result] = ingest_files(workspace, "procedure-inventory", [write(tmp_path, "bad.csv", data.encode())],
                            fiscal_year=2023)
    assert result.status == "failed"
    assert f"row {line}, column 所管府省庁, value '架空庁'" in result.error
    assert query(workspace, "SELECT count(*) FROM procedure_inventory")[0][0] == 0
    assert run_row(workspace, result.run_id)["rows_rejected"] == 43


def test_an_individual_number_in_a_column_kept_only_in_published_refuses_the_file(workspace, tmp_path: Path) -> None:
    text = BLANKS.read_text(encoding="utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    column = header.index("根拠条項号")  # kept only inside `published`, not a typed column
    rows[4][column] = "照会先　１９９３－５１８１－９０９０"  # 199351819090: a valid Individual Number, full width
    [result] = ingest_files(workspace, "procedure-inventory", [write(tmp_path, "pii.csv", csv_text(header, rows).encode())],
                            fiscal_year=2023)
    assert result.status == "failed" and "column published.根拠条項号" in result.error
    assert "9090" in result.error and "5181" not in result.error  # masked
    assert query(workspace, "SELECT count(*) FROM procedure_inventory")[0][0] == 0


def test_missing_fiscal_year_is_an_error(workspace) -> None:
    [result] = ingest_files(workspace, "procedure-inventory", [BLANKS])
    assert result.status == "failed"
    assert "--fiscal-year" in result.error and "年度" in result.error
    assert query(workspace, "SELECT count(*) FROM procedure_inventory")[0][0] == 0


def test_cli_ingest_with_and_without_fiscal_year(workspace) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "observatory", "--home", str(workspace.home), "ingest",
                               "procedure-inventory", str(BLANKS), *args],
                              capture_output=True, text=True, timeout=300)

    missing = run()
    assert missing.returncode != 0  # a failed run (the CLI's own tests pin the exit codes)
    assert "--fiscal-year" in missing.stdout + missing.stderr and "Traceback" not in missing.stderr
    ok = run("--fiscal-year", "2023")
    assert ok.returncode == 0, ok.stderr
    assert "loaded 43" in ok.stdout
    assert query(workspace, "SELECT count(*), min(fiscal_year) FROM procedure_inventory") == [(43, 2023)]
    # the load recomputed the KPIs reading the table, at both levels
    assert query(workspace, "SELECT DISTINCT level FROM kpi_values WHERE kpi_id = 'inventory_online_usage_rate' "
                            "AND value IS NOT NULL ORDER BY 1") == [("ministry",), ("national",)]


def test_header_pairs_differing_in_brackets_match_exactly_before_the_loose_fallback(tmp_path: Path) -> None:
    layout = (Column("online", ("処理期間(オンライン)",)), Column("offline", ("処理期間(非オンライン)",)),
              Column("population", ("人口",)))
    # full-width brackets fold to the same header; the offline column comes first; 人口 only loosely matches
    data = "処理期間（非オンライン）,人口（R8.1.1時点）,処理期間（オンライン）\n1月,100,14日\n".encode()
    table, _ = read_table("t.csv", data, [layout])
    assert table.rows == [(2, {"offline": "1月", "population": "100", "online": "14日"})]
    assert table.header == ["処理期間（非オンライン）", "人口（R8.1.1時点）", "処理期間（オンライン）"]
    assert table.published(0) == {"処理期間（非オンライン）": "1月", "人口（R8.1.1時点）": "100", "処理期間（オンライン）": "14日"}


def test_coded_values_written_otherwise_are_read_as_published_and_the_kpis_count_them(workspace, tmp_path: Path) -> None:
    """Another release writing 1 実施済 as １　実施済 or 実施済 (or 2-3 交付等（民間手続） as ２－３ 交付等(民間手続)) stored
    it as written, and every inventory KPI filtering on it fell to 0 % without a word."""
    header, *rows = list(csv.reader(io.StringIO(BLANKS.read_text(encoding="utf-8-sig"), newline="")))
    i_status, i_type = header.index("オンライン化の実施状況"), header.index("手続類型")
    full_width = str.maketrans("0123456789- ", "０１２３４５６７８９－\u3000")
    respelled = [r[:] for r in rows]
    for n, r in enumerate(respelled):
        r[i_status] = r[i_status].translate(full_width) if n % 2 else r[i_status].split(" ", 1)[-1]
        r[i_type] = r[i_type].translate(full_width).replace("（", "(").replace("）", ")")
    respelled[0][i_status] = "6 検討中"  # a category the published list lacks: kept as written, reported

    def load(name: str, records: list[list[str]]) -> tuple[dict[str, tuple], list]:
        with for_workspace(workspace).connect() as con:
            con.execute("DELETE FROM procedure_inventory")
        [result] = ingest_files(workspace, "procedure-inventory",
                                [write(tmp_path, name, csv_text(header, records).encode("utf-8-sig"))], fiscal_year=2023)
        assert result.status == "ok", result.error
        with for_workspace(workspace).connect() as con:
            recompute(con, load_catalogue(KPI_DIR), tables=["procedure_inventory"])
        got = query(workspace, "SELECT procedure_id, online_status, procedure_type FROM procedure_inventory")
        return {r[0]: r[1:] for r in got}, result.detail.get("warnings", [])

    published, warnings = load("published.csv", rows)
    assert warnings == []
    kpis = query(workspace, "SELECT kpi_id, value FROM kpi_values WHERE kpi_id LIKE 'inventory_online_filing%' "
                            "AND level = 'national' ORDER BY 1")
    got, warnings = load("respelled.csv", respelled)
    first = rows[0][0]
    assert got.pop(first) == ("6 検討中", published.pop(first)[1])
    assert got == published
    assert len(warnings) == 1 and "オンライン化の実施状況 '6 検討中' is not one of 1 実施済" in warnings[0]
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE procedure_inventory SET online_status = ? WHERE procedure_id = ?",
                    [rows[0][i_status], first])
        recompute(con, load_catalogue(KPI_DIR), tables=["procedure_inventory"])
    assert query(workspace, "SELECT kpi_id, value FROM kpi_values WHERE kpi_id LIKE 'inventory_online_filing%' "
                            "AND level = 'national' ORDER BY 1") == kpis


def test_the_kpis_filter_on_the_published_coded_values() -> None:
    """The values the inventory KPIs filter on are the collector's CODED_VALUES (a copy that must stay alike)."""
    import yaml

    from collectors.procedure_inventory import CODED_VALUES

    def values(node, column: str):
        if isinstance(node, dict):
            for key, child in node.items():
                if key == column and isinstance(child, dict):  # {not_in: [...]}
                    yield from child.get("not_in", child.get("in", []))
                elif key == column:
                    yield from child if isinstance(child, list) else [child]
                else:
                    yield from values(child, column)
        elif isinstance(node, list):
            for child in node:
                yield from values(child, column)

    catalogue = yaml.safe_load((KPI_DIR / "procedure_inventory.yaml").read_text(encoding="utf-8"))
    for column, published in CODED_VALUES.items():
        used = set(values(catalogue, column))
        assert used and used <= set(published), (column, used - set(published))


def test_a_renamed_column_is_named_as_the_publication_writes_it(workspace, tmp_path: Path) -> None:
    """Found by the probe with variants of real publications: a release renaming 処理期間(オンライン) (to
    標準処理期間(オンライン)) was refused naming only the warehouse's column, processing_period_online, which the
    user does not find in the file. The message names the header the publication writes, with that name."""
    header, rows = real_records()
    header = ["標準処理期間(オンライン)" if h == "処理期間(オンライン)" else h for h in header]
    path = write(tmp_path, "renamed.csv", csv_text(header, rows[:50]).encode("utf-8"))
    [result] = ingest_files(workspace, "procedure-inventory", [path], fiscal_year=2023)
    assert result.status == "failed"
    assert "処理期間(オンライン) (processing_period_online)" in result.error, result.error
    assert query(workspace, "SELECT count(*) FROM procedure_inventory")[0][0] == 0
