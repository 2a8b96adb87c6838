"""JSON files are read a chunk at a time: the same records as json.loads, in every shape and across chunk
boundaries, with the same errors, and a file is never held whole."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collectors
from collectors import sources
from collectors.base import RowError

CELL = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**15, max_value=10**15),
                 st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                 st.lists(st.integers(), max_size=3))
RECORDS = st.lists(st.dictionaries(st.sampled_from(["団体コード", "期間", "件数", "note", "a b"]), CELL, max_size=5),
                   max_size=20)


def _stream(data: bytes, encoding: str | None = None) -> list[dict]:
    return [rec for _, rec in sources.json_stream(lambda: io.BytesIO(data), encoding)]


@settings(max_examples=150, deadline=None)
@given(records=RECORDS, indent=st.sampled_from([None, 1, 4]), wrapped=st.booleans(),
       chunk=st.sampled_from([1, 3, 7, 64, 1 << 20]), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_records_are_what_json_loads_gives_whatever_the_chunk_size(records, indent, wrapped, chunk,
                                                                    encoding) -> None:
    doc = {"title": "オンライン利用率", "rows": records, "total": 12345678} if wrapped else records
    data = json.dumps(doc, ensure_ascii=False, indent=indent).encode(encoding)
    saved, sources.JSON_CHUNK = sources.JSON_CHUNK, chunk
    try:
        assert _stream(data) == records
    finally:
        sources.JSON_CHUNK = saved


def test_malformed_json_names_the_line_even_far_into_the_file(monkeypatch) -> None:
    monkeypatch.setattr(sources, "JSON_CHUNK", 16)
    good = ",\n".join(f'{{"a": {i}}}' for i in range(50))
    with pytest.raises(RowError, match=r"^malformed JSON at line 51: "):
        _stream(f"[{good},\n{{\"a\": }}]".encode())
    with pytest.raises(RowError, match=r"malformed JSON"):
        _stream(b'[{"a": 1}] trailing')
    with pytest.raises(RowError, match=r"malformed JSON"):
        _stream(b'[{"a": 1}')  # cut short


@pytest.mark.parametrize("doc, message", [
    (b'{"a": 1}', "list of objects"), (b'"text"', "list of objects"), (b'{"rows": 3}', "list of objects"),
    (b'[1, 2]', "not an object"), (b'[{"a": ' + b"[" * 40 + b"]" * 40 + b"}]", "nested"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
])
def test_shapes_other_than_records_are_clear_errors(doc: bytes, message: str) -> None:
    with pytest.raises(RowError, match=message):
        _stream(doc)


def test_a_record_longer_than_a_line_may_be_is_refused_without_reading_the_rest(monkeypatch) -> None:
    monkeypatch.setattr(sources.bounded, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(sources, "JSON_CHUNK", 100)
    data = b'[{"a": "' + b"x" * 5000 + b'"}, ' + b'{"a": 1}, ' * 10 + b'{"a": 2}]'
    with pytest.raises(RowError, match="longer than 1,000 characters"):
        _stream(data)


def test_a_large_file_streams_through_stream_cells_with_every_record_a_row(tmp_path) -> None:
    from collectors.base import Column

    path = tmp_path / "big.json"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        fh.write(",".join(json.dumps({"a": i, **({"b": "x"} if i % 3 else {})}) for i in range(30_000)))
        fh.write(", {}]")
    cells = sources.stream_cells("big.json", path)
    assert cells.records is None and cells.json_keys == ["a", "b"] and cells.records_read() == 30_001
    table = cells.table([(Column("a", required=False), Column("b", required=False))])
    rows = list(table.rows)
    assert len(rows) == 30_001 and rows[1] == (2, {"a": 1, "b": "x"}) and rows[-1] == (30_001, {"a": None, "b": None})


def test_a_number_too_long_for_python_is_read_as_its_digits_not_an_internal_error() -> None:
    """json.loads raises ValueError past 4,300 digits (Python's int limit): the record is read, the number kept as
    its text, so the cell is judged by its column (out of range for a count) with row and column."""
    digits = "9" * 5000
    [record] = _stream(f'[{{"a": {digits}, "b": -{digits}, "c": 12}}]'.encode())
    assert record == {"a": digits, "b": "-" + digits, "c": 12}


def test_a_json_access_log_with_a_huge_count_names_row_and_column(workspace, tmp_path) -> None:
    from tests.collectors.conftest import write
    from tests.collectors.test_access_log import HEADER, events

    records = [dict(zip(HEADER, row, strict=True)) for row in events(3)]
    text = json.dumps(records).replace('"record_count": "2"', '"record_count": 1' + "0" * 5000)
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "big.json", text.encode())])
    assert result.status == "failed" and result.error.startswith("big.json: row 2, column record_count"), result.error


@pytest.mark.parametrize("escaped", ["\\ud800", "XX\\udfffXX", "\\ude00\\ud83d"])
def test_half_a_surrogate_pair_escaped_alone_is_a_row_error_naming_the_member(escaped: str) -> None:
    """JSON may escape a surrogate alone; Python decodes it to a string that no UTF-8 holds, which failed deep in
    the load as an internal error (found by a fuzzing helper). It is refused by its record and member; a whole pair
    escaped (an emoji) is its one character."""
    data = ('[{"unit": "窓口"}, {"unit": "' + escaped + '", "role": "主事"}]').encode()
    with pytest.raises(RowError) as err:
        _stream(data)
    assert (err.value.row, err.value.column) == (2, "unit") and "surrogate" in err.value.reason
    assert _stream(b'[{"unit": "\\ud83d\\ude00"}]') == [{"unit": "\U0001F600"}]
