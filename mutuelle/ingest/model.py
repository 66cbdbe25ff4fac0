"""What an import takes and gives: the contract between readers and the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Column types, as stored in the catalogue and shown to users.
COLUMN_TYPES = ("integer", "decimal", "boolean", "date", "datetime", "text", "geometry")

#: French column concepts recognised at ingestion.
CONCEPTS = (
    "code_commune", "code_iris", "code_departement", "code_region", "code_epci",
    "code_qpv", "code_postal", "siren", "siret", "uai", "latitude", "longitude",
)

#: Called as progress(done_bytes, total_bytes) while a file is read.
Progress = Callable[[int, int], None]


@dataclass
class ColumnSpec:
    """One column of an imported table."""

    name: str                 # name in the Parquet file (unique, never empty)
    type: str                 # one of COLUMN_TYPES
    concept: str | None = None  # one of CONCEPTS, if recognised
    source_name: str | None = None  # header as written in the file, if it differed
    note: str | None = None   # what the importer did (renamed, repaired geometries...)


@dataclass
class ImportOptions:
    """Choices the user may make on import; None means detect."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int | None = None         # 1-based row of the header in a spreadsheet
    types: dict[str, str] = field(default_factory=dict)  # column name -> forced type
    allow_ragged: bool = False            # import rows with too many/few fields (padded/truncated)
    source_crs: str | None = None         # e.g. "EPSG:2154" for a Shapefile without .prj
    latitude: str | None = None           # column names to build points from
    longitude: str | None = None
    fix_text: bool = False                # repair mojibake ("Ã©" for "é") with ftfy


@dataclass
class StagedTable:
    """A file read into a Parquet file not yet published."""

    parquet_path: Path
    columns: list[ColumnSpec]
    row_count: int
    format: str                              # csv, xlsx, xls, ods, geojson, shapefile, geopackage
    detected: dict[str, str] = field(default_factory=dict)  # encoding, delimiter, sheet, crs...
    warnings: list[str] = field(default_factory=list)
