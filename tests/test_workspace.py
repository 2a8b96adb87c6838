"""Workspace secrets: the pseudonym and archive keys stay the same for the life of a workspace."""

from __future__ import annotations

import pytest

from observatory.config import ConfigError
from observatory.security import sealed
from observatory.workspace import Workspace

KEY = "archive-" + "a" * 40


def test_a_key_set_once_and_then_missing_or_different_is_refused(workspace: Workspace, monkeypatch):
    """Before: the variable missing in the next shell made a new random key, so the next files were sealed (and
    the next people pseudonymised) with a key the earlier runs never used, silently."""
    name = workspace.config.security.archive_key_env
    monkeypatch.setenv(name, KEY)
    assert workspace.secret(name) == KEY
    monkeypatch.delenv(name)
    with pytest.raises(ConfigError, match=f"{name} が設定されていません / {name} is not set"):
        workspace.secret(name)
    assert not (workspace.secrets_dir / name).exists()  # no new key was made
    monkeypatch.setenv(name, "another-" + "b" * 40)
    with pytest.raises(ConfigError, match=f"{name} is not the key this workspace has used"):
        sealed.workspace_key(workspace)
    monkeypatch.setenv(name, KEY)
    assert workspace.secret(name) == KEY


def test_the_demo_fallback_key_is_kept_and_a_different_variable_refused(workspace: Workspace, monkeypatch):
    name = workspace.config.security.pseudonym_key_env
    monkeypatch.delenv(name, raising=False)
    made = workspace.secret(name)
    assert workspace.secret(name) == made == (workspace.secrets_dir / name).read_text(encoding="utf-8")
    monkeypatch.setenv(name, "pseudonym-" + "p" * 40)
    with pytest.raises(ConfigError, match="is not the key this workspace has used"):
        workspace.secret(name)
    monkeypatch.setenv(name, made)
    assert workspace.secret(name) == made


def test_the_session_secret_may_change(workspace: Workspace, monkeypatch):
    """Another session secret only signs everybody out: no fingerprint, no refusal."""
    name = workspace.config.security.session_secret_env
    monkeypatch.setenv(name, "s" * 40)
    assert workspace.secret(name) == "s" * 40
    monkeypatch.setenv(name, "t" * 40)
    assert workspace.secret(name) == "t" * 40
    assert not (workspace.secrets_dir / f"{name}.fingerprint").exists()
