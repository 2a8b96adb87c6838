"""The submission page (/submission/<id>): its pure functions on the fixture warehouse and on real submissions,
and role enforcement over HTTP for the page, its callback and its report download, for every role."""

from __future__ import annotations

import pytest

from dashboards import ids, views
from dashboards.pages import submission
from observatory.errors import NotFound, PermissionDenied
from observatory.security import audit
from observatory.warehouse import for_workspace
from tests.dashboards.fixtures import USERS, valid_submission
from tests.dashboards.test_access import DENIED_TEXT, router_body, text_of

SEEING = {"cio1", "admin1", "both1"}


def _user(ws, name):
    return ws.config.user(name)


def test_detail_shows_receipt_report_and_history(workspace) -> None:
    mic = _user(workspace, "mic1")
    with for_workspace(workspace).connect() as con:
        newer = submission.detail(con, mic, "800002", "en")
        older = submission.detail(con, mic, 800001, "ja")
    assert newer.row["file_name"] == "mic2.csv" and newer.row["file_sha256"] == "b" * 64
    assert newer.row["encoding"] == "cp932" and newer.kpi_values_changed == 3
    assert newer.superseded == [800001] and newer.superseding == []
    assert older.superseded == [] and older.superseding == [800002]
    assert [(h["supersedes"], h["rows_added"], h["rows_changed"], h["rows_removed"]) for h in newer.history.rows] \
        == [(800001, 1, 2, 3)]
    assert [v["submission_id"] for v in newer.versions.rows] == [800001]  # itself is not listed again
    assert [(p["severity"], p["row"], p["column"]) for p in newer.report.rows] == [("warning", 4, "備考")]
    assert newer.report.rows[0]["reason"].startswith("optional cell empty")
    assert older.report.rows[0]["reason"].startswith("任意項目")


def test_report_filter_by_severity() -> None:
    report = {"problems": [{"severity": "error", "code": "bad", "message_en": "e", "message_ja": "エ"},
                           {"severity": "warning", "code": "meh", "message_en": "w", "message_ja": "ワ"}],
              "unlisted": 5}
    assert [r["code"] for r in submission.report_view(report, "en", "error").rows] == ["bad"]
    assert [r["code"] for r in submission.report_view(report, "en", "all").rows] == ["bad", "meh"]
    assert [r["code"] for r in submission.report_view(report, "en", "'; DROP").rows] == ["bad", "meh"]
    assert submission.report_view(report, "ja").extra["unlisted"] == 5
    assert submission.report_view(None, "ja").rows == []


def test_visibility_follows_the_submissions_module(workspace) -> None:
    with for_workspace(workspace).connect() as con:
        assert submission.detail(con, _user(workspace, "cio1"), 800003).row["ministry_code"] == "MHLW"
        assert submission.detail(con, _user(workspace, "both1"), 800003).row["ministry_code"] == "MHLW"
        with pytest.raises(PermissionDenied):
            submission.detail(con, _user(workspace, "mic1"), 800003)
        with pytest.raises(PermissionDenied):
            submission.detail(con, _user(workspace, "sec1"), 800001)
        for bad in ("abc", "-1", "", "1.5", "²", "800999"):
            with pytest.raises(NotFound):
                submission.detail(con, _user(workspace, "admin1"), bad)
        entries = audit.entries(con, limit=50, action="submission.view")
    assert any(e["actor"] == "mic1" and e["target"] == "800003" and e["outcome"] == "denied" for e in entries)
    assert any(e["actor"] == "cio1" and e["target"] == "800003" and e["outcome"] == "ok" for e in entries)


def test_ministry_history_comes_from_list_submissions(workspace) -> None:
    with for_workspace(workspace).connect() as con:
        mic = views.submissions(con, workspace, _user(workspace, "mic1"), {})
        cio_mhlw = views.submissions(con, workspace, _user(workspace, "cio1"), {"ministry": "MHLW"})
        cio_all = views.submissions(con, workspace, _user(workspace, "cio1"), {})
        with pytest.raises(PermissionDenied):
            views.submissions(con, workspace, _user(workspace, "mic1"), {"ministry": "MHLW"})
        with pytest.raises(PermissionDenied):
            views.submissions(con, workspace, _user(workspace, "sec1"), {})
    assert [r["submission_id"] for r in mic.rows] == [800002, 800001]
    assert [r["submission_id"] for r in cio_mhlw.rows] == [800003]
    assert {r["submission_id"] for r in cio_all.rows} == {800001, 800002, 800003}
    assert mic.columns[0].kind == "submission_link"


