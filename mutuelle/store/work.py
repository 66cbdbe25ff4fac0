"""The work folder: scratch space that imports of every process of an instance share, and
what a killed import leaves there.

Each process that writes in the work folder holds a shared lock on ``work/locks/work.lock`` for
its lifetime. A process starting alone gets it exclusively and removes every leftover; when
other processes are alive it removes only leftovers older than the setting
``work_leftover_hours``, which no live import can still own.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mutuelle.core.config import Settings

log = logging.getLogger(__name__)

#: Names of what imports write in the work folder while they run: staged Parquet files and
#: uploads (``stage-``, their partial ``.stage-`` files), version folders being built
#: (``commit-``), CSV copies (``csv-``), zip extractions (``unzip-``), spreadsheet sheets
#: (``sheet-``) and Python's temporary folders (``tmp``).
LEFTOVER_PREFIXES = ("stage-", ".stage-", "commit-", "csv-", "unzip-", "sheet-", "tmp")
#: Sub-folders whose own temporary files are leftovers too (DuckDB's spill files; the
#: observatory cache's partial files, which start with a dot).
SPILL_DIR = "duckdb-tmp"
CACHE_DIR = "observatory"
_held: dict[str, int] = {}
_held_lock = threading.Lock()


@dataclass(frozen=True)
class Cleaning:
    """What a clean-up of the work folder did."""

    removed: int
    exclusive: bool   # no other process was using the work folder: everything went


def lock_file(folder: Path, name: str) -> int:
    """An open descriptor on ``folder/name``, for ``flock`` (read-only: works on a read-only store
    once the file exists)."""
    folder.mkdir(parents=True, exist_ok=True)
    return os.open(folder / name, os.O_RDONLY | os.O_CREAT, 0o644)


def _key(settings: Settings) -> str:
    return str(settings.work_dir.absolute())


def use_work(settings: Settings) -> None:
    """Mark this process as a user of the work folder (once; kept for the process lifetime)."""
    key = _key(settings)
    if key in _held:
        return
    with _held_lock:
        if key not in _held:
            fd = lock_file(settings.work_dir / "locks", "work.lock")
            fcntl.flock(fd, fcntl.LOCK_SH)
            _keep(key, fd, settings.work_folders_held)


def clean_work(settings: Settings) -> Cleaning:
    """Remove what killed imports left in the work folder; then hold it like ``use_work``."""
    key = _key(settings)
    # A leftover this old belongs to no live import, so it may go even while others run.
    stale = time.time() - settings.work_leftover_hours * 3600
    if key in _held:  # this process already works here: its own imports may be running
        removed, exclusive = _remove_leftovers(settings.work_dir, stale), False
    else:
        with _held_lock:
            fd = lock_file(settings.work_dir / "locks", "work.lock")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                exclusive = True
            except BlockingIOError:
                exclusive = False
            try:
                removed = _remove_leftovers(settings.work_dir, None if exclusive else stale)
            finally:
                fcntl.flock(fd, fcntl.LOCK_SH)  # from exclusive, or after a starting sibling
                _keep(key, fd, settings.work_folders_held)
    if removed:
        log.warning("work_leftovers_removed count=%d exclusive=%s", removed, exclusive)
    return Cleaning(removed, exclusive)


def _keep(key: str, fd: int, most: int) -> None:
    """Remember a hold (under ``_held_lock``), letting the oldest go past ``most`` holds (a
    process that opens hundreds of work folders must not run out of file descriptors)."""
    _held[key] = fd
    while len(_held) > max(most, 1):
        os.close(_held.pop(next(iter(_held))))


def _leftovers(work: Path) -> list[Path]:
    found = [p for p in _entries(work) if p.name.startswith(LEFTOVER_PREFIXES)]
    found += _entries(work / SPILL_DIR)
    found += [p for p in _entries(work / CACHE_DIR) if p.name.startswith(".")]
    return found


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _remove_leftovers(work: Path, older_than: float | None) -> int:
    """Remove leftovers (all of them, or those last changed before ``older_than``)."""
    removed = 0
    for path in _leftovers(work):
        try:
            if older_than is not None and path.lstat().st_mtime >= older_than:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:  # its import finished meanwhile
            continue
        removed += 1
    return removed

