"""Hostile files built in code: the probe's XLSX decompression bomb (1 MB that expands to 1 GiB), and peak memory
of a command run in a subprocess. Used by the tests and by benchmarks/bounded_input.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

GIB = 1 << 30
KPI = "special_collection_electronic_rate"  # a shipped KPI that ministries submit (MIC's)
PASSWORD = "bench-password-1"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships '
         'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
         'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
         'Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8"?><workbook '
             'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
             '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships '
            'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>')


def xlsx_bomb(path: Path, expanded: int = GIB) -> Path:
    """A valid XLSX whose one sheet holds a single cell of `expanded` bytes of text: about 1 MB on disk for
    1 GiB (deflate's ratio is ~1000:1). openpyxl without limits builds that string (and more) in memory."""
    head = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
            b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>')
    tail = b"</t></is></c></row></sheetData></worksheet>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(head)
            block = b"A" * (16 << 20)
            left = expanded - len(head) - len(tail)
            while left > 0:
                fh.write(block[: min(left, len(block))])
                left -= len(block)
            fh.write(tail)
    return path


def submission_workspace(home: Path, *, monthly: bool = False) -> Path:
    """A workspace with one ministry user (mic1, PASSWORD) and the shipped KPIs; with `monthly` the submitted KPI
    is made monthly, so that a 50 MB file of distinct (municipality, month) rows is an honest file."""
    from observatory.security.users import hash_password
    from observatory.workspace import init_workspace

    kpis = home / "kpis"
    shutil.copytree(Path(__file__).resolve().parent.parent / "kpi_definitions", kpis)
    text = (kpis / "ministry_submissions.yaml").read_text(encoding="utf-8")
    start = text.index(f"id: {KPI}")
    at = text.index("frequency: fiscal_year", start)
    if monthly:
        text = text[:at] + "frequency: monthly" + text[at + len("frequency: fiscal_year"):]
    (kpis / "ministry_submissions.yaml").write_text(text, encoding="utf-8")
    config = (f"kpi_definitions: {kpis}\nsubmissions:\n  max_file_mb: 50\nusers:\n"
              f"  - {{username: mic1, role: ministry, ministry: MIC, "
              f"password_hash: '{hash_password(PASSWORD, n=2**10)}'}}\n")
    init_workspace(home, config)
    return home


_MEASURE = r"""
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def peak_memory(cmd: list[str], timeout: float = 900) -> dict:
    """Run `cmd` in a fresh process and return its exit code, output and peak resident memory (MB)."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)
