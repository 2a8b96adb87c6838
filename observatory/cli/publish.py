"""CLI command: publish - build the static public progress site (pages in Japanese and English, open data)."""

from __future__ import annotations

from pathlib import Path

import click

from observatory.cli.common import State, pass_state
from observatory.errors import UserError
from observatory.security import audit

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).


@click.command()
@click.argument("outdir", required=False, type=click.Path(file_okay=False))
@click.option("--keep-snapshots", type=click.IntRange(min=1), default=None,
              help="Keep only the newest N dated data snapshots (default: keep all).")
@pass_state
def publish(state: State, outdir: str | None, keep_snapshots: int | None) -> None:
    """Build the public site into OUTDIR (default: publish.outdir of observatory.yaml).

    公開用の静的サイトを作成します（日本語・英語、CSV/JSON、datapackage.json）。
    """
    from dashboards.publish import build_site

    ws = state.ws
    target = Path(outdir) if outdir else ws.resolve(ws.config.publish.outdir)
    try:
        result = build_site(ws, target, keep_snapshots=keep_snapshots)
    except OSError as exc:
        raise UserError(f"{exc.filename or target}: 公開サイトを書き出せません / cannot write the public site: {exc.strerror}") from None
    with state.warehouse.connect() as con:
        audit.record(con, actor="cli", action="publish", target=str(target), outcome="ok",
                     detail={"pages": result.pages, "files": result.files, "bytes": result.bytes,
                             "snapshot": result.snapshot})
    click.echo(str(result))


COMMANDS = [publish]
