"""CLI commands: `observatory users add|passwd|disable|list` - the dashboard's users in observatory.yaml."""

from __future__ import annotations

import os

import click

from observatory.cli.common import State, pass_state
from observatory.config import User
from observatory.errors import NotFound, UserError
from observatory.reference import ministries
from observatory.security.users import ROLES, hash_password, password_problem

ROLE_CHOICE = click.Choice(ROLES)


def _audit(state: State, action: str, username: str, detail: dict | None = None) -> None:
    """User management is a sensitive action: every change is written to the audit log (never a password)."""
    from observatory.security import audit

    with state.warehouse.connect() as con:
        audit.record(con, actor="cli", action=action, target=username, detail=detail)


def _read_password(password_env: str | None) -> str:
    """From the named environment variable, else a hidden prompt asked twice; never echoed."""
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise UserError(f"--password-env: 環境変数 {password_env} が空か未設定です / the environment variable {password_env} is empty or not set")
        password = value
    else:
        password = click.prompt("Password / パスワード", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise UserError(f"password: パスワードが要件を満たしません / {problem}")
    return password


def _check_ministry(role: str, extra: tuple[str, ...], ministry: str | None) -> str | None:
    known = {m.code for m in ministries()}
    if ministry is not None and ministry not in known:
        raise UserError(f"--ministry: {ministry!r} は府省コードではありません / {ministry!r} is not a ministry code (known: {', '.join(sorted(known))})")
    if "ministry" in (role, *extra) and not ministry:
        raise UserError("--ministry: 府省の利用者には府省コードを1つ指定してください / a user with role ministry must be bound to one ministry code")
    return ministry


@click.group("users")
def users() -> None:
    """Dashboard users and their roles (observatory.yaml) / ダッシュボード利用者."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True, help="Main role: cio, ministry, security or admin.")
@click.option("--extra-role", "extra", type=ROLE_CHOICE, multiple=True, help="Additional role (repeatable).")
@click.option("--ministry", help="Ministry code for role ministry (e.g. MIC).")
@click.option("--display-name", help="Name shown in the dashboard.")
@click.option("--password-env", help="Read the password from this environment variable instead of a prompt.")
@pass_state
def add(state: State, username: str, role: str, extra: tuple[str, ...], ministry: str | None,
        display_name: str | None, password_env: str | None) -> None:
    """Add a user with a salted scrypt password hash."""
    ws = state.ws
    if not username.strip() or any(c.isspace() for c in username):
        raise UserError(f"username: 利用者名は空白を含まない文字列にしてください / {username!r} must be non-empty and contain no spaces")
    from observatory.security.pseudonym import individual_numbers, mask

    for what, text in (("username", username), ("display-name", display_name)):
        if text and individual_numbers(text):  # kept in observatory.yaml and shown on every page: never a number
            raise UserError(f"{what}: 個人番号を含めることはできません / {mask(text)!r} holds an Individual Number; "
                            "choose another")
    if ws.config.user(username):
        raise UserError(f"username: {username!r} は既に登録されています / {username!r} already exists in {ws.config_path}; use `users passwd`")
    ministry = _check_ministry(role, extra, ministry)
    password = _read_password(password_env)
    ws.config.users.append(User(username=username, role=role, roles=[r for r in extra if r != role],
                                ministry=ministry, display_name=display_name,
                                password_hash=hash_password(password)))
    ws.save_config()
    _audit(state, "users.add", username, {"role": role, "roles": list(extra), "ministry": ministry})
    click.echo(f"added {username} ({role}) to {ws.config_path}")


@users.command("passwd")
@click.argument("username")
@click.option("--password-env", help="Read the password from this environment variable instead of a prompt.")
@pass_state
def passwd(state: State, username: str, password_env: str | None) -> None:
    """Set a new password (existing sessions of the user stop working)."""
    ws = state.ws
    user = ws.config.user(username)
    if user is None:
        raise NotFound(f"username: 利用者 {username!r} はいません / no user {username!r} in {ws.config_path}")
    user.password_hash = hash_password(_read_password(password_env))
    ws.save_config()
    _audit(state, "users.passwd", username)
    click.echo(f"password changed for {username}")


@users.command("disable")
@click.argument("username")
@pass_state
def disable(state: State, username: str) -> None:
    """Disable a user: they can no longer sign in, and their sessions end."""
    ws = state.ws
    user = ws.config.user(username)
    if user is None:
        raise NotFound(f"username: 利用者 {username!r} はいません / no user {username!r} in {ws.config_path}")
    user.disabled = True
    ws.save_config()
    _audit(state, "users.disable", username)
    click.echo(f"disabled {username}")


@users.command("list")
@pass_state
def list_users(state: State) -> None:
    """List users, roles and ministries (never the hashes)."""
    for u in state.ws.config.users:
        roles = ",".join([u.role, *u.roles])
        flags = " disabled" if u.disabled else ""
        click.echo(f"{u.username}\t{roles}\t{u.ministry or '-'}\t{u.display_name or ''}{flags}")


COMMANDS = [users]
