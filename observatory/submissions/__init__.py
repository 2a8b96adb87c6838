"""Ministry KPI data-file submissions: templates, validation reports, atomic versioned loading, receipts.

The public surface (used by the CLI and the dashboard):
- `template_bytes(kpi, fmt)`: the CSV/XLSX template of a submittable KPI;
- `submit(ws, data, *, filename, kpi_id, ministry_code, user, role, origin)` -> `SubmissionOutcome`;
- `report_csv(report)`: a validation report as a CSV download;
- `list_submissions(con, user=)`, `get_submission(con, id, user)`: history, restricted by ministry;
- `definitions(ws)`, `definition(ws, kpi_id)`: the KPIs that accept submissions.
"""

from observatory.submissions.catalogue import definition, definitions
from observatory.submissions.problems import Problem, Report, csv_safe, report_csv
from observatory.submissions.service import SubmissionOutcome, get_submission, list_submissions, submit
from observatory.submissions.template import template_bytes

__all__ = [
    "Problem",
    "Report",
    "SubmissionOutcome",
    "csv_safe",
    "definition",
    "definitions",
    "get_submission",
    "list_submissions",
    "report_csv",
    "submit",
    "template_bytes",
]
