"""`observatory checks`: the publishers' figures recomputed from the warehouse; a difference fails."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import collectors
from observatory.checks import run_checks
from observatory.config import shipped_realdata_dir
from observatory.warehouse import for_workspace

MIC = shipped_realdata_dir() / "mic_card_issuance"


def _statuses(ws) -> dict[str, tuple[str, float | None]]:
    with for_workspace(ws).connect() as con:
        return {r.check.id: (r.status, r.computed) for r in run_checks(con)}


def test_loaded_publications_agree_others_are_no_data_and_a_change_is_found(workspace) -> None:
    files = [MIC / f"all_{kind}_20221231.csv.gz" for kind in ("localgovs", "prefectures")]
    assert all(r.status == "ok" for r in collectors.ingest_files(workspace, "card-issuance", files))
    got = _statuses(workspace)
    assert got["mic_issued_2022_12_31"] == ("agrees", 71_905_789)
    assert got["mic_rate_2022_12_31"] == ("agrees", 57.1)
    assert got["mic_prefectures_reconcile"] == ("agrees", 0)
    assert got["mic_issued_2017_03_08"][0] == "no_data" and got["inventory_online_rate_fy2023"][0] == "no_data"
    cmd = [sys.executable, "-m", "observatory", "--home", str(workspace.home), "checks"]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE card_issuance SET issued = issued + 1 WHERE municipality_code = '011002' AND as_of = ?",
                    [date(2022, 12, 31)])
    got = _statuses(workspace)
    assert got["mic_issued_2022_12_31"] == ("differs", 71_905_790)
    assert got["mic_prefectures_reconcile"] == ("differs", 1)
    failed = subprocess.run(cmd, capture_output=True, text=True)
    assert failed.returncode == 1 and "differs  mic_issued_2022_12_31" in failed.stdout
