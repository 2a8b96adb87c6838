"""observatory.bounded.line_problems: the first line over the limit and the first NUL byte, found in one pass that
jumps from window to window; checked against the plain definition, line by line, on many small files read in
blocks small enough that lines, windows and NULs straddle the blocks' edges."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from observatory import bounded


def by_definition(data: bytes, limit: int) -> tuple[tuple[int, int] | None, int | None]:
    """Line by line: the first line (bytes before its newline) over `limit`; else the first line with a NUL."""
    lines = data.split(b"\n")
    for i, line in enumerate(lines, start=1):
        if len(line) > limit:
            return (i, len(line)), None
    return None, next((i for i, line in enumerate(lines, start=1) if b"\x00" in line), None)


@pytest.mark.parametrize("seed", range(4))
def test_the_scan_finds_what_the_definition_finds(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "f.csv"
    found = {"long": 0, "nul": 0, "clean": 0}
    for _ in range(1500):
        limit = rng.randint(1, 30)
        alphabet = b"ab,\n\r" + (b"\x00" if rng.random() < 0.3 else b"a")
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        if rng.random() < 0.5:  # a run without a newline, longer or shorter than the limit
            k = rng.randint(0, len(data))
            data = data[:k] + b"x" * rng.randint(0, 60) + data[k:]
        path.write_bytes(data)
        got = bounded.line_problems(path, limit, chunk=rng.randint(1, 40))
        want = by_definition(data, limit)
        assert got == want, (data, limit)
        found["long" if want[0] else "nul" if want[1] else "clean"] += 1
    assert min(found.values()) > 100  # every kind of file was tried


def test_a_long_last_line_without_a_newline_and_a_nul_on_a_later_line(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n" + b"c,d\n" * 3 + b"x" * 50)
    assert bounded.line_problems(path, limit=40, chunk=7) == ((5, 50), None)
    path.write_bytes(b"a,b\r\n" * 1000 + b"c,\x00d\r\n" + b"e,f\r\n")
    assert bounded.line_problems(path, limit=40, chunk=64) == (None, 1001)
    path.write_bytes(b"")
    assert bounded.line_problems(path) == (None, None)
