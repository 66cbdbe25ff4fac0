"""The one place where a lack of resources becomes our error: a full disk, a read-only or
forbidden store, no memory left (from the OS, DuckDB, pyarrow, SQLite or PostgreSQL).

The message says what was missing and where, by role (the store, the work folder, the
catalogue), never by server path.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import duckdb
import sqlalchemy.exc

from mutuelle.core.config import Settings
from mutuelle.core.errors import OutOfMemory, ResourceError, StorageFull, StorageUnavailable

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
FORBIDDEN_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

# What the C libraries say when they only give text (DuckDB, SQLite, pyarrow without errno).
_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "database or disk is full",
               "file too large")
_FORBIDDEN_TEXTS = ("read-only file system", "permission denied", "operation not permitted",
                    "attempt to write a readonly database", "unable to open database file")
_MEMORY_TEXTS = ("out of memory", "could not allocate", "failed to allocate")
# PostgreSQL's SQLSTATE codes for the same conditions.
_PG_FULL, _PG_MEMORY, _PG_READ_ONLY = "53100", "53200", "25006"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes and contexts (a reader may have wrapped the real one)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        orig = getattr(current, "orig", None)  # SQLAlchemy wraps the driver's error
        if isinstance(orig, BaseException):
            todo.append(orig)


def _kind(exc: BaseException) -> tuple[type[ResourceError], str] | None:
    """(error class, short reason) when ``exc`` itself is a lack of resources."""
    if isinstance(exc, (MemoryError, duckdb.OutOfMemoryException)):
        return OutOfMemory, "out of memory"
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in FULL_ERRNOS:
            return StorageFull, "no space left"
        if exc.errno in FORBIDDEN_ERRNOS:
            return StorageUnavailable, ("read-only file system" if exc.errno == errno.EROFS
                                        else "permission denied")
        return None
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):  # psycopg
        return {_PG_FULL: (StorageFull, "no space left"),
                _PG_MEMORY: (OutOfMemory, "out of memory"),
                _PG_READ_ONLY: (StorageUnavailable, "read-only database")}.get(sqlstate)
    # Only errors about files: a query's own error may quote any text a user wrote.
    if not isinstance(exc, (OSError, duckdb.IOException)) and type(exc).__module__ != "sqlite3":
        return None
    text = str(exc).lower()
    if any(t in text for t in _FULL_TEXTS):
        return StorageFull, "no space left"
    if any(t in text for t in _FORBIDDEN_TEXTS):
        return StorageUnavailable, ("read-only file system" if "read-only" in text
                                    or "readonly" in text else "permission denied")
    if any(t in text for t in _MEMORY_TEXTS):
        return OutOfMemory, "out of memory"
    return None


def _area(exc: BaseException, settings: Settings | None, path: Path | None) -> str:
    """Where the server failed to write, by role."""
    if type(exc).__module__ == "sqlite3" or getattr(exc, "sqlstate", None):
        return "the catalogue database"
    if settings is None:
        return "the server's storage"
    names = [str(n) for n in (getattr(exc, "filename", None), getattr(exc, "filename2", None)) if n]
    text = " ".join(names) or str(exc)
    if path is not None and not any(str(p) in text for p in _spellings(settings.home)):
        text = str(path)  # the error names no file of ours: the caller knows where it wrote
    for folder, role in ((settings.store_dir, "the store (MUTUELLE_HOME/store)"),
                         (settings.work_dir, "the work folder (MUTUELLE_HOME/work)"),
                         (settings.home, "the data folder (MUTUELLE_HOME)")):
        if any(str(p) in text for p in _spellings(folder)):
            return "the catalogue database" if "catalog.sqlite" in text else role
    return "the server's storage"


def _spellings(folder: Path) -> set[Path]:
    try:
        return {folder, folder.absolute(), folder.resolve()}
    except OSError:
        return {folder}


def resource_error(exc: BaseException, settings: Settings | None = None, *,
                   context: str = "", path: Path | None = None) -> ResourceError | None:
    """Our error for ``exc`` (or the error it wraps) when it is a lack of disk space, of a
    writable store or of memory; None otherwise. ``context`` ends the message (what was being
    done, what was kept); ``path`` says where the caller was writing, for errors that name no
    file (a failed ``write()``)."""
    for current in _chain(exc):
        if isinstance(current, ResourceError):
            return current
        kind = _kind(current)
        if kind is None:
            continue
        cls, reason = kind
        tail = f" {context}" if context else ""
        if cls is OutOfMemory:
            return OutOfMemory(f"the server ran out of memory{tail}")
        area = _area(current, settings, path)
        if cls is StorageFull:
            return StorageFull(f"no space left in {area}{tail}")
        return StorageUnavailable(f"the server cannot write to {area} ({reason}){tail}")
    return None


#: The exception classes that may hide a lack of resources (for handlers that catch by class).
RESOURCE_EXCEPTIONS: tuple[type[Exception], ...] = (
    OSError, MemoryError, duckdb.Error, sqlalchemy.exc.OperationalError)
