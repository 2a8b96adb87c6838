"""Fixtures for collector tests: a real threaded HTTP server on 127.0.0.1, file writers in every format."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from observatory.warehouse import for_workspace
from observatory.workspace import Workspace, init_workspace, load_workspace

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "collectors"


@pytest.fixture(scope="session")
def _template_home(tmp_path_factory) -> Path:
    """One initialised workspace per session; loading reference data takes seconds on a busy machine."""
    home = tmp_path_factory.mktemp("template") / "ws"
    init_workspace(home)
    return home


@pytest.fixture
def workspace(_template_home: Path, tmp_path: Path) -> Workspace:
    """A fresh copy of the initialised workspace (schema + reference data, real DuckDB file) for each test."""
    import shutil

    home = tmp_path / "ws"
    shutil.copytree(_template_home, home, ignore=shutil.ignore_patterns("*.lock", "*.wal"))
    return load_workspace(home)


@dataclass
class Reply:
    """One scripted answer: status, body, headers; `declared_length` lies about Content-Length (-1: none, the body
    ends when the connection closes); `delay_s` stalls; `trickle_s` sends the body a byte at a time, pausing."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None
    delay_s: float = 0.0
    trickle_s: float = 0.0


@dataclass
class Server:
    """Scripted replies per path (the last one repeats) and the requests received."""

    base: str
    routes: dict[str, list[Reply]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


@pytest.fixture
def http_server() -> Iterator[Server]:
    """A ThreadingHTTPServer on an ephemeral loopback port serving scripted replies."""
    state = Server(base="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            state.requests.append((self.path, dict(self.headers.items())))
            queue = state.routes.get(self.path)
            if not queue:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
            if reply.delay_s:
                time.sleep(reply.delay_s)
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            length = reply.declared_length if reply.declared_length is not None else len(reply.body)
            if length >= 0:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                for piece in ([reply.body[i:i + 1] for i in range(len(reply.body))] if reply.trickle_s
                              else [reply.body]):
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(reply.trickle_s)
            except (BrokenPipeError, ConnectionResetError):
                pass
            if reply.declared_length is not None:
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    """CSV text of rows in an encoding ('utf-8', 'utf-8-sig', 'cp932'), CRLF like Excel writes it."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], sheet: str = "Sheet1", extra_sheets: tuple[str, ...] = ()) -> bytes:
    """An XLSX workbook with `rows` on `sheet` (other sheets first, to test sheet selection)."""
    book = openpyxl.Workbook()
    first = book.active
    first.title = extra_sheets[0] if extra_sheets else sheet
    for name in extra_sheets[1:]:
        book.create_sheet(name)
    target = book[sheet] if sheet in book.sheetnames else book.create_sheet(sheet)
    if extra_sheets:
        first.append(["注記", "このシートは説明です"])
    for r in rows:
        target.append(r)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def json_bytes(rows: list[list[Any]], wrapped: bool = False) -> bytes:
    """JSON records from a header row and data rows: a list, or {"rows": [...]}."""
    header, *data = rows
    records = [dict(zip(header, r, strict=True)) for r in data]
    return json.dumps({"rows": records} if wrapped else records, ensure_ascii=False).encode("utf-8")


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def query(ws: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the workspace warehouse."""
    with for_workspace(ws).connect() as con:
        return con.execute(sql, params or []).fetchall()


def run_row(ws: Workspace, run_id: int) -> dict[str, Any]:
    """The collector_runs row of a run as a dict."""
    with for_workspace(ws).connect() as con:
        cur = con.execute("SELECT * FROM collector_runs WHERE run_id = ?", [run_id])
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchall()[0], strict=True))


def ingest_killed_after_publish(home: Path, src: Path) -> int:
    """An access-log ingest of `src` into the workspace at `home`, in a subprocess killed (SIGKILL) right after its
    events were renamed into the archive and before its run was recorded; returns its exit code (-9)."""
    import subprocess
    import sys
    import textwrap

    return subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import collectors
        from observatory import events
        from observatory.workspace import load_workspace
        original = events.publish
        def publish_then_die(*args):
            original(*args)
            os.kill(os.getpid(), signal.SIGKILL)
        events.publish = publish_then_die
        collectors.ingest_files(load_workspace(Path({str(home)!r})), "access-log", [Path({str(src)!r})])
    """)], cwd=Path(__file__).resolve().parents[2]).returncode
