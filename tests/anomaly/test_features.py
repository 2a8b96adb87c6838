"""anomaly.features: the per staff member residence context (staff_ctx), against a brute-force count from its
definitions over a random population, on both engines."""

from __future__ import annotations

import random
import re

import pandas as pd
import pyarrow as pa
import pytest

from anomaly import features
from tests.anomaly.conftest import ENGINE_KINDS

# neighbourhood keys in the spellings the worlds use: street and chome, town code and block, opaque codes with
# digits (NB0123 and NB123 are different keys of the same block number), and a key without digits
KEYS = ["本町1丁目", "本町2丁目", "本町3丁目", "本町5丁目", "栄町1丁目", "栄町2丁目",
        "01100-0003-1", "01100-0003-2", "01100-0003-3", "01100-0004-2",
        "NB0122", "NB123", "NB0123", "NB124", "港区", None]
MUNIS = ["131016", "131024"]
SURNAMES = ["sato", "suzuki", "takahashi", "tanaka"]
_BLOCK = re.compile(r"^(.*?)([0-9]{1,15})([^0-9]*)$")


def _block(key: str | None) -> tuple[str | None, int | None]:
    m = _BLOCK.match(key or "")
    return (None, None) if key is None or m is None else (f"{m.group(1)}#{m.group(3)}", int(m.group(2)))


