"""What every CLI command shares: the selected workspace, opened lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click

from observatory.warehouse import Warehouse, for_workspace
from observatory.workspace import Workspace, load_workspace


@dataclass
class State:
    home: Path
    _ws: Workspace | None = field(default=None, repr=False)

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = load_workspace(self.home)
        return self._ws

    @property
    def warehouse(self) -> Warehouse:
        return for_workspace(self.ws)


pass_state = click.make_pass_decorator(State)
