"""CLI commands for operations: `observatory backup DIR`, `restore DIR`, `verify` (logic in observatory.backup)."""

from __future__ import annotations

from pathlib import Path

import click

from observatory.cli.common import State, pass_state
from observatory.errors import UserError

# The commands import what they drive when they run, so that `observatory --help` and a group's --help
# load none of it (tests/test_cli_lazy.py, benchmarks/cli_help.py).


class VerifyFailed(UserError):
    """verify found problems: exit 1 (2 stays for refused input, as elsewhere)."""

    exit_code = 1


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False))
@pass_state
def backup_cmd(state: State, target: str) -> None:
    """Back up the workspace into TARGET (new or empty directory), also while the server runs.

    ワークスペースをバックアップします（倉庫・イベント・原本アーカイブ・設定。秘密鍵は含めず指紋のみ記録）。
    """
    from observatory import backup

    result = backup.backup(state.ws, Path(target))
    with state.warehouse.connect() as con:
        from observatory.security import audit

        audit.record(con, actor="cli", action="backup", target=str(result.target),
                     detail={"files": result.files, "bytes": result.bytes})
    click.echo(str(result))


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing workspace at --home.")
@pass_state
def restore_cmd(state: State, source: str, force: bool) -> None:
    """Restore the backup in SOURCE into the workspace directory (--home).

    バックアップを --home に復元します。仮名化鍵・アーカイブ鍵が異なる場合は拒否します。
    """
    from observatory import backup

    result = backup.restore(Path(source), state.home, force=force)
    click.echo(str(result))


@click.command("verify")
@pass_state
def verify_cmd(state: State) -> None:
    """Check the Parquet event archive against collector_runs, raw archive hashes and the audit log chain.

    イベントのParquet、原本アーカイブのハッシュ、監査ログの連鎖を検査します（問題があれば終了コード1）。
    """
    from observatory import backup

    report = backup.verify(state.ws)
    if not report.ok:
        raise VerifyFailed(str(report))
    click.echo(str(report))


COMMANDS = [backup_cmd, restore_cmd, verify_cmd]
