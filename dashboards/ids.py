"""Every component id of the dashboards in one place. The prefix before the first '-' names the page,
which is how the server maps a callback's outputs to the page (and role) it belongs to (see access.py)."""

from __future__ import annotations

# shell
SHELL_NAV = "shell-nav"

# overview (/overview)
OV_URL = "ov-url"
OV_MINISTRY = "ov-ministry"
OV_YEAR = "ov-year"

# KPI detail (/kpi/<id>)
KPI_URL = "kpi-url"
KPI_ENTITY = "kpi-entity"
KPI_HISTORY_GRAPH = "kpi-history-graph"

# areas (/area) and municipality (/municipality/<code>)
AREA_URL = "area-url"
AREA_KPI = "area-kpi"
AREA_SEARCH = "area-search"
AREA_SORT = "area-sort"
AREA_MAP = "area-map"
AREA_DIST = "area-dist"
MUNI_URL = "muni-url"

# source freshness (/sources)
SRC_TABLE = "src-table"

# ministry workspace (/ministry)
MIN_URL = "min-url"
MIN_MINISTRY = "min-ministry"
MIN_KPI = "min-kpi"
MIN_UPLOAD = "min-upload"
MIN_RESULT = "min-result"
MIN_UPLOADED = "min-uploaded"  # the upload route's answer (status, submission id, message)

# one submission (/submission/<id>)
SUB_ID = "sub-id"
SUB_SEVERITY = "sub-severity"
SUB_REPORT = "sub-report"

# alert queue (/alerts)
AL_URL = "al-url"
AL_STATUS = "al-status"
AL_SCENARIO = "al-scenario"
AL_ORG = "al-org"
AL_ASSIGNEE = "al-assignee"
AL_TABLE = "al-table"
AL_BULK_STATUS = "al-bulk-status"
AL_BULK_ASSIGNEE = "al-bulk-assignee"
AL_BULK_NOTE = "al-bulk-note"
AL_BULK_APPLY = "al-bulk-apply"
AL_BULK_RESULT = "al-bulk-result"

# one alert (/alert/<id>)
ALX_ID = "alx-id"
ALX_ASSIGNEE = "alx-assignee"
ALX_ASSIGN = "alx-assign"
ALX_STATUS_NOW = "alx-status-now"
# one-click decisions: status -> button id
ALX_DECIDE = {"true_positive": "alx-decide-true_positive", "benign": "alx-decide-benign",
              "false_positive": "alx-decide-false_positive", "investigating": "alx-decide-investigating"}
ALX_NOTE = "alx-note"
ALX_ADD_NOTE = "alx-add-note"
ALX_RESULT = "alx-result"
ALX_HISTORY = "alx-history"

# audit log (/audit)
AUD_URL = "aud-url"
AUD_ACTOR = "aud-actor"
AUD_ACTION = "aud-action"
AUD_FROM = "aud-from"
AUD_TO = "aud-to"
