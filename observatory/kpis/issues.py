"""Validation issues: one problem at one file and line, printed as `file:line: error: message`."""

from __future__ import annotations

import os
import re
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

    def __post_init__(self) -> None:  # a value quoted in a message is shown in part (one id of 8 million
        object.__setattr__(self, "message", _LONG_WORD.sub(_shortened, self.message))  # characters: 104 MB printed)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


MAX_WORD = 120  # characters of one unbroken value shown in a message
_LONG_WORD = re.compile(r"[^\s:'\"]{" + str(MAX_WORD + 1) + ",}")


def _shortened(match: re.Match[str]) -> str:
    word = match.group(0)
    return f"{word[:MAX_WORD - 20]}…({len(word):,} characters)"


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
