"""Fixtures of the ingest tests: the awkward files, and a CSV import read back from Parquet."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mutuelle.core.config import Settings
from mutuelle.ingest.csv import read_csv
from mutuelle.ingest.model import ImportOptions, Progress, StagedTable
from mutuelle.store.duck import connect
from mutuelle.store.sql import ident, literal


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
            quoted = [ident(n) for n in names]
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


@pytest.fixture
def zipped_shapefile(settings: Settings, tmp_path: Path) -> Callable[..., Path]:
    """A zipped Shapefile of points written by GDAL: ``zipped_shapefile(name, [(id, nom)...],
    written_as="UTF-8", cpg=None, patch={}, ldid=None)``. ``written_as`` is GDAL's ENCODING (it
    writes UTF-8 and latin-1 only); ``patch`` replaces bytes in the .dbf's records (for other
    code pages), ``ldid`` sets its language driver byte, ``cpg`` rewrites the .cpg (``""``: no
    .cpg)."""

    def make(name: str, rows: list[tuple[int, str]], *, written_as: str = "UTF-8",
             cpg: str | None = None, patch: dict[bytes, bytes] | None = None,
             ldid: int | None = None) -> Path:
        folder = tmp_path / f"shp-{name}"
        folder.mkdir()
        values = ", ".join("(?, ?, ST_Point(4.83, 45.75))" for _ in rows)
        with connect(settings) as con:
            con.execute(f"COPY (SELECT * FROM (VALUES {values}) AS v(id, nom, geom)) TO "
                        f"{literal(folder / (name + '.shp'))} (FORMAT GDAL, DRIVER "
                        f"'ESRI Shapefile', LAYER_CREATION_OPTIONS 'ENCODING={written_as}', "
                        "SRS 'EPSG:4326')", [v for row in rows for v in row])
        dbf = folder / f"{name}.dbf"
        data = dbf.read_bytes()
        header_length = int.from_bytes(data[8:10], "little")
        header, records = bytearray(data[:header_length]), data[header_length:]
        for before, after in (patch or {}).items():
            records = records.replace(before, after)
        if ldid is not None:
            header[29] = ldid
        dbf.write_bytes(bytes(header) + records)
        if cpg is not None:
            (folder / f"{name}.cpg").unlink(missing_ok=True)
            if cpg:
                (folder / f"{name}.cpg").write_text(cpg)
        archive = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(archive, "w") as out:
            for part in sorted(folder.iterdir()):
                out.write(part, part.name)
        return archive

    return make
