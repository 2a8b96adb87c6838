"""municipal-dx: the Digital Agency DX dashboards as published (four real files of 2024-07-12), re-saved variants
of them, and the refusals (columns out of the official order, no release date)."""

from __future__ import annotations

import csv
import gzip
import io
import random
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import openpyxl
import pytest

import collectors
from collectors.base import ParseContext, RowError
from collectors.municipal_dx import COLLECTOR, generated_id
from collectors.runs import parse_rows
from collectors.sources import rows_read
from observatory.config import shipped_realdata_dir
from observatory.reference import MunicipalityIndex, municipalities, prefectures
from observatory.workspace import load_workspace
from tests.collectors.conftest import query, run_row

REAL = shipped_realdata_dir() / "digital_agency"
COMPARISON = REAL / "市区町村毎のDX進捗状況_市区町村比較.csv.gz"
RATES = REAL / "市区町村毎のDX進捗状況_行政手続のオンライン申請率.csv.gz"
PREF_RATES = REAL / "都道府県のDX進捗状況_行政手続のオンライン申請率.csv.gz"
PREF_COMPARISON = REAL / "都道府県のDX進捗状況_都道府県比較.csv.gz"
FILES = (COMPARISON, RATES, PREF_RATES, PREF_COMPARISON)
RELEASED = "2024-07-12"


def _grid(path: Path) -> list[list[str]]:
    """The published cells of a fixture, read with nothing but the csv module (the independent truth)."""
    return list(csv.reader(io.StringIO(gzip.decompress(path.read_bytes()).decode("utf-8-sig"), newline="")))


def _entities(grid: list[list[str]]) -> list[str]:
    names = grid[0][2:]
    while names and not names[-1]:
        names.pop()
    return names


def _parse(name: str, data: bytes) -> list[dict]:
    rows, _meta = parse_rows(COLLECTOR, name, data, ParseContext(file=name, released_on=RELEASED))
    return rows


def _canonical(rows: list[dict]) -> list[tuple]:
    return sorted(tuple(r[c] for c in COLLECTOR.table_columns) for r in rows)


