"""Catalogue models of the observatory: territories (the referential), indicators, scenarios.

Geometries are not here: they live in Parquet files per vintage and level
(``STORE/referential/<vintage>/<level>.parquet``) where DuckDB spatial reads them.
*Millésime* (vintage) is the year of the geography a code belongs to (codes change when
communes merge).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutuelle.catalog.models import Base, Dataset
from mutuelle.core.clock import now
from mutuelle.core.ids import new_id

LEVELS = ("iris", "commune", "epci", "departement", "region", "qpv", "territoire")


class Territory(Base):
    """One territory of one vintage: code, name, level and its parents up the hierarchy."""

    __tablename__ = "territory"
    __table_args__ = (
        UniqueConstraint("vintage", "level", "code"),
        Index("ix_territory_level_vintage", "level", "vintage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vintage: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(300))
    name_folded: Mapped[str] = mapped_column(String(300), index=True, default="")  # for search
    parent_code: Mapped[str | None] = mapped_column(String(20), nullable=True)   # direct parent
    commune: Mapped[str | None] = mapped_column(String(10), nullable=True)
    epci: Mapped[str | None] = mapped_column(String(12), nullable=True)
    departement: Mapped[str | None] = mapped_column(String(5), nullable=True)
    region: Mapped[str | None] = mapped_column(String(5), nullable=True)
    population: Mapped[float | None] = mapped_column(Float, nullable=True)
    kind: Mapped[str | None] = mapped_column(String(10), nullable=True)  # TYP_IRIS: H, A, D, Z
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TerritoryPassage(Base):
    """A code of one vintage mapped to a code of another (merged or split communes)."""

    __tablename__ = "territory_passage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    level: Mapped[str] = mapped_column(String(20))
    from_vintage: Mapped[int] = mapped_column(Integer)
    from_code: Mapped[str] = mapped_column(String(20), index=True)
    to_vintage: Mapped[int] = mapped_column(Integer)
    to_code: Mapped[str] = mapped_column(String(20))
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class TerritoryOverlap(Base):
    """Share of an IRIS inside a QPV (by area and, when known, by population)."""

    __tablename__ = "territory_overlap"
    __table_args__ = (UniqueConstraint("vintage", "qpv", "iris"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vintage: Mapped[int] = mapped_column(Integer)
    qpv: Mapped[str] = mapped_column(String(20), index=True)
    iris: Mapped[str] = mapped_column(String(20), index=True)
    area_share: Mapped[float] = mapped_column(Float)
    population_share: Mapped[float | None] = mapped_column(Float, nullable=True)


class Indicator(Base):
    """An indicator is a definition over a dataset, not a copy of values."""

    __tablename__ = "indicator"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # slug
    label: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    theme: Mapped[str] = mapped_column(String(100), default="")
    unit: Mapped[str] = mapped_column(String(50), default="")
    dataset_id: Mapped[str] = mapped_column(ForeignKey("dataset.id"))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: latest published
    code_column: Mapped[str] = mapped_column(String(300))
    code_level: Mapped[str] = mapped_column(String(20), default="iris")
    numerator: Mapped[str] = mapped_column(Text)               # ODSQL expression (summed)
    denominator: Mapped[str | None] = mapped_column(Text, nullable=True)
    aggregation: Mapped[str] = mapped_column(String(20), default="ratio")  # ratio, sum, weighted_mean, median
    scale: Mapped[float] = mapped_column(Float, default=1.0)   # 100 for %, 1000 for per 1,000
    vintage: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_note: Mapped[str] = mapped_column(Text, default="")
    secrecy_threshold: Mapped[int] = mapped_column(Integer, default=11)
    secrecy_on: Mapped[str] = mapped_column(String(20), default="denominator")  # numerator|denominator|none
    access: Mapped[str] = mapped_column(String(20), default="public")
    #: An ODSQL condition on the source dataset's rows ("" for every row).
    filters: Mapped[str] = mapped_column(Text, default="")
    #: For a point dataset: count, sum or mean of the numerator's field within each territory.
    points: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: Only IRIS of habitat (type H, and Z: communes without IRIS); the others are excluded.
    habitat_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Coverage (%) below which a parent value is withheld; None: MUTUELLE_MIN_COVERAGE.
    min_coverage: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Owner; None: the organisation of the source dataset.
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisation.id"), nullable=True)
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)

    #: The dataset the indicator is computed from (its access bounds the indicator's).
    source: Mapped[Dataset | None] = relationship(lazy="joined")


class Scenario(Base):
    """A saved map view, opened by a short permalink ``/s/<id>``."""

    __tablename__ = "scenario"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=lambda: new_id(8))
    title: Mapped[str] = mapped_column(String(300))
    comment: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    access: Mapped[str] = mapped_column(String(20), default="public")
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisation.id"), nullable=True)
    duplicated_from: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
