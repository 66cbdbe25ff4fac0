"""Catalogue models of the dashboards: saved charts and dashboards (pages of blocks).

Both are saved views owned by their author and an organisation, public, internal to the
organisation's tree or restricted to the groups they are granted to (``access.policy``).
A chart keeps the parameters of its query (type, x, y, aggregation, series, filters), not its
values: it is drawn from the latest published version of its dataset each time it is shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mutuelle.catalog.models import Base, Dataset, Organisation
from mutuelle.core.clock import now
from mutuelle.core.ids import new_id


class Chart(Base):
    """A chart of one dataset, opened at ``/charts/<id>`` and embedded by its snippet."""

    __tablename__ = "chart"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=lambda: new_id(8))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    dataset_id: Mapped[str] = mapped_column(ForeignKey("dataset.id"), index=True)
    #: The chart's parameters (``dashboards.schemas.ChartParams``): type, x, y, aggregation...
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    access: Mapped[str] = mapped_column(String(20), default="public")
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)

    #: The dataset the chart is drawn from (reading the chart needs reading it too).
    dataset: Mapped[Dataset] = relationship(lazy="joined")
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class Dashboard(Base):
    """A page of blocks (KPI, chart, map, table, text, scenario, indicator) on a grid."""

    __tablename__ = "dashboard"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=lambda: new_id(8))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    access: Mapped[str] = mapped_column(String(20), default="public")
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisation.id"), index=True)
    #: The blocks (``dashboards.schemas.Block``), each with its place on the grid.
    blocks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
