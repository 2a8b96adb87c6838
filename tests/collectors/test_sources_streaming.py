"""Files are read as streams (issue 11 part 2): rows come from the file as the parser asks for them, limits are
enforced while reading, staged rows live in a private scratch file that never outlives the run."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

import collectors
from collectors.base import Column, RowError
from collectors.sources import RowStream, _GunzipCapped, rows_read, stream_cells
from observatory.rows import lines as capped_lines
from tests.collectors.conftest import csv_bytes, query, write
from tests.collectors.test_usage_rates import HEADER, ROWS

LAYOUT = (Column("a"), Column("b"))


def test_a_file_on_disk_is_read_as_its_rows_are_asked_for(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", csv_bytes([["a", "b"], *([str(i), "x"] for i in range(10_000))]))
    cells = stream_cells("big.csv", path)
    assert len(cells.grid) == 31  # only the lines the header search may need are read up front
    table = cells.table([LAYOUT])
    assert isinstance(table.rows, RowStream)
    first = next(iter(table.rows))
    assert first == (2, {"a": "0", "b": "x"}) and table.cells[0] == ["0", "x"] and table.rows.count == 1
    assert rows_read(table) == 10_000  # the rest is counted without naming its cells


def test_a_gzip_file_is_decompressed_as_read_and_capped(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 1000))
    cells = stream_cells("t.csv.gz", path)
    assert rows_read(cells.table([LAYOUT])) == 1000
    with pytest.raises(RowError, match="gzip content larger than"), \
            io.BufferedReader(_GunzipCapped(path, limit=1000)) as fh:
        fh.read()


@pytest.mark.parametrize("data,reason", [  # (mtime=0: the same bytes, so the same test ids, on every worker)
    (gzip.compress(b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(1000)), mtime=0)[:2000],
     "broken gzip file"),  # cut short
    (gzip.compress(b"a,b\n1,2\n" + "札幌".encode("cp932") + "札幌".encode(), mtime=0), "not UTF-8"),
], ids=["cut_short", "not_utf8"])
def test_a_gzip_files_errors_name_the_file_as_given(workspace, tmp_path: Path, data: bytes, reason: str) -> None:
    """The user has t.csv.gz: its errors name t.csv.gz, as its row errors do, not the t.csv inside it."""
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "t.csv.gz", data)])
    assert result.status == "failed" and result.error.startswith("t.csv.gz: "), result.error
    assert reason in result.error


def test_an_over_long_line_is_refused_without_reading_it_whole() -> None:
    lines = capped_lines(io.StringIO("short\n" + "x" * 50 + "\nafter\n"), limit=20)
    assert next(lines) == "short\n"
    with pytest.raises(RowError, match="line longer than 20 characters") as err:
        next(lines)
    assert err.value.row == 2


def test_a_tab_separated_file_is_read_like_a_comma_separated_one(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", "a\tb\n1\t２\n".encode())
    assert [r for _, r in stream_cells("t.tsv", path).table([LAYOUT]).rows] == [{"a": "1", "b": "２"}]


def test_staged_rows_never_outlive_the_run(workspace, tmp_path: Path) -> None:
    good = write(tmp_path, "u.csv", csv_bytes([HEADER, *ROWS]))
    twice = write(tmp_path, "d.csv", csv_bytes([HEADER, *ROWS, ROWS[0]]))
    ok, failed = collectors.ingest_files(workspace, "usage-rates", [good, twice])
    assert ok.status == "ok" and (ok.rows_read, ok.rows_loaded) == (3, 3)
    assert failed.status == "failed" and "row 5" in failed.error and "first on row 2" in failed.error
    assert failed.rows_read == 4 and failed.rows_rejected == 4
    assert query(workspace, "SELECT count(*) FROM procedure_usage") == [(3,)]
    assert not list((workspace.home / ".work").glob("plain-*"))  # scratch databases and decrypted copies removed


def test_a_bad_cell_deep_in_a_streamed_file_counts_every_record(workspace, tmp_path: Path) -> None:
    rows = [[*ROWS[0][:1], f"MOJ-{i:05d}", *ROWS[0][2:]] for i in range(20_000)]
    rows[15_000][5] = "many"
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "m.csv", csv_bytes([HEADER, *rows]))])
    assert result.status == "failed" and "row 15002, column cases_total" in result.error
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (20_000, 0, 20_000)


@pytest.mark.parametrize("layout", ["never closed", "closed by a later quoted cell"])
def test_an_unterminated_quote_is_named_at_the_line_where_it_opens(workspace, tmp_path: Path, layout: str) -> None:
    """A cell opening a quote it never closes read the lines after it into that cell: the file failed at a column
    the quote had swallowed, with that column's reason."""
    rows = [[*ROWS[1][:1], f"MHLW-{i:03d}", *ROWS[1][2:]] for i in range(8)]
    if layout == "closed by a later quoted cell":
        rows[5][5] = "1,234"  # written quoted
    lines = csv_bytes([HEADER, *rows]).decode().split("\r\n")
    lines[3] = lines[3].removesuffix("true") + '"true'  # the last cell of row 4 opens a quote
    [result] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "u.csv", "\r\n".join(lines).encode())])
    assert result.status == "failed"
    assert result.error.startswith("u.csv: row 4: unterminated quote"), result.error
    assert "引用符が閉じられていません" in result.error
    assert query(workspace, "SELECT count(*) FROM procedure_usage") == [(0,)]


