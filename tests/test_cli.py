"""The `observatory` command: help, init, reference export, and errors as one line without a traceback."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

OBS = [sys.executable, "-m", "observatory"]


def run(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [*OBS, *(["--home", str(home)] if home else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_help_lists_every_command():
    out = run("--help").stdout
    for command in ("init", "demo", "collect", "ingest", "scheduler", "serve", "status", "reference", "kpi",
                    "alerts", "users", "publish", "submit", "submission"):
        assert command in out, command


def test_init_is_idempotent_and_reference_exports_csv(tmp_path: Path):
    home = tmp_path / "ws"
    first = run("init", home=home)
    assert first.returncode == 0, first.stderr
    assert "1741 municipalities" in first.stdout
    assert run("init", home=home).returncode == 0
    out = run("reference", "municipalities", "--format", "csv", home=home).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1741
    assert list(rows[0]) == ["code", "prefecture_code", "name_ja", "name_kana", "name_en"]


def test_missing_workspace_is_one_line_without_traceback(tmp_path: Path):
    result = run("status", home=tmp_path / "nowhere")
    assert result.returncode == 2
    assert "run `observatory --home" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_config_names_the_field(tmp_path: Path):
    home = tmp_path / "ws"
    assert run("init", home=home).returncode == 0
    (home / "observatory.yaml").write_text("sources:\n  - name: x\n    kind: nonsense\n", encoding="utf-8")
    result = run("status", home=home)
    assert result.returncode == 2
    assert "sources.0.kind" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_and_scheduler_refuse_invalid_kpi_definitions(tmp_path: Path):
    home = tmp_path / "ws"
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "broken.yaml").write_text("kpis:\n  - id: x\n    colour: blue\n", encoding="utf-8")
    assert run("init", home=home).returncode == 0
    config = home / "observatory.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"kpi_definitions: {defs}\n", encoding="utf-8")
    for command in (["serve", "--port", "0"], ["scheduler"]):
        result = run(*command, home=home)
        assert result.returncode == 2, result.stderr
        assert "broken.yaml:" in result.stderr and "error:" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_home_under_a_file_is_a_bad_path_not_an_internal_error(tmp_path: Path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    result = run("init", home=tmp_path / "file" / "ws")
    assert result.returncode == 2, result.stderr
    assert "ディレクトリではありません / Not a directory" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _with_command(body: str, *args: str, debug: bool = False) -> subprocess.CompletedProcess:
    """Run the real entry point with one more command whose body is `body` (what the environment or a deep
    module may raise or log), as a user would see it."""
    script = ("import errno, logging, sys\nimport observatory.cli as c\n"
              "@c.cli.command('probe')\ndef probe():\n" + "".join(f"    {line}\n" for line in body.splitlines())
              + "c.main(sys.argv[1:])\n")
    env = {k: v for k, v in os.environ.items() if k != "OBSERVATORY_DEBUG"} | ({"OBSERVATORY_DEBUG": "1"} if debug else {})
    return subprocess.run([sys.executable, "-c", script, "probe", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_permission_refused_is_exit_4_naming_the_path():
    result = _with_command("raise PermissionError(errno.EACCES, 'Permission denied', '/srv/ws/observatory.lock')")
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip() == ("error: /srv/ws/observatory.lock: 権限がありません / permission denied "
                                     "(Permission denied)")
    read_only = _with_command("raise OSError(errno.EROFS, 'Read-only file system', '/srv/ws')")
    assert read_only.returncode == 4 and "権限がありません" in read_only.stderr


def test_a_logged_exception_is_one_line_unless_debugging():
    body = ("try:\n    1 / 0\nexcept ZeroDivisionError as exc:\n"
            "    logging.getLogger('collectors.runs').error('collector run 7 failed', exc_info=exc)")
    quiet = _with_command(body)
    assert quiet.returncode == 0
    assert quiet.stderr.strip() == "error: collector run 7 failed: ZeroDivisionError: division by zero"
    assert "Traceback" in _with_command(body, debug=True).stderr


def test_archive_decrypt_of_an_altered_file_leaves_no_output(tmp_path: Path):
    from observatory.security import sealed
    from observatory.workspace import load_workspace

    home = tmp_path / "ws"
    assert run("init", home=home).returncode == 0
    plain = tmp_path / "rows.csv"
    plain.write_bytes(b"subject_id,name\n" + b"S000001,\xe5\xb1\xb1\xe7\x94\xb0\n" * 150_000)  # two chunks and more
    good = tmp_path / "rows.csv.sealed"
    sealed.seal_file(plain, good, sealed.workspace_key(load_workspace(home)))
    altered = tmp_path / "altered.sealed"
    data = bytearray(good.read_bytes())
    data[-100] ^= 1  # in the last chunk: the first ones decrypt before the alteration is found
    altered.write_bytes(bytes(data))
    out = tmp_path / "out" / "plain.csv"
    out.parent.mkdir()
    result = run("archive", "decrypt", str(altered), str(out), home=home)
    assert result.returncode == 2, result.stderr
    assert "復号できません" in result.stderr and "Traceback" not in result.stderr
    assert list(out.parent.iterdir()) == []  # neither OUT (empty or with the first chunks in clear) nor a temporary
    again = run("archive", "decrypt", str(good), str(out), home=home)  # the retry is not blocked
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == plain.read_bytes() and list(out.parent.iterdir()) == [out]
    assert run("archive", "decrypt", str(good), str(out), home=home).returncode == 2  # never overwritten


def test_a_configuration_not_in_utf8_is_refused_in_one_line(tmp_path: Path):
    home = tmp_path / "ws"
    assert run("init", home=home).returncode == 0
    (home / "observatory.yaml").write_bytes("timezone: Asia/Tokyo  # 東京\n".encode("cp932"))
    result = run("status", home=home)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"error: {home / 'observatory.yaml'}: byte 25: UTF-8で保存してください / "
                                     "not UTF-8 text; save it as UTF-8")


def test_an_empty_home_is_refused_not_taken_for_the_default(tmp_path: Path):
    """`--home "$DIR"` with DIR unset created (or used) ./workspace wherever the command was typed."""
    result = subprocess.run([*OBS, "--home", "", "init"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--home': 空にはできません / must not be empty" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_terminal_that_cannot_write_japanese_gets_escapes_not_an_internal_error(tmp_path: Path):
    """A console whose encoding has no Japanese (an ASCII locale with PYTHONIOENCODING, an old terminal) ended the
    municipality listing at its first name with 'internal error: UnicodeEncodeError' (exit 70)."""
    home = tmp_path / "ws"
    assert run("init", home=home).returncode == 0
    result = subprocess.run([*OBS, "--home", str(home), "reference", "municipalities"], capture_output=True,
                            timeout=300, env=dict(os.environ, PYTHONIOENCODING="ascii", LC_ALL="C"))
    assert result.returncode == 0, result.stderr
    rows = result.stdout.decode("ascii").splitlines()
    assert len(rows) == 1742  # the header and every municipality
    assert rows[1].encode().decode("unicode_escape").split(",")[2] == "札幌市"


def test_a_command_typed_wrong_is_told_japanese_first(tmp_path: Path):
    result = run("kpi", "show", home=tmp_path / "ws")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "error: コマンドの指定が正しくありません（observatory kpi show --help で使い方を表示） / usage error: "
        "Missing argument 'KPI_ID'.")
    assert run("nosuch").stderr.splitlines()[-1].endswith("usage error: No such command 'nosuch'.")
