"""The one-screen KPI report: every KPI with its latest value, targets, status and projected attainment."""

from __future__ import annotations

import pandas as pd

from observatory.kpis.catalogue import Catalogue
from observatory.kpis.model import TARGET_YEARS
from observatory.kpis.periods import label


def _num(value: float | None, decimals: int) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:,.{decimals}f}"


def report_rows(catalogue: Catalogue, latest: pd.DataFrame, level: str = "national") -> list[dict]:
    """One dict per KPI of the catalogue (KPIs without values included, status no_data)."""
    by_id = {r["kpi_id"]: r for r in latest.to_dict("records")}
    out = []
    for d in sorted(catalogue.ordered(), key=lambda d: (d.target_year_group, d.id)):
        r = by_id.get(d.id)
        unit = "%" if d.unit == "percent" else f" {d.unit}"
        row = {
            "kpi_id": d.id, "name_ja": d.name.ja, "name_en": d.name.en, "unit": d.unit, "owner": d.owner,
            "target_year_group": d.target_year_group, "computed_at_level": level in d.levels,
            "period": label(r["period"].date(), d.frequency) if r else None,
            "value": None if not r or pd.isna(r["value"]) else float(r["value"]),
            "value_text": (_num(r["value"], d.decimals) + unit) if r else "-",
            "version": int(r["version"]) if r else None,
            # the one status model when the caller judged (latest(..., catalogue=)), else the stored period's
            "status": (r.get("judged_status") or r["status"]) if r else "no_data",
            "status_year": int(r["judged_year"]) if r and not pd.isna(r.get("judged_year")) else None,
            "reason_ja": r.get("reason_ja") if r else None,
            "reason_en": r.get("reason_en") if r else None,
            "forecast_year": int(r["forecast_year"]) if r and not pd.isna(r["forecast_year"]) else None,
            "forecast_status": r["forecast_status"] if r and isinstance(r["forecast_status"], str) else None,
            "attainment_date": (r["attainment_date"].date().isoformat()
                                if r and not pd.isna(r["attainment_date"]) else None),
        }
        for y in TARGET_YEARS:
            t = d.targets.get(y)
            row[f"target_{y}"] = (_num(t.value, d.decimals) + ("*" if t.illustrative else "")) if t else "-"
        out.append(row)
    return out
