"""The one encoding detection for text files (collectors and submissions alike).

A byte-order mark decides (UTF-8 BOM, UTF-16 LE/BE: Excel's "Unicode text"); otherwise the whole file must decode
as UTF-8, else as Shift_JIS with Microsoft's extensions (CP932, what Japanese Excel writes). The file is read in
chunks through an incremental decoder, so detection costs no more memory than one chunk.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

CHUNK = 1 << 20
Opener = Callable[[], IO[bytes]]
LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM)", "cp932": "Shift_JIS (CP932)", "utf-16": "UTF-16"}
_ALIASES = {"shift-jis": "cp932", "shift_jis": "cp932", "sjis": "cp932", "shiftjis": "cp932", "ms932": "cp932",
            "windows-31j": "cp932", "utf8": "utf-8", "utf-8-bom": "utf-8-sig", "utf16": "utf-16"}


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Why no encoding fits: the first byte (0-based offset) and 1-based line that the likeliest one cannot read."""

    offset: int
    line: int

    def reason(self) -> tuple[str, str]:
        """(English, Japanese) reason naming the byte."""
        return (f"text is neither UTF-8, UTF-16 nor Shift_JIS (CP932) (first bad byte {self.offset})",
                f"文字コードが UTF-8・UTF-16・Shift_JIS（CP932）のいずれでもありません（{self.offset} バイト目）")


def canonical(name: str) -> str:
    """A declared encoding under the name detection uses (Shift_JIS is read as CP932, its superset)."""
    key = name.strip().lower()
    return _ALIASES.get(key, _ALIASES.get(key.replace("_", "-"), key))


def candidates(head: bytes) -> list[str]:
    """The encodings worth trying, in order, for a file starting with `head` (at least 3 bytes when there are)."""
    if head.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ["utf-16"]
    return ["utf-8", "cp932"]


def check(open_bytes: Opener, encoding: str) -> Undecodable | None:
    """None when the whole file decodes strictly as `encoding`, else where it first fails."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    lines = 1
    with open_bytes() as fh:
        while chunk := fh.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = max(0, exc.start)
                return Undecodable(offset + at, lines + chunk.count(b"\n", 0, at))
            offset += len(chunk)
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return Undecodable(offset, lines)
    return None


def detect(open_bytes: Opener) -> str | Undecodable:
    """The encoding of a text file ('utf-8-sig', 'utf-16', 'utf-8' or 'cp932'), or where the likeliest fails."""
    with open_bytes() as fh:
        head = fh.read(4)
    furthest: Undecodable | None = None  # the likeliest encoding is the one that reads furthest into the file
    for enc in candidates(head):
        problem = check(open_bytes, enc)
        if problem is None:
            return enc
        if furthest is None or problem.offset > furthest.offset:
            furthest = problem
    assert furthest is not None
    return furthest


def label(encoding: str | None) -> str | None:
    """How reports name an encoding: UTF-8, UTF-8 (BOM), Shift_JIS (CP932), UTF-16."""
    return LABELS.get(encoding or "", encoding)
