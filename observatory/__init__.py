"""The e-Government Observatory core: configuration, warehouse, reference data, KPIs, submissions, security."""

__version__ = "0.1.0"
