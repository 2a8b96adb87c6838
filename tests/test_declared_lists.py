"""One declared list of each kind, and a test wherever a copy must remain (issue 13).

Declared: source kinds (observatory.config.SourceKind), roles (observatory.config.Role), target years
(observatory.kpis.model.TARGET_YEARS), scenarios (anomaly.explain.SCENARIOS), organisation codes
(observatory.reference.organisation_codes) and the municipality-code check
(observatory.reference.codes.check_municipality_code).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from observatory.config import Role, SourceKind
from observatory.kpis.model import TARGET_YEARS, KpiDefinition, TargetYear
from observatory.reference import ministries, municipalities, organisation_codes, prefectures
from observatory.reference.codes import UNKNOWN_MUNICIPALITY, check_municipality_code

ROOT = Path(__file__).resolve().parents[1]


def _sources(*packages: str) -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for package in packages for p in (ROOT / package).rglob("*.py")}


# ---------------------------------------------------------------------------------------------- source kinds

def test_collectors_implement_exactly_the_declared_kinds() -> None:
    import collectors

    declared = get_args(SourceKind)
    assert len(set(declared)) == len(declared)
    assert set(collectors.KINDS) == set(declared)
    assert all(c.kind == k for k, c in collectors.KINDS.items())


def test_ingest_choices_and_readme_name_the_declared_kinds() -> None:
    from observatory.cli.data import KINDS as CLI_KINDS

    assert tuple(CLI_KINDS) == get_args(SourceKind)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = re.search(r"kind: card-issuance +# (.+)", readme)
    assert line, "README: the sources example names the kinds in a comment"
    assert [k.strip() for k in line[1].split("|")] == list(get_args(SourceKind))


# ---------------------------------------------------------------------------------------------- roles

def test_roles_are_the_declared_ones() -> None:
    from observatory.security import alerts
    from observatory.security.users import PERMISSIONS, ROLES
    from observatory.submissions.access import ALL_SEEING

    assert ROLES == get_args(Role)
    assert set(PERMISSIONS) == set(ROLES)
    # the role lists that remain say the same as the permission table
    assert set(alerts.READ_ROLES) == {r for r in ROLES if "alerts.view" in PERMISSIONS[r]}
    assert set(ALL_SEEING) == {r for r in ROLES if "submission.all" in PERMISSIONS[r]}


# ---------------------------------------------------------------------------------------------- target years

def test_target_year_copies_agree() -> None:
    from dashboards import catalogue
    from dashboards.pages import overview
    from dashboards.publish import definitions

    years = tuple(int(y) for y in TARGET_YEARS)
    assert tuple(get_args(TargetYear)) == TARGET_YEARS
    assert tuple(get_args(KpiDefinition.model_fields["target_year_group"].annotation)) == years
    assert catalogue.TARGET_YEARS == years and definitions.TARGET_YEARS == years
    assert overview.YEARS == years and overview.GROUPS == (*years, None)
    schema = json.loads((ROOT / "observatory/kpis/kpi-definition.schema.json").read_text(encoding="utf-8"))
    assert set(json.dumps(schema).count(f'"{y}"') > 0 for y in TARGET_YEARS) == {True}


# Literal copies of the target years that remain in code of work running in parallel; may only shrink.
KNOWN_YEAR_COPIES = {"dashboards/queries.py", "dashboards/views.py", "dashboards/pages/overview.py"}


def test_no_new_literal_copy_of_the_target_years() -> None:
    pattern = re.compile(r"""\(?["']?2020["']?, ["']?2023["']?, ["']?2026["']?""")
    found = {path for path, text in _sources("observatory", "collectors", "anomaly", "dashboards").items()
             if pattern.search(text) and path != "observatory/kpis/model.py"}
    assert found <= KNOWN_YEAR_COPIES, found - KNOWN_YEAR_COPIES


# ---------------------------------------------------------------------------------------------- scenarios

def test_scenario_words_cover_exactly_the_declared_scenarios() -> None:
    from anomaly import alerts
    from anomaly.explain import REASONS, SCENARIOS
    from dashboards.i18n import STRINGS

    worded = {k.removeprefix("scenario.") for k in STRINGS if k.startswith("scenario.")}
    assert worded == set(SCENARIOS)
    assert (alerts.CRITICAL | alerts.HIGH) <= set(SCENARIOS) | set(REASONS)


# ---------------------------------------------------------------------------------------------- organisation codes

def test_one_set_of_organisation_codes() -> None:
    from collectors import access_log, roster

    codes = organisation_codes()
    assert access_log.org_codes() == codes and roster._org_codes() == codes
    assert {m.code for m in municipalities()} <= codes and {p.lg_code for p in prefectures()} <= codes
    assert {m.code for m in ministries()} <= codes
    assert len(codes) == len(municipalities()) + len(prefectures()) + len(ministries())


# ---------------------------------------------------------------------------------------------- municipality codes

@pytest.mark.parametrize(("raw", "code", "problem"), [
    ("131016", "131016", None),  # 千代田区
    ("11002", "011002", None),  # 札幌市, its leading zero dropped by a spreadsheet
    ("131017", "131017", "check digit should be 6"),
    ("13101", "131016", None),  # 千代田区's five-digit code, without its check digit
    ("12203", "12203", "write all six digits"),  # 士別市 012203 or 市川市 122033
    ("1310166", "1310166", "must be 6 digits"),
    ("13-101", "13-101", "must be 6 digits"),
    ("999997", "999997", UNKNOWN_MUNICIPALITY),  # a valid check digit, no such municipality
])
def test_the_municipality_code_check(raw: str, code: str, problem: str | None) -> None:
    got_code, got_problem = check_municipality_code(raw)
    assert got_code == code
    assert (got_problem is None) if problem is None else (got_problem is not None and problem in got_problem)


def test_collectors_use_the_one_municipality_code_check() -> None:
    texts = _sources("collectors")
    for path in ("collectors/card_issuance.py", "collectors/turnaround.py", "collectors/roster.py"):
        assert "check_municipality_code(" in texts[path], path
    copies = {p for p, t in texts.items() if "no municipality has this code" in t or "該当する市区町村コード" in t}
    assert not copies, f"a copy of the municipality-code check: {copies}"
