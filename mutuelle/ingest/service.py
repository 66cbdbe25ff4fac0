"""Import a file as a new version of a dataset: read, stage, verify, publish atomically.

The commit protocol, whose steps are named in ``store.faults.COMMIT_STEPS``:
1. read the file into a staged Parquet file in the work folder (no lock held);
2. under the dataset's lock, set aside version folders the catalogue does not record and
   choose the next number;
3. build the version folder in the work folder, sync it, rename it into the store;
4. record the version (and a new dataset, on its first import) in one catalogue transaction.

A failure at any step leaves the dataset's previous versions, and the catalogue, as they were,
and removes what the import wrote; a crash leaves at worst files that ``recover_imports`` (at
start) or the dataset's next import set aside or remove.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset, Field, Version
from mutuelle.core.clock import now
from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, InvalidInput
from mutuelle.core.ids import new_id
from mutuelle.ingest.model import COLUMN_TYPES, ImportOptions, Progress, StagedTable
from mutuelle.ingest.reader import read_file
from mutuelle.store.faults import fault_point
from mutuelle.store.recovery import RecordedVersion, Recovery, recover_store
from mutuelle.store.resources import resource_error
from mutuelle.store.versions import (
    StoredVersion,
    commit_version,
    dataset_lock,
    discard_version,
    settle_dataset,
    staging_path,
    version_numbers,
)

log = logging.getLogger(__name__)

#: Called as ``hook(settings, version)`` after each committed import (the app registers the
#: writing of the version's first page of records; the API is above this layer).
_COMMITTED: list[Callable[[Settings, Version], None]] = []


def after_commit(hook: Callable[[Settings, Version], None]) -> None:
    """Call ``hook(settings, version)`` after every import from now on (once, however often it
    is registered); its failure is logged and leaves the committed version alone."""
    if hook not in _COMMITTED:
        _COMMITTED.append(hook)


def _check_options(options: ImportOptions) -> None:
    for name, kind in options.types.items():
        if kind not in COLUMN_TYPES:
            raise InvalidInput(
                f"unknown type {kind!r} for column {name!r}: one of {', '.join(COLUMN_TYPES)}"
            )


def _carry_over_dictionary(previous: Version | None, staged: StagedTable) -> list[Field]:
    """Fields of the new version, keeping labels, descriptions and units of columns that remain."""
    old = {f.name: f for f in previous.fields} if previous else {}
    fields = []
    for position, column in enumerate(staged.columns):
        before = old.get(column.name)
        fields.append(Field(
            position=position, name=column.name, type=column.type, concept=column.concept,
            source_name=column.source_name,
            label=before.label if before else (column.source_name or column.name),
            description=before.description if before else "",
            unit=before.unit if before else "",
        ))
    return fields


def _watched(progress: Progress | None) -> Progress:
    """The caller's progress callback, with the ``read`` fault point in the middle of reading."""

    def report(done: int, total: int) -> None:
        if 0 < done < total:
            fault_point("read")
        if progress is not None:
            progress(done, total)

    return report


def import_file(
    session: Session, settings: Settings, dataset: Dataset, source: Path, *,
    source_name: str | None = None, options: ImportOptions | None = None,
    publish: bool = True, author: str = "", progress: Progress | None = None,
) -> Version:
    """Read ``source`` into a new immutable version of ``dataset`` and commit it to the catalogue.

    ``dataset`` may be new (``repository.new_dataset``, not saved yet): it is then saved with its
    first version in one transaction, so a failed first import leaves no dataset behind. A full
    disk, a read-only store or a lack of memory raise ``ResourceError`` (nothing was changed)."""
    options = options or ImportOptions()
    _check_options(options)
    source_name = source_name or source.name
    staged_path = staging_path(settings)
    try:
        staged = read_file(source, source_name, staged_path, settings, options, _watched(progress))
        fault_point("staged")
        version = _commit(session, settings, dataset, staged, source, source_name,
                          publish=publish, author=author)
    except Exception as exc:
        problem = resource_error(exc, settings, path=settings.work_dir, context=(
            f"while importing {source_name!r}; nothing was changed"))
        if problem is not None and problem is not exc:
            raise problem from exc
        raise
    finally:
        staged_path.unlink(missing_ok=True)
    log.info("import dataset=%s version=%s rows=%s format=%s", dataset.slug, version.number,
             version.row_count, version.format)
    for hook in list(_COMMITTED):
        try:
            hook(settings, version)
        except Exception:  # the version is committed: an answer not kept in advance is no failure
            log.exception("after_commit_failed dataset=%s version=%s", dataset.slug, version.number)
    return version


def _commit(session: Session, settings: Settings, dataset: Dataset, staged: StagedTable,
            source: Path, source_name: str, *, publish: bool, author: str) -> Version:
    """Steps 2 to 4 of the protocol, under the dataset's lock."""
    is_new = inspect(dataset).transient
    if is_new and dataset.id is None:
        dataset.id = new_id()  # its folder and its lock are named after it before it is saved
    with dataset_lock(settings, dataset.id):
        if not is_new:
            session.refresh(dataset)
        with session.no_autoflush:  # a new dataset is saved with its version, not before
            recorded = set(session.scalars(
                select(Version.number).where(Version.dataset_id == dataset.id)))
        settle_dataset(settings, dataset.id, recorded)
        number = max(recorded | version_numbers(settings, dataset.id), default=0) + 1
        stored = commit_version(settings, dataset.id, number, staged.parquet_path, source,
                                source_name, staged.row_count)
        try:
            fault_point("placed")
            version = _record(session, dataset, number, stored, staged, source_name,
                              publish=publish, author=author, is_new=is_new)
        except BaseException as exc:
            session.rollback()
            discard_version(settings, stored)
            if is_new and isinstance(exc, IntegrityError):
                raise InvalidInput(f"a dataset {dataset.slug!r} already exists") from exc
            raise
        fault_point("recorded")
    return version


def _record(session: Session, dataset: Dataset, number: int, stored: StoredVersion,
            staged: StagedTable, source_name: str, *, publish: bool, author: str,
            is_new: bool) -> Version:
    """The version's catalogue record (with its dataset on a first import), committed."""
    previous = None if is_new else repo.latest_version(dataset, published_only=False)
    version = Version(
        dataset=dataset, number=number, status="published" if publish else "draft",
        parquet_path=stored.parquet_path, original_path=stored.original_path,
        source_name=source_name, format=staged.format, row_count=stored.row_count,
        byte_size=stored.byte_size, checksum=stored.checksum,
        source_checksum=stored.source_checksum, detected=dict(staged.detected),
        warnings=list(staged.warnings), created_by=author,
        published_at=now() if publish else None,
        fields=_carry_over_dictionary(previous, staged),
    )
    if is_new:
        session.add(dataset)
    session.add(version)
    session.commit()
    return version


def publish_version(session: Session, version: Version) -> Version:
    """Make a draft version the one readers see."""
    if version.status == "published":
        raise ImportFailed(f"version {version.number} is already published")
    version.status = "published"
    version.published_at = now()
    session.commit()
    return version


def recover_imports(settings: Settings, sessions: Callable[[], Session]) -> Recovery:
    """After a crash, bring the store back into agreement with the catalogue (called at start by
    the app and the command line; safe while other workers run)."""

    def recorded(dataset_ids: Collection[str] | None) -> dict[str, list[RecordedVersion]]:
        with sessions() as session:
            found = repo.recorded_versions(session, dataset_ids)
        return {i: [RecordedVersion(*v) for v in versions] for i, versions in found.items()}

    return recover_store(settings, recorded)
