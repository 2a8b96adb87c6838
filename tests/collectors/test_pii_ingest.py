"""Individual Numbers never stored in clear (issue 11): person keys pseudonymised in every written form, other
columns refused (row and column named, value masked), failed/ and archive encrypted, and `scan-pii` finding
none in a workspace fed with them - and finding one when it is planted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import collectors
from observatory.config import Source
from observatory.security import sealed
from observatory.security.pseudonym import individual_numbers, pseudonymise
from observatory.warehouse import for_workspace
from tests.collectors.conftest import csv_bytes, json_bytes, query, run_row, write, xlsx_bytes
from tests.collectors.test_access_log import HEADER
from tests.collectors.test_usage_rates import HEADER as USAGE_HEADER
from tests.collectors.test_usage_rates import ROWS as USAGE_ROWS
from tests.security.test_pseudonym_finder import PROBE, STYLES, number, written

N1, N2 = PROBE
N3 = number("30161234567")
# every spelling of three people (but with invisible characters: an identifier holding one is refused for it, the
# value masked, in a person key as in any other: test_a_number_outside_person_keys_refuses_the_access_log)
FORMS = [written(n, s) for n in (N1, N2, N3) for s in STYLES if s != "invisible"]


def _key(ws) -> str:
    return ws.secret(ws.config.security.pseudonym_key_env)


def _event(i: int, *, subject: str = "S1", staff: str = "ST001", case: str = "", terminal: str = "T1",
           record_type: str = "resident", event_id: str | None = None) -> list[str]:
    return [event_id or f"E{i:06d}", f"2026-04-0{1 + i % 9}T09:15:00+09:00", staff, "132063", subject, "view",
            record_type, case, "1", terminal]


def _all_stored_text(ws) -> str:
    rows = query(ws, "SELECT event_id, staff_id, subject_id, record_type, case_id, terminal_id FROM access_events")
    return "\n".join(str(v) for r in rows for v in r)


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("fmt", ["csv", "cp932", "xlsx", "json"])
def test_person_keys_in_every_form_become_one_pseudonym_per_person(workspace, tmp_path: Path, fmt: str) -> None:
    # (CP932 has no Latin middle dot, bullet, soft hyphen or dingbat digit: those forms come in the other formats)
    forms = [f for f in FORMS if _encodable(f, "cp932")] if fmt == "cp932" else FORMS
    rows = [_event(i, subject=form, staff=forms[-1 - i]) for i, form in enumerate(forms)]
    data = {"csv": lambda: csv_bytes([HEADER, *rows]), "cp932": lambda: csv_bytes([HEADER, *rows], "cp932"),
            "xlsx": lambda: xlsx_bytes([HEADER, *rows]), "json": lambda: json_bytes([HEADER, *rows])}[fmt]()
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, f"a.{fmt[:4]}", data)])
    assert result.status == "ok", result.error
    assert result.detail["individual_numbers_replaced"] == 2 * len(forms)
    key = _key(workspace)
    got = query(workspace, "SELECT DISTINCT subject_id FROM access_events UNION SELECT DISTINCT staff_id "
                           "FROM access_events")
    assert {r[0] for r in got} == {pseudonymise(n, key) for n in (N1, N2, N3)}


def test_xlsx_number_cells_are_caught(workspace, tmp_path: Path) -> None:
    rows = [_event(0, subject=int(N1)), _event(1, subject=float(N2))]  # typed as numbers in Excel
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "n.xlsx", xlsx_bytes([HEADER, *rows]))])
    assert result.status == "ok", result.error
    assert {r[0] for r in query(workspace, "SELECT subject_id FROM access_events")} == \
        {pseudonymise(N1, _key(workspace)), pseudonymise(N2, _key(workspace))}


def test_a_number_with_a_leading_zero_in_a_zero_padded_xlsx_column_is_caught(workspace, tmp_path: Path) -> None:
    """An Individual Number starting with 0, typed as a number in a column formatted 000000000000 (so that Excel
    shows the zero): read as the integer it was eleven digits, passed the finder and was stored in clear as the
    person's key. It is read as the text the sheet shows, and pseudonymised."""
    import io

    import openpyxl

    zero = number("05260181590")
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(HEADER)
    ws.append(_event(0, subject=int(zero)))
    ws.cell(2, HEADER.index("subject_id") + 1).number_format = "000000000000"
    buf = io.BytesIO()
    book.save(buf)
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "z.xlsx", buf.getvalue())])
    assert result.status == "ok", result.error
    assert query(workspace, "SELECT subject_id FROM access_events") == [(pseudonymise(zero, _key(workspace)),)]


