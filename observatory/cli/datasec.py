"""CLI commands for personal data at rest: scan-pii, archive prune, archive decrypt."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from observatory.cli.common import State, pass_state
from observatory.errors import UserError

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).


@click.command("scan-pii")
@pass_state
def scan_pii(state: State) -> None:
    """Search the whole workspace for Individual Numbers in clear: every table and column of the warehouse and
    every Parquet file decoded, every other file byte by byte. Exit 1 when any is found."""
    from observatory.security.scan import scan_workspace

    ws = state.ws
    with state.warehouse.connect() as con:
        result = scan_workspace(ws, con)
    for f in result.findings:
        click.echo(f.line())
    click.echo(f"scanned {result.tables} tables, {result.parquet_files} Parquet files, {result.columns} columns, "
               f"{result.files} files ({result.bytes_scanned / 1e6:.1f} MB): "
               + ("no Individual Number in clear / 平文の個人番号はありません" if result.clean
                  else f"{len(result.findings)} found / {len(result.findings)} 件見つかりました"))
    if not result.clean:
        sys.exit(1)


@click.group()
def archive() -> None:
    """The raw archive of received files (encrypted at rest)."""


@archive.command()
@click.option("--older-than", "days", type=click.IntRange(min=1),
              help="Days to keep (default: archive.retention_days of observatory.yaml).")
@click.option("--dry-run", is_flag=True, help="Only say what would go.")
@pass_state
def prune(state: State, days: int | None, dry_run: bool) -> None:
    """Remove archived files and failed/ drop files older than the retention period (the archived_files rows
    stay as lineage, marked pruned_at); seal any file left in clear from before encryption."""
    from observatory import archive as raw_archive
    from observatory.security import sealed

    ws = state.ws
    days = days or ws.config.archive.retention_days
    drops = [ws.resolve(s.directory) for s in ws.config.sources if s.directory]
    drops += [d for d in ws.drop_dir.iterdir() if d.is_dir()] if ws.drop_dir.is_dir() else []
    with state.warehouse.connect() as con:
        got = raw_archive.prune(con, ws.home, ws.archive_dir, sorted(set(drops)), sealed.workspace_key(ws), days,
                                dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {got.removed} archived file(s) older than {days} days ({got.bytes_removed / 1e6:.1f} MB) "
               f"and {got.failed_removed} failed/ file(s); {got.sealed} file(s) in clear "
               f"{'would be ' if dry_run else ''}encrypted")


@archive.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def decrypt(state: State, file: Path, out: Path) -> None:
    """Write the plaintext of an archived or failed/ FILE to OUT (for an operator looking at a rejected file)."""
    from observatory.security import sealed

    if out.exists():
        raise UserError(f"{out}: 出力先が既にあります / exists already; choose another name")
    key = sealed.workspace_key(state.ws)
    # written beside OUT and linked into place whole: a wrong key or an altered chunk found midway leaves no OUT
    # (neither an empty one that blocks the retry nor the plaintext of the chunks before, personal data in clear)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with sealed.open_plain(file, key) as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(sealed.CHUNK):
                dst.write(chunk)
        os.link(tmp, out)  # fails, leaving OUT alone, if it appeared meanwhile
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(f"{file} -> {out}")


COMMANDS = [scan_pii, archive]
