"""Submissions: an integer column refuses numbers a DOUBLE cannot hold exactly; NUL characters are refused."""

from __future__ import annotations

import pytest

from observatory.submissions import submit
from observatory.submissions.values import MAX_EXACT_INTEGER, Bad, integer
from tests.submissions.conftest import TAX, TODAY, query

HEADER = "市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施,備考"


@pytest.mark.parametrize("cell", ["99999999999999999999999", "-99999999999999999999999", "9007199254740993",
                                  "１０００００００００００００００００００", 1e30])
def test_integer_out_of_range_is_refused(cell) -> None:
    assert isinstance(integer(cell), Bad)


def test_integer_in_range_is_kept() -> None:
    assert integer(str(MAX_EXACT_INTEGER)) == MAX_EXACT_INTEGER and integer("12,345") == 12345


def test_submission_with_a_huge_integer_is_rejected(ws, kpis) -> None:
    data = f"{HEADER}\n011002,2025-04,99999999999999999999999,5,実施,\n".encode()
    outcome = submit(ws, data, filename="big.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", role="ministry",
                     kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    assert any("row 2, column 特別徴収義務者数" in line and "out of range" in line for line in outcome.report.lines())
    assert query(ws, "SELECT count(*) FROM submission_values") == [(0,)]


def test_nul_character_is_refused_and_not_kept_in_the_report(ws, kpis) -> None:
    data = f"{HEADER}\n011002,2025-04,10,5,実施,memo\x00x\n".encode()
    outcome = submit(ws, data, filename="nul.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", role="ministry",
                     kpis=kpis, today=TODAY)
    assert outcome.status == "rejected"
    assert any("row 2, column 備考" in line and "NUL" in line for line in outcome.report.lines())
    stored = query(ws, "SELECT CAST(report AS VARCHAR) FROM submissions")
    assert stored and all("\x00" not in r[0] and "\\u0000" not in r[0] for r in stored)
