"""`observatory publish`, the KPI-definition adapter and the vendored plotly bundle."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dashboards.publish.definitions import load_definitions
from dashboards.publish.site import ASSETS_DIR
from observatory.config import shipped_kpi_dir


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


def test_definitions_come_from_the_shipped_catalogue() -> None:
    defs = {k.kpi_id: k for k in load_definitions(shipped_kpi_dir())}
    card = defs["card_holding_rate"]
    assert (card.name_ja, card.name_en) == ("マイナンバーカード保有率", "My Number Card holding rate")
    assert card.owner == "MIC" and card.unit == "percent" and card.direction == "up"
    assert card.targets[2026] >= card.targets[2023] > card.targets[2020] and card.illustrative_targets
    assert "保有枚数" in card.numerator_ja and "population" in card.denominator_en
    assert "v1" in card.history_en and "deceased" in card.description_en
    # the official 2023 target cites its document and date; the others say they are illustrative
    assert any("デジタル・ガバメント実行計画" in n[0] and "2020-12-25" in n[1] for n in card.target_notes)
    assert any("illustrative" in n[1] for n in card.target_notes)
    assert card.citations and "総務省" in card.citations[0][0] and "Standard Terms of Use" in card.citations[0][1]
    assert "card_issuance_rate" in card.shown_with and card.tables_read == ("card_issuance",)
    assert defs["alert_triage_within_sla_rate"].sensitive and not card.sensitive
    assert defs["turnaround_median_days"].direction == "down"


def test_empty_directory_gives_no_definitions(tmp_path: Path) -> None:
    assert load_definitions(tmp_path) == []


def test_vendored_plotly_matches_provenance() -> None:
    digest = hashlib.sha256((ASSETS_DIR / "plotly-basic.min.js").read_bytes()).hexdigest()
    provenance = (ASSETS_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert digest in provenance
    assert (ASSETS_DIR / "plotly-basic.LICENSE.txt").read_text(encoding="utf-8").startswith("MIT License")
    assert (ASSETS_DIR / "plotly-basic.min.js").stat().st_size < 1_500_000


def test_publish_into_a_file_is_a_clear_error(published_ws, tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a directory", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", "from observatory.cli import main; main()", "--home",
                           str(published_ws.home), "publish", str(blocker / "site")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write the public site" in proc.stderr and "Traceback" not in proc.stderr
