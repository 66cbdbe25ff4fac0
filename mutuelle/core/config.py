"""Settings, declared in one place with type, default and description.

Every setting is read from a ``MUTUELLE_<NAME>`` environment variable once, when
``load_settings()`` is called; ``docs/configuration.md`` is generated from this table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mutuelle.core.errors import InvalidInput


def _setting(default: Any, description: str) -> Any:
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class Settings:
    """Every limit and path of a mutuelle instance."""

    home: Path = _setting(Path("var"), "Folder holding the catalogue (SQLite) and the Parquet store.")
    database_url: str = _setting(
        "", "SQLAlchemy URL of the catalogue; empty means SQLite at HOME/catalog.sqlite. "
        "Server mode: postgresql+psycopg://user@host/db."
    )
    host: str = _setting("127.0.0.1", "Address the portal listens on.")
    port: int = _setting(8000, "Port the portal listens on.")
    base_url: str = _setting("", "Public URL of the portal (for absolute links); empty: from the request.")
    max_upload_bytes: int = _setting(2 * 1024**3, "Largest file accepted for import, in bytes.")
    max_unzipped_bytes: int = _setting(2 * 1024**3, "Largest total size of the files inside an uploaded zip.")
    max_zip_ratio: int = _setting(100, "Largest compression ratio accepted inside a zip (zip bombs go far above).")
    max_columns: int = _setting(2000, "Largest number of columns a table may have.")
    sample_rows: int = _setting(20000, "Rows read to infer the types and concepts of a file's columns.")
    duckdb_memory_limit: str = _setting("1GB", "Memory DuckDB may use per connection.")
    duckdb_threads: int = _setting(2, "Threads DuckDB may use per connection.")
    query_timeout_ms: int = _setting(10000, "Time budget of one query before it is interrupted.")
    query_max_rows: int = _setting(10000, "offset + limit wall of /records, as on Opendatasoft (cursors go past it).")
    query_max_group_rows: int = _setting(20000, "offset + limit wall of /records with group_by.")
    max_concurrent_queries: int = _setting(8, "Queries run at once per worker; more get 429 with Retry-After.")
    export_batch_rows: int = _setting(50000, "Rows per batch when streaming an export.")
    preview_rows: int = _setting(20, "Rows shown as a table on the dataset page.")
    table_rows: int = _setting(300, "Territories per page of the table of values under the observatory's map.")
    cog_dir: Path = _setting(
        Path(__file__).resolve().parents[2] / "node_modules" / "@etalab" / "decoupage-administratif" / "data",
        "Folder of the INSEE Code officiel géographique JSON files (npm @etalab/decoupage-administratif).")
    default_vintage: int = _setting(2024, "Vintage (millésime) of the referential used when none is named.")
    tile_cache_items: int = _setting(20000, "Vector tiles kept in memory per worker (LRU).")
    secrecy_threshold: int = _setting(11, "Default statistical secrecy threshold of an indicator.")
    basemap_url: str = _setting("", "Optional base-map style URL for maps; empty: our own outlines only.")
    local_editing: int = _setting(
        1, "1: requests from this machine (127.0.0.1) may import and edit, until accounts exist; 0: nobody.")
    warm_up: int = _setting(
        0, "1: at start, load the referential's contours and compute the indicators in the background "
        "(mutuelle serve sets it unless --no-warm-up).")
    log_level: str = _setting("INFO", "Logging level (DEBUG, INFO, WARNING).")

    @property
    def store_dir(self) -> Path:
        """Where Parquet versions and original files live."""
        return self.home / "store"

    @property
    def work_dir(self) -> Path:
        """Scratch space for imports in progress (same filesystem as the store)."""
        return self.home / "work"

    @property
    def catalog_url(self) -> str:
        """The SQLAlchemy URL actually used for the catalogue."""
        return self.database_url or f"sqlite:///{(self.home / 'catalog.sqlite').resolve()}"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed (used by tests and the CLI)."""
        return replace(self, **changes)


def _coerce(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind in (int, "int"):
            return int(raw.replace("_", ""))
        if kind in (Path, "Path"):
            return Path(raw)
        return raw
    except ValueError as exc:
        raise InvalidInput(f"MUTUELLE_{name.upper()} must be an integer, not {raw!r}") from exc


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``MUTUELLE_*`` variables of ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"MUTUELLE_{f.name.upper()}")
        if raw is not None and raw != "":
            values[f.name] = _coerce(f.name, raw, f.type)
    return Settings(**values)


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the docs and the CLI."""
    out = []
    for f in fields(Settings):
        out.append((f"MUTUELLE_{f.name.upper()}", str(f.default), f.metadata["description"]))
    return out
