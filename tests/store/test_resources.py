"""A lack of resources, whoever reports it (the OS, DuckDB, SQLite, PostgreSQL), becomes one of
our errors saying what was missing and where, by role and never by server path."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import duckdb
import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import (
    ImportFailed,
    OutOfMemory,
    ResourceError,
    StorageFull,
    StorageUnavailable,
)
from mutuelle.store.resources import resource_error


def _os_error(code: int, path: Path) -> OSError:
    return OSError(code, "as the kernel says it", str(path))


@pytest.mark.parametrize(("code", "kind", "words"), [
    (errno.ENOSPC, StorageFull, "no space left in the store (MUTUELLE_HOME/store)"),
    (errno.EDQUOT, StorageFull, "no space left in the store"),
    (errno.EACCES, StorageUnavailable, "cannot write to the store (MUTUELLE_HOME/store) (permission denied)"),
    (errno.EPERM, StorageUnavailable, "(permission denied)"),
    (errno.EROFS, StorageUnavailable, "(read-only file system)"),
])
def test_os_errors_of_the_store_say_what_is_lacking_and_where(
        settings: Settings, code: int, kind: type[ResourceError], words: str) -> None:
    problem = resource_error(_os_error(code, settings.store_dir / "datasets" / "x" / "v1"),
                             settings, context="while importing 'a.csv'")
    assert isinstance(problem, kind)
    assert words in problem.message and problem.message.endswith("while importing 'a.csv'")
    assert str(settings.home) not in problem.message


def test_the_work_folder_and_the_catalogue_are_named_as_such(settings: Settings) -> None:
    work = resource_error(_os_error(errno.ENOSPC, settings.work_dir / "stage-1.parquet"), settings)
    assert work is not None and "the work folder (MUTUELLE_HOME/work)" in work.message
    catalogue = resource_error(sqlite3.OperationalError("database or disk is full"), settings)
    assert isinstance(catalogue, StorageFull) and "the catalogue database" in catalogue.message
    read_only = resource_error(sqlite3.OperationalError("attempt to write a readonly database"))
    assert isinstance(read_only, StorageUnavailable)


def test_an_error_naming_no_file_is_placed_where_the_caller_was_writing(settings: Settings) -> None:
    nameless = OSError(errno.ENOSPC, "No space left on device")  # as a failed write() says it
    assert resource_error(nameless, settings).message == "no space left in the server's storage"  # type: ignore[union-attr]
    placed = resource_error(nameless, settings, path=settings.work_dir / "stage-1.upload.csv")
    assert placed is not None and placed.message == (
        "no space left in the work folder (MUTUELLE_HOME/work)")


def test_duckdb_out_of_memory_and_io_errors_are_recognised(settings: Settings, tmp_path: Path) -> None:
    con = duckdb.connect(config={"memory_limit": "1MB", "threads": 1})
    with pytest.raises(duckdb.OutOfMemoryException) as raised:
        con.execute("SELECT list(range) FROM range(3000000)").fetchall()
    assert isinstance(resource_error(raised.value), OutOfMemory)
    assert isinstance(resource_error(MemoryError()), OutOfMemory)
    full = duckdb.IOException(
        f'IO Error: Could not write file "{settings.work_dir}/x.parquet": No space left on device')
    problem = resource_error(full, settings)
    assert isinstance(problem, StorageFull) and "the work folder" in problem.message
    assert str(settings.work_dir) not in problem.message


def test_an_error_wrapping_a_lack_of_resources_is_recognised(settings: Settings) -> None:
    try:
        try:
            raise _os_error(errno.ENOSPC, settings.work_dir / "csv-1" / "text.csv")
        except OSError:
            raise ImportFailed("the file cannot be read: IO Error") from None  # as a reader does
    except ImportFailed as exc:
        assert isinstance(resource_error(exc, settings), StorageFull)


def test_other_errors_are_not_resource_errors(settings: Settings) -> None:
    con = duckdb.connect()
    with pytest.raises(duckdb.ConversionException) as raised:  # a query quoting the words
        con.execute("SELECT 'No space left on device'::INTEGER").fetchall()
    assert resource_error(raised.value) is None
    assert resource_error(FileNotFoundError(errno.ENOENT, "missing", "x.csv"), settings) is None
    assert resource_error(ImportFailed("a row has 3 fields instead of 4")) is None
    assert resource_error(sqlite3.OperationalError("no such table: dataset")) is None
