"""Files encrypted at rest (the raw archive, failed drop files): AES-256-GCM in 1 MiB chunks, streamed.

Layout: MAGIC, an 8-byte random file prefix, then chunks of [4-byte big-endian length][ciphertext + 16-byte tag].
Chunk n is sealed with nonce = prefix + n (4 bytes) and associated data MAGIC + n + final flag, so chunks cannot be
reordered, dropped or the file cut short without the tag failing. Reading and writing keep one chunk in memory.
Files without MAGIC (written before encryption existed) read as they are, so old workspaces keep working until
`observatory archive prune` seals them.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from observatory.errors import UserError

MAGIC = b"OBSERVATORY-SEALED-1\n"
CHUNK = 1 << 20
_LEN = struct.Struct(">I")


class SealError(UserError):
    """A sealed file that does not open with this key, or was altered or cut short."""


def key_from_secret(secret: str) -> bytes:
    """The 256-bit AES key of a secret (any text from the environment or the workspace's .secrets/)."""
    return hashlib.sha256(b"observatory-archive-key-v1\0" + secret.encode("utf-8")).digest()


def workspace_key(ws) -> bytes:
    """The archive key of a workspace: $OBSERVATORY_ARCHIVE_KEY, else a random one kept in .secrets/ (0600)."""
    return key_from_secret(ws.secret(ws.config.security.archive_key_env))


def _aad(n: int, final: bool) -> bytes:
    return MAGIC + n.to_bytes(4, "big") + (b"F" if final else b"M")


def seal_stream(src: BinaryIO, dst: BinaryIO, key: bytes, on_plain=None) -> int:
    """Encrypt `src` into `dst` chunk by chunk; `on_plain(chunk)` sees the plaintext (to hash it). Returns the
    plaintext size."""
    from cryptography.hazmat.primitives.ciphers.aead import (
        AESGCM,  # here: cryptography is loaded only when a file is sealed or opened
    )

    aes = AESGCM(key)
    prefix = os.urandom(8)
    dst.write(MAGIC + prefix)
    size = 0
    n = 0
    chunk = src.read(CHUNK)
    while True:
        following = src.read(CHUNK) if chunk else b""
        final = not following
        if on_plain is not None and chunk:
            on_plain(chunk)
        size += len(chunk)
        sealed = aes.encrypt(prefix + n.to_bytes(4, "big"), chunk, _aad(n, final))
        dst.write(_LEN.pack(len(sealed)) + sealed)
        if final:
            return size
        n += 1
        chunk = following


def seal_bytes(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    seal_stream(io.BytesIO(data), out, key)
    return out.getvalue()


def is_sealed(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def _chunks(fh: BinaryIO, key: bytes, name: str) -> Iterator[bytes]:
    from cryptography.exceptions import (
        InvalidTag,  # here: cryptography is loaded only when a file is sealed or opened
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes = AESGCM(key)
    prefix = fh.read(8)
    n = 0
    while True:
        head = fh.read(4)
        if len(head) < 4:
            raise SealError(f"{name}: sealed file cut short / 暗号化ファイルが途中で切れています")
        (length,) = _LEN.unpack(head)
        if length > CHUNK + 16:
            raise SealError(f"{name}: sealed file damaged / 暗号化ファイルが壊れています")
        body = fh.read(length)
        final = fh.peek(1)[:1] == b"" if hasattr(fh, "peek") else None
        try:
            plain = aes.decrypt(prefix + n.to_bytes(4, "big"), body, _aad(n, bool(final)))
        except InvalidTag:
            raise SealError(f"{name}: cannot decrypt (wrong OBSERVATORY_ARCHIVE_KEY, or the file was altered) / "
                            "復号できません（鍵が違うか改ざんされています）") from None
        yield plain
        if final:
            return
        n += 1


class _Reader(io.RawIOBase):
    def __init__(self, fh: BinaryIO, key: bytes, name: str) -> None:
        self._fh = fh
        self._it = _chunks(fh, key, name)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_plain(path: Path, key: bytes) -> BinaryIO:
    """A binary stream of the plaintext of `path` (sealed or, for files from before encryption, plain)."""
    fh = open(path, "rb")  # noqa: SIM115 - handed to the reader, closed with it
    if fh.read(len(MAGIC)) != MAGIC:
        fh.seek(0)
        return fh
    return io.BufferedReader(_Reader(io.BufferedReader(fh), key, path.name), CHUNK)


def read_plain(path: Path, key: bytes) -> bytes:
    with open_plain(path, key) as fh:
        return fh.read()


def seal_file(src: Path, dst: Path, key: bytes) -> int:
    """Write a sealed copy of `src` at `dst` (atomically); returns the plaintext size."""
    tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        os.chmod(tmp, 0o600)
        size = seal_stream(fin, fout, key)
    os.replace(tmp, dst)
    return size


def sweep(workdir: Path) -> list[Path]:
    """Remove plaintext copies left by a process that was killed while it loaded (plain-<pid>-*)."""
    removed = []
    for f in workdir.glob("plain-*"):
        try:
            pid = int(f.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            f.unlink(missing_ok=True)
            removed.append(f)
    return removed


@contextmanager
def plaintext_copy(path: Path, key: bytes, workdir: Path, suffix: str = "") -> Iterator[Path]:
    """A decrypted temporary copy of `path` (0600, in `workdir`) for readers that need a file name (DuckDB's
    read_csv); removed on exit. A plain (old) file is used as it is."""
    if not is_sealed(path):
        yield path
        return
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    sweep(workdir)
    out = workdir / f"plain-{os.getpid()}-{os.urandom(4).hex()}{suffix}"
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(path, "rb") as fh, os.fdopen(fd, "wb") as dst:
            fh.seek(len(MAGIC))
            for chunk in _chunks(fh, key, path.name):  # decrypted chunks written as they come (no stream between)
                dst.write(chunk)
        yield out
    finally:
        out.unlink(missing_ok=True)