def test_a_number_in_a_heading_refuses_the_file(workspace, tmp_path: Path) -> None:
    """The inventory keeps every column under its heading (procedure_inventory.published): a heading holding a
    number, even parted by a tab that the stored JSON would write as an escape, refuses the file, masked."""
    src = Path(__file__).parent.parent / "fixtures" / "collectors" / "procedure_inventory_blanks.csv"
    lines = src.read_text(encoding="utf-8-sig").splitlines()
    data = "\r\n".join([lines[0] + ',"1993\t5181\t9090"', lines[1] + ",x"]).encode("utf-8")
    [result] = collectors.ingest_files(workspace, "procedure-inventory", [write(tmp_path, "p.csv", data)],
                                       fiscal_year=2023)
    assert result.status == "failed" and "row 1, column #" in result.error and "********9090" in result.error
    assert "5181" not in result.error
    assert query(workspace, "SELECT count(*) FROM procedure_inventory") == [(0,)]


@pytest.mark.parametrize("column", ["case_id", "terminal_id", "record_type", "event_id"])
@pytest.mark.parametrize("form", ["plain", "hyphens", "fullwidth", "spaces", "blanks", "kanji", "latin_middle_dot",
                                  "invisible", "keycaps", "dingbats"])
def test_a_number_outside_person_keys_refuses_the_access_log(workspace, tmp_path: Path, column: str,
                                                              form: str) -> None:
    rows = [_event(i) for i in range(4)]
    rows[2][HEADER.index(column)] = written(N2, form)
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "a.csv", csv_bytes([HEADER, *rows]))])
    assert result.status == "failed" and result.rows_loaded == 0
    assert f"row 4, column {column}" in result.error
    # (an identifier with an invisible character is refused for it, before it is read for a number: masked alike)
    assert "個人番号" in result.error or (form == "invisible" and column != "record_type" and "U+00AD" in result.error)
    assert "********9084" in result.error
    stored = run_row(workspace, result.run_id)["error"]
    assert N2 not in stored.replace("-", "").replace(" ", "") and "9084" in stored
    assert query(workspace, "SELECT count(*) FROM access_events") == [(0,)]


def test_rosters_pseudonymise_and_refuse(workspace, tmp_path: Path) -> None:
    subjects = [["subject_id", "municipality_code", "surname_key", "household_key", "neighbourhood_key", "sensitive"],
                [written(N1, "hyphens"), "132063", "sk", "hh", "nb", "0"],
                [written(N2, "fullwidth"), "132063", "sk", "hh", "nb", "1"]]
    [ok] = collectors.ingest_files(workspace, "subjects", [write(tmp_path, "s.csv", csv_bytes(subjects, "cp932"))])
    assert ok.status == "ok", ok.error
    assert {r[0] for r in query(workspace, "SELECT subject_id FROM subjects")} == \
        {pseudonymise(N1, _key(workspace)), pseudonymise(N2, _key(workspace))}
    cases = [["case_id", "subject_id", "org_code", "unit", "procedure_code", "opened_at"],
             ["C1", written(N1, "dots"), "132063", "市民課", "P1", "2026-04-01T09:00:00+09:00"],
             ["C2", "S1", "132063", f"担当 {written(N3, 'blanks')}", "P1", "2026-04-01T09:00:00+09:00"]]
    [bad] = collectors.ingest_files(workspace, "cases", [write(tmp_path, "c.csv", csv_bytes(cases))])
    assert bad.status == "failed" and "row 3, column unit" in bad.error
    assert N3[-4:] in bad.error and N3[:4] not in bad.error
    assert query(workspace, "SELECT count(*) FROM cases") == [(0,)]


