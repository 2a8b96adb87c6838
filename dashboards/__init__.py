"""The signed-in dashboards (CIO overview, areas, KPI detail, ministry workspace, alert triage, audit log).

Start with `dashboards.app.create_app(ws)` / `dashboards.app.serve(ws)`; pages live in `dashboards/pages/`,
pure data and figure functions in `queries.py` and `figures.py` (shared with the public site in `publish/`).
"""
