"""KPIs as code: definitions loaded from kpi_definitions/*.yaml, validated, computed and forecast.

Entry points used by the rest of the observatory:
- `load_catalogue(dir) -> Catalogue` (raises UserError listing every problem), `validate_catalogue(paths)`;
- `recompute(con, catalogue, *, tables=None, kpi_ids=None, periods=None) -> ComputeResult`;
- `refresh_forecasts(con, catalogue, kpi_ids=None)`; read helpers in `observatory.kpis.queries`.
"""

from observatory.kpis.catalogue import Catalogue, Entry, cached_catalogue, load_catalogue, validate_catalogue
from observatory.kpis.engine import ComputeResult, recompute
from observatory.kpis.forecast import refresh_forecasts
from observatory.kpis.issues import Issue
from observatory.kpis.model import KpiDefinition

__all__ = ["Catalogue", "ComputeResult", "Entry", "Issue", "KpiDefinition", "cached_catalogue", "load_catalogue",
           "recompute",
           "refresh_forecasts", "validate_catalogue"]
