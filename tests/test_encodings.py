"""The one encoding detection (observatory/encodings.py), and that collectors and submissions both use it."""

from __future__ import annotations

import io

import pytest

from collectors.base import Column
from collectors.sources import detect_encoding as collector_detect
from collectors.sources import read_table
from observatory import encodings
from observatory.submissions.reader import detect_encoding as submission_detect

TEXT = "都道府県名,市区町村名,件数\n東京都,府中市,１，２３４\n広島県,府中市,5\n"


def _opener(data: bytes):
    return lambda: io.BytesIO(data)


@pytest.mark.parametrize(("data", "expected"), [
    (TEXT.encode("utf-8"), "utf-8"), (TEXT.encode("utf-8-sig"), "utf-8-sig"), (TEXT.encode("cp932"), "cp932"),
    (TEXT.encode("utf-16"), "utf-16"), (b"\xff\xfe" + TEXT.encode("utf-16-le"), "utf-16"),
    (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16"), ("髙橋,①,㈱\n".encode("cp932"), "cp932"),
])
def test_detection(data: bytes, expected: str) -> None:
    assert encodings.detect(_opener(data)) == expected
    assert collector_detect(data) == expected and submission_detect(_opener(data)) == (expected, None)


def test_undecodable_text_names_its_line_and_byte() -> None:
    data = b"a,b\nc,d\n\x81\xff\n"
    found = encodings.detect(_opener(data))
    assert found == encodings.Undecodable(offset=8, line=3)
    assert submission_detect(_opener(data)) == (None, "byte 8")


def test_a_character_split_across_chunks_still_decodes(monkeypatch) -> None:
    monkeypatch.setattr(encodings, "CHUNK", 7)  # 3-byte UTF-8 characters straddle every chunk boundary
    data = ("あいうえお,かきくけこ\n" * 5).encode("utf-8")
    assert encodings.detect(_opener(data)) == "utf-8"


def test_declared_names_are_canonical() -> None:
    assert encodings.canonical("Shift_JIS") == encodings.canonical("sjis") == "cp932"
    assert encodings.label("utf-16") == "UTF-16" and encodings.label("cp932") == "Shift_JIS (CP932)"


def test_collectors_read_excel_unicode_text_like_submissions() -> None:
    """Excel's "Unicode text" is UTF-16 with a BOM and tab-separated: collectors used to refuse it."""
    data = TEXT.replace(",", "\t").encode("utf-16")
    layout = (Column("prefecture", ("都道府県名",)), Column("name", ("市区町村名",)), Column("n", ("件数",)))
    table, meta = read_table("u16.txt", data, [layout])
    assert meta == {"format": "csv", "encoding": "utf-16"}
    assert [r for _, r in table.rows] == [{"prefecture": "東京都", "name": "府中市", "n": "１，２３４"},
                                          {"prefecture": "広島県", "name": "府中市", "n": "5"}]


def test_a_shift_jis_file_with_one_bad_byte_names_that_byte_not_the_first_japanese_character() -> None:
    """UTF-8 fails at the first Japanese character of a Shift_JIS file: the place to report is where CP932, the
    encoding that reads furthest, fails (line 3), not line 1."""
    data = TEXT.encode("cp932") + b"\x82\xff\n"
    found = encodings.detect(_opener(data))
    assert isinstance(found, encodings.Undecodable) and found.line == 4
    assert found.offset == len(TEXT.encode("cp932"))