def test_other_collectors_refuse_numbers_in_any_column(workspace, tmp_path: Path) -> None:
    rows = [list(r) for r in USAGE_ROWS]
    rows[1][2] = f"申請 {written(N1, 'hyphens')}"
    [r1] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "u.csv", csv_bytes([USAGE_HEADER, *rows]))])
    assert r1.status == "failed" and "row 3, column procedure_name" in r1.error and "********9090" in r1.error
    rows = [list(r) for r in USAGE_ROWS]
    rows[0][5] = N1  # a count that is an Individual Number
    [r2] = collectors.ingest_files(workspace, "usage-rates", [write(tmp_path, "v.csv", csv_bytes([USAGE_HEADER, *rows]))])
    assert r2.status == "failed" and "column cases_total" in r2.error and N1 not in r2.error
    assert query(workspace, "SELECT count(*) FROM procedure_usage") == [(0,)]


def _obs(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "observatory", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=600)


def test_scan_pii_finds_none_after_ingest_and_finds_what_is_planted(workspace, tmp_path: Path) -> None:
    # seeded files in every format and column, through ingest and a drop directory (good and failing files)
    good = [_event(i, subject=f, staff=FORMS[i % 7]) for i, f in enumerate(FORMS)]
    collectors.ingest_files(workspace, "access-log", [write(tmp_path, "g.csv", csv_bytes([HEADER, *good]))])
    bad = [_event(100, case=written(N3, "hyphens"), terminal=written(N1, "fullwidth"))]
    drop = workspace.drop_dir / "access"
    drop.mkdir(parents=True)
    write(drop, "bad.csv", csv_bytes([HEADER, *bad], "cp932"))
    write(drop, "bad.xlsx", xlsx_bytes([HEADER, _event(101, record_type=int(N2))]))
    write(drop, "good.json", json_bytes([HEADER, _event(102, subject=written(N2, "dots"))]))
    run = collectors.run_source(workspace, Source(name="access", kind="access-log", directory="drop/access"),
                                settle_s=0)
    assert run.status == "ok" and len(run.detail["failed_files"]) == 2
    assert all(p.name.endswith(".sealed") for p in (drop / "failed").iterdir())
    assert N1 not in _all_stored_text(workspace)

    scan = _obs(workspace.home, "scan-pii")
    assert scan.returncode == 0, scan.stdout + scan.stderr
    assert "no Individual Number in clear" in scan.stdout
    # the archive and failed/ hold the seeded numbers, encrypted: the key opens them
    plain = b"".join(sealed.read_plain(p, sealed.workspace_key(workspace))
                     for p in (drop / "failed").iterdir())
    assert written(N3, "hyphens").encode("cp932") in plain

    # the scan can fail: a planted number in a table, in a Parquet file and in a plain file is found
    (workspace.home / "notes.txt").write_text(f"memo {written(N3, 'fullwidth_hyphens')}\n", encoding="cp932")
    pq = workspace.home / "extra.parquet"
    duckdb.sql(f"COPY (SELECT 'x' AS a, {int(N2)}::BIGINT AS b) TO '{pq}' (FORMAT parquet)")
    with for_workspace(workspace).connect() as con:
        con.execute("UPDATE collector_runs SET error = ? WHERE run_id = ?", [f"x {written(N1, 'dots')}", run.run_id])
    found = _obs(workspace.home, "scan-pii")
    assert found.returncode == 1
    assert "notes.txt" in found.stdout and "extra.parquet:b" in found.stdout
    assert "collector_runs.error" in found.stdout
    assert N1 not in found.stdout and N2 not in found.stdout and "3 found" in found.stdout, found.stdout


