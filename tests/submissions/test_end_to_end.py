"""End to end with the shipped catalogue: MIC's special-collection tax notice KPI, recomputed on acceptance."""

from __future__ import annotations

import pytest

from observatory.submissions import definitions, submit, template_bytes
from observatory.workspace import load_workspace
from tests.submissions.conftest import TODAY, query

KPI = "special_collection_electronic_rate"
kpis_module = pytest.importorskip("observatory.kpis")


@pytest.fixture
def shipped(tmp_path, pristine):
    """A workspace using the shipped kpi_definitions/ (no override) and the real KPI engine."""
    import shutil

    home = tmp_path / "ws"
    shutil.copytree(pristine, home)
    config = home / "observatory.yaml"
    config.write_text("\n".join(line for line in config.read_text(encoding="utf-8").splitlines()
                                if not line.startswith("kpi_definitions:")) + "\n", encoding="utf-8")
    return load_workspace(home)


def test_mic_submission_from_template_recomputes_the_kpi(shipped) -> None:
    if not hasattr(kpis_module, "recompute") or KPI not in definitions(shipped):
        pytest.skip("shipped catalogue without the special-collection KPI")
    kpi = definitions(shipped)[KPI]
    body = "\r\n".join([
        "131016,東京都,千代田区,FY2024,yes,100,80",
        "132063,東京都,府中市,FY2024,no,50,0",
        "011002,北海道,札幌市,FY2024,yes,1000,10",
    ]) + "\r\n"
    data = template_bytes(kpi, "csv") + body.encode("utf-8")
    outcome = submit(shipped, data, filename="mic.csv", kpi_id=KPI, ministry_code="MIC", user="mic1",
                     role="ministry", origin="web:127.0.0.1", today=TODAY)
    assert outcome.status == "accepted", outcome.report.lines()
    assert outcome.receipt["rows_accepted"] == 3
    kv = outcome.receipt["kpi_values"]
    assert kv["note"] == "recomputed / 再計算済み", kv
    assert kv["changed"] >= 1
    national = query(shipped, "SELECT value FROM kpi_values WHERE kpi_id = ? AND level = 'national' "
                              "AND period = DATE '2024-04-01'", [KPI])
    assert national and national[0][0] == pytest.approx(200 / 3)  # 2 of 3 municipalities send electronically
    tokyo = query(shipped, "SELECT value FROM kpi_values WHERE kpi_id = ? AND level = 'prefecture' "
                           "AND entity_code = '13' AND period = DATE '2024-04-01'", [KPI])
    assert tokyo[0][0] == pytest.approx(50.0)
    # a correction: 府中市 now sends electronically; the receipt names the changed KPI values
    fix = template_bytes(kpi, "csv") + body.replace("FY2024,no,50,0", "FY2024,yes,50,40").encode("utf-8")
    corrected = submit(shipped, fix, filename="mic-fix.csv", kpi_id=KPI, ministry_code="MIC", user="mic1",
                       role="ministry", origin="web:127.0.0.1", today=TODAY)
    assert corrected.status == "accepted" and corrected.receipt["supersedes"] == [outcome.submission_id]
    changed = {(v["level"], v["entity_code"]): (v["old"], v["new"]) for v in corrected.receipt["kpi_values"]["sample"]}
    assert changed[("national", "JP")] == (pytest.approx(200 / 3), pytest.approx(100.0))
    assert changed[("prefecture", "13")] == (pytest.approx(50.0), pytest.approx(100.0))
