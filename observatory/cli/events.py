"""`observatory events compact`: the access-event archive's maintenance (logic in observatory.compaction)."""

from __future__ import annotations

import re

import click

from observatory.cli.common import State, pass_state
from observatory.errors import UserError

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).


@click.group("events")
def events_group() -> None:
    """The access-event Parquet archive: compact a month's small files (safe while the server runs)."""


@events_group.command("compact")
@click.option("--month", "months", multiple=True, help="YYYY-MM to compact (repeatable; default: every month).")
@click.option("--min-files", type=int, default=2, show_default=True,
              help="Compact a month only when it has at least this many files.")
@pass_state
def compact_cmd(state: State, months: tuple[str, ...], min_files: int) -> None:
    """Merge a month's small Parquet files into one, safely while the server runs (rows per run_id kept)."""
    from observatory.compaction import compact

    for m in months:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", m):
            raise UserError(f"--month: {m!r} は YYYY-MM ではありません / is not YYYY-MM")
    done = compact(state.ws, list(months) or None, min_files=min_files)
    for c in done:
        click.echo(str(c))
    if not done:
        click.echo("nothing to compact / 圧縮対象なし")


COMMANDS = [events_group]
