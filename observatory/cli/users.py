"""CLI commands: users (placeholder until its issue lands)."""

from __future__ import annotations

COMMANDS: list = []
