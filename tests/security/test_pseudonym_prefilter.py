"""The cheap pre-test before NFKC never lets an Individual Number through, whatever characters write it."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from observatory.reference.codes import my_number_check_digit
from observatory.security import pseudonym


def test_every_character_that_normalises_to_digits_is_counted_and_gives_at_most_the_declared_digits() -> None:
    missing, most = [], 0
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        digits = sum(ch in "0123456789" for ch in unicodedata.normalize("NFKC", c))
        if digits:
            most = max(most, digits)
            if not pseudonym.DIGIT_LIKE.match(c):
                missing.append(hex(cp))
    assert missing == [] and most <= pseudonym.DIGITS_PER_CHARACTER


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
MATH_BOLD = str.maketrans({str(d): chr(0x1D7CE + d) for d in range(10)})
KANJI = str.maketrans("0123456789", "〇一二三四五六七八九")


def test_the_kanji_digits_are_counted_as_characters_that_may_write_digits() -> None:
    assert all(pseudonym.DIGIT_LIKE.match(c) for c in pseudonym.KANJI_DIGITS)
    assert all(int(d) == i for i, d in enumerate("〇一二三四五六七八九".translate(str.maketrans(pseudonym.KANJI_DIGITS))))


@settings(max_examples=200, deadline=None)
@given(first=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
       eleven=st.from_regex(r"[0-9]{11}", fullmatch=True),
       form=st.sampled_from([None, FULL_WIDTH, MATH_BOLD, KANJI]),
       prose=st.sampled_from(["", "市民課の照会　", "申請者番号：", "個人番号 "]))
def test_a_number_written_in_any_digits_inside_japanese_text_is_still_found(first, eleven, form, prose) -> None:
    number = eleven + str(my_number_check_digit(eleven))
    written = number.translate(form) if form else number
    cell = f"{prose}{written}　です"
    assert number in pseudonym.individual_numbers(cell)
    assert number in pseudonym.individual_numbers(first + "。" + cell)


def _reference(value: str) -> list[str]:
    """The finder's answer computed on the whole text's NFKC and kanji digits (what the fold table stands in for)."""
    s = unicodedata.normalize("NFKC", value).translate(str.maketrans(pseudonym.KANJI_DIGITS))
    if pseudonym._ONLY_NUMBER.match(s) and not pseudonym._DECIMAL.match(s):
        digits = pseudonym._SEP_CHARS.sub("", s)
        return [digits] if pseudonym._valid(digits) else []
    if len(s) >= 32:
        s = pseudonym._HEX_TOKEN.sub(" ", s)
    return [d for d in (pseudonym._SEP_CHARS.sub("", m.group(0)) for m in pseudonym._EMBEDDED.finditer(s))
            if pseudonym._valid(d)]


PIECES = st.sampled_from(list("0123456789０１２３４５６７８９-－. 　・ー〇一九○") + ["⑫", "㉑", "⒈", "市民", "番号", "abc",
                                                                                   "第", "一般", "十二"])


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(PIECES, min_size=12, max_size=40), eleven=st.from_regex(r"[0-9]{11}", fullmatch=True),
       at=st.integers(min_value=0, max_value=40))
def test_the_fold_table_finds_what_full_nfkc_finds(parts, eleven, at) -> None:
    number = (eleven + str(my_number_check_digit(eleven))).translate(FULL_WIDTH)
    text = "".join(parts[:at]) + "、" + number + "。" + "".join(parts[at:])
    assert pseudonym.individual_numbers(text) == _reference(text)


ROW_CELLS = st.one_of(st.none(), st.integers(min_value=-10**14, max_value=10**14),
                      st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                      st.lists(PIECES, max_size=30).map("".join), st.text(max_size=20))


@settings(max_examples=600, deadline=None)
@given(cells=st.lists(ROW_CELLS, max_size=12))
def test_the_row_scan_never_passes_a_row_that_a_cell_by_cell_look_would_stop(cells) -> None:
    """none_in is what a loader asks first for a whole row: True must mean that no cell holds a number or NUL."""
    stops = any(pseudonym.individual_numbers(c) for c in cells) or any(
        isinstance(c, str) and "\x00" in c for c in cells)
    if stops:
        assert not pseudonym.none_in(cells)


@settings(max_examples=200, deadline=None)
@given(before=st.lists(ROW_CELLS, max_size=6), after=st.lists(ROW_CELLS, max_size=6),
       eleven=st.from_regex(r"[0-9]{11}", fullmatch=True),
       form=st.sampled_from(["{}", " {} ", "{:.4}-{:.4}-{}", "申請者番号：{}です"]),
       digits=st.sampled_from([None, FULL_WIDTH, MATH_BOLD, KANJI]))
def test_a_number_in_any_cell_of_a_row_makes_the_row_scan_look_closer(before, after, eleven, form, digits) -> None:
    number = eleven + str(my_number_check_digit(eleven))
    if form == "{:.4}-{:.4}-{}":
        cell = f"{number[:4]}-{number[4:8]}-{number[8:]}"
    else:
        cell = form.format(number)
    cell = cell.translate(digits) if digits else cell
    assert pseudonym.individual_numbers(cell)  # the finder stops it ...
    assert not pseudonym.none_in([*before, cell, *after])  # ... so the row scan must not pass the row
    if number[0] != "0":  # as an integer cell (a leading zero would be lost: then it is not twelve digits)
        assert not pseudonym.none_in([*before, int(number), *after])
        assert not pseudonym.none_in([*before, float(number), *after])
    assert not pseudonym.none_in([*before, "市民課\x00", *after])


def test_a_row_of_ordinary_cells_passes_the_row_scan() -> None:
    assert pseudonym.none_in(["総務省", "1 実施済", 3_422_908_418, 12.5, None, True, "2023-04-01", "ー", "　"])
    # twelve digits split between two cells are not a number
    assert pseudonym.none_in(["199351", "819090"])


KEY_PIECES = st.sampled_from(["EV", "C", "-", " ", "  ", "\t", "x", "_", "/", ":", "#", "0", "7", "2026", "1102", "a3e0"])


@settings(max_examples=500, deadline=None)
@given(before=st.lists(KEY_PIECES, max_size=6), after=st.lists(KEY_PIECES, max_size=6),
       eleven=st.from_regex(r"[0-9]{11}", fullmatch=True),
       form=st.sampled_from(["{}", "{:.4}-{:.4}-{}", "{:.4} {:.4} {}"]))
# found by CI: the lettered token blanked out leaves four spaces between two groups of a cell of twelve digits
@example(before=["2026", "  ", "EV"], after=[], eleven="79390000000", form="{:.4} {:.4} {}")
def test_the_bulk_scan_of_a_record_key_never_passes_a_key_the_finder_stops(before, after, eleven, form) -> None:
    """The access log's bulk path asks RE2 first which record keys (pseudonym.RECORD_KEY_COLUMNS) Python must read:
    its pattern without the serials written with letters (LETTERED_TOKEN_RE2) must keep every key in which the
    finder, reading the key's column, finds a number."""
    number = eleven + str(my_number_check_digit(eleven))
    written = f"{number[:4]}{form[5]}{number[4:8]}{form[5]}{number[8:]}" if form != "{}" else number
    key = "".join(before) + written + "".join(after)
    if pseudonym.individual_numbers(key, "case_id"):
        assert _bulk_candidate(key, "case_id"), key


