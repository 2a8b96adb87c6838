"""KPIs as code: definitions loaded from kpi_definitions/*.yaml, validated, computed and forecast."""
