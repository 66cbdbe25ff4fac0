"""Catalogue database: engine, sessions and Alembic migrations (SQLite or PostgreSQL)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from mutuelle.core.config import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


#: Connections kept open per engine, and those opened beyond them when busy: as many as the
#: route threads that may hold a session at once (anyio's 40), so that a burst of slow queries
#: waits for a query slot (``MUTUELLE_QUERY_QUEUE_MS``, then 429), not for a connection; only
#: ``POOL_SIZE`` stay open when idle (PostgreSQL's 100 connections hold several workers).
POOL_SIZE, POOL_OVERFLOW, POOL_TIMEOUT = 5, 40, 10


def _create(url: str, **pool: Any) -> Engine:
    """An engine of the catalogue at ``url`` with these pool options: SQLite's connections
    shared across threads, with our pragmas; PostgreSQL's checked before use."""
    if url.startswith("sqlite"):
        made = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(made, "connect", _sqlite_pragmas)
        return made
    return create_engine(url, pool_pre_ping=True, **pool)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return _create(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT)


def _home_ready(settings: Settings) -> str:
    """The catalogue's URL, its folder made first for SQLite."""
    if settings.catalog_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    return settings.catalog_url


def single_connection(settings: Settings) -> Engine:
    """An engine of one connection of its own, for small reads made on the event loop (which
    must never wait for the shared pool): one thread uses it at a time."""
    return _create(_home_ready(settings), poolclass=StaticPool)


def engine(settings: Settings) -> Engine:
    """The (shared) engine of this instance's catalogue."""
    return _engine_for(_home_ready(settings))


def sessions(settings: Settings) -> sessionmaker[Session]:
    """A session factory bound to the catalogue."""
    return sessionmaker(engine(settings), expire_on_commit=False)


def alembic_config(settings: Settings) -> Config:
    """Alembic configuration pointing at our migrations and the catalogue URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", settings.catalog_url.replace("%", "%%"))
    cfg.attributes["engine"] = engine(settings)
    return cfg


def upgrade(settings: Settings) -> None:
    """Bring the catalogue schema to the newest migration."""
    command.upgrade(alembic_config(settings), "head")
