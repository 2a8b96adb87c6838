"""The submission page and the ministry's history name what they list: the KPI (catalogue names), the ministry
and changed entities (reference names) and the submitter (observatory.yaml display_name), in the page's language
with the code alongside; the history CSV carries both languages, Japanese first."""

from __future__ import annotations

from dashboards.catalogue import kpi_infos
from dashboards.pages import submission
from observatory.warehouse import for_workspace
from tests.dashboards.fixtures import REPORT_PERIOD
from tests.dashboards.test_tables import _csv, _page


def _setup(workspace, built) -> tuple:
    for u in workspace.config.users:
        if u.username == "mic1":
            u.display_name = "鈴木 一郎"
    workspace.save_config()
    with for_workspace(workspace).connect() as con:  # 800002 changed 千代田区's value of 800001
        for sid, value in ((800001, 10.0), (800002, 12.0)):
            con.execute("INSERT INTO submission_values (submission_id, kpi_id, ministry_code, period, entity_code, "
                        "column_name, value) VALUES (?, ?, 'MIC', ?, '131016', 'cases_total', ?)",
                        [sid, built.mic_kpi, REPORT_PERIOD, value])
        mic = con.execute("SELECT name_ja, name_en FROM ministries WHERE code = 'MIC'").fetchone()
    kpi = next(k for k in kpi_infos(workspace) if k.id == built.mic_kpi)
    return kpi, mic


def test_submission_page_names_kpi_ministry_people_and_entities(workspace, built, client_for) -> None:
    kpi, (mic_ja, mic_en) = _setup(workspace, built)
    for who in ("mic1", "cio1"):
        ja = _page(client_for(who), "/submission/800002")
        assert f"{kpi.name_ja} ({kpi.id})" in ja and f"{mic_ja} (MIC)" in ja, who  # receipt and versions
        assert ja.count("鈴木 一郎 (mic1)") >= 2  # the receipt and the versions table
        assert "千代田区（東京都） (131016)" in ja  # the changed value's entity
        en = _page(client_for(who), "/submission/800002", "?lang=en")
        assert f"{kpi.name_en} ({kpi.id})" in en and f"{mic_en} (MIC)" in en and "(131016)" in en
        assert "千代田区" not in en and mic_ja not in en and kpi.name_ja not in en


def test_detail_names_the_versions_rows(workspace, built) -> None:
    kpi, (mic_ja, _) = _setup(workspace, built)
    with for_workspace(workspace).connect() as con:
        d = submission.detail(con, workspace.config.user("mic1"), 800002, "ja", workspace)
    [older] = d.versions.rows
    assert (older["submission_id"], older["submitted_by_name"]) == (800001, "鈴木 一郎")
    assert (older["kpi_id_name_ja"], older["ministry_code_name_ja"]) == (kpi.name_ja, mic_ja)
    assert [c.kind for c in d.versions.columns if c.key == "submitted_by"] == ["person"]
    assert [(r["entity_code"], r["entity_code_name_ja"]) for r in d.changes.rows] == [("131016", "千代田区（東京都）")]


def test_ministry_history_table_and_csv_name_kpi_and_ministry(workspace, built, client_for) -> None:
    kpi, (mic_ja, mic_en) = _setup(workspace, built)
    mic = client_for("mic1")
    page = _page(mic, "/ministry")
    assert f"{kpi.name_ja} ({kpi.id})" in page and f"{mic_ja} (MIC)" in page
    rows = _csv(mic, "/download/submissions.csv?ministry=MIC")
    header = list(rows[0])
    keys = [h[h.rindex("(") + 1:-1] for h in header]
    assert keys.index("kpi_id") + 1 == keys.index("kpi_id_name_ja") == keys.index("kpi_id_name_en") - 1
    assert keys.index("ministry_code") + 1 == keys.index("ministry_code_name_ja")
    got = {(r[header[keys.index("kpi_id_name_ja")]], r[header[keys.index("kpi_id_name_en")]],
            r[header[keys.index("ministry_code_name_ja")]], r[header[keys.index("ministry_code_name_en")]])
           for r in rows}
    assert got == {(kpi.name_ja, kpi.name_en, mic_ja, mic_en)}
