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


#: The folder of the installed ``mutuelle`` package: built data (``data/``) travels with it.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _setting(default: Any, description: str) -> Any:
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class Settings:
    """Every limit and path of a mutuelle instance."""

    home: Path = _setting(
        Path("var"), "Folder holding the catalogue (SQLite) and the Parquet store; a relative path "
        "is taken from the working directory.")
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
    max_concurrent_queries: int = _setting(8, "Queries run at once per worker; more wait in line (see the next one).")
    query_queue_ms: int = _setting(
        5000, "How long a query (or a dataset tile) waits for one of those slots before the 429 "
        "with Retry-After: a burst is better absorbed than refused.")
    export_batch_rows: int = _setting(50000, "Rows per batch when streaming an export.")
    work_leftover_hours: int = _setting(
        24, "Age after which a file an import left in the work folder (staged file, spill file...) "
        "belongs to no live import and is removed at start even while other workers run; at least "
        "the time the largest accepted file takes to import.")
    work_folders_held: int = _setting(
        16, "Work folders one process holds a lock on at once (an instance has one; a process "
        "that opens many, such as the test suite, lets the oldest go).")
    cors_origins: str = _setting(
        "*", "Origins whose scripts may read the API (Access-Control-Allow-Origin): '*' for any "
        "site (answers never carry credentials: cookies give other sites nothing), or "
        "comma-separated origins such as 'https://ville.example.org'; empty: none.")
    answer_cache_mib: int = _setting(
        64, "Memory kept per worker for API answers already computed (records, facets), in MiB; "
        "0 turns the cache off.")
    answer_share_ms: int = _setting(
        20, "Answers that took at least this long to compute are also written to the store "
        "(HOME/store/answers), where every worker sharing HOME reads them.")
    answer_share_items: int = _setting(
        256, "Most answers written to the store per dataset version.")
    answer_now_seconds: int = _setting(
        5, "Seconds an answer computed with now() is kept (it changes with the clock).")
    preview_rows: int = _setting(20, "Rows shown as a table on the dataset page.")
    table_rows: int = _setting(300, "Territories per page of the table of values under the observatory's map.")
    cog_dir: Path = _setting(
        PACKAGE_DIR / "data" / "cog",
        "Folder of the INSEE Code officiel géographique JSON files (npm "
        "@etalab/decoupage-administratif, copied into the package by scripts/build-assets.sh); its "
        "file `year` names their COG year, and subfolders named by year hold earlier COGs.")
    default_vintage: int = _setting(2024, "Vintage (millésime) of the referential used when none is named.")
    tile_cache_items: int = _setting(20000, "Vector tiles kept in memory per worker (LRU).")
    secrecy_threshold: int = _setting(11, "Default statistical secrecy threshold of an indicator.")
    min_coverage: int = _setting(
        50, "Coverage (%) below which an indicator's value for a larger territory is withheld: the "
        "share of its population (or of its territories, when populations are unknown) whose data "
        "were there. An indicator may set its own.")
    basemap_url: str = _setting("", "Optional base-map style URL for maps; empty: our own outlines only.")
    warm_up: int = _setting(
        0, "1: at start, load the referential's contours and compute the indicators in the background "
        "(mutuelle serve sets it unless --no-warm-up).")
    log_level: str = _setting("INFO", "Logging level (DEBUG, INFO, WARNING).")
    secret_key: str = _setting(
        "", "Key signing the forms' CSRF tokens; empty: a random key kept in HOME/secret_key "
        "(workers sharing HOME share it).")
    session_idle_minutes: int = _setting(
        720, "A signed-in session ends after this many minutes without a request.")
    session_max_hours: int = _setting(168, "A signed-in session ends this many hours after sign-in.")
    login_max_failures: int = _setting(
        5, "Failed sign-ins allowed per account within LOGIN_WINDOW_MINUTES before it is throttled.")
    login_max_failures_per_address: int = _setting(
        20, "Failed sign-ins allowed per client address within LOGIN_WINDOW_MINUTES.")
    login_window_minutes: int = _setting(15, "Window over which failed sign-ins are counted.")
    report_max_per_address: int = _setting(
        5, "Problem reports a visitor without an account may send from one client address within "
        "REPORT_WINDOW_MINUTES; the next one is refused (429).")
    report_window_minutes: int = _setting(60, "Window over which visitors' problem reports are counted.")
    trusted_proxies: str = _setting(
        "", "Comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "and X-Real-IP headers are believed, for logs and throttling only; empty: none.")
    portal_hosts: str = _setting(
        "", "Host names mapped to an organisation's own portal: 'ville.example.org=slug,...'.")

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


def _shown_default(value: Any) -> str:
    """A default as the docs show it: the same text on every machine."""
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(PACKAGE_DIR):
        return "<package>/" + value.relative_to(PACKAGE_DIR).as_posix()
    if isinstance(value, Path):
        return value.as_posix() if value.is_absolute() else f"./{value.as_posix()}"
    return str(value)


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, for the docs and the CLI."""
    out = []
    for f in fields(Settings):
        out.append((f"MUTUELLE_{f.name.upper()}", _shown_default(f.default),
                    f.metadata["description"]))
    return out


def settings_markdown() -> str:
    """``docs/configuration.md``: every setting as a Markdown table (``mutuelle settings --markdown``)."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `mutuelle settings --markdown > docs/configuration.md` from",
        "     mutuelle/core/config.py; tests/core/test_config.py fails when it is out of date. -->",
        "",
        "Every setting is read once from a `MUTUELLE_*` environment variable; `mutuelle settings`",
        "prints this table from the same declaration (`mutuelle/core/config.py`). `<package>` is",
        "the folder of the installed `mutuelle` package: data built at install",
        "(`scripts/build-assets.sh`) lives there, so an installed copy finds it wherever it is.",
        "",
        "| variable | default | what it is for |",
        "|---|---|---|",
    ]
    for variable, default, description in describe_settings():
        shown = f"`{default}`" if default else "*(empty)*"
        lines.append(f"| `{variable}` | {shown} | {description.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"
