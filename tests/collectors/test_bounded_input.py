"""Bounded input (issue 11): the XLSX bomb is refused unread with memory staying low, deep JSON and long lines
fail clearly (exit 2, no traceback), NUL bytes are refused, and no row is ever dropped silently."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import collectors
from collectors.base import RowError
from collectors.sources import read_cells
from observatory import bounded
from tests.bombs import KPI, peak_memory, submission_workspace, xlsx_bomb
from tests.collectors.conftest import csv_bytes, query, write, xlsx_bytes
from tests.collectors.test_access_log import HEADER
from tests.collectors.test_pii_ingest import _event

OBS = [sys.executable, "-m", "observatory"]


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = xlsx_bomb(tmp_path_factory.mktemp("bomb") / "card.xlsx")
    assert path.stat().st_size < 2 * 1024 * 1024  # the probe's 1 MB file that expands to 1 GiB
    return path


def test_bomb_is_refused_from_the_zip_directory(bomb: Path) -> None:
    assert "decompression bomb" in bounded.xlsx_problem(bomb)
    with pytest.raises(RowError, match="decompression bomb"):
        read_cells("card.xlsx", bomb.read_bytes())


def test_bomb_through_the_cli_keeps_memory_low(workspace, bomb: Path) -> None:
    home = str(workspace.home)
    idle = peak_memory([*OBS, "--home", home, "status"])
    assert idle["rc"] == 0, idle["stderr"]
    got = peak_memory([*OBS, "--home", home, "ingest", "card-issuance", str(bomb), "--period", "2026-04"])
    assert got["rc"] == 2, got
    assert "card.xlsx" in got["stderr"] and "decompression bomb" in got["stderr"]
    assert "Traceback" not in got["stderr"] and "read 0, loaded 0" in got["stdout"]
    assert got["peak_mb"] - idle["peak_mb"] < 300, (got["peak_mb"], idle["peak_mb"])


def test_bomb_through_submit_keeps_memory_low(tmp_path: Path, bomb: Path) -> None:
    home = str(submission_workspace(tmp_path / "sub"))
    idle = peak_memory([*OBS, "--home", home, "status"])
    got = peak_memory([*OBS, "--home", home, "submit", str(bomb), "--kpi", KPI, "--ministry", "MIC",
                       "--user", "mic1"])
    assert got["rc"] != 0 and "Traceback" not in got["stderr"]
    assert "decompression bomb" in got["stdout"] + got["stderr"]
    assert got["peak_mb"] - idle["peak_mb"] < 300, (got["peak_mb"], idle["peak_mb"])


def test_deeply_nested_json_is_a_clear_error(workspace, tmp_path: Path) -> None:
    deep = write(tmp_path, "deep.json", b"[" * 200_000 + b"]" * 200_000)
    got = peak_memory([*OBS, "--home", str(workspace.home), "ingest", "usage-rates", str(deep)])
    assert got["rc"] == 2 and "nested" in got["stderr"] and "Traceback" not in got["stderr"]
    assert "RecursionError" not in got["stderr"] + got["stdout"]
    assert bounded.nesting_depth({"a": [[[1]]]}) == 4
    assert bounded.nesting_depth({"x": "[" * 100}) == 1  # brackets in strings are text
    assert bounded.nesting_depth({"a": [[[[[[]]]]]]}, stop=3) == 4  # counted up to stop + 1


@pytest.mark.parametrize("size", [3_000_000, 40_000_000])  # over max_line_size; over DuckDB's read buffer
def test_access_log_with_a_huge_last_line_fails_instead_of_loading_one_of_two(workspace, tmp_path: Path,
                                                                           size: int) -> None:
    good = csv_bytes([HEADER, _event(1)]).decode()
    path = tmp_path / "long.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(good)
        fh.write(",".join(_event(2)[:-1]) + "," + "T" * size)  # no newline at the end
    [result] = collectors.ingest_files(workspace, "access-log", [path])
    assert result.status == "failed" and result.rows_loaded == 0
    assert "row 3" in result.error and "line of" in result.error
    assert query(workspace, "SELECT count(*) FROM access_events") == [(0,)]


@pytest.mark.parametrize("kind,where", [("access-log", "row 3"), ("usage-rates", "row 2")])
def test_nul_bytes_are_refused_never_stored(workspace, tmp_path: Path, kind: str, where: str) -> None:
    from tests.collectors.test_usage_rates import HEADER as UH
    from tests.collectors.test_usage_rates import ROWS

    if kind == "access-log":
        rows = [HEADER, _event(1), _event(2, terminal="T\x001")]
    else:
        rows = [UH, [ROWS[0][0], ROWS[0][1], "登記\x00申請", *ROWS[0][3:]]]
    [result] = collectors.ingest_files(workspace, kind, [write(tmp_path, "nul.csv", csv_bytes(rows))])
    assert result.status == "failed" and where in result.error and "NUL" in result.error
    assert "\x00" not in result.error


def test_xlsx_caps_rows_and_columns_and_ignores_claimed_dimensions(tmp_path: Path) -> None:
    wide = xlsx_bytes([["h"] * (bounded.MAX_COLUMNS + 1)])
    with pytest.raises(RowError, match="columns"):
        read_cells("wide.xlsx", wide)
    # a small sheet claiming the whole grid (A1:XFD1048576) is read as stored, not padded
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["a", "b"], [1, 2]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = data.replace(b'<dimension ref="A1:B2"/>', b'<dimension ref="A1:XFD1048576"/>')
            dst.writestr(item, data)
    cells = read_cells("claims.xlsx", out.getvalue())
    assert cells.grid == [(1, ["a", "b"]), (2, [1, 2])]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                              max_size=30), min_size=1, max_size=12))
def test_fuzz_rows_read_equal_records_in_the_file(workspace, tmp_path_factory, texts: list[str]) -> None:
    """Quotes, commas, CR/LF and any Unicode inside cells: every record is read and loaded, or the file fails."""
    base = len(query(workspace, "SELECT 1 FROM access_events"))
    start = 10_000 + base
    rows = [_event(start + i, case=f"C{t}", terminal=f"T{t}") for i, t in enumerate(texts)]
    path = write(tmp_path_factory.mktemp("fz"), "f.csv", csv_bytes([HEADER, *rows]))
    [result] = collectors.ingest_files(workspace, "access-log", [path])
    if result.status == "ok":
        assert (result.rows_read, result.rows_loaded) == (len(rows), len(rows))
    else:
        assert result.rows_loaded == 0 and result.error
        assert query(workspace, "SELECT count(*) FROM access_events") == [(base,)]


def test_staging_finds_duplicates_among_two_million_rows_without_running_out_of_memory() -> None:
    """An honest 49 MB submission (1.9 M distinct municipality-month rows) ended in DuckDB's 'Out of Memory'
    (exit 70) when the scratch database was capped at 32 MB."""
    from datetime import date

    import pyarrow as pa

    from observatory.kpis.submission_spec import SubmissionSpec
    from observatory.submissions.staging import Staging

    spec = SubmissionSpec.model_validate({"level": "municipality", "columns": [
        {"name": "n", "label_ja": "件数", "label_en": "Count", "type": "integer"}]})
    months = [date(1901 + m // 12, 1 + m % 12, 1) for m in range(1200)]
    with Staging(spec) as staging:
        row = 2
        for m in months:
            codes = [f"{c:06d}" for c in range(1700)]
            n = len(codes)
            staging.add_arrays(pa.array(range(row, row + n), pa.int64()), [m] * n, codes,
                               {"v_n": pa.array([1.0] * n, pa.float64()), "t_n": pa.nulls(n, pa.string())})
            row += n
        staging.add_arrays(pa.array([row], pa.int64()), [months[5]], ["000007"],
                           {"v_n": pa.array([1.0]), "t_n": pa.nulls(1, pa.string())})
        assert staging.duplicates() == [(row, 2 + 5 * 1700 + 7, months[5], "000007", True)]


def _workbook_with_shared_strings(path: Path, n: int, part: str = "xl/sharedStrings.xml") -> Path:
    """An XLSX saved by openpyxl (one cell, 'x'), turned into one whose cell is the first of a shared-strings table
    of `n` short distinct strings (4 million strings in a 10 MB file took openpyxl 630 MB, read-only mode too)."""
    import io
    import zipfile

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"] = "x"
    saved = io.BytesIO()
    wb.save(saved)
    edits = {  # (openpyxl writes the text inline: the cell, the part's type and its relationship are added)
        "xl/worksheets/sheet1.xml": (b'<c r="A1" t="inlineStr"><is><t>x</t></is></c>', b'<c r="A1" t="s"><v>0</v></c>'),
        "[Content_Types].xml": (b"</Types>", b'<Override PartName="/%s" ContentType="application/vnd.openxml'
                                b'formats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>' % part.encode()),
        "xl/_rels/workbook.xml.rels": (b"</Relationships>", b'<Relationship Type="http://schemas.openxmlformats.org/'
                                       b'officeDocument/2006/relationships/sharedStrings" Target="%s" '
                                       b'Id="rId9" /></Relationships>' % part.removeprefix("xl/").encode())}
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for item in src.infolist():
            data = src.read(item)
            if item.filename in edits:
                old, new = edits[item.filename]
                assert old in data
                data = data.replace(old, new)
            z.writestr(item, data)
        with z.open(part, "w") as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
                     b'spreadsheetml/2006/main"><si><t>x</t></si>')
            for i in range(1, n, 10_000):  # distinct strings: a table that compresses like an honest one
                fh.write(b"".join(b"<si><t>%x</t></si>" % (j * 2654435761 % 2**32) for j in range(i, min(i + 10_000, n))))
            fh.write(b"</sst>")
    return path


def test_a_shared_strings_table_too_long_to_hold_is_refused_unread(tmp_path: Path) -> None:
    path = _workbook_with_shared_strings(tmp_path / "many.xlsx", 1_200_000)
    assert path.stat().st_size < 16 * 1024 * 1024
    assert "over 1,100,000 strings" in bounded.xlsx_problem(path)
    with pytest.raises(RowError, match="shared-strings"):
        read_cells("many.xlsx", path.read_bytes())


def test_a_shared_strings_table_under_another_name_is_judged_as_one(tmp_path: Path) -> None:
    """openpyxl finds the table by its content type, not its name: stored as xl/strs.xml, 8 million strings in an
    18 MB file were read whole (1.46 GB) while the limits looked for sharedStrings.xml. The renamed table is a
    real one (openpyxl reads the cell from it) and is held to the same bound."""
    path = _workbook_with_shared_strings(tmp_path / "renamed.xlsx", 1_200_000, part="xl/strs.xml")
    assert "xl/strs.xml holds over 1,100,000 strings" in bounded.xlsx_problem(path)
    small = _workbook_with_shared_strings(tmp_path / "small.xlsx", 50_000, part="xl/strs.xml")
    assert bounded.xlsx_problem(small) is None
    assert read_cells("small.xlsx", small.read_bytes()).grid[:1] == [(1, ["x"])]


def test_a_renamed_table_is_found_whatever_its_quotes_and_a_padded_part_list_is_refused(tmp_path: Path) -> None:
    """XML allows single quotes: the part list read them as empty, so a renamed table declared PartName='...' was
    not found. And a [Content_Types].xml padded past MAX_PACKAGE_XML was skipped, hiding what it declares."""
    import os
    import zipfile

    path = _workbook_with_shared_strings(tmp_path / "renamed.xlsx", 1_200_000, part="xl/strs.xml")
    quoted, padded = tmp_path / "quoted.xlsx", tmp_path / "padded.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(quoted, "w", zipfile.ZIP_DEFLATED) as q, \
            zipfile.ZipFile(padded, "w", zipfile.ZIP_DEFLATED) as pd_:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                q.writestr(item.filename, data.replace(b'PartName="/xl/strs.xml"', b"PartName='/xl/strs.xml'"))
                pd_.writestr(item.filename, data.replace(b"</Types>", b"<!--" + os.urandom(bounded.MAX_PACKAGE_XML // 2 + 1).hex().encode()
                                                           + b"--></Types>"))  # (not compressible: past the ratio bound)
            else:  # (by name: one ZipInfo written to two archives is the same object in both directories)
                q.writestr(item.filename, data)
                pd_.writestr(item.filename, data)
    assert "xl/strs.xml holds over 1,100,000 strings" in bounded.xlsx_problem(quoted)
    # just over the limit: in bytes, which say it is over (in MB both would read 8)
    size = zipfile.ZipFile(padded).getinfo("[Content_Types].xml").file_size
    assert f"[Content_Types].xml expands to {size:,} bytes (limit 8,388,608 bytes)" in bounded.xlsx_problem(padded)


def test_a_shared_strings_table_within_the_bound_is_read(tmp_path: Path) -> None:
    assert bounded.xlsx_problem(_workbook_with_shared_strings(tmp_path / "most.xlsx", 1_100_000)) is None
    path = _workbook_with_shared_strings(tmp_path / "some.xlsx", 50_000)  # the same making: a workbook openpyxl reads
    assert read_cells("some.xlsx", path.read_bytes()).grid[:1] == [(1, ["x"])]


def test_a_size_over_its_limit_reads_as_over() -> None:
    """In MB where that shows the excess; in bytes where MB would round the size to the limit."""
    assert bounded._beyond(12 * 2**20, 8 * 2**20) == "12 MB (limit 8 MB)"
    assert bounded._beyond(8 * 2**20 + 300_000, 8 * 2**20) == "8,688,608 bytes (limit 8,388,608 bytes)"


def test_a_part_compressed_past_the_ratio_bound_is_refused_with_its_ratio() -> None:
    """Under the size limits, but 20 MB that compress a thousandfold: refused, naming the ratio and its limit."""
    import io
    import re
    import zipfile

    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<a>" + b"0" * (20 * 2**20) + b"</a>")
    problem = bounded.xlsx_problem(data.getvalue())
    # (the ratio is zlib's: about 1,028x here)
    assert re.search(r"xl/worksheets/sheet1\.xml expands to 20 MB, 1,0\d\d\.\dx its compressed size \(limit 100x\)", problem)
    assert "decompression bomb" in problem


@pytest.mark.parametrize("fmt", ["xlsx", "json"])
def test_a_table_of_more_cells_than_the_limit_is_refused_before_it_is_read_cell_by_cell(
        workspace, tmp_path: Path, monkeypatch, fmt: str) -> None:
    """A workbook's row is padded to its last cell and a JSON record to every key of the file: a 281 KB workbook
    with one cell at XFD per row took 36 s (a 1.1 MB one over two minutes) and a 640 KB JSON file of records with a
    key each 86 s. A table of more than bounded.MAX_CELLS cells is refused where the count passes it (the limit is
    lowered here, so that the file stays small); a blank cell at a row's end pads nothing."""
    monkeypatch.setattr(bounded, "MAX_CELLS", 50 * len(HEADER))
    good = [_event(i) for i in range(40)]
    if fmt == "json":
        import json

        records = [dict(zip(HEADER, r, strict=True)) for r in good] + [{f"k{i}": 0} for i in range(40)]
        data = json.dumps(records).encode()
    else:
        data = xlsx_bytes([HEADER, *good, *([None] * 99 + ["x"] for _ in range(40))])
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, f"w.{fmt}", data)])
    assert result.status == "failed" and "more cells than the limit" in result.error, result.error
    assert query(workspace, "SELECT count(*) FROM access_events") == [(0,)]
    if fmt == "xlsx":  # blank cells far right are no cells: the same rows with a space there load
        data = xlsx_bytes([HEADER, *good, *([None] * 99 + [" "] for _ in range(40))])
        [ok] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "b.xlsx", data)])
        assert ok.status == "ok" and ok.rows_loaded == 40, ok.error
