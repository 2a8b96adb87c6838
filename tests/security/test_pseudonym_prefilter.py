"""The cheap pre-test before NFKC never lets an Individual Number through, whatever characters write it."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given, settings
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
            if not pseudonym._DIGIT_LIKE.match(c):
                missing.append(hex(cp))
    assert missing == [] and most <= pseudonym.DIGITS_PER_CHARACTER


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
MATH_BOLD = str.maketrans({str(d): chr(0x1D7CE + d) for d in range(10)})


@settings(max_examples=200, deadline=None)
@given(first=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
       eleven=st.from_regex(r"[0-9]{11}", fullmatch=True),
       form=st.sampled_from([None, FULL_WIDTH, MATH_BOLD]),
       prose=st.sampled_from(["", "市民課の照会　", "申請者番号：", "個人番号 "]))
def test_a_number_written_in_any_digits_inside_japanese_text_is_still_found(first, eleven, form, prose) -> None:
    number = eleven + str(my_number_check_digit(eleven))
    written = number.translate(form) if form else number
    cell = f"{prose}{written}　です"
    assert number in pseudonym.individual_numbers(cell)
    assert number in pseudonym.individual_numbers(first + "。" + cell)
