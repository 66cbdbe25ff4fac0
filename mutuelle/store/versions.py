"""Parquet versions on disk: staged in the work folder, verified, then moved into place.

Layout: ``STORE/datasets/<dataset id>/v<n>/data.parquet`` and ``.../original/<file name>``.
A version folder is written once and never changed; a failed import removes its own folder
and never touches another.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed
from mutuelle.core.ids import new_id


@dataclass(frozen=True)
class StoredVersion:
    """Where a committed version lives and what it weighs."""

    parquet_path: str      # relative to the store folder
    original_path: str | None
    byte_size: int
    checksum: str
    source_checksum: str
    row_count: int


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def staging_path(settings: Settings, suffix: str = ".parquet") -> Path:
    """A fresh path in the work folder (same file system as the store, so renames are atomic)."""
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    return settings.work_dir / f"stage-{new_id()}{suffix}"


def resolve(settings: Settings, relative: str) -> Path:
    """Absolute path of a stored file, refusing anything outside the store."""
    root = settings.store_dir.resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ImportFailed("path outside the store", where=relative)
    return path


@contextmanager
def dataset_lock(settings: Settings, dataset_id: str) -> Iterator[None]:
    """Serialise imports of one dataset across threads and worker processes."""
    lock_dir = settings.work_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"{dataset_id}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")) or "source"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:200]


def commit_version(
    settings: Settings, dataset_id: str, number: int, staged_parquet: Path,
    source: Path, source_name: str, expected_rows: int,
) -> StoredVersion:
    """Verify a staged Parquet file and move it, with the original file, into a new version folder."""
    try:
        metadata = pq.read_metadata(staged_parquet)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ImportFailed(f"the converted file could not be read back: {exc}") from exc
    if metadata.num_rows != expected_rows:
        raise ImportFailed(f"the converted file holds {metadata.num_rows} rows, {expected_rows} expected")
    final_dir = settings.store_dir / "datasets" / dataset_id / f"v{number}"
    if final_dir.exists():
        raise ImportFailed(f"version {number} already exists", where=str(final_dir))
    tmp_dir = settings.work_dir / f"commit-{new_id()}"
    try:
        (tmp_dir / "original").mkdir(parents=True)
        os.replace(staged_parquet, tmp_dir / "data.parquet")
        original = tmp_dir / "original" / _safe_name(source_name)
        shutil.copyfile(source, original)
        checksum = sha256_of(tmp_dir / "data.parquet")
        source_checksum = sha256_of(original)
        byte_size = (tmp_dir / "data.parquet").stat().st_size
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp_dir, final_dir)  # atomic: the version appears whole or not at all
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    rel = final_dir.relative_to(settings.store_dir)
    return StoredVersion(
        parquet_path=str(rel / "data.parquet"),
        original_path=str(rel / "original" / original.name),
        byte_size=byte_size, checksum=checksum, source_checksum=source_checksum,
        row_count=metadata.num_rows,
    )


def discard_version(settings: Settings, stored: StoredVersion) -> None:
    """Remove a version folder whose catalogue record could not be written."""
    folder = resolve(settings, stored.parquet_path).parent
    shutil.rmtree(folder, ignore_errors=True)
