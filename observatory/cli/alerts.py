"""CLI commands: alerts (placeholder until its issue lands)."""

from __future__ import annotations

COMMANDS: list = []