@pytest.fixture(scope="module")
def loaded(_template_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """One workspace with the four real files loaded (shared by the read-only tests of this module)."""
    home = tmp_path_factory.mktemp("dx") / "ws"
    shutil.copytree(_template_home, home, ignore=shutil.ignore_patterns("*.lock", "*.wal"))
    ws = load_workspace(home)
    results = collectors.ingest_files(ws, "municipal-dx", list(FILES), released_on=RELEASED)
    return ws, results


def test_all_four_real_files_load_with_nothing_rejected(loaded) -> None:
    ws, results = loaded
    for path, result in zip(FILES, results, strict=True):
        grid = _grid(path)
        cells = len(_entities(grid)) * (len(grid) - 1)
        assert result.status == "ok", result.error
        assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (cells, cells, 0), path.name
        assert "warnings" not in result.detail, result.detail["warnings"]  # every indicator is a known one
    counts = dict(query(ws, "SELECT entity_level, count(DISTINCT entity_code) FROM municipal_dx GROUP BY 1"))
    assert counts == {"municipality": 1741, "prefecture": 47}
    assert query(ws, "SELECT count(*) FROM municipal_dx WHERE released_on <> DATE '2024-07-12'") == [(0,)]
    # the indicator rows ending with a space are stored trimmed, under their listed id
    assert query(ws, "SELECT DISTINCT name_ja, name_en FROM municipal_dx WHERE indicator_id = "
                     "'care_26_online_readiness'") == [
        ("子育て・介護26手続のオンライン化状況", "Online readiness of the 26 child-care and care procedures")]


def test_every_repeated_name_resolves_by_position(loaded) -> None:
    ws, _ = loaded
    index = MunicipalityIndex()
    for path in (COMPARISON, RATES):
        grid = _grid(path)
        names = _entities(grid)
        repeated = {n: k for n, k in Counter(names).items() if k > 1}
        assert len(repeated) == 25 and repeated["池田町"] == 4
        for name in ("府中市", "伊達市", "森町", "日高町"):
            assert name in repeated
        stored = {(ind, code): text for ind, code, text in query(
            ws, "SELECT indicator_id, entity_code, text_value FROM municipal_dx WHERE entity_level = 'municipality'")}
        by_name = {(r[0].strip(), r[1].strip()): r for r in grid[1:]}
        ids = dict(query(ws, "SELECT DISTINCT name_ja || '|' || coalesce(group_ja, ''), indicator_id "
                             "FROM municipal_dx"))
        for name in repeated:
            columns = [j for j, n in enumerate(names) if n == name]
            # the k-th column of a name is the k-th municipality of that name in code order
            codes = sorted(m.code for m in index.candidates(name))
            assert len(codes) == len(columns)
            for (group, indicator), row in by_name.items():
                ind = ids[f"{indicator}|{group}"]
                published = [row[j + 2].strip() or None for j in columns]
                assert [stored[(ind, code)] for code in codes] == published, (name, indicator)


def test_the_variant_kanji_name_resolves(loaded) -> None:
    ws, _ = loaded
    grid = _grid(COMPARISON)
    column = _entities(grid).index("檮原町")
    code = MunicipalityIndex().match("高知県", "梼原町").code
    cio = next(r for r in grid[1:] if r[1] == "CIOの任命")[column + 2]
    assert query(ws, "SELECT text_value FROM municipal_dx WHERE indicator_id = 'cio_appointed' AND entity_code = ?",
                 [code]) == [(cio,)]


def test_not_surveyed_and_blank_cells_are_no_data(loaded) -> None:
    ws, _ = loaded
    assert query(ws, "SELECT count(*), count(value) FROM municipal_dx WHERE indicator_id = 'cio_appointed' AND "
                     "entity_level = 'municipality' AND text_value = '調査無し'") == [(8, 0)]
    blanks = sum(1 for row in _grid(RATES)[1:] for c in row[2:] if not c.strip())
    assert blanks > 60_000
    rates = "indicator_id LIKE 'online_rate_%' AND entity_level = 'municipality'"
    assert query(ws, f"SELECT count(*) FROM municipal_dx WHERE {rates} AND text_value IS NULL AND value IS NULL") \
        == [(blanks,)]
    # a value exists exactly where something was published that is not 調査無し or a bare '%' (0 of 0)
    assert query(ws, "SELECT count(*) FROM municipal_dx WHERE (value IS NULL) <> "
                     "(text_value IS NULL OR text_value IN ('調査無し', '%'))") == [(0,)]
    assert query(ws, "SELECT count(*) FROM municipal_dx WHERE text_value = '%'") == [(2,)]
    assert query(ws, "SELECT text_value, value, unit FROM municipal_dx WHERE indicator_id = "
                     "'online_rate_library_reservation' AND entity_code = '011002'") == [("88.8%", 88.8, "percent")]
    assert query(ws, "SELECT text_value, value, unit FROM municipal_dx WHERE indicator_id = "
                     "'common_32_procedures_run' AND entity_code = '011002'") == [("24", 24.0, "count")]


def test_a_dash_alone_is_no_data_in_every_unit() -> None:
    """A dash alone (-, －, ―) is "none / not applicable" as everywhere else (observatory.cells): no data, never 0
    nor 未実施. A release writing it where a municipality has nothing to report was refused whole ('expected 実施 or
    未実施', 'expected a percentage', ''-' means none ... not a number')."""
    grid = _grid(COMPARISON)
    rows = {r[1].strip(): i for i, r in enumerate(grid)}
    dashes = (("cio_appointed", "CIOの任命", "－"), ("card_holding_rate", "マイナンバーカードの保有状況", "―"),
              ("common_32_procedures_run", "よく使う32手続のオンライン化状況_実施されている手続総数（分母）", "-"))
    for _, name, dash in dashes:
        grid[rows[name]][5] = dash  # column F: 旭川市 (012041)
    got = {(r["indicator_id"], r["entity_code"]): r for r in _parse("dashes.csv", _csv(grid, "cp932"))}
    for indicator, _, dash in dashes:
        dashed, other = got[(indicator, "012041")], got[(indicator, "011002")]
        assert (dashed["value"], dashed["text_value"], dashed["unit"]) == (None, dash, other["unit"]), indicator
    assert got[("card_holding_rate", "011002")]["value"] == 72.0


def _excel_xlsx(grid: list[list[str]]) -> bytes:
    """The workbook Excel makes of the CSV: '88.8%' becomes 0.888 formatted as a percentage, counts numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    for r, row in enumerate(grid, start=1):
        for c, text in enumerate(row, start=1):
            if not text:
                continue
            cell = sheet.cell(row=r, column=c)
            if r > 1 and text.endswith("%") and text[:-1].replace(".", "", 1).isdigit():
                cell.value = float(text[:-1]) / 100
                cell.number_format = "0.0%" if "." in text else "0%"
            elif r > 1 and c > 2 and text.isdigit():
                cell.value = int(text)
            else:
                cell.value = text
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _csv(grid: list[list[str]], encoding: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(grid)
    return buf.getvalue().encode(encoding)


@pytest.mark.parametrize("path", [COMPARISON, PREF_RATES], ids=["municipal", "prefecture"])
def test_resaved_variants_load_to_identical_rows(path: Path) -> None:
    original = _canonical(_parse(path.name, path.read_bytes()))
    grid = _grid(path)
    shuffled = [grid[0], *random.Random(7).sample(grid[1:], len(grid) - 1)]
    assert shuffled[1:] != grid[1:]
    variants = {
        "xlsx": ("book.xlsx", _excel_xlsx(grid)),
        "xlsx_text": ("text.xlsx", _text_xlsx(grid)),
        "cp932": ("cp932.csv", _csv(grid, "cp932")),
        "shuffled": ("shuffled.csv", _csv(shuffled, "utf-8")),
        # notes under the table, as an edition may carry them (read as notes, not indicator rows)
        "notes": ("notes.csv", _csv([*grid, ["※ 出典：デジタル庁「自治体DX推進状況」"], ["", "（注）未回答は空欄"]], "cp932")),
        # a title and a blank line above the header, as a sheet saved from a spreadsheet has them (every other
        # collector finds its header below them; the DX file was refused: 'the first cell must be 市区町村名 ...')
        "title": ("title.xlsx", _excel_xlsx([["自治体DXの取組に関するダッシュボード（令和6年7月12日公表）"], [], *grid])),
        # each group's label in one cell merged down over its indicators (openpyxl reads the rows below it blank),
        # and the CSV Excel saves of such a sheet: the label on the group's first row only
        "merged": ("merged.xlsx", _merged_groups(grid)),
        "merged_csv": ("merged.csv", _csv(_first_of_group_only(grid), "utf-8")),
    }
    for label, (name, data) in variants.items():
        assert _canonical(_parse(name, data)) == original, label


def _first_of_group_only(grid: list[list[str]]) -> list[list[str]]:
    """The grid with each group's label on its first row only (a merged cell saved as CSV)."""
    rows = [grid[0], grid[1]]
    for above, row in zip(grid[1:], grid[2:], strict=False):
        rows.append(["", *row[1:]] if row[0] == above[0] else row)
    return rows


def _merged_groups(grid: list[list[str]]) -> bytes:
    """The workbook with column A's runs of one group merged into one cell, as a report sheet is laid out."""
    book = openpyxl.load_workbook(io.BytesIO(_excel_xlsx(grid)))
    sheet, start = book.active, 2
    for row in range(3, len(grid) + 2):
        if row == len(grid) + 1 or grid[row - 1][0] != grid[start - 1][0]:
            if row - 1 > start:
                sheet.merge_cells(f"A{start}:A{row - 1}")
            start = row
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _text_xlsx(grid: list[list[str]]) -> bytes:
    """A workbook holding every cell as text (as a careful user imports it)."""
    book = openpyxl.Workbook()
    for row in grid:
        book.active.append([c or None for c in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_columns_out_of_the_official_order_are_refused_naming_the_column(workspace, tmp_path: Path) -> None:
    grid = _grid(COMPARISON)
    for row in grid:
        row[3], row[4] = row[4], row[3]  # 函館市 <-> 小樽市
    path = tmp_path / "swapped.csv"
    path.write_bytes(_csv(grid, "utf-8-sig"))
    [result] = collectors.ingest_files(workspace, "municipal-dx", [path], released_on=RELEASED)
    assert result.status == "failed" and result.rows_loaded == 0
    # 小樽市 (column 4) can stand there in a partial list; 函館市 after it cannot
    assert "column 5 (E, 函館市)" in result.error and "小樽市 (012033)" in result.error, result.error
    assert query(workspace, "SELECT count(*) FROM municipal_dx") == [(0,)]
    with pytest.raises(RowError) as info:
        _parse("swapped.csv", path.read_bytes())
    assert info.value.column == "5 (E, 函館市)" and info.value.row == 1
    grid = _grid(PREF_COMPARISON)
    grid[0][5] = "架空県"  # not a prefecture at all
    with pytest.raises(RowError) as info:
        _parse("unknown.csv", _csv(grid, "utf-8"))
    assert info.value.column == "6 (F, 架空県)"


def _columns(grid: list[list[str]], keep: list[int]) -> list[list[str]]:
    """The grid with only the entity columns at `keep` (0-based among the entities)."""
    return [row[:2] + [row[j + 2] for j in keep] for row in grid]


def test_part_of_the_official_list_in_order_loads(tmp_path: Path) -> None:
    whole = _parse(PREF_COMPARISON.name, PREF_COMPARISON.read_bytes())
    grid = _grid(PREF_COMPARISON)
    part = _parse("part.csv", _csv(_columns(grid, list(range(46))), "utf-8"))  # 沖縄県 dropped
    assert _canonical(part) == _canonical([r for r in whole if r["entity_code"] != "47"])
    # one prefecture's municipalities: its neighbours place 池田町 in 福井県 and 伊達市 in 北海道
    rates = _grid(COMPARISON)
    names = _entities(rates)
    codes = [m.code for m in municipalities()]
    for prefecture, name in (("18", "池田町"), ("01", "伊達市")):
        keep = [j for j, c in enumerate(codes) if c[:2] == prefecture]
        rows = _parse("one_prefecture.csv", _csv(_columns(rates, keep), "utf-8"))
        column = next(j for j in keep if names[j] == name)
        expected = MunicipalityIndex().match(prefecture, name).code
        assert {r["entity_code"] for r in rows} == {codes[j] for j in keep} and expected == codes[column]
        got = {r["text_value"] for r in rows if r["entity_code"] == expected and r["indicator_id"] == "cio_appointed"}
        assert got == {rates[1][column + 2]}


def test_a_repeated_name_without_neighbours_is_refused() -> None:
    grid = _grid(COMPARISON)
    names = _entities(grid)
    with pytest.raises(RowError) as info:
        _parse("ikeda.csv", _csv(_columns(grid, [names.index("池田町")]), "utf-8"))
    assert info.value.column == "3 (C, 池田町)" and "do not say which" in info.value.reason


def test_loading_twice_or_a_resaved_copy_changes_nothing(workspace, tmp_path: Path) -> None:
    [first] = collectors.ingest_files(workspace, "municipal-dx", [PREF_RATES], released_on=RELEASED)
    before = query(workspace, "SELECT * FROM municipal_dx ORDER BY ALL")
    xlsx = tmp_path / "pref_rates.xlsx"
    xlsx.write_bytes(_excel_xlsx(_grid(PREF_RATES)))
    again = collectors.ingest_files(workspace, "municipal-dx", [PREF_RATES, xlsx], released_on=RELEASED)
    assert [r.status for r in again] == ["ok", "ok"]
    assert query(workspace, "SELECT * FROM municipal_dx ORDER BY ALL") == before
    assert {r[0] for r in query(workspace, "SELECT DISTINCT run_id FROM municipal_dx")} == {first.run_id}


def test_the_release_date_is_required(workspace) -> None:
    [result] = collectors.ingest_files(workspace, "municipal-dx", [PREF_COMPARISON])
    assert result.status == "failed" and "--released-on" in result.error
    assert run_row(workspace, result.run_id)["rows_loaded"] == 0


def test_an_unknown_indicator_is_kept_under_a_generated_id_and_reported(workspace, tmp_path: Path) -> None:
    grid = _grid(PREF_COMPARISON)
    grid.append(["住民サービスのDX", "新しい指標", *(["実施", "未実施"] * 24)[:47]])
    path = tmp_path / "new.csv"
    path.write_bytes(_csv(grid, "utf-8"))
    [result] = collectors.ingest_files(workspace, "municipal-dx", [path], released_on=RELEASED)
    assert result.status == "ok", result.error
    new_id = generated_id("住民サービスのDX", "新しい指標")
    assert any(new_id in w and "新しい指標" in w for w in result.detail["warnings"])
    assert query(workspace, "SELECT count(*), sum(value), min(unit) FROM municipal_dx WHERE indicator_id = ?",
                 [new_id]) == [(47, 24.0, "flag")]


def test_kpis_compute_from_the_real_files(loaded) -> None:
    from observatory.kpis import load_catalogue, recompute
    from observatory.warehouse import for_workspace

    ws, _ = loaded
    with for_workspace(ws).connect() as con:
        recompute(con, load_catalogue(Path(__file__).resolve().parents[2] / "kpi_definitions"),
                  tables=["municipal_dx"], forecast=False)
        got = {(k, lv, e): (v, s) for k, lv, e, v, s in con.execute(
            "SELECT kpi_id, level, entity_code, value, status FROM kpi_values WHERE kpi_id LIKE 'dx_%'").fetchall()}
    grid = _grid(COMPARISON)
    cio = next(r for r in grid[1:] if r[1] == "CIOの任命")[2:2 + 1741]
    share = 100 * cio.count("実施") / (cio.count("実施") + cio.count("未実施"))
    assert got[("dx_cio_appointed", "national", "JP")] == (pytest.approx(share), "no_target")
    pref = next(r for r in _grid(PREF_COMPARISON)[1:] if r[1] == "CIOの任命")[2:]
    assert got[("dx_pref_cio_appointed", "national", "JP")][0] == pytest.approx(100 * pref.count("実施") / 47)
    hokkaido = [m.code for m in municipalities() if m.prefecture_code == "01"]
    assert ("dx_cio_appointed", "prefecture", "01") in got and ("dx_pref_cio_appointed", "municipality",
                                                                 hokkaido[0]) not in got
    levels = Counter(lv for (k, lv, _e) in got if k == "dx_card_holding_rate")
    assert levels == {"municipality": 1741, "prefecture": len(prefectures()), "national": 1}


def test_cli_ingest_with_release_date(_template_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "ws"
    shutil.copytree(_template_home, home, ignore=shutil.ignore_patterns("*.lock", "*.wal"))
    cmd = [sys.executable, "-m", "observatory", "--home", str(home), "ingest", "municipal-dx", str(PREF_COMPARISON)]
    done = subprocess.run([*cmd, "--released-on", RELEASED], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ok, read 611, loaded 611, rejected 0" in done.stdout and "KPI values changed" in done.stdout
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--released-on" in refused.stdout + refused.stderr  # bad input: exit 2
    assert "Traceback" not in refused.stderr


def test_a_scheduled_source_takes_the_release_date_from_last_modified(workspace, http_server) -> None:
    from observatory.config import Source
    from tests.collectors.conftest import Reply

    body = PREF_COMPARISON.read_bytes()
    # 2024-07-11 20:00 UTC is 2024-07-12 in Japan: the date is read in Japan's calendar
    http_server.routes["/dx.csv.gz"] = [Reply(200, body, {"Last-Modified": "Thu, 11 Jul 2024 20:00:00 GMT"})]
    http_server.routes["/plain.csv.gz"] = [Reply(200, body)]
    dated = Source(name="dx", kind="municipal-dx", url=http_server.url("/dx.csv.gz"), retries=0)
    undated = Source(name="dx2", kind="municipal-dx", url=http_server.url("/plain.csv.gz"), retries=0)
    result = collectors.run_source(workspace, dated)
    assert result.status == "ok" and result.rows_loaded == 611, result.error
    assert query(workspace, "SELECT DISTINCT released_on FROM municipal_dx") == [(date(2024, 7, 12),)]
    refused = collectors.run_source(workspace, undated)
    assert refused.status == "failed" and "--released-on" in refused.error


def test_an_empty_group_column_finds_the_same_indicators() -> None:
    grid = _grid(PREF_COMPARISON)
    for row in grid[1:]:
        row[0] = ""
    original = _parse(PREF_COMPARISON.name, PREF_COMPARISON.read_bytes())
    without = _parse("nogroup.csv", _csv(grid, "utf-8"))
    assert {r["group_ja"] for r in without} == {None}
    assert _canonical([{**r, "group_ja": None} for r in original]) == _canonical(without)


def test_the_indicator_list_is_reference_data(loaded) -> None:
    import re

    from observatory.reference import dx_indicators

    ws, _ = loaded
    listed = dx_indicators()
    assert len({d.indicator_id for d in listed}) == len(listed)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", d.indicator_id) and d.unit in ("percent", "flag", "count")
               and d.name_en for d in listed)
    assert query(ws, "SELECT count(*) FROM dx_indicators") == [(len(listed),)]
    # every indicator loaded from the real files has its listed unit and English name
    assert query(ws, "SELECT count(*) FROM municipal_dx x JOIN dx_indicators d USING (indicator_id) "
                     "WHERE x.unit <> d.unit OR x.name_en <> d.name_en") == [(0,)]
    assert query(ws, "SELECT count(*) FROM municipal_dx WHERE indicator_id NOT IN "
                     "(SELECT indicator_id FROM dx_indicators)") == [(0,)]


@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_a_gzip_file_cut_short_is_refused_not_loaded_in_part(workspace, tmp_path: Path, cut: float) -> None:
    """A download cut short (or a copy truncated) loaded the rows before the cut as if they were the file."""
    data = PREF_RATES.read_bytes()
    path = tmp_path / PREF_RATES.name
    path.write_bytes(data[: int(len(data) * cut)])
    [result] = collectors.ingest_files(workspace, "municipal-dx", [path], released_on=RELEASED)
    assert result.status == "failed" and result.rows_loaded == 0
    assert result.error.startswith(f"{PREF_RATES.name}: broken gzip file"), result.error


def test_a_gzip_file_of_two_members_is_read_whole(workspace, tmp_path: Path) -> None:
    """`cat a.gz b.gz` is one gzip file (RFC 1952: a series of members): every member is read."""
    text = gzip.decompress(PREF_RATES.read_bytes())
    half = text.index(b"\n", len(text) // 2) + 1
    path = tmp_path / PREF_RATES.name
    path.write_bytes(gzip.compress(text[:half]) + gzip.compress(text[half:]))
    [whole] = collectors.ingest_files(workspace, "municipal-dx", [PREF_RATES], released_on=RELEASED)
    [result] = collectors.ingest_files(workspace, "municipal-dx", [path], released_on=RELEASED)
    assert result.status == "ok" and result.rows_read == whole.rows_read, result.error


def test_a_large_file_is_read_without_holding_its_cells() -> None:
    """The reader made one dict per cell before the parser saw any: a 1 MB file of 300 indicator rows for every
    municipality held 173 MB of them (a 3.5 MB one, 925 MB). The cells are made as the parser reads them."""
    import tracemalloc

    names = [m.name_ja for m in municipalities()]
    data = _csv([["市区町村名", "", *names], *(["g", f"指標{i}", *["1"] * len(names)] for i in range(300))], "utf-8")
    tracemalloc.start()
    try:
        table = COLLECTOR.reader("big.csv", data)
        parsed = sum(1 for _ in COLLECTOR.parse(table, ParseContext(file="big.csv", released_on=RELEASED)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parsed == rows_read(table) == 300 * len(names)
    assert peak < 40 * 2**20, peak / 2**20


def test_a_bad_row_after_many_good_ones_is_named_with_the_rows_read(tmp_path: Path) -> None:
    names = [m.name_ja for m in municipalities()]
    grid = [["市区町村名", "", *names], *(["g", f"指標{i}", *["1"] * len(names)] for i in range(3)),
            ["g", "", *["1"] * len(names)], ["g", "指標9", *["1"] * len(names)]]
    with pytest.raises(RowError, match=r"bad\.csv: row 5, column 2 \(B\): indicator name missing"):
        _parse("bad.csv", _csv(grid, "utf-8"))
    grid[4][1], grid[3][10] = "指標8", "abc"  # a cell the parser refuses: the file's cells are still all counted
    with pytest.raises(RowError, match=r"bad\.csv: row 4, column 11 \(K, 夕張市\), value 'abc'") as refused:
        _parse("bad.csv", _csv(grid, "utf-8"))
    assert refused.value.rows_read == 5 * len(names)


def test_a_rate_above_100_percent_is_kept_and_reported(workspace, tmp_path: Path) -> None:
    """A rate above 100 % (more online applications than applications, a typing slip) was stored without a word;
    it is kept as published and named in a warning (row, column, value)."""
    grid = _grid(COMPARISON)
    rows = {r[1].strip(): i for i, r in enumerate(grid)}
    grid[rows["マイナンバーカードの保有状況"]][5] = "172%"  # column F: 旭川市
    path = tmp_path / "over.csv"
    path.write_bytes(_csv(grid, "utf-8"))
    [result] = collectors.ingest_files(workspace, "municipal-dx", [path], released_on=RELEASED)
    assert result.status == "ok", result.error
    assert any("172%" in w and "100" in w and f"row {rows['マイナンバーカードの保有状況'] + 1}" in w
               for w in result.detail["warnings"]), result.detail.get("warnings")
    assert query(workspace, "SELECT value FROM municipal_dx WHERE indicator_id = 'card_holding_rate' "
                            "AND entity_code = '012041'") == [(172.0,)]
