"""The CLI imports a command's module only when the command runs; its declared command table stays true."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from observatory import cli as cli_package

HEAVY = ("pandas", "numpy", "duckdb", "pyarrow", "pydantic", "dash", "sklearn", "scipy", "httpx", "openpyxl", "yaml",
         "collectors", "anomaly", "dashboards")


def test_the_table_names_every_command_of_every_module() -> None:
    modules = {m for m, _a, _h in cli_package.COMMANDS.values()}
    declared = {}
    for m in modules:
        for command in importlib.import_module(f"observatory.cli.{m}").COMMANDS:
            declared[command.name] = (m, command)
    assert set(declared) == set(cli_package.COMMANDS)
    for name, (module, attribute, sentence) in cli_package.COMMANDS.items():
        real = getattr(importlib.import_module(f"observatory.cli.{module}"), attribute)
        assert real is declared[name][1] and declared[name][0] == module, name
        for limit in (30, 45, 80, 1000):  # the listing is the same whatever the terminal width
            assert click.Command(name, help=sentence).get_short_help_str(limit) == real.get_short_help_str(limit), name


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_load_no_heavy_package(args: list[str]) -> None:
    code = ("import sys\nfrom observatory.cli import cli\ntry:\n"
            f"    cli.main({args!r}, prog_name='observatory', standalone_mode=False)\n"
            "except SystemExit:\n    pass\nprint('MODULES', ' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    loaded = set(out.rsplit("MODULES", 1)[1].split())
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "Commands:" in out if args == ["--help"] else "version" in out


def test_a_subcommand_help_loads_only_its_module() -> None:
    code = ("import sys\nfrom observatory.cli import cli\ntry:\n"
            "    cli.main(['reference', '--help'], prog_name='observatory', standalone_mode=False)\n"
            "except SystemExit:\n    pass\nprint('MODULES', ' '.join(sorted(m for m in sys.modules if m.startswith('observatory.cli.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "municipalities" in out
    loaded = set(out.rsplit("MODULES", 1)[1].split())
    assert "observatory.cli.reference" in loaded
    assert not loaded & {"observatory.cli.data", "observatory.cli.alerts", "observatory.cli.submission"}


def test_a_lock_timeout_still_exits_75_in_one_line() -> None:
    code = ("import click\nfrom observatory.cli import cli, main\nfrom observatory.warehouse import LockTimeout\n"
            "@cli.command('boom')\ndef boom():\n    raise LockTimeout('workspace is busy (held by pid 1)')\n"
            "main(['boom'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 75, done.stderr
    assert done.stderr.strip() == "error: workspace is busy (held by pid 1)"