def _world(seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    rnd = random.Random(seed)
    people = []
    for h in range(160):  # households of 1-4 in one place, a surname each (sometimes a second one inside)
        muni, key, name = rnd.choice(MUNIS), rnd.choice(KEYS), rnd.choice(SURNAMES)
        for i in range(rnd.randint(1, 4)):
            people.append({"subject_id": f"P{len(people)}", "municipality_code": muni,
                           "household_key": None if h % 23 == 0 else f"H{h}",
                           "surname_key": rnd.choice(SURNAMES) if i == 3 else name,
                           "neighbourhood_key": key, "sensitive": rnd.random() < 0.1})
    subjects = pd.DataFrame(people)
    staff = pd.DataFrame([{"staff_id": f"S{i}", "org_code": rnd.choice(MUNIS + ["999999"]), "unit": "u",
                           "role": "clerk", "status": "active", "terminated_on": None,
                           "subject_id": None if i % 7 == 0 else rnd.choice(people)["subject_id"]}
                          for i in range(40)])
    staff["terminated_on"] = pd.to_datetime(staff["terminated_on"]).dt.date
    return subjects, staff


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts with None for a missing value (pandas reads None in a text column as NaN)."""
    return [{k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def _expected(subjects: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """staff_ctx's columns counted person by person from their definitions."""
    people = _records(subjects)
    for p in people:
        p["stem"], p["num"] = _block(p["neighbourhood_key"])
    by_id = {p["subject_id"]: p for p in people}
    pop = {m: sum(p["municipality_code"] == m for p in people) for m in MUNIS}

    def unit(p):  # the household a person counts in (features.household_unit)
        return (p["municipality_code"], p["household_key"]) if p["household_key"] is not None else p["subject_id"]

    def households(ps):
        return len({unit(p) for p in ps})

    pop_hh = {m: households([p for p in people if p["municipality_code"] == m]) for m in MUNIS}
    rows = []
    staff_rows = _records(staff)
    for s in staff_rows:
        o = by_id.get(s["subject_id"])
        muni = o["municipality_code"] if o else None
        hh = o["household_key"] if o else None

        def near(p, o=o):  # the own block or the next number on the same street
            return o is not None and o["neighbourhood_key"] is not None and (
                p["neighbourhood_key"] == o["neighbourhood_key"]
                or (p["stem"] is not None and p["stem"] == o["stem"] and abs(p["num"] - o["num"]) == 1))

        def in_hh(p, hh=hh):
            return hh is not None and p["household_key"] == hh

        household = sum(in_hh(p) for p in people)
        local = [p for p in people if o is not None and p["municipality_code"] == muni]
        same_name = [p for p in local if p["surname_key"] == o["surname_key"]]
        rows.append({
            "staff_id": s["staff_id"], "pop": pop.get(muni, 0), "n_household": household,
            # the people rel_surname and rel_neighbour flag: the own household's members of that surname or key
            # are left out, not the whole household (a member of another surname is not a surname relation)
            "n_surname": sum(not in_hh(p) for p in same_name),
            "n_neighbour": sum(o["neighbourhood_key"] is not None and p["neighbourhood_key"] == o["neighbourhood_key"]
                               and not in_hh(p) for p in local),
            "n_adjacent": sum(p["stem"] is not None and p["stem"] == o["stem"] and abs(p["num"] - o["num"]) == 1
                              for p in local),
            "n_kin_near": max(sum(near(p) for p in same_name)
                              - sum(near(p) and hh is not None and p["household_key"] == hh for p in same_name), 0),
            # the other staff of the organisation with a resident record (a staff member without one of their own
            # is not among them to be subtracted: in an office of three with one record, that one is a co-worker)
            "n_coworker": sum(x["staff_id"] != s["staff_id"] and x["org_code"] == s["org_code"]
                              and x["subject_id"] is not None for x in staff_rows),
            "org_pop": pop.get(s["org_code"], len(people)),
            # the same sets in households, less the own household
            "pop_households": pop_hh.get(muni, 0),
            "n_surname_households": households([p for p in same_name if not in_hh(p)]),
            "n_neighbour_households": households([p for p in local if o["neighbourhood_key"] is not None
                                                  and p["neighbourhood_key"] == o["neighbourhood_key"]
                                                  and not in_hh(p)]),
            "n_adjacent_households": households([p for p in local if p["stem"] is not None and p["stem"] == o["stem"]
                                                 and abs(p["num"] - o["num"]) == 1]),
            "n_kin_near_households": households([p for p in same_name if near(p) and not in_hh(p)])})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_residence_context_counts_what_its_definitions_say(kind, engine_of):
    subjects, staff = _world()
    want = _expected(subjects, staff)
    assert (want[["n_household", "n_surname", "n_neighbour", "n_adjacent", "n_kin_near"]] > 0).sum().min() >= 5
    eng = engine_of(kind)
    try:
        eng.put("subjects", subjects)
        eng.put("staff", staff)
        features.residences(eng)
        features.residence_context(eng)
        got = eng.frame(f"SELECT staff_id, {', '.join(c for c in want.columns if c != 'staff_id')} FROM staff_ctx")
    finally:
        eng.close()
    merged = want.merge(got, on="staff_id", suffixes=("", "_got"), validate="one_to_one")
    assert len(merged) == len(staff)
    for col in want.columns.drop("staff_id"):
        wrong = merged[merged[col] != merged[f"{col}_got"].astype(int)]
        assert wrong.empty, (col, wrong[["staff_id", col, f"{col}_got"]])


def test_a_household_of_several_surnames_leaves_the_surname_set_its_other_bearers():
    """A staff member in a household of three surnames, one other bearer of the own surname elsewhere in the city
    and one neighbour outside the household: the surname set is that one bearer (it was 2 - 3 = 0, and a single
    random look-up of the bearer then scored 9 decades: a hit in a set of size 0), the neighbour set that one
    neighbour."""
    subjects = pd.DataFrame([
        {"subject_id": "ME", "municipality_code": "131016", "household_key": "H1", "surname_key": "sato",
         "neighbourhood_key": "NB1", "sensitive": False},
        {"subject_id": "SPOUSE", "municipality_code": "131016", "household_key": "H1", "surname_key": "suzuki",
         "neighbourhood_key": "NB1", "sensitive": False},
        {"subject_id": "LODGER", "municipality_code": "131016", "household_key": "H1", "surname_key": "tanaka",
         "neighbourhood_key": "NB1", "sensitive": False},
        {"subject_id": "OTHER_SATO", "municipality_code": "131016", "household_key": "H2", "surname_key": "sato",
         "neighbourhood_key": "NB9", "sensitive": False},
        {"subject_id": "NEXT_DOOR", "municipality_code": "131016", "household_key": "H3", "surname_key": "ito",
         "neighbourhood_key": "NB1", "sensitive": False}])
    staff = pd.DataFrame([{"staff_id": "S1", "org_code": "131016", "unit": "u", "role": "clerk", "status": "active",
                           "terminated_on": None, "subject_id": "ME"}])
    staff["terminated_on"] = pd.to_datetime(staff["terminated_on"]).dt.date
    from anomaly.engine.duckdb_engine import DuckDBEngine

    eng = DuckDBEngine()
    try:
        eng.put("subjects", subjects)
        eng.put("staff", staff)
        features.residences(eng)
        features.residence_context(eng)
        got = eng.frame("SELECT n_household, n_surname, n_neighbour FROM staff_ctx").iloc[0]
    finally:
        eng.close()
    assert (int(got["n_household"]), int(got["n_surname"]), int(got["n_neighbour"])) == (3, 1, 1)


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_the_staff_context_is_reused_only_under_its_own_key(kind, engine_of):
    """residence_context with a population fingerprint returns the key of what it counted; an earlier run's rows
    under that key are used as they are (here marked, to see that they were), under any other key (another
    roster or register) counted again."""
    subjects, staff = _world()

    def run(population, stored):
        eng = engine_of(kind)
        try:
            eng.put("subjects", subjects)
            eng.put("staff", staff)
            features.residences(eng)
            key = features.residence_context(eng, population, stored)
            ctx = eng.arrow("staff_ctx")
            return key, ctx, eng.frame("SELECT staff_id, n_surname FROM staff_ctx ORDER BY staff_id")
        finally:
            eng.close()

    key, ctx, counted = run("roster-1/register-1", None)
    assert key is not None and len(counted) == len(staff)
    marked = ctx.set_column(ctx.schema.get_field_index("n_surname"), "n_surname",
                            pa.array([999] * ctx.num_rows, pa.int64()))
    stored = marked.append_column("context_key", pa.array([key] * ctx.num_rows, pa.string()))
    again, _, reused = run("roster-1/register-1", stored)
    assert again is None and set(reused["n_surname"]) == {999}
    other, _, recounted = run("roster-1/register-2", stored)
    assert other not in (None, key)
    assert recounted["n_surname"].tolist() == counted["n_surname"].tolist()
