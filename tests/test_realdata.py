"""The shipped real publications are byte-identical to what was published (MANIFEST.csv) and documented."""

from __future__ import annotations

import csv
import gzip
import hashlib

from observatory.config import shipped_realdata_dir

REALDATA = shipped_realdata_dir()


def _manifest() -> list[dict[str, str]]:
    with open(REALDATA / "MANIFEST.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_shipped_file_is_in_the_manifest_and_decompresses_to_the_published_bytes() -> None:
    manifest = _manifest()
    shipped = sorted(str(p.relative_to(REALDATA)) for p in REALDATA.rglob("*.gz"))
    assert shipped == sorted(r["path"] for r in manifest)
    for row in manifest:
        data = gzip.decompress((REALDATA / row["path"]).read_bytes())
        assert len(data) == int(row["bytes"]), row["path"]
        assert hashlib.sha256(data).hexdigest() == row["sha256_decompressed"], row["path"]


def test_every_folder_has_its_provenance() -> None:
    text = (REALDATA / "PROVENANCE.md").read_text(encoding="utf-8")
    for folder in {r["path"].split("/")[0] for r in _manifest()}:
        assert f"## {folder}/" in text, folder
    assert "Licence" in text or "licence" in text