def test_a_quote_closed_by_a_later_cell_no_longer_loads_without_the_rows_between(workspace, tmp_path: Path) -> None:
    """A text cell opening a quote that a later quoted cell closed loaded the file without the rows in between (5 of
    8 staff, one with the swallowed lines as its role)."""
    rows = [["staff_id", "org_code", "status", "role"], *([f"ST{i}", "132063", "active", "clerk"] for i in range(8))]
    rows[6][3] = "clerk, senior"  # written quoted
    lines = csv_bytes(rows).decode().split("\r\n")
    lines[3] = lines[3].replace(",clerk", ',"clerk')
    [result] = collectors.ingest_files(workspace, "staff", [write(tmp_path, "s.csv", "\r\n".join(lines).encode())])
    assert result.status == "failed", result.rows_loaded
    assert result.error.startswith("s.csv: row 4: unterminated quote"), result.error
    assert query(workspace, "SELECT count(*) FROM staff") == [(0,)]


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file's first bytes: .xls, or an .xlsx saved with a password


@pytest.mark.parametrize("kind,name", [("usage-rates", "u.xls"), ("usage-rates", "u.xlsx"), ("usage-rates", "u.csv"),
                                       ("access-log", "a.xls"), ("access-log", "a.xlsx")])
def test_an_excel_97_2003_or_password_protected_workbook_is_refused_as_such(workspace, tmp_path: Path, kind: str,
                                                                             name: str) -> None:
    """Not 'not UTF-8 ... text' nor 'BadZipFile': what the file is, and what to do."""
    [result] = collectors.ingest_files(workspace, kind, [write(tmp_path, name, OLE + b"\x00" * 4000)])
    assert result.status == "failed" and result.error.startswith(f"{name}: Excel 97-2003"), result.error
    assert "パスワード" in result.error


@pytest.mark.parametrize("kind,name", [("usage-rates", "d.csv"), ("card-issuance", "d.csv"), ("access-log", "d.csv"),
                                       ("staff", "d.csv"), ("card-issuance", "d.xlsx"), ("access-log", "d.xlsx")])
def test_an_html_page_saved_as_the_file_is_refused_as_such(workspace, tmp_path: Path, kind: str, name: str) -> None:
    """A saved error or sign-in page where the CSV should be: said so, not 'header is missing column(s) ...'."""
    page = "\ufeff \r\n<!DOCTYPE html>\n<html lang=\"ja\"><head><title>404 Not Found</title></head><body>ページが見つかりません"
    [result] = collectors.ingest_files(workspace, kind, [write(tmp_path, name, page.encode())])
    assert result.status == "failed" and result.error.startswith(f"{name}: an HTML page"), result.error
