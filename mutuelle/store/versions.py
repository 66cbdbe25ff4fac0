"""Parquet versions on disk: staged in the work folder, verified, then moved into place.

Layout: ``STORE/datasets/<dataset id>/v<n>/data.parquet`` and ``.../original/<file name>``.
A version folder is built whole in the work folder, synced to disk, then renamed into the store
(atomic) before its catalogue record is written, all under the dataset's lock. So a crash
leaves at worst a folder without a record: an orphan, which ``settle_dataset`` moves to
``STORE/orphans/`` before the next number is chosen. A version folder is never changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from mutuelle.core.clock import now
from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed
from mutuelle.core.ids import new_id
from mutuelle.store.faults import fault_point
from mutuelle.store.work import lock_file, use_work

log = logging.getLogger(__name__)

_VERSION_DIR = re.compile(r"^v([1-9][0-9]{0,8})$")


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
    use_work(settings)
    return settings.work_dir / f"stage-{new_id()}{suffix}"


def resolve(settings: Settings, relative: str) -> Path:
    """Absolute path of a stored file, refusing anything outside the store."""
    root = settings.store_dir.resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ImportFailed("path outside the store", where=relative)
    return path


def datasets_dir(settings: Settings) -> Path:
    """The folder holding one folder of versions per dataset id."""
    return settings.store_dir / "datasets"


def version_numbers(settings: Settings, dataset_id: str) -> set[int]:
    """Numbers of the version folders of a dataset in the store (recorded or not)."""
    try:
        names = [p.name for p in (datasets_dir(settings) / dataset_id).iterdir()]
    except FileNotFoundError:
        return set()
    return {int(m.group(1)) for m in map(_VERSION_DIR.match, names) if m}


@contextmanager
def dataset_lock(settings: Settings, dataset_id: str, *, wait: bool = True) -> Iterator[bool]:
    """Serialise imports of one dataset across threads and worker processes; yields whether
    the lock is held (always, unless ``wait`` is false and another process holds it)."""
    fd = lock_file(settings.work_dir / "locks", f"{dataset_id}.lock")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def settle_dataset(settings: Settings, dataset_id: str, recorded: Collection[int]) -> list[int]:
    """Under the dataset's lock: set aside version folders the catalogue does not record
    (left by an import killed after its folder was placed) and remove the version folders
    half built in the work folder. Returns the numbers set aside."""
    for leftover in settings.work_dir.glob(f"commit-{dataset_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
        log.warning("commit_leftover_removed dataset=%s", dataset_id)
    orphans = sorted(version_numbers(settings, dataset_id) - set(recorded))
    for number in orphans:
        folder = datasets_dir(settings) / dataset_id / f"v{number}"
        target = (settings.store_dir / "orphans" / dataset_id
                  / f"v{number}-{now():%Y%m%dT%H%M%SZ}-{new_id(6)}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(folder, target)
        _sync(folder.parent)
        log.warning("orphan_version_set_aside dataset=%s version=%d moved_to=%s", dataset_id,
                    number, target.relative_to(settings.store_dir))
    return orphans


def _safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")) or "source"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:200]


def _sync(path: Path) -> None:
    """Flush a file, or a folder's entries (a rename into it), to disk: a power cut after the
    catalogue commit must not lose what the record points to."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place_original(settings: Settings, source: Path, dest: Path) -> None:
    """The uploaded file in the version folder: an upload in the work folder is linked (same
    file system, no second copy), any other file copied."""
    if source.resolve().is_relative_to(settings.work_dir.resolve()):
        try:
            os.link(source, dest)
            return
        except OSError:
            pass  # a file system without hard links: copied below
    shutil.copyfile(source, dest)


def commit_version(
    settings: Settings, dataset_id: str, number: int, staged_parquet: Path,
    source: Path, source_name: str, expected_rows: int,
) -> StoredVersion:
    """Verify a staged Parquet file and move it, with the original file, into a new version
    folder (built and synced in the work folder, then renamed into the store). Call under
    ``dataset_lock``, after ``settle_dataset``."""
    try:
        metadata = pq.read_metadata(staged_parquet)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ImportFailed(f"the converted file could not be read back: {exc}") from exc
    if metadata.num_rows != expected_rows:
        raise ImportFailed(f"the converted file holds {metadata.num_rows} rows, {expected_rows} expected")
    final_dir = datasets_dir(settings) / dataset_id / f"v{number}"
    if final_dir.exists():  # settle_dataset moved orphans away: only a caller without the lock
        raise ImportFailed(f"version {number} of this dataset is being written by another import")
    tmp_dir = settings.work_dir / f"commit-{dataset_id}-{new_id()}"
    try:
        (tmp_dir / "original").mkdir(parents=True)
        os.replace(staged_parquet, tmp_dir / "data.parquet")
        fault_point("assembling")
        original = tmp_dir / "original" / _safe_name(source_name)
        _place_original(settings, source, original)
        checksum = sha256_of(tmp_dir / "data.parquet")
        source_checksum = sha256_of(original)
        byte_size = (tmp_dir / "data.parquet").stat().st_size
        for path in (tmp_dir / "data.parquet", original, tmp_dir / "original", tmp_dir):
            _sync(path)
        fault_point("assembled")
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp_dir, final_dir)  # atomic: the version appears whole or not at all
        _sync(final_dir.parent)
        _sync(final_dir.parent.parent)
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
