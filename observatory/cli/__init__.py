"""The `observatory` command: one click group; each sub-module adds its commands (COMMANDS lists them).

Only this package and observatory/jobs.py may import collectors, anomaly and dashboards together.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from observatory.cli import alerts, checks, data, datasec, kpi, ops, publish, reference, submission, users
from observatory.cli.common import State
from observatory.config import home_from
from observatory.errors import UserError
from observatory.warehouse import LockTimeout


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", type=click.Path(file_okay=False), envvar="OBSERVATORY_HOME",
              help="Workspace directory (default: $OBSERVATORY_HOME or ./workspace).")
@click.version_option(package_name="egov-observatory")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """e-Government Observatory / 電子行政オブザーバトリ: KPIs, submissions and access-log monitoring."""
    ctx.obj = State(home_from(home))


for _module in (data, reference, kpi, submission, alerts, users, publish, datasec, ops, checks):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit code."""
    os.umask(0o077)  # whatever the process writes is owner-only (the warehouse's WAL too); the site re-opens its own
    try:
        cli.main(args=argv, prog_name="observatory", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except LockTimeout as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(75)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback unless asked
        if os.environ.get("OBSERVATORY_DEBUG"):
            traceback.print_exc()
        click.echo(f"internal error: {type(exc).__name__}: {exc} (set OBSERVATORY_DEBUG=1 for details)", err=True)
        sys.exit(70)
    sys.exit(0)
