"""Validation issues: one problem at one file and line, printed as `file:line: error: message`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, order=True)
class Issue:
    """A problem found in a KPI definition file."""

    file: str
    line: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it (as editors expect), else absolute."""
    path = Path(path)
    try:
        return os.path.relpath(path.resolve(), Path.cwd()) if path.resolve().is_relative_to(Path.cwd()) \
            else str(path.resolve())
    except (OSError, ValueError):
        return str(path)


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]
