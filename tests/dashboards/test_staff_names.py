"""Staff by name (roster columns 氏名 / 氏名（ローマ字）, migration 011): "name (code)" on the security pages, their
bulk-action callback and CSV for the role that sees alert evidence, in the page's language; the code alone for
roles that see the code but not the evidence, and where the roster gives no name."""

from __future__ import annotations

from dashboards import ids
from observatory.warehouse import for_workspace
from tests.dashboards.test_callbacks import _body
from tests.dashboards.test_tables import _csv, _page


def _name_staff(workspace) -> None:
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE staff SET display_name = '山田 太郎', display_name_en = 'Taro Yamada' WHERE staff_id = 'S001'")
        con.execute("UPDATE staff SET display_name_en = 'Jiro Kato' WHERE staff_id = 'S002'")  # English only


def test_security_role_sees_staff_names_in_the_pages_language(workspace, built, client_for) -> None:
    _name_staff(workspace)
    sec = client_for("sec1")
    aid = next(a for a, s in _alert_staff(workspace).items() if s == "S001")
    ja, en = _page(sec, f"/alert/{aid}"), _page(sec, f"/alert/{aid}", "?lang=en")
    assert "山田 太郎 (S001)" in ja and "Taro Yamada" not in ja
    assert "Taro Yamada (S001)" in en and "山田 太郎" not in en
    queue_ja, queue_en = _page(sec, "/alerts", "?status=all"), _page(sec, "/alerts", "?status=all&lang=en")
    assert "山田 太郎 (S001)" in queue_ja and "Taro Yamada (S001)" in queue_en
    assert "Jiro Kato (S002)" in queue_ja  # the only name the roster gives, on the Japanese page too
    assert "(S003)" not in queue_ja and "S003" in queue_ja  # no name: the code alone, as before
    rows = _csv(sec, "/download/alerts.csv?status=all")
    by_code = {r[_key(r, "staff_id")]: (r[_key(r, "staff_id_name")], r[_key(r, "staff_id_name_en")]) for r in rows}
    assert by_code["S001"] == ("山田 太郎", "Taro Yamada") and by_code["S003"] == ("", "")
    assert by_code["S002"] == ("Jiro Kato", "Jiro Kato")


def test_roles_without_the_evidence_see_the_code_only(workspace, built, client_for) -> None:
    _name_staff(workspace)
    aid = next(a for a, s in _alert_staff(workspace).items() if s == "S001")
    for user in ("cio1", "admin1"):
        client = client_for(user)
        for text in (_page(client, f"/alert/{aid}"), _page(client, "/alerts", "?status=all"),
                     _page(client, "/alerts", "?status=all&lang=en")):
            assert "S001" in text and "山田" not in text and "Yamada" not in text and "Kato" not in text, user
        rows = _csv(client, "/download/alerts.csv?status=all")
        assert rows and all(r[_key(r, "staff_id_name")] == r[_key(r, "staff_id_name_en")] == "" for r in rows)


def test_bulk_action_callback_returns_the_queue_with_names_for_security_only(workspace, built, client_for) -> None:
    _name_staff(workspace)
    body = _body(f"..{ids.AL_BULK_RESULT}.children...{ids.AL_TABLE}.data..", [(ids.AL_BULK_APPLY, "n_clicks", 1)],
                 [(ids.AL_TABLE, "selected_row_ids", built.alert_ids[:1]), (ids.AL_BULK_STATUS, "value", None),
                  (ids.AL_BULK_ASSIGNEE, "value", "sec1"), (ids.AL_BULK_NOTE, "value", ""),
                  (ids.AL_URL, "search", "?status=all")], f"{ids.AL_BULK_APPLY}.n_clicks")
    resp = client_for("sec1").post("/_dash-update-component", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    staff = {r["staff"] for r in resp.get_json()["response"][ids.AL_TABLE]["data"]}
    assert "山田 太郎 (S001)" in staff and "S003" in staff


def _alert_staff(workspace) -> dict[int, str]:
    with for_workspace(workspace).connect() as con:
        return dict(con.execute("SELECT alert_id, staff_id FROM alerts").fetchall())


def _key(row: dict[str, str], key: str) -> str:
    return next(k for k in row if k.endswith(f"({key})"))
