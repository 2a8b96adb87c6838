"""Duplicates, corrections and history; concurrent submissions of one KPI never interleave."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import date
from pathlib import Path

import pytest

from observatory.submissions import get_submission, list_submissions, submit
from observatory.workspace import load_workspace
from tests.submissions.conftest import FIXTURES, TAX, TODAY, query
from tests.submissions.kpi_fixtures import load_yaml_definitions

HEADER = "市区町村コード,期間,特別徴収義務者数,電子的送付件数,電子的送付の実施\n"


def rows(*lines: str) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode()


def send(ws, kpis, data: bytes, name: str = "f.csv"):
    return submit(ws, data, filename=name, kpi_id=TAX, ministry_code="MIC", user="mic1", role="ministry",
                  origin="cli", kpis=kpis, today=TODAY)


def current(ws) -> dict[tuple, float]:
    got = query(ws, "SELECT period, entity_code, value FROM submission_current "
                    "WHERE column_name = 'employers_electronic'")
    return {(p.isoformat()[:7], e): v for p, e, v in got}


A = rows("011002,2025-04,10,5,実施", "012025,2025-04,20,10,実施", "011002,2025-05,10,6,実施", "012025,2025-05,20,11,実施")


def test_identical_file_is_a_duplicate_pointing_at_the_original(ws, kpis) -> None:
    first = send(ws, kpis, A, "a.csv")
    again = send(ws, kpis, A, "a-copy.csv")
    assert (first.status, again.status) == ("accepted", "duplicate")
    assert again.receipt["duplicate_of"] == first.submission_id
    assert again.receipt["file_sha256"] == first.receipt["file_sha256"]
    assert query(ws, "SELECT count(*) FROM submission_values WHERE submission_id = ?", [again.submission_id]) == [(0,)]
    assert query(ws, "SELECT count(*) FROM submission_values") == [(4 * 5,)]
    assert query(ws, "SELECT status, duplicate_of FROM submissions WHERE submission_id = ?",
                 [again.submission_id]) == [("duplicate", first.submission_id)]
    assert query(ws, "SELECT count(*) FROM archived_files") == [(1,)]


def test_a_correction_supersedes_per_period_and_keeps_history(ws, kpis) -> None:
    a = send(ws, kpis, A, "a.csv")
    # May corrected: 011002 changed, 012025 removed, 012033 added; April untouched
    b = send(ws, kpis, rows("011002,2025-05,10,7,実施", "012033,2025-05,3,3,実施"), "b.csv")
    assert b.status == "accepted"
    assert b.receipt["supersedes"] == [a.submission_id]
    assert b.receipt["periods"] == [{"period": "2025-05-01", "supersedes": a.submission_id, "rows": 2, "added": 1,
                                     "changed": 1, "removed": 1, "unchanged": 0}]
    assert current(ws) == {("2025-04", "011002"): 5, ("2025-04", "012025"): 10,
                           ("2025-05", "011002"): 7, ("2025-05", "012033"): 3}
    statuses = dict(query(ws, "SELECT submission_id, status FROM submissions"))
    assert statuses == {a.submission_id: "accepted", b.submission_id: "accepted"}  # A still current for April
    c = send(ws, kpis, rows("011002,2025-04,10,4,実施", "012025,2025-04,20,10,実施"), "c.csv")
    statuses = dict(query(ws, "SELECT submission_id, status FROM submissions"))
    assert statuses[a.submission_id] == "superseded" and statuses[c.submission_id] == "accepted"
    assert c.receipt["periods"][0] | {} == {"period": "2025-04-01", "supersedes": a.submission_id, "rows": 2,
                                           "added": 0, "changed": 1, "removed": 0, "unchanged": 1}
    # the full history stays queryable: every version's values and what changed
    assert query(ws, "SELECT count(*) FROM submission_values WHERE submission_id = ?", [a.submission_id]) == [(20,)]
    cio = ws.config.user("cio1")
    with __import__("observatory.warehouse", fromlist=["x"]).for_workspace(ws).connect() as con:
        detail = get_submission(con, b.submission_id, cio)
        listed = list_submissions(con, user=cio)
    assert [h["superseded_by"] for h in detail["history"]] == [None]
    changes = {(c["change"], c["entity_code"], c["column_name"]): (c["old_value"], c["new_value"])
               for c in detail["changes"]}
    assert changes[("changed", "011002", "employers_electronic")] == ("6.0", "7.0")
    assert changes[("removed", "012025", "employers_total")] == ("20.0", None)
    assert changes[("added", "012033", "employers_total")] == (None, "3.0")
    assert [s["submission_id"] for s in listed] == [c.submission_id, b.submission_id, a.submission_id]
    assert [v["status"] for v in detail["versions"]] == ["accepted", "accepted", "superseded"]


def test_list_filter_narrows_and_never_widens(ws, kpis) -> None:
    a = send(ws, kpis, A, "a.csv")
    from observatory.errors import PermissionDenied
    from observatory.warehouse import for_workspace

    with for_workspace(ws).connect() as con:
        assert [s["submission_id"] for s in list_submissions(con, user=ws.config.user("cio1"),
                                                             ministry_code="MIC")] == [a.submission_id]
        assert list_submissions(con, user=ws.config.user("cio1"), ministry_code="MHLW") == []
        assert len(list_submissions(con, user=ws.config.user("mic1"), ministry_code="MIC")) == 1
        with pytest.raises(PermissionDenied, match="sees only MHLW"):
            list_submissions(con, user=ws.config.user("mhlw1"), ministry_code="MIC")


def test_resubmitting_a_superseded_file_restores_it(ws, kpis) -> None:
    a = send(ws, kpis, A, "a.csv")
    send(ws, kpis, rows("011002,2025-04,10,1,実施", "011002,2025-05,10,1,実施"), "fix.csv")
    again = send(ws, kpis, A, "a.csv")
    assert again.status == "accepted" and again.submission_id != a.submission_id
    assert current(ws)[("2025-04", "012025")] == 10


def _chain_is_linear(ws) -> None:
    """Per period, accepted versions form one chain in id order: each supersedes exactly the previous one."""
    history = query(ws, "SELECT period, submission_id, supersedes, superseded_by FROM submission_periods "
                        "ORDER BY period, submission_id")
    by_period: dict[date, list[tuple]] = {}
    for period, sid, sup, sup_by in history:
        by_period.setdefault(period, []).append((sid, sup, sup_by))
    for chain in by_period.values():
        ids = [c[0] for c in chain]
        assert [c[1] for c in chain] == [None] + ids[:-1]
        assert [c[2] for c in chain] == ids[1:] + [None]
    current_rows = query(ws, "SELECT period, entity_code, count(DISTINCT submission_id) FROM submission_current "
                             "GROUP BY ALL HAVING count(DISTINCT submission_id) > 1")
    assert current_rows == []


def test_concurrent_threads_do_not_interleave(ws, kpis) -> None:
    files = [rows(*(f"{code},2025-0{m},100,{i + m},実施" for code in ("011002", "012025", "012033") for m in (4, 5)))
             for i in range(6)]
    outcomes: list = []

    def worker(data: bytes) -> None:
        barrier.wait()
        outcomes.append(send(ws, kpis, data))

    threads = [threading.Thread(target=worker, args=(d,)) for d in files]
    twin = rows("011002,2025-06,100,1,実施")  # the same file twice at once, for a period no other file touches
    threads += [threading.Thread(target=worker, args=(twin,)) for _ in range(2)]
    barrier = threading.Barrier(len(threads))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(o.status for o in outcomes)
    assert statuses == ["accepted"] * 7 + ["duplicate"]
    _chain_is_linear(ws)
    last = max(o.submission_id for o in outcomes if o.status == "accepted" and o.receipt["rows_accepted"] == 6)
    assert query(ws, "SELECT DISTINCT submission_id FROM submission_current WHERE period < '2025-06-01'") == [(last,)]
    assert query(ws, "SELECT count(*) FROM submission_current") == [(6 * 5 + 5,)]


def _process_submit(home: str, n: int) -> str:
    ws = load_workspace(Path(home))
    kpis = load_yaml_definitions(FIXTURES / "kpis")
    data = rows(*(f"{code},2025-04,100,{n},実施" for code in ("011002", "012025")))
    return submit(ws, data, filename=f"p{n}.csv", kpi_id=TAX, ministry_code="MIC", user="mic1", kpis=kpis,
                  today=TODAY).status


def test_concurrent_processes_do_not_interleave(ws) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        statuses = pool.starmap(_process_submit, [(str(ws.home), n) for n in range(3)])
    assert statuses == ["accepted"] * 3
    _chain_is_linear(ws)
    assert query(ws, "SELECT count(*) FROM submissions WHERE status = 'accepted'") == [(1,)]
    assert query(ws, "SELECT count(*) FROM submissions WHERE status = 'superseded'") == [(2,)]
