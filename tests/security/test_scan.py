"""scan-pii's readers (observatory.security.scan) find a number in every written form the finder reads, kanji
digits included: in a plain file as UTF-8 or CP932 bytes, and in a table's text column."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from observatory.security.scan import ScanResult, scan_bytes, scan_database
from tests.security.test_pseudonym_finder import PROBE, STYLES, WHOLE_CELL, written

IN_TEXT = [s for s in STYLES if s not in WHOLE_CELL]


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
@pytest.mark.parametrize("style", IN_TEXT)
def test_a_number_in_a_plain_file_is_found_in_either_encoding(tmp_path: Path, encoding: str, style: str) -> None:
    n = PROBE[0]
    path = tmp_path / "memo.txt"
    if encoding == "cp932" and style in ("latin_middle_dot", "bullets", "invisible", "dingbats"):
        pytest.skip("CP932 cannot write it")
    path.write_bytes(f"照会メモ 一般会計 令和八年十二月一日\n個人番号 {written(n, style)} の方\n".encode(encoding))
    result = ScanResult()
    scan_bytes(path, result, "memo.txt")
    assert [f.masked for f in result.findings] == ["********" + n[-4:]]


def test_a_file_of_kanji_numerals_that_are_no_number_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "memo.txt"
    path.write_bytes("二千二十六年度 三百五十一万八千 〇〇市〇〇町一丁目二番三号 一九九三五一八一九〇九一\n".encode("cp932"))
    result = ScanResult()
    scan_bytes(path, result, "memo.txt")
    assert result.clean


@pytest.mark.parametrize("style", ["kanji", "kanji_groups", "fullwidth_hyphens"])
def test_a_number_in_a_table_is_found(style: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE notes (id INTEGER, body VARCHAR)")
    con.execute("INSERT INTO notes VALUES (1, '一般会計 令和八年十二月一日'), (2, ?)", [f"番号{written(PROBE[1], style)}です"])
    result = ScanResult()
    scan_database(con, result, "w.duckdb")
    assert [(f.where, f.masked) for f in result.findings] == [("w.duckdb:notes.body", "********" + PROBE[1][-4:])]


@pytest.mark.parametrize("encoding", ["utf-8", "cp932", "utf-16"])
@pytest.mark.parametrize("style", WHOLE_CELL)
def test_a_number_written_as_a_whole_cell_in_a_plain_file_is_found(tmp_path: Path, encoding: str, style: str) -> None:
    """The forms the finder reads only as a whole cell (199,351,819,090; 1.99351819090E+11; 199-351819-090;
    keycaps) are read in a file's lines and in its fields, quoted or not; a file saved as UTF-16 (a spreadsheet's
    'Unicode text', with its byte order mark) is read as such."""
    n = PROBE[0]
    cell = written(n, style)
    if encoding == "cp932" and style == "keycaps":
        pytest.skip("CP932 cannot write it")
    path = tmp_path / "export.csv"
    path.write_bytes(f'id,value,note\n1,"{cell}",x\n2,x\t{cell}\tx\n{cell}\n'.encode(encoding))
    result = ScanResult()
    scan_bytes(path, result, "export.csv")
    assert [f.masked for f in result.findings] == ["********" + n[-4:]]


def test_a_number_behind_a_json_escape_in_a_table_is_found() -> None:
    """A JSON column writes a tab as \\t: the scan reads the text the escapes stand for too."""
    con = duckdb.connect()
    con.execute("CREATE TABLE runs (detail VARCHAR)")
    n = PROBE[1]
    escaped = "\\t".join((n[:4], n[4:8], n[8:]))  # (as JSON writes a tab)
    con.execute("INSERT INTO runs VALUES (?), (?)", ['{"file": "' + escaped + '.csv"}', '{"note": "a\\\\tb \\u3042"}'])
    result = ScanResult()
    scan_database(con, result, "w.duckdb")
    assert [f.masked for f in result.findings] == ["********" + n[-4:]]
