"""Property tests: random bytes, encodings and CSV/XLSX shapes never crash the parser; there is always a report."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observatory.submissions.problems import Report, report_csv
from observatory.submissions.staging import Staging
from observatory.submissions.validate import check_file
from tests.submissions.conftest import FIXTURES, TAX, TODAY, xlsx_bytes
from tests.submissions.kpi_fixtures import load_yaml_definitions

KPIS = load_yaml_definitions(FIXTURES / "kpis")
SPEC = KPIS[TAX].submission
HEADERS = ["市区町村コード", "municipality_code", "期間", "period", "特別徴収義務者数", "employers_electronic",
           "電子的送付件数", "電子化率", "電子的送付の実施", "都道府県名", "市区町村名", "備考", "謎の列", ""]
CELLS = st.one_of(
    st.sampled_from(["011002", "011003", "131016", "2025-04", "FY2025", "2030-01", "実施", "未実施", "１，２３４",
                     "-5", "=1+2", "@x", "+1", "120%", "", " ", "北海道", "府中市", "#comment", "\u3000", "▲3"]),
    st.text(max_size=12),
    st.integers(-10**6, 10**6).map(str),
)
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(data: bytes, name: str = "fuzz.csv") -> Report:
    with Staging(SPEC) as staging:
        report = check_file(data, file_name=name, spec=SPEC, freq="monthly", today=TODAY, staging=staging,
                            max_bytes=1 << 20)
        if report.ok:
            assert report.rows_valid == report.rows_total
            assert sum(1 for _ in staging.long_batches()) >= 0
    assert isinstance(report, Report)
    assert report.lines()[0].startswith(name)
    assert report_csv(report).startswith(b"\xef\xbb\xbf")
    for p in report.problems:
        assert p.severity in ("error", "warning", "info") and p.message_en and p.message_ja
    return report


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_always_give_a_report(data: bytes) -> None:
    report = _check(data)
    if not data:
        assert [p.code for p in report.problems] == ["empty_file"]


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_behind_a_zip_or_ole_magic(data: bytes) -> None:
    _check(b"PK\x03\x04" + data, "fuzz.xlsx")
    _check(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + data, "fuzz.xls")


@SETTINGS
@given(
    header=st.lists(st.sampled_from(HEADERS), min_size=0, max_size=8),
    body=st.lists(st.lists(CELLS, min_size=0, max_size=9), max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp932", "utf-16", "latin-1"]),
    delimiter=st.sampled_from([",", "\t", ";"]),
)
def test_random_csv_shapes_and_encodings(header: list[str], body: list[list[str]], encoding: str,
                                         delimiter: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    for row in [header, *body]:
        w.writerow(row)
    data = buf.getvalue().encode(encoding, errors="replace")
    report = _check(data)
    if report.ok:
        assert report.rows_total >= 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6),
    body=st.lists(st.lists(st.one_of(CELLS, st.integers(-5, 10**6), st.floats(allow_nan=True), st.none()),
                           max_size=7), max_size=5),
)
def test_random_xlsx_shapes(header: list[str], body: list[list]) -> None:
    def cell(c):
        if not isinstance(c, str):
            return c
        c = "".join(ch for ch in c if ch.isprintable())  # characters XLSX cannot hold at all
        return "'" + c if c.startswith("=") else c

    rows = [header] + [[cell(c) for c in r] for r in body]
    _check(xlsx_bytes(rows), "fuzz.xlsx")