def test_a_serial_written_with_letters_in_a_record_key_loads_as_written(workspace, tmp_path: Path) -> None:
    """A date and serial passes the check digit one time in eleven: as the serial of a key written with letters
    (EV202611020009, C-2026-1102-0009, a UUID's last group) it is no Individual Number, and the log loads; the same
    digits alone in the key are one and refuse it (above). scan-pii reads the stored keys by the same rule."""
    serial = number("20261102000")
    grouped = f"{serial[:4]}-{serial[4:8]}-{serial[8:]}"
    keys = {"event_id": f"EV{serial}", "case_id": f"C-{grouped}", "terminal_id": f"9f1c2a7e-0b1d-4c55-a3e0-{serial}"}
    rows = [_event(i) for i in range(3)]
    for column, value in keys.items():
        rows[1][HEADER.index(column)] = value
    rows[2][HEADER.index("event_id")] = f"ＥＶ{serial}X"
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "k.csv", csv_bytes([HEADER, *rows]))])
    assert result.status == "ok", result.error
    stored = query(workspace, "SELECT event_id, case_id, terminal_id FROM access_events ORDER BY event_id")
    assert (keys["event_id"], keys["case_id"], keys["terminal_id"]) in stored
    assert (f"EV{serial}X", None, "T1") in stored  # (folded as every identifier is)
    cases = [["case_id", "subject_id", "org_code", "unit", "procedure_code", "opened_at"],
             [f"C-{grouped}", "S1", "132063", "市民課", "P1", "2026-04-01T09:00:00+09:00"]]
    [ok] = collectors.ingest_files(workspace, "cases", [write(tmp_path, "c.csv", csv_bytes(cases))])
    assert ok.status == "ok", ok.error
    scan = _obs(workspace.home, "scan-pii")
    assert scan.returncode == 0, scan.stdout + scan.stderr
    rows[1][HEADER.index("case_id")] = f"C- {grouped}"  # a number standing apart in the key is one
    rows[1][HEADER.index("event_id")] = "E999999"
    [refused] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "l.csv", csv_bytes([HEADER, *rows]))])
    assert refused.status == "failed" and "column case_id" in refused.error


# A number with trailing zeros in Excel's scientific text has fewer than twelve digits written: 100000004000 is
# 1.00000004E+11 (nine digits and the exponent's two)
SHORT = next(f"{m}000" for m in range(100_000_000, 100_001_000) if number(str(m) + "00") == f"{m}000")
SCIENTIFIC = {"exponent": written(N2, "exponent"), "short exponent": f"{SHORT[0]}.{SHORT[1:].rstrip('0')}E+11",
              "padded short exponent": f"  {SHORT[0]}.{SHORT[1:].rstrip('0')}e11  ",
              "thousands": written(N2, "thousands"), "zero fraction": written(N2, "zero_fraction")}


@pytest.mark.parametrize("column", ["case_id", "terminal_id", "record_type", "event_id", "subject_id"])
@pytest.mark.parametrize("form", list(SCIENTIFIC))
def test_a_number_as_a_spreadsheet_writes_it_is_read_by_the_bulk_log_path(workspace, tmp_path: Path, column: str,
                                                                          form: str) -> None:
    """The access log's pre-filter (RE2 in DuckDB) passed over a number in Excel's scientific text: in a record key
    the exponent's letter blanked the whole token before the second look, and with trailing zeros fewer than
    twelve digits are written at all. The finder reads both as the number, so a subject so written was stored in
    clear and a case or terminal so written loaded."""
    n = SHORT if "short" in form else N2
    rows = [_event(i) for i in range(4)]
    rows[2][HEADER.index(column)] = SCIENTIFIC[form]
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "a.csv", csv_bytes([HEADER, *rows]))])
    if column == "subject_id":
        assert result.status == "ok", result.error
        assert result.detail["individual_numbers_replaced"] == 1
        assert (pseudonymise(n, _key(workspace)),) in query(workspace, "SELECT subject_id FROM access_events")
    else:
        assert result.status == "failed" and result.rows_loaded == 0, (column, form)
        assert f"row 4, column {column}" in result.error and "個人番号" in result.error
        assert "********" + n[-4:] in result.error and SCIENTIFIC[form].strip() not in result.error
    assert SCIENTIFIC[form].strip() not in _all_stored_text(workspace)


