"""`observatory publish`, the KPI-definition adapter and the vendored plotly bundle."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from dashboards.publish.definitions import from_catalogue_item, load_definitions
from dashboards.publish.site import ASSETS_DIR


def test_publish_command_builds_site_and_audits(published_ws, tmp_path: Path) -> None:
    from observatory.cli import cli
    from observatory.security.audit import entries
    from observatory.warehouse import for_workspace

    out = tmp_path / "public"
    result = CliRunner().invoke(cli, ["--home", str(published_ws.home), "publish", str(out)])
    assert result.exit_code == 0, result.output
    assert re.search(r"published 3,\d{3} pages", result.output)
    assert (out / "ja" / "index.html").is_file() and (out / "en" / "index.html").is_file()
    with for_workspace(published_ws).connect() as con:
        assert len(entries(con, action="publish")) == 1


def test_catalogue_mapping_reads_bilingual_fields() -> None:
    k = from_catalogue_item({
        "id": "x_rate", "name": {"ja": "率", "en": "Rate"}, "definition_ja": "定義", "definition_en": "Def",
        "owner": "DA", "unit": "percent", "baseline": {"value": 12.5, "period": "2019-04"},
        "targets": {2023: {"value": 50}, "2026": 80}, "levels": ["national", "municipality"],
    })
    assert (k.kpi_id, k.name_ja, k.name_en, k.description_en) == ("x_rate", "率", "Rate", "Def")
    assert k.targets == {2023: 50.0, 2026: 80.0} and k.baseline_value == 12.5 and k.baseline_period == "2019-04"
    assert k.levels == ("national", "municipality")


def test_yaml_directory_is_read_when_no_loader(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"kpi_id": "a", "name_ja": "あ", "name_en": "A",
                                                     "targets": [{"year": 2026, "value": 1}]},
                                                    allow_unicode=True), encoding="utf-8")
    try:
        from observatory.kpis import load_catalogue  # noqa: F401
    except ImportError:
        defs = load_definitions(tmp_path)
        assert [(d.kpi_id, d.name_ja, d.targets) for d in defs] == [("a", "あ", {2026: 1.0})]


def test_vendored_plotly_matches_provenance() -> None:
    digest = hashlib.sha256((ASSETS_DIR / "plotly-basic.min.js").read_bytes()).hexdigest()
    provenance = (ASSETS_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert digest in provenance
    assert (ASSETS_DIR / "plotly-basic.LICENSE.txt").read_text(encoding="utf-8").startswith("MIT License")
    assert (ASSETS_DIR / "plotly-basic.min.js").stat().st_size < 1_500_000
