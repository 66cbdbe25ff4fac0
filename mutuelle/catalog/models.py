"""Catalogue metadata: organisations, datasets, immutable versions and their field dictionary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from mutuelle.core.clock import now
from mutuelle.core.ids import new_id

ORGANISATION_KINDS = ("city", "territory", "partner")
ACCESS_LEVELS = ("public", "internal", "restricted")
#: A draft is seen by its editors only; an editor submits it for review; an organisation admin publishes.
DATASET_STATUSES = ("draft", "submitted", "published")
FREQUENCIES = ("continuous", "daily", "weekly", "monthly", "quarterly", "annual", "irregular", "unknown")


class TextList(TypeDecorator[list[str]]):
    """A JSON list of strings that reads back as one, whatever was stored: a record written
    by an older version or by hand (``[["nested"]]``, ``{"k": 1}``) cannot break the pages
    and APIs that list the catalogue."""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> list[str]:
        if not isinstance(value, list):
            return []
        return [item for item in value if isinstance(item, str)]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Organisation(Base):
    """A city, a territory (EPCI, metropolis) or a partner that publishes data."""

    __tablename__ = "organisation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), default="city")
    siren: Mapped[str | None] = mapped_column(String(9), nullable=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organisation.id"), nullable=True)
    has_portal: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # The look of the organisation's own portal (/o/<slug>): logo URL and two colours (#rrggbb).
    logo_url: Mapped[str] = mapped_column(String(500), default="")
    primary_colour: Mapped[str] = mapped_column(String(7), default="")
    accent_colour: Mapped[str] = mapped_column(String(7), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])
    datasets: Mapped[list[Dataset]] = relationship(back_populates="organisation")


class Dataset(Base):
    """A dataset: stable id and slug, DCAT-like metadata; its data live in versions."""

    __tablename__ = "dataset"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    licence: Mapped[str] = mapped_column(String(200), default="Licence Ouverte 2.0")
    themes: Mapped[list[Any]] = mapped_column(TextList, default=list)
    keywords: Mapped[list[Any]] = mapped_column(TextList, default=list)
    spatial_coverage: Mapped[list[Any]] = mapped_column(TextList, default=list)  # INSEE codes
    frequency: Mapped[str] = mapped_column(String(20), default="unknown")
    #: Who produced the data (free text: INSEE, a survey office...), when it is not the
    #: organisation publishing them; Opendatasoft's ``publisher`` meta.
    producer: Mapped[str] = mapped_column(String(300), default="")
    access: Mapped[str] = mapped_column(String(20), default="public")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_by: Mapped[str] = mapped_column(String(32), default="")   # user id, "" for the CLI

    organisation: Mapped[Organisation] = relationship(back_populates="datasets")
    versions: Mapped[list[Version]] = relationship(
        back_populates="dataset", order_by="Version.number", cascade="all, delete-orphan"
    )


class Version(Base):
    """One immutable upload of a dataset: a Parquet file and what was inferred from it."""

    __tablename__ = "version"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("dataset.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="published")
    parquet_path: Mapped[str] = mapped_column(String(500))   # relative to the store
    original_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    source_name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(20))
    row_count: Mapped[int] = mapped_column(BigInteger)
    byte_size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(64))           # sha256 of the Parquet file
    source_checksum: Mapped[str] = mapped_column(String(64))    # sha256 of the uploaded file
    detected: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")
    fields: Mapped[list[Field]] = relationship(
        back_populates="version", order_by="Field.position", cascade="all, delete-orphan"
    )

    @property
    def schema(self) -> dict[str, str]:
        """Column name -> type, in file order."""
        return {f.name: f.type for f in self.fields}


class Field(Base):
    """The dictionary entry of one column of one version; labels carry over to the next version."""

    __tablename__ = "field"
    __table_args__ = (UniqueConstraint("version_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("version.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(20))
    concept: Mapped[str | None] = mapped_column(String(40), nullable=True)
    label: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(50), default="")
    source_name: Mapped[str | None] = mapped_column(String(300), nullable=True)

    version: Mapped[Version] = relationship(back_populates="fields")
