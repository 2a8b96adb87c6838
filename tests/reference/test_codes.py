from observatory.reference import MunicipalityIndex, check_municipality_code, municipalities, prefectures
from observatory.reference.codes import (
    code_readings,
    is_individual_number,
    is_valid_municipality_code,
    jis_check_digit,
    municipality_code_problem,
    my_number_check_digit,
)


def test_counts_match_the_official_list():
    assert len(prefectures()) == 47
    assert len(municipalities()) == 1741
    assert len({m.code for m in municipalities()}) == 1741


def test_check_digit_holds_for_every_official_code():
    for m in municipalities():
        assert is_valid_municipality_code(m.code), m
    for p in prefectures():
        assert is_valid_municipality_code(p.lg_code), p


def test_check_digit_rejects_every_wrong_digit():
    for m in municipalities()[:200]:
        for wrong in range(10):
            if wrong != int(m.code[5]):
                assert not is_valid_municipality_code(m.code[:5] + str(wrong))


def test_known_codes_and_problems():
    assert jis_check_digit("13101") == 6  # 千代田区 131016
    assert municipality_code_problem("131016") is None
    assert "check digit should be 6" in municipality_code_problem("131017")
    assert "6 digits" in municipality_code_problem("13101")
    assert "6 digits" in municipality_code_problem("１３１０１６")


def test_my_number_check_digit():
    # 12-digit example built from the statutory formula: weights 2..7,2..6 from the right
    base = "12345678901"
    full = base + str(my_number_check_digit(base))
    assert is_individual_number(full)
    assert not is_individual_number(base + str((int(full[-1]) + 1) % 10))
    assert not is_individual_number("12345")


def test_repeated_names_are_matched_by_prefecture():
    ix = MunicipalityIndex()
    fuchu = ix.candidates("府中市")
    assert {m.code for m in fuchu} == {"132063", "342084"}
    assert ix.match("東京都", "府中市").code == "132063"
    assert ix.match("広島県", "府中市").code == "342084"
    assert ix.match("北海道", "伊達市").prefecture_code == "01"
    assert ix.match("福島県", "伊達市").prefecture_code == "07"
    assert ix.match("大阪府", "府中市") is None


def test_twenty_five_names_repeat():
    from collections import Counter

    counts = Counter(m.name_ja for m in municipalities())
    assert sum(1 for n in counts.values() if n > 1) == 25


def test_name_matching_folds_width_and_spaces():
    ix = MunicipalityIndex()
    assert ix.match("東京", " 千代田区 ").code == "131016"
    assert ix.match("13", "千代田区").code == "131016"
    assert ix.match("鹿児島県", "霧島市") is not None


def test_english_names_are_romanised():
    ix = MunicipalityIndex()
    assert ix.by_code["011002"].name_en == "Sapporo-shi"
    assert ix.by_code["131016"].name_en == "Chiyoda-ku"
    assert prefectures()[12].name_en == "Tokyo"


def test_a_short_code_is_read_as_the_one_municipality_it_can_stand_for():
    """Five digits are either a code whose leading zero a spreadsheet dropped or the five-digit code without its
    check digit (as many publications and systems write it): read where exactly one names a municipality,
    refused, naming both, where two do or none does."""
    assert code_readings("13101") == ["013101", "131016"] and code_readings("131016") == ["131016"]
    assert code_readings("1100") == ["001100", "011002"] and code_readings("１３１０１") == []
    assert check_municipality_code("13101") == ("131016", None)  # 千代田区 without its check digit
    assert check_municipality_code("11002") == ("011002", None)  # 札幌市 with its leading zero dropped
    assert check_municipality_code("01100") == ("011002", None)  # 札幌市 without its check digit
    assert check_municipality_code("1100") == ("011002", None)  # ... and its zero dropped too
    assert check_municipality_code("131016") == ("131016", None)
    code, problem = check_municipality_code("12203")  # 士別市 012203 or 市川市 122033
    assert code == "12203" and "012203" in problem and "122033" in problem and "6桁" in problem
    code, problem = check_municipality_code("99999")
    assert "099999" in problem and "999997" in problem and "該当する市区町村コードがありません" in problem
    assert "check digit should be 6" in check_municipality_code("131017")[1]
