"""Ministry names as publications write them resolve to the reference codes (ministries.csv + ministry_aliases.csv)."""

from __future__ import annotations

import csv
from importlib import resources

from observatory.reference import ministries, ministry_names


def test_every_name_ja_resolves_to_its_own_code() -> None:
    names = ministry_names()
    for m in ministries():
        assert names[m.name_ja.replace(" ", "")] == m.code


def test_aliases_name_known_codes_and_never_shadow_a_ministry() -> None:
    text = resources.files("observatory.reference").joinpath("data", "ministry_aliases.csv").read_text("utf-8")
    aliases = list(csv.DictReader(text.splitlines()))
    assert aliases
    codes = {m.code for m in ministries()}
    own_names = {m.name_ja for m in ministries()}
    for row in aliases:
        assert row["code"] in codes and row["alias"] not in own_names and row["note"]
        assert ministry_names()[row["alias"]] == row["code"]


def test_codes_are_unique_and_the_police_keep_npa() -> None:
    codes = [m.code for m in ministries()]
    assert len(codes) == len(set(codes))
    names = ministry_names()
    assert names["国家公安委員会・警察庁"] == names["警察庁"] == "NPA"
    assert names["人事院"] != "NPA"
    for name in ("会計検査院", "公正取引委員会", "カジノ管理委員会", "宮内庁", "こども家庭庁", "復興庁"):
        assert name in names
