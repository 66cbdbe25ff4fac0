"""DuckDB connections with the spatial extension loaded from its pip package (offline)."""

from __future__ import annotations

import glob
import os
import threading
from functools import lru_cache
from pathlib import Path

import duckdb

from mutuelle.core.config import Settings


@lru_cache(maxsize=1)
def spatial_extension_path() -> str:
    """Path of the spatial extension shipped by the ``duckdb-ext-spatial`` package."""
    import duckdb_ext  # type: ignore[import-not-found]  # namespace package of duckdb-ext-*

    for base in duckdb_ext.__path__:
        pattern = os.path.join(base, "extensions", f"v{duckdb.__version__}", "*", "spatial.duckdb_extension")
        found = glob.glob(pattern)
        if found:
            return found[0]
    raise RuntimeError(f"the spatial extension for DuckDB {duckdb.__version__} is not installed")


def connect(settings: Settings, *, spatial: bool = True, database: str | Path = ":memory:") -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection with our limits; spatial loaded unless asked not to."""
    con = duckdb.connect(str(database), config={
        "memory_limit": settings.duckdb_memory_limit,
        "threads": settings.duckdb_threads,
        "temp_directory": str(settings.work_dir / "duckdb-tmp"),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })
    # Naive timestamps mean UTC everywhere, whatever the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    if spatial:
        con.execute(f"LOAD '{spatial_extension_path()}'")
    # Queries must not reach the file system or the network beyond what we hand them.
    return con


_shared: dict[tuple[str, str, int], duckdb.DuckDBPyConnection] = {}
_shared_lock = threading.Lock()


def cursor(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A cursor on this process's shared DuckDB database (spatial loaded once, ~0.2 s saved
    per request); each cursor is its own connection, so it can be interrupted on its own."""
    key = (str(settings.work_dir), settings.duckdb_memory_limit, settings.duckdb_threads)
    base = _shared.get(key)
    if base is None:
        with _shared_lock:
            base = _shared.get(key)
            if base is None:
                settings.work_dir.mkdir(parents=True, exist_ok=True)
                base = _shared[key] = connect(settings)
    return base.cursor()
