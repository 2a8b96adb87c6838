"""Sealed files (AES-GCM in chunks): round trip of any size, streamed; tampering, truncation and a wrong key fail."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observatory.security import sealed

KEY = sealed.key_from_secret("test-key")


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.sampled_from([1, 7, 64, 4096]))
def test_round_trip_any_size_and_chunking(data: bytes, chunk: int) -> None:
    import tempfile

    old = sealed.CHUNK
    sealed.CHUNK = chunk
    try:
        blob = sealed.seal_bytes(data, KEY)
        assert blob.startswith(sealed.MAGIC) and (data not in blob[len(sealed.MAGIC):] or len(data) < 8)
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "f"
            p.write_bytes(blob)
            assert sealed.read_plain(p, KEY) == data
    finally:
        sealed.CHUNK = old


def _sealed_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    src = tmp_path / "plain"
    src.write_bytes(data)
    dst = tmp_path / "sealed"
    sealed.seal_file(src, dst, KEY)
    return dst, data


def test_large_file_streams_and_reads_back(tmp_path: Path) -> None:
    dst, data = _sealed_file(tmp_path, 3 * sealed.CHUNK + 123)
    with sealed.open_plain(dst, KEY) as fh:
        parts = []
        while chunk := fh.read(100_000):
            parts.append(chunk)
    assert b"".join(parts) == data
    with sealed.plaintext_copy(dst, KEY, tmp_path / "work") as plain:
        assert plain.read_bytes() == data and oct(plain.stat().st_mode)[-3:] == "600"
    assert not plain.exists()


@pytest.mark.parametrize("reader", ["read_plain", "plaintext_copy"])
@pytest.mark.parametrize("damage", ["flip", "truncate_chunk", "drop_last_chunk", "wrong_key"])
def test_damage_is_refused(tmp_path: Path, damage: str, reader: str) -> None:
    """By either reader (the loaders read the decrypted copy, the others the stream); the copy is not left."""
    dst, _ = _sealed_file(tmp_path, 2 * sealed.CHUNK + 10)
    blob = bytearray(dst.read_bytes())
    key = KEY
    if damage == "flip":
        blob[len(sealed.MAGIC) + 8 + 4 + 100] ^= 1
    elif damage == "truncate_chunk":
        blob = blob[:-5]
    elif damage == "drop_last_chunk":
        blob = blob[: len(blob) - (4 + 10 + 16)]
    else:
        key = sealed.key_from_secret("another")
    dst.write_bytes(bytes(blob))
    with pytest.raises(sealed.SealError):
        if reader == "read_plain":
            sealed.read_plain(dst, key)
        else:
            with sealed.plaintext_copy(dst, key, tmp_path / "work"):
                pass
    assert reader == "read_plain" or not list((tmp_path / "work").iterdir())


def test_files_from_before_encryption_read_as_they_are(tmp_path: Path) -> None:
    p = tmp_path / "old.csv"
    p.write_bytes(b"a,b\n1,2\n")
    assert sealed.read_plain(p, KEY) == b"a,b\n1,2\n" and not sealed.is_sealed(p)
    with sealed.plaintext_copy(p, KEY, tmp_path / "w") as plain:
        assert plain == p
    assert io.BytesIO(sealed.seal_bytes(b"", KEY)).read().startswith(sealed.MAGIC)
