"""Listing saved views (dashboards, charts): a text search on title and description, newest
first, one page and the total."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from mutuelle.catalog.dashboard_models import Chart, Dashboard

Saved = TypeVar("Saved", Dashboard, Chart)


def newest_page(session: Session, query: Select[Any], model: type[Saved], q: str | None,
                limit: int, offset: int) -> tuple[int, list[Saved]]:
    """The rows of ``query`` (over ``model``) whose title or description holds ``q`` (case
    folded), newest first: the total and one page."""
    if q and q.strip():
        pattern = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(model.title).like(pattern),
                                func.lower(model.description).like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(model.updated_at.desc(), model.id)
                           .limit(limit).offset(offset))
    return int(total), list(rows)

