"""Validation: golden `file:line: error: message` output for good and bad definition files."""

from __future__ import annotations

from pathlib import Path

import pytest

from observatory.errors import UserError
from observatory.kpis.catalogue import load_catalogue, validate_catalogue
from observatory.kpis.schema import SCHEMA_PATH, schema_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kpis"
BAD = sorted(p.stem for p in (FIXTURES / "bad").glob("*.yaml"))


@pytest.fixture
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the fixtures directory so reported paths are the short relative ones of the golden files."""
    monkeypatch.chdir(FIXTURES)
    return FIXTURES


@pytest.mark.parametrize("case", BAD)
def test_bad_definition_reports_exact_issues(in_fixtures: Path, case: str) -> None:
    expected = (in_fixtures / "bad" / f"{case}.expected").read_text(encoding="utf-8").splitlines()
    got = [str(i) for i in validate_catalogue([f"bad/{case}.yaml"])]
    assert got == expected
    assert got, "every bad fixture must produce at least one issue"


def test_good_definitions_have_no_issues(in_fixtures: Path) -> None:
    assert validate_catalogue(["good"]) == []


def test_every_problem_of_a_file_is_reported_in_one_run(in_fixtures: Path, tmp_path: Path) -> None:
    text = (in_fixtures / "bad" / "unknown_column.yaml").read_text(encoding="utf-8")
    text = text.replace("owner: DA", "owner: NOPE").replace('"2026": {value: 80', '"2026": {value: 50')
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    messages = [i.message for i in validate_catalogue([path])]
    assert "case_kpi: owner 'NOPE' is not a ministry/office code in the reference data" in messages
    assert "case_kpi: procedure_usage has no column 'cases_on_line'" in messages
    assert "case_kpi: filter: procedure_usage has no column 'feild'" in messages
    assert "case_kpi: target 2026 (50) is below target 2023 (60) for a higher_is_better KPI" in messages


def test_duplicate_ids_across_files(in_fixtures: Path, tmp_path: Path) -> None:
    good = (in_fixtures / "good" / "simple.yaml").read_text(encoding="utf-8")
    (tmp_path / "a.yaml").write_text(good, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# copy\n" + good, encoding="utf-8")
    issues = validate_catalogue([tmp_path])
    assert len(issues) == 1
    assert issues[0].line == 3 and issues[0].file.endswith("b.yaml")
    assert "duplicate id 'simple_registration_rate' (first defined at" in issues[0].message


def test_a_yaml_bomb_is_refused_at_its_line_without_expanding_it(in_fixtures: Path, tmp_path: Path) -> None:
    """Billion laughs: nine aliases of nine make 43 million values that validation (and its error message) used
    to walk: 40 s and 2 GB for one file. The loader counts the expansion on the composed graph and stops."""
    good = (in_fixtures / "good" / "simple.yaml").read_text(encoding="utf-8")
    bomb = "x-bomb:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"  {b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh", strict=True))
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb + good.replace("levels: [national, ministry]", "levels: *h"), encoding="utf-8")
    issues = validate_catalogue([path])
    assert [(i.line, i.message) for i in issues] == [
        (7, "invalid YAML: aliases expand to more than 200,000 values (a YAML bomb?); write the values out")]


@pytest.mark.parametrize("text", ["kpis: " + "[" * 5000 + "]" * 5000 + "\n",
                                  "kpis: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
                                  "kpis:\n" + "".join(" " * i + "- \n" for i in range(0, 1600, 2))])
def test_a_file_nested_too_deeply_is_an_issue_not_a_crash(tmp_path: Path, text: str) -> None:
    """5,000 lists inside each other were 'internal error: RecursionError' (exit 70) from the CLI, the server and
    the scheduler, with no file or line (PyYAML composes by recursion)."""
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    [issue] = validate_catalogue([path])
    assert issue.message.startswith("invalid YAML: nested too deeply") and issue.line >= 1


def test_a_file_too_large_to_parse_in_bounded_memory_is_refused_unread(tmp_path: Path) -> None:
    """An 8 MB file of one quoted id took 1.2 GB and printed 104 MB (the id in each of 12 messages)."""
    path = tmp_path / "big.yaml"
    path.write_text('kpis:\n  - id: "' + "A" * 2_000_000 + '"\n', encoding="utf-8")
    assert [(i.line, i.message) for i in validate_catalogue([path])] == [
        (1, "the file is 1.9 MB; a KPI definition file may be at most 1 MB (split the catalogue into several files)")]


def test_a_long_value_is_shown_in_part_in_every_message(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text('kpis:\n  - id: "' + "A" * 200_000 + '"\n', encoding="utf-8")
    issues = validate_catalogue([path])
    assert len(issues) > 5 and all(len(str(i)) < 600 for i in issues), max(len(str(i)) for i in issues)
    assert "…(200,000 characters)" in issues[0].message


def test_non_yaml_file_in_definition_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    issues = validate_catalogue([tmp_path])
    assert [i.message for i in issues] == ["not a YAML file: kpi definition directories hold *.yaml only"]


def test_load_catalogue_raises_user_error_listing_problems(in_fixtures: Path) -> None:
    with pytest.raises(UserError) as info:
        load_catalogue(["bad/unknown_table.yaml", "bad/owner_unknown.yaml"])
    text = str(info.value)
    assert "3 error(s)" in text  # the two files also define the same id
    assert "bad/unknown_table.yaml:11: error:" in text and "bad/owner_unknown.yaml:7: error:" in text
    assert "bad/owner_unknown.yaml:2: error: case_kpi: duplicate id 'case_kpi'" in text


def test_shipped_catalogue_validates_clean() -> None:
    shipped = Path(__file__).resolve().parents[2] / "kpi_definitions"
    assert validate_catalogue([shipped]) == []
    catalogue = load_catalogue(shipped)
    assert len(catalogue) >= 14
    assert all(p.suffix == ".yaml" for p in shipped.iterdir() if p.is_file())
    # baselines from published figures where they exist
    assert catalogue["online_rate_registration"].baseline.value == 66.3
    assert catalogue["online_rate_social_insurance"].baseline.value == 8.7
    assert catalogue["online_rate_employment_insurance"].baseline.value == 11.9
    assert catalogue["online_rate_labour_insurance"].baseline.value == 3.1
    # a KPI fed by ministry files carries its submission spec
    assert catalogue["special_collection_electronic_rate"].submission.level == "municipality"


def test_published_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run `observatory kpi schema --write`"


def test_format_documents_every_field() -> None:
    from observatory.kpis import model

    text = (Path(model.__file__).with_name("FORMAT.md")).read_text(encoding="utf-8")
    for cls in (model.KpiDefinition, model.Aggregate, model.Version, model.Baseline, model.Target,
                model.Override, model.Thresholds, model.Ratio, model.Formula):
        for name, field in cls.model_fields.items():
            assert f"{field.alias or name}" in text, f"FORMAT.md does not mention {cls.__name__}.{name}"