def test_real_resubmission_links_both_versions(workspace, built) -> None:
    from observatory.submissions import submit

    mic = _user(workspace, "mic1")
    first_file = valid_submission(workspace, built.mic_kpi)
    second_file = first_file.replace(b",1234,1234\r\n", b",1234,1000\r\n")
    assert second_file != first_file
    first = submit(workspace, first_file, filename="first.csv", kpi_id=built.mic_kpi, ministry_code="MIC", user=mic)
    second = submit(workspace, second_file, filename="second.csv", kpi_id=built.mic_kpi, ministry_code="MIC",
                    user=mic)
    assert first.accepted and second.accepted, (first.message, second.message)
    with for_workspace(workspace).connect() as con:
        new = submission.detail(con, mic, second.submission_id)
        old = submission.detail(con, mic, first.submission_id)
    assert new.superseded == [first.submission_id] and old.superseding == [second.submission_id]
    assert old.row["status"] == "superseded" and new.row["status"] == "accepted"
    assert [(h["rows_added"], h["rows_changed"], h["rows_removed"]) for h in new.history.rows] == [(0, 1, 0)]
    assert [(c["column_name"], float(c["old_value"]), float(c["new_value"])) for c in new.changes.rows] == \
        [("notices_electronic", 1234.0, 1000.0)]
    assert new.kpi_values_changed is not None and new.row["file_sha256"] == second.receipt["file_sha256"]


def _expected(user: str | None) -> str:
    if user is None:
        return "anonymous"
    if user in SEEING or USERS[user].get("ministry") == "MIC":
        return "sees"
    if USERS[user].get("role") == "ministry":
        return "other-ministry"
    return "refused"


@pytest.mark.parametrize("user", [None, *USERS])
def test_page_and_download_for_every_role(workspace, client_for, user) -> None:
    client = client_for(user)
    page = client.get("/submission/800002")
    routed = client.post("/_dash-update-component", json=router_body("/submission/800002"))
    csv = client.get("/download/submission/800002/report.csv")
    expected = _expected(user)
    if expected == "anonymous":
        assert page.status_code == 302 and "/login" in page.headers["Location"]
        assert routed.status_code == 401 and csv.status_code == 401
    elif expected == "refused":
        assert (page.status_code, routed.status_code, csv.status_code) == (403, 403, 403)
    elif expected == "other-ministry":  # may open submission pages, but 800002 is MIC's
        assert page.status_code == 200 and routed.status_code == 200 and csv.status_code == 403
        text = text_of(routed)
        assert DENIED_TEXT in text and "mic2.csv" not in text and "b" * 64 not in text
        assert "mic2.csv" not in csv.get_data(as_text=True)
    else:
        assert page.status_code == 200 and routed.status_code == 200 and csv.status_code == 200
        text = text_of(routed)
        assert DENIED_TEXT not in text and "mic2.csv" in text and "b" * 64 in text
        assert "/submission/800001" in text  # the version it superseded is linked
        body = csv.data
        assert body.startswith("\ufeff".encode()) and "'=SUM(A1)" in body.decode("utf-8-sig")
        assert "blank_optional" in body.decode("utf-8-sig")


def test_ministry_user_asking_for_another_ministrys_submission(workspace, client_for) -> None:
    mic = client_for("mic1")
    text = text_of(mic.post("/_dash-update-component", json=router_body("/submission/800003")))
    assert DENIED_TEXT in text and "mhlw-secret" not in text and "c" * 64 not in text
    assert mic.get("/download/submission/800003/report.csv").status_code == 403
    body = {"output": f"{ids.SUB_REPORT}.children", "outputs": {"id": ids.SUB_REPORT, "property": "children"},
            "inputs": [{"id": ids.SUB_SEVERITY, "property": "value", "value": "warning"}],
            "state": [{"id": ids.SUB_ID, "property": "data", "value": 800003}],
            "changedPropIds": [f"{ids.SUB_SEVERITY}.value"]}
    filtered = mic.post("/_dash-update-component", json=body)
    assert filtered.status_code == 200 and "mhlw-secret" not in text_of(filtered)
    assert "他府省" in text_of(filtered)
    assert client_for("sec1").post("/_dash-update-component", json=body).status_code == 403
    assert client_for(None).post("/_dash-update-component", json=body).status_code == 401
    own = client_for("cio1").post("/_dash-update-component", json=body)
    assert own.status_code == 200 and "sub-report-table" in text_of(own)
    with for_workspace(workspace).connect() as con:
        rows = audit.entries(con, limit=200, actor="mic1")
    denied = [r for r in rows if r["outcome"] == "denied" and r["action"] in ("submission.view",
                                                                            "dashboard.submission.view")]
    assert len(denied) >= 3  # the page, the download and the callback


def test_not_found_and_bad_ids(client_for) -> None:
    admin = client_for("admin1")
    for path in ("/submission/999999", "/submission/abc"):
        text = text_of(admin.post("/_dash-update-component", json=router_body(path)))
        assert "見つかりません" in text, path
    assert admin.get("/download/submission/abc/report.csv").status_code == 404


def test_ministry_history_links_to_the_submission_page(client_for) -> None:
    text = text_of(client_for("mic1").post("/_dash-update-component", json=router_body("/ministry")))
    assert 'href=\\"/submission/800002\\"' in text or 'href="/submission/800002"' in text
    assert "/submission/800003" not in text


def test_page_view_is_audited(workspace, client_for) -> None:
    client_for("cio1").post("/_dash-update-component", json=router_body("/submission/800003"))
    with for_workspace(workspace).connect() as con:
        rows = audit.entries(con, limit=100, actor="cio1")
    assert any(r["action"] == "dashboard.submission.view" and r["outcome"] == "ok" for r in rows)
    assert any(r["action"] == "submission.view" and r["target"] == "800003" and r["outcome"] == "ok" for r in rows)
