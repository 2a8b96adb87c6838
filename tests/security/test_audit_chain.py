"""The audit log is a hash chain: an edited, deleted or replaced entry is found; concurrent writers and
rolled-back transactions leave an intact chain."""

from __future__ import annotations

import threading

import pytest

from observatory.security import audit
from observatory.warehouse import for_workspace, transaction
from observatory.workspace import init_workspace


@pytest.fixture
def ws(tmp_path):
    ws, _ = init_workspace(tmp_path / "ws")
    with for_workspace(ws).connect() as con:
        for i in range(6):
            audit.record(con, actor=f"user{i}", action="signin", detail={"n": i, "text": "日本語"}, client="10.0.0.1")
    return ws


def _problems(ws) -> list[str]:
    with for_workspace(ws).connect() as con:
        return audit.verify_chain(con, ws.home)


def _ids(ws) -> list[int]:
    with for_workspace(ws).connect() as con:
        return [r[0] for r in con.execute("SELECT audit_id FROM audit_log ORDER BY chain_seq").fetchall()]


def test_entries_are_sealed_when_the_warehouse_is_released(ws) -> None:
    with for_workspace(ws).connect() as con:
        rows = con.execute("SELECT chain_seq, prev_hash, entry_hash FROM audit_log ORDER BY chain_seq").fetchall()
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 6
    assert rows[0][1] == audit.GENESIS and all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))
    assert audit.read_head(ws.home) == {"seq": len(rows), "hash": rows[-1][2]}
    assert _problems(ws) == []


@pytest.mark.parametrize("column,value", [("actor", "someone-else"), ("outcome", "denied"),
                                          ("detail", '{"n": 99}'), ("client", None)])
def test_an_edited_entry_is_found(ws, column, value) -> None:
    target = _ids(ws)[2]
    with for_workspace(ws).connect() as con:
        con.execute(f"UPDATE audit_log SET {column} = ? WHERE audit_id = ?", [value, target])
        problems = audit.verify_chain(con, ws.home)
    assert len(problems) == 1 and f"entry {target} " in problems[0] and "edited" in problems[0]


def test_an_edited_entry_with_its_hash_recomputed_is_found(ws) -> None:
    ids = _ids(ws)
    with for_workspace(ws).connect() as con:
        row = con.execute(f"SELECT prev_hash, {audit._CONTENT} FROM audit_log WHERE audit_id = ?",
                          [ids[2]]).fetchone()
        forged = list(row[1:])
        forged[2] = "forger"
        con.execute("UPDATE audit_log SET actor = 'forger', entry_hash = ? WHERE audit_id = ?",
                    [audit.entry_hash(row[0], tuple(forged)), ids[2]])
        problems = audit.verify_chain(con, ws.home)
    assert problems and f"entry {ids[3]} " in problems[0]  # the next entry no longer follows it


def test_a_deleted_entry_is_found(ws) -> None:
    ids = _ids(ws)
    with for_workspace(ws).connect() as con:
        con.execute("DELETE FROM audit_log WHERE audit_id = ?", [ids[3]])
        problems = audit.verify_chain(con, ws.home)
    assert problems and "deleted" in problems[0] and f"entry {ids[4]} " in problems[0]


def test_deleting_the_last_entries_is_found(ws) -> None:
    ids = _ids(ws)
    with for_workspace(ws).connect() as con:
        con.execute("DELETE FROM audit_log WHERE audit_id >= ?", [ids[-2]])
        problems = audit.verify_chain(con, ws.home)
    assert len(problems) == 1 and "last entries were deleted" in problems[0]


def test_concurrent_writers_and_rollbacks_keep_the_chain_intact(ws) -> None:
    wh = for_workspace(ws)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                with wh.connect() as con:
                    if i % 5 == 4:
                        try:
                            with transaction(con):
                                audit.record(con, actor=f"t{n}", action="rolled-back")
                                raise RuntimeError("undo")
                        except RuntimeError:
                            pass
                    else:
                        audit.record(con, actor=f"t{n}", action="write", detail={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with wh.connect() as con:
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'write'").fetchone()[0] == 64
    assert _problems(ws) == []
