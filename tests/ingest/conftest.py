"""Fixtures of the ingest tests: the awkward files, and a CSV import read back from Parquet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mutuelle.core.config import Settings
from mutuelle.ingest.csv import read_csv
from mutuelle.ingest.model import ImportOptions, Progress, StagedTable
from mutuelle.ingest.typing import sql_identifier
from mutuelle.store.duck import connect


@pytest.fixture
def awkward(fixtures_dir: Path) -> Path:
    """The folder of small files that do what real French public files do."""
    return fixtures_dir / "awkward"


@pytest.fixture
def import_csv(settings: Settings, tmp_path: Path) -> Callable[..., StagedTable]:
    """read_csv into a fresh destination: ``import_csv(path, settings=..., progress=..., **options)``."""
    counter = iter(range(10**6))

    def run(source: Path, *, settings: Settings = settings, progress: Progress | None = None,
            **options: Any) -> StagedTable:
        dest = tmp_path / "staged" / f"{source.stem}-{next(counter)}.parquet"
        return read_csv(source, dest, settings, ImportOptions(**options), progress)

    return run


@pytest.fixture
def rows_of(settings: Settings) -> Callable[..., list[dict[str, Any]]]:
    """The rows of a staged Parquet file as dicts (geometry as WKT), in file order."""

    def read(table: StagedTable) -> list[dict[str, Any]]:
        spatial = any(c.type == "geometry" for c in table.columns)
        with connect(settings, spatial=spatial) as con:
            names = [c.name for c in table.columns]
            quoted = [sql_identifier(n) for n in names]
            cols = ", ".join(f"ST_AsText({q}) AS {q}" if c.type == "geometry" else q
                             for q, c in zip(quoted, table.columns, strict=True))
            cursor = con.execute(f"SELECT {cols} FROM read_parquet(?)", [str(table.parquet_path)])
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return read


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write a test file: ``write_csv(name, text, encoding="utf-8")`` or bytes as they are."""

    def write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return write