def test_a_record_type_is_read_for_numbers_as_it_is_stored(workspace, tmp_path: Path) -> None:
    """A value that is not ASCII was read for Individual Numbers as the identifier it folds to (NFKC, stripped),
    but the record type is stored as written: 1.002e11 and an ideographic space is a number as written (the finder
    reads a text that is not ASCII whatever its length), though stripped to eight characters it is none, so it
    was stored. Each value is now read both ways. (An identifier column stores the folded form, which the finder
    does not read: eight ASCII characters.)"""
    shorter = next(f"{m}00000000" for m in range(1000, 10_000) if number(f"{m}0000000") == f"{m}00000000")
    cell = f"{shorter[0]}.{shorter[1:].rstrip('0')}e11\u3000"
    assert len(cell) < 12 and individual_numbers(cell)
    rows = [_event(i) for i in range(4)]
    rows[2][HEADER.index("record_type")] = cell
    [result] = collectors.ingest_files(workspace, "access-log", [write(tmp_path, "a.csv", csv_bytes([HEADER, *rows]))])
    assert result.status == "failed" and "row 4, column record_type" in result.error, result.error
    assert "********" + shorter[-4:] in result.error
    assert query(workspace, "SELECT count(*) FROM access_events") == [(0,)]


@pytest.mark.parametrize("form", ["short exponent", "padded short exponent"])
def test_a_roster_row_with_a_number_in_scientific_text_is_read_cell_by_cell(workspace, tmp_path: Path,
                                                                             form: str) -> None:
    """The row collectors' quick look at a whole row (pseudonym.none_in) took only runs of twelve digits: a number
    in scientific text with trailing zeros passed it, and a household key so written was stored, though the finder
    reads it (the subject key, read on its own, was pseudonymised)."""
    subjects = [["subject_id", "municipality_code", "surname_key", "household_key", "neighbourhood_key", "sensitive"],
                ["S1", "132063", "sk", "hh", "nb", "0"], ["S2", "132063", "sk", SCIENTIFIC[form], "nb", "0"]]
    [bad] = collectors.ingest_files(workspace, "subjects", [write(tmp_path, "s.csv", csv_bytes(subjects))])
    assert bad.status == "failed" and "row 3, column household_key" in bad.error, bad.error
    assert "********" + SHORT[-4:] in bad.error and SCIENTIFIC[form].strip() not in bad.error
    assert query(workspace, "SELECT count(*) FROM subjects") == [(0,)]


def test_a_number_in_a_file_name_or_a_sender_is_stored_masked(workspace, tmp_path: Path) -> None:
    """A file's name and who sent it are the sender's text. A name holding a number parted by tabs was stored in
    the run's detail as JSON, whose escapes (1993\\t5181\\t9090) hid it from the mask and from scan-pii; the
    sender (`ingest --user`) was stored as typed; `ingest` printed the name as it was."""
    name = "1993\t5181\t9090.csv"
    [result] = collectors.ingest_files(workspace, "access-log",
                                       [write(tmp_path, name, csv_bytes([HEADER, _event(0)]))],
                                       received_by=written(N2, "hyphens"))
    assert result.status == "ok", result.error
    stored = query(workspace, "SELECT CAST(detail AS VARCHAR) FROM collector_runs UNION ALL "
                              "SELECT received_by || ' ' || original_name FROM archived_files")
    assert stored and all(not individual_numbers(v.replace("\\t", "\t")) for (v,) in stored), stored
    scan = _obs(workspace.home, "scan-pii")
    assert scan.returncode == 0, scan.stdout
    printed = _obs(workspace.home, "ingest", "access-log", str(tmp_path / name))
    assert "********9090" in printed.stdout and "5181" not in printed.stdout, printed.stdout


def test_a_failed_files_name_in_failed_is_masked(workspace, tmp_path: Path) -> None:
    """A drop directory's file that fails is sealed into failed/ under its name: a number in the name is masked
    there too (its content is sealed; the name was left in clear on disk)."""
    drop = workspace.drop_dir / "access"
    drop.mkdir(parents=True)
    write(drop, f"職員{written(N1, 'hyphens')}.csv", csv_bytes([HEADER, _event(0, case=written(N2, "plain"))]))
    run = collectors.run_source(workspace, Source(name="access", kind="access-log", directory="drop/access"),
                                settle_s=0)
    assert run.status == "failed"
    assert [p.name for p in (drop / "failed").iterdir()] == ["職員xxxxxxxx9090.csv.sealed"]
    assert run.detail["failed_files"] == ["failed/職員xxxxxxxx9090.csv.sealed"]
