"""End to end with the real KPI engine: card issuance rows -> recompute (values and forecasts) -> publish."""

from __future__ import annotations

import csv
import io
import random
from datetime import date
from pathlib import Path

import pandas as pd

from dashboards.publish import build_site
from observatory.kpis import load_catalogue, recompute
from observatory.warehouse import for_workspace


def test_engine_output_is_published_as_computed(workspace, tmp_path: Path) -> None:
    rng = random.Random(11)
    with for_workspace(workspace).connect() as con:
        munis = [r[0] for r in con.execute(
            "SELECT code FROM municipalities WHERE prefecture_code IN ('13', '47') ORDER BY code").fetchall()]
        rows = []
        for i in range(18):
            period = date(2024 + (i + 3) // 12, (i + 3) % 12 + 1, 1)
            for j, code in enumerate(munis):
                pop = 4000 + 90 * j
                held = int(pop * (0.55 + 0.012 * i + rng.uniform(-0.03, 0.03)))
                as_of = (pd.Timestamp(period) + pd.offsets.MonthEnd(0)).date()
                rows.append((code, as_of, period, pop, held + 50, held, held, None))
        frame = pd.DataFrame(rows, columns=["municipality_code", "as_of", "period", "population", "applications",
                                            "issued", "held", "run_id"])
        con.register("card_rows", frame)
        con.execute("INSERT INTO card_issuance BY NAME SELECT * FROM card_rows")
        con.unregister("card_rows")
        recompute(con, load_catalogue(workspace.kpi_dir))
        national = con.execute(
            "SELECT period, value FROM kpi_values WHERE kpi_id = 'card_holding_rate' AND level = 'national' "
            "ORDER BY period DESC LIMIT 1").fetchone()
        forecast = con.execute(
            "SELECT projected_value, status FROM kpi_forecasts WHERE kpi_id = 'card_holding_rate' "
            "AND level = 'national' AND target_year = 2026").fetchone()
    result = build_site(workspace, tmp_path / "site")
    latest = tmp_path / "site" / "data" / "latest"
    overview = {r["kpi_id"]: r for r in csv.DictReader(io.StringIO(
        (latest / "overview" / "targets-2026.csv").read_text(encoding="utf-8-sig")))}
    row = overview["card_holding_rate"]
    assert row["latest_period"] == national[0].isoformat()
    assert abs(float(row["latest_value"]) - national[1]) < 1e-9
    assert abs(float(row["projected"]) - forecast[0]) < 1e-9 and row["status"] == forecast[1]
    okinawa = (tmp_path / "site" / "en" / "prefecture" / "47.html").read_text(encoding="utf-8")
    assert "My Number Card holding rate" in okinawa and "have submitted no data" in okinawa
    page = (tmp_path / "site" / "ja" / "kpi" / "card_holding_rate.html").read_text(encoding="utf-8")
    assert "保有枚数" in page and "Theil-Sen" in page  # numerator in words; the method as the engine ran it
    assert result.pages == 2 * len(list((tmp_path / "site" / "en").rglob("*.html"))) + 1
