"""Run the dashboards under waitress on a free 127.0.0.1 port in a background thread (tests, benchmark)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dashboards.app import make_server
from observatory.workspace import Workspace


@contextmanager
def running(ws: Workspace, threads: int = 8) -> Iterator[str]:
    """Yield the base URL of a live server; stop it afterwards."""
    server = make_server(ws, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)