def _bulk_candidate(value: str, column: str) -> bool:
    """Whether the access log's bulk path hands `value` of `column` to the finder (its own SQL, run by DuckDB)."""
    import duckdb

    from collectors.access_log import number_candidate

    sql, params = number_candidate(column)
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE t AS SELECT $v::VARCHAR AS {column}", {"v": value})
        [(candidate,)] = con.execute(f"SELECT {sql} FROM t", params).fetchall()
    return bool(candidate)


SPACES = st.text(alphabet=" \t\v\f\x1c\x1f\u3000", max_size=3)  # (the ideographic space: not ASCII)


@settings(max_examples=300, deadline=None)
@given(significant=st.from_regex(r"[1-9][0-9]{0,10}", fullmatch=True), exponent=st.sampled_from(["E+11", "e11", "E11"]),
       before=SPACES, after=SPACES, column=st.sampled_from(["case_id", "terminal_id", "subject_id", "record_type"]))
# found in review: 100000004000 in Excel's scientific text writes nine digits, and in a record key its E blanked it
@example(significant="100000004", exponent="E+11", before="", after="", column="case_id")
# found by a fuzz in review: shorter than twelve characters but not ASCII, which the finder reads whatever its length
@example(significant="5059", exponent="e11", before="", after="\u3000", column="record_type")
def test_a_number_in_scientific_text_is_a_candidate_of_every_pre_test(significant, exponent, before, after,
                                                                      column) -> None:
    """A number as Excel's scientific text writes it (1.00000004E+11: the trailing zeros not written) is a number to
    the finder; the bulk access-log path and the row collectors' scan of a whole row must both hand it on."""
    eleven = (significant + "0" * 11)[:11]
    number = eleven + str(my_number_check_digit(eleven))
    mantissa = number[1:].rstrip("0")
    cell = before + number[0] + (f".{mantissa}" if mantissa else "") + exponent + after
    if pseudonym.individual_numbers(cell, column):
        assert not pseudonym.none_in(["総務省", cell, 3]), repr(cell)
        assert _bulk_candidate(cell, column), repr(cell)
