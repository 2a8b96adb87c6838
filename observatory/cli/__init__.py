"""The `observatory` command: one click group; each sub-module adds its commands (COMMANDS lists them).

Only this package and observatory/jobs.py may import collectors, anomaly and dashboards together. A command's
module is imported when the command runs, so `observatory --help` and `--version` answer at once
(benchmarks/cli_help.py measures it).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from observatory.errors import UserError, os_problem

# name -> (module under observatory.cli, attribute, the first sentence of its help). `--help` lists the commands
# from this table without importing them; tests/test_cli_lazy.py checks it against the modules' COMMANDS.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("data", "init", "Create or upgrade the workspace: observatory.yaml, warehouse schema, reference data."),
    "collect": ("data", "collect", "Run configured sources now (all enabled ones when none are named)."),
    "ingest": ("data", "ingest", "Load FILE|DIR... of one KIND now (a directory: its files in name order), through "
               "the same code path as the scheduled collectors."),
    "status": ("data", "status", "Last run, rows and freshness of each source; stale sources are marked."),
    "scheduler": ("data", "scheduler", "Run the collectors on the cron schedules of observatory.yaml (foreground; "
                  "Ctrl-C stops)."),
    "serve": ("data", "serve", "Dashboard and scheduler in one process (production WSGI server)."),
    "demo": ("data", "demo", "Create a demo workspace, feed national sample data through the real collectors, "
             "then serve."),
    "reference": ("reference", "reference_group", "Reference data: prefectures (JIS X 0401), municipalities "
                  "(JIS X 0402), ministries."),
    "kpi": ("kpi", "kpi", "KPI catalogue: validate definitions, compute values and forecasts, show and report them."),
    "submit": ("submission", "submit_command", "Submit a KPI data file (CSV UTF-8/Shift_JIS or XLSX) / "
               "KPIデータファイルを提出する."),
    "submission": ("submission", "submission_group", "Submission templates and history / 提出テンプレートと提出履歴."),
    "alerts": ("alerts", "alerts", "Unauthorised-viewing alerts: detect, triage, export / 不正閲覧アラート."),
    "users": ("users", "users", "Dashboard users and their roles (observatory.yaml) / ダッシュボード利用者."),
    "publish": ("publish", "publish", "Build the public site into OUTDIR (default: publish.outdir of "
                "observatory.yaml)."),
    "scan-pii": ("datasec", "scan_pii", "Search the whole workspace for Individual Numbers in clear: every table "
                 "and column of the warehouse and every Parquet file decoded, every other file byte by byte."),
    "archive": ("datasec", "archive", "The raw archive of received files (encrypted at rest)."),
    "backup": ("ops", "backup_cmd", "Back up the workspace into TARGET (new or empty directory), also while the "
               "server runs."),
    "restore": ("ops", "restore_cmd", "Restore the backup in SOURCE into the workspace directory (--home)."),
    "verify": ("ops", "verify_cmd", "Check the Parquet event archive against collector_runs, raw archive hashes "
               "and the audit log chain."),
    "events": ("events", "events_group", "The access-event Parquet archive: compact a month's small files "
               "(safe while the server runs)."),
    "checks": ("checks", "checks", "Recompute the figures the real publications state (SOURCES / PROVENANCE) from "
               "the warehouse; exit 1 when one differs (a publication not loaded is `no_data`, not a failure)."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported from COMMANDS when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _help = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(f"observatory.cli.{module}"), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from COMMANDS' help sentences, without importing the commands."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            cmd = self.commands.get(name) or click.Command(name, help=COMMANDS[name][2])
            if not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", type=click.Path(file_okay=False), envvar="OBSERVATORY_HOME",
              help="Workspace directory (default: $OBSERVATORY_HOME or ./workspace).")
@click.version_option(package_name="egov-observatory")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """e-Government Observatory / 電子行政オブザーバトリ: KPIs, submissions and access-log monitoring."""
    from observatory.cli.common import State  # here: --help and --version load no pydantic or yaml
    from observatory.config import home_from  # (same)

    if home is not None and not home.strip():  # `--home "$UNSET"`: never the ./workspace default in its place
        raise click.BadParameter("空にはできません / must not be empty", param_hint="'--home'")
    ctx.obj = State(home_from(home))


class _OneLine(logging.Formatter):
    """A log record as one line, the exception's type and message instead of its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line += f": {type(exc).__name__}: {exc}"
        return f"{record.levelname.lower()}: {line}".replace("\n", " ")


def _quiet_logging() -> None:
    """What a command logs without a configured handler (serve and scheduler configure their own) reaches stderr
    as one line: no traceback unless OBSERVATORY_DEBUG=1."""
    if not os.environ.get("OBSERVATORY_DEBUG"):
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        handler.setFormatter(_OneLine())
        logging.lastResort = handler


def _tolerant_streams() -> None:
    """A character the terminal's encoding cannot write (Japanese on an ASCII or C locale with PYTHONIOENCODING, a
    character outside cp932 on a Shift_JIS console) is written as a backslash escape: the command's output goes on
    instead of ending in an internal error halfway through a listing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "errors", None) or "strict") == "strict":
            reconfigure(errors="backslashreplace")


def _usage_error(exc: click.UsageError) -> None:
    """A command typed wrong: its usage line, then one line Japanese first (click's own text is English)."""
    if exc.ctx is not None:
        click.echo(exc.ctx.get_usage(), err=True)
    where = f"{exc.ctx.command_path} --help" if exc.ctx is not None else "observatory --help"
    click.echo(f"error: コマンドの指定が正しくありません（{where} で使い方を表示） / usage error: "
               f"{exc.format_message()}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit code."""
    os.umask(0o077)  # whatever the process writes is owner-only (the warehouse's WAL too); the site re-opens its own
    _quiet_logging()
    _tolerant_streams()
    try:
        cli.main(args=argv, prog_name="observatory", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("中断しました / interrupted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        _usage_error(exc)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback unless asked
        lock_timeout = sys.modules.get("observatory.warehouse")  # only loaded when something opened the warehouse
        if lock_timeout is not None and isinstance(exc, lock_timeout.LockTimeout):
            click.echo(f"error: {exc}", err=True)
            sys.exit(75)
        told = os_problem(exc) if isinstance(exc, OSError) else None
        if os.environ.get("OBSERVATORY_DEBUG"):
            import traceback  # only with OBSERVATORY_DEBUG

            traceback.print_exc()
        if told is not None:
            click.echo(f"error: {told[0]}", err=True)
            sys.exit(told[1])
        click.echo(f"internal error: {type(exc).__name__}: {exc} (set OBSERVATORY_DEBUG=1 for details)", err=True)
        sys.exit(70)
    sys.exit(0)
