"""The one source of the current time (UTC, timezone-aware)."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A datetime read back from the catalogue, made timezone-aware (SQLite returns naive
    datetimes; they were written in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
