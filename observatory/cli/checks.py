"""CLI command `observatory checks`: the publishers' own figures recomputed from the warehouse."""

from __future__ import annotations

import json
import sys

import click

from observatory.cli.common import State, pass_state

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_state
def checks(state: State, fmt: str) -> None:
    """Recompute the figures the real publications state (SOURCES / PROVENANCE) from the warehouse; exit 1
    when one differs (a publication not loaded is `no_data`, not a failure)."""
    from observatory.checks import run_checks

    with state.warehouse.connect() as con:
        results = run_checks(con)
    if fmt == "json":
        click.echo(json.dumps([{"id": r.check.id, "publication": r.check.publication, "ja": r.check.ja,
                                "en": r.check.en, "expected": r.check.expected, "computed": r.computed,
                                "status": r.status} for r in results], ensure_ascii=False, indent=1))
    else:
        for r in results:
            got = "-" if r.computed is None else f"{r.computed:,.{r.check.decimals}f}"
            click.echo(f"{r.status:<8} {r.check.id:<32} published {r.check.expected:,.{r.check.decimals}f}  "
                       f"warehouse {got}  {r.check.ja} / {r.check.en}")
    if any(r.status == "differs" for r in results):
        sys.exit(1)


COMMANDS = (checks,)
