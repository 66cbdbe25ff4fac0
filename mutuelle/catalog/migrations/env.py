"""Alembic environment: runs migrations on the engine handed over by ``catalog.db``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from mutuelle.catalog import (  # noqa: F401  (register the tables)
    discussion_models,
    members_models,
    observatory_models,
)
from mutuelle.catalog.models import Base

config = context.config
target_metadata = Base.metadata

engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
