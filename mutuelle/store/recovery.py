"""Recovery at start: after a crash (kill -9, power cut, OOM killer), bring the store back into
agreement with the catalogue, so that no import is ever blocked by what a dead one left.

- the work folder's leftovers are removed (``store.work``);
- a version folder the catalogue does not record (the import died between placing it and
  recording it) is moved to ``STORE/orphans/<dataset id>/`` and logged;
- a recorded version whose Parquet file is missing or has another size is logged as damaged
  (its record stays: restoring the file from a backup repairs it).

Each dataset is settled under its import lock, so several workers sharing the store may
recover at once, and a dataset being imported right now is left alone. Checksums are not
recomputed (that would read the whole store at every start): a version is only recorded once
its folder is whole and synced to disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed
from mutuelle.store.resources import RESOURCE_EXCEPTIONS, resource_error
from mutuelle.store.versions import (
    dataset_lock,
    datasets_dir,
    resolve,
    settle_dataset,
    version_numbers,
)
from mutuelle.store.work import clean_work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedVersion:
    """What the catalogue says of one version, as recovery needs it."""

    number: int
    parquet_path: str   # relative to the store
    byte_size: int


#: The catalogue as recovery sees it: for the given dataset ids (every dataset when None), the
#: versions recorded for each dataset that exists; a dataset missing from the answer does not.
Recorded = Callable[[Collection[str] | None], Mapping[str, Collection[RecordedVersion]]]


@dataclass
class Recovery:
    """What a recovery found and did."""

    work_removed: int = 0
    set_aside: list[str] = field(default_factory=list)   # "<dataset id> v<n>"
    damaged: list[str] = field(default_factory=list)     # "<dataset id> v<n>: why"
    busy: list[str] = field(default_factory=list)        # datasets being imported: left alone
    incomplete: str = ""                                 # why recovery had to stop, if it did


def recover_store(settings: Settings, recorded: Recorded) -> Recovery:
    """Clean the work folder and settle every dataset folder against the catalogue."""
    report = Recovery()
    try:
        report.work_removed = clean_work(settings).removed
        snapshot = recorded(None)
        for folder in _dataset_folders(settings):
            _settle(settings, folder, snapshot, recorded, report)
        for dataset_id, versions in snapshot.items():
            _check_files(settings, dataset_id, versions, report)
    except RESOURCE_EXCEPTIONS as exc:
        problem = resource_error(exc, settings)
        if problem is None:
            raise
        # A read-only or full store still serves readers: start, and say why recovery stopped.
        report.incomplete = problem.message
        log.error("store_recovery_incomplete reason=%r", problem.message)
    log.info("store_recovered work_removed=%d set_aside=%d damaged=%d busy=%d",
             report.work_removed, len(report.set_aside), len(report.damaged), len(report.busy))
    return report


def _dataset_folders(settings: Settings) -> list[str]:
    try:
        return sorted(p.name for p in datasets_dir(settings).iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


def _settle(settings: Settings, dataset_id: str,
            snapshot: Mapping[str, Collection[RecordedVersion]], recorded: Recorded,
            report: Recovery) -> None:
    """Set aside this dataset's unrecorded folders, if the snapshot suggests there are any."""
    on_disk = version_numbers(settings, dataset_id)
    known = {v.number for v in snapshot.get(dataset_id, ())}
    if dataset_id in snapshot and on_disk <= known:
        return
    with dataset_lock(settings, dataset_id, wait=False) as held:
        if not held:
            report.busy.append(dataset_id)
            log.info("store_recovery_skipped dataset=%s reason=importing", dataset_id)
            return
        # Read again under the lock: an import may have recorded its version since the snapshot.
        fresh = recorded([dataset_id]).get(dataset_id)
        numbers = {v.number for v in fresh or ()}
        report.set_aside += [f"{dataset_id} v{n}" for n in settle_dataset(settings, dataset_id, numbers)]
        folder = datasets_dir(settings) / dataset_id
        if fresh is None and not any(folder.iterdir()):
            folder.rmdir()  # a first import that died: no dataset, no folder


def _check_files(settings: Settings, dataset_id: str, versions: Collection[RecordedVersion],
                 report: Recovery) -> None:
    for version in versions:
        try:
            path = resolve(settings, version.parquet_path)
        except ImportFailed:
            problem = "recorded outside the store"
        else:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                problem = "missing"
            else:
                if size == version.byte_size:
                    continue
                problem = f"size {size} instead of {version.byte_size}"
        report.damaged.append(f"{dataset_id} v{version.number}: {problem}")
        log.error("store_version_damaged dataset=%s version=%d problem=%r", dataset_id,
                  version.number, problem)
