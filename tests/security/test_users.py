"""Password hashing, sign-in rate limiting, sessions, permissions and the `users` CLI."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from observatory.cli import cli
from observatory.config import Config, User
from observatory.security.users import (
    SignInLimiter,
    authenticate,
    can,
    can_see_ministry,
    hash_password,
    session_payload,
    user_from_session,
    verify_password,
)
from observatory.workspace import load_workspace

FAST = {"n": 2**10}


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("correct horse battery", **FAST), hash_password("correct horse battery", **FAST)
    assert a != b and a.startswith("scrypt$n=1024,r=8,p=1$")
    assert verify_password("correct horse battery", a)
    assert not verify_password("correct horse batterY", a)
    assert "correct" not in a


def test_verify_rejects_malformed_and_hostile_hashes() -> None:
    for bad in ["", "plain", "scrypt$n=1024$x$y", "pbkdf2$n=1,r=1,p=1$AA==$AA==", "scrypt$n=2097152,r=8,p=1$AA==$AA=="]:
        assert verify_password("anything-long", bad) is False


def _config(**kw) -> Config:
    return Config(users=[User(username="alice", role="cio", password_hash=hash_password("alice-password", **FAST), **kw)])


def test_authenticate_locks_after_repeated_failures() -> None:
    now = [1000.0]
    limiter = SignInLimiter(max_failures=3, lockout_seconds=60, clock=lambda: now[0])
    cfg = _config()
    for _ in range(3):
        assert authenticate(cfg, "alice", "wrong", limiter=limiter, client="1.2.3.4").reason == "bad_credentials"
    locked = authenticate(cfg, "alice", "alice-password", limiter=limiter, client="1.2.3.4")
    assert locked.user is None and locked.reason == "locked" and locked.retry_after > 0
    now[0] += 61
    assert authenticate(cfg, "alice", "alice-password", limiter=limiter, client="1.2.3.4").user.username == "alice"


def test_unknown_user_and_disabled_user_cannot_sign_in() -> None:
    assert authenticate(_config(), "bob", "alice-password").reason == "bad_credentials"
    assert authenticate(_config(disabled=True), "alice", "alice-password").reason == "disabled"


def test_session_ends_when_password_changes_or_user_disabled() -> None:
    cfg = _config()
    payload = session_payload(cfg.users[0])
    assert user_from_session(cfg, payload).username == "alice"
    cfg.users[0].password_hash = hash_password("another-password", **FAST)
    assert user_from_session(cfg, payload) is None
    payload = session_payload(cfg.users[0])
    cfg.users[0].disabled = True
    assert user_from_session(cfg, payload) is None
    assert user_from_session(cfg, {"u": "nobody", "f": "x"}) is None
    assert user_from_session(cfg, None) is None


def test_permissions_per_role() -> None:
    cio = User(username="c", role="cio")
    sec = User(username="s", role="security")
    both = User(username="b", role="cio", roles=["security"])
    mic = User(username="m", role="ministry", ministry="MIC")
    admin = User(username="a", role="admin")
    assert can(cio, "alerts.view") and not can(cio, "alerts.evidence")
    assert can(both, "alerts.evidence") and can(sec, "alerts.triage") and not can(sec, "kpi.all")
    assert can(admin, "audit.view") and not can(cio, "audit.view") and not can(None, "kpi.all")
    assert can_see_ministry(mic, "MIC") and not can_see_ministry(mic, "MHLW") and can_see_ministry(cio, "MHLW")
    assert not can(User(username="d", role="cio", disabled=True), "kpi.all")


def test_users_cli_add_passwd_disable_list(workspace, monkeypatch) -> None:
    runner = CliRunner()
    home = str(workspace.home)
    monkeypatch.setenv("PW", "a-long-password-1")
    r = runner.invoke(cli, ["--home", home, "users", "add", "mic1", "--role", "ministry", "--ministry", "MIC",
                            "--password-env", "PW"])
    assert r.exit_code == 0, r.output
    assert "a-long-password-1" not in r.output
    stored = yaml.safe_load(workspace.config_path.read_text(encoding="utf-8"))
    assert "a-long-password-1" not in workspace.config_path.read_text(encoding="utf-8")
    user = load_workspace(workspace.home).config.user("mic1")
    assert user.ministry == "MIC" and verify_password("a-long-password-1", user.password_hash)
    assert stored["users"][0]["username"] == "mic1"
    # prompt path, typed twice
    r = runner.invoke(cli, ["--home", home, "users", "passwd", "mic1"], input="new-password-22\nnew-password-22\n")
    assert r.exit_code == 0, r.output
    assert "new-password-22" not in r.output
    assert verify_password("new-password-22", load_workspace(workspace.home).config.user("mic1").password_hash)
    r = runner.invoke(cli, ["--home", home, "users", "disable", "mic1"])
    assert r.exit_code == 0 and load_workspace(workspace.home).config.user("mic1").disabled
    r = runner.invoke(cli, ["--home", home, "users", "list"])
    assert "mic1\tministry\tMIC" in r.output and "scrypt" not in r.output


def test_users_cli_refuses_bad_input(workspace, monkeypatch, capsys) -> None:
    from observatory.cli import main

    home = str(workspace.home)
    monkeypatch.setenv("PW", "short")
    for args, expected in [
        (["users", "add", "x", "--role", "ministry", "--password-env", "PW"], "--ministry"),
        (["users", "add", "x", "--role", "ministry", "--ministry", "NOPE", "--password-env", "PW"], "NOPE"),
        (["users", "add", "x", "--role", "cio", "--password-env", "PW"], "at least"),
        (["users", "passwd", "ghost", "--password-env", "PW"], "ghost"),
        # kept in observatory.yaml and shown on every page: never an Individual Number (masked in the message)
        (["users", "add", "199351819090", "--role", "cio", "--password-env", "PW"], "********9090"),
        (["users", "add", "y", "--role", "cio", "--display-name", "山田 5260-1815-9084", "--password-env", "PW"],
         "********9084"),
    ]:
        try:
            main(["--home", home, *args])
        except SystemExit as exc:
            assert exc.code != 0
        else:
            raise AssertionError(f"{args} should fail")
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err and "1993518" not in err and "5260-1815" not in err


def test_user_management_is_audited(workspace, monkeypatch) -> None:
    from observatory.security import audit
    from observatory.warehouse import for_workspace

    runner = CliRunner()
    home = str(workspace.home)
    monkeypatch.setenv("PW", "a-long-password-1")
    assert runner.invoke(cli, ["--home", home, "users", "add", "boss1", "--role", "admin",
                               "--password-env", "PW"]).exit_code == 0
    assert runner.invoke(cli, ["--home", home, "users", "passwd", "boss1", "--password-env", "PW"]).exit_code == 0
    assert runner.invoke(cli, ["--home", home, "users", "disable", "boss1"]).exit_code == 0
    with for_workspace(load_workspace(workspace.home)).connect() as con:
        done = [(e["action"], e["target"]) for e in audit.entries(con) if e["action"].startswith("users.")]
        text = " ".join(str(e) for e in audit.entries(con))
    assert sorted(done) == [("users.add", "boss1"), ("users.disable", "boss1"), ("users.passwd", "boss1")]
    assert "a-long-password-1" not in text
