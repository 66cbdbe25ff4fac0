"""Import a file as a new version of a dataset: read, stage, verify, publish atomically.

A failure at any step leaves the dataset's previous versions, and the catalogue, as they were.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutuelle.catalog.models import Dataset, Field, Version
from mutuelle.catalog.repository import latest_version
from mutuelle.core.clock import now
from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, InvalidInput
from mutuelle.ingest.model import COLUMN_TYPES, ImportOptions, Progress, StagedTable
from mutuelle.ingest.reader import read_file
from mutuelle.store.versions import (
    commit_version,
    dataset_lock,
    discard_version,
    staging_path,
)

log = logging.getLogger(__name__)


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


def import_file(
    session: Session, settings: Settings, dataset: Dataset, source: Path, *,
    source_name: str | None = None, options: ImportOptions | None = None,
    publish: bool = True, author: str = "", progress: Progress | None = None,
) -> Version:
    """Read ``source`` into a new immutable version of ``dataset`` and commit it to the catalogue."""
    options = options or ImportOptions()
    _check_options(options)
    source_name = source_name or source.name
    staged_path = staging_path(settings)
    staged = read_file(source, source_name, staged_path, settings, options, progress)
    with dataset_lock(settings, dataset.id):
        session.refresh(dataset)
        number = (session.scalar(
            select(func.max(Version.number)).where(Version.dataset_id == dataset.id)) or 0) + 1
        try:
            stored = commit_version(settings, dataset.id, number, staged.parquet_path, source,
                                    source_name, staged.row_count)
        except BaseException:
            staged.parquet_path.unlink(missing_ok=True)
            raise
        previous = latest_version(dataset, published_only=False)
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
        try:
            session.add(version)
            session.commit()
        except BaseException:
            session.rollback()
            discard_version(settings, stored)
            raise
    log.info("import dataset=%s version=%s rows=%s format=%s", dataset.slug, number,
             stored.row_count, staged.format)
    return version


def publish_version(session: Session, version: Version) -> Version:
    """Make a draft version the one readers see."""
    if version.status == "published":
        raise ImportFailed(f"version {version.number} is already published")
    version.status = "published"
    version.published_at = now()
    session.commit()
    return version
