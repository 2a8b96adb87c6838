"""CLI commands for the workspace and data in: init, status (collect, ingest, demo, scheduler, serve follow)."""

from __future__ import annotations

import click

from observatory.cli.common import State, pass_state
from observatory.workspace import init_workspace


@click.command()
@pass_state
def init(state: State) -> None:
    """Create or upgrade the workspace: observatory.yaml, warehouse schema, reference data."""
    ws, counts = init_workspace(state.home)
    click.echo(
        f"workspace {ws.home}: schema v{counts['schema_version']}, {counts['prefectures']} prefectures, "
        f"{counts['municipalities']} municipalities, {counts['ministries']} ministries"
    )


COMMANDS = [init]
