"""Reading stored versions with DuckDB: previews and streamed record batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from mutuelle.core.config import Settings
from mutuelle.store.duck import cursor
from mutuelle.store.sql import ident as quote


def _select_list(schema: dict[str, str]) -> str:
    parts = []
    for name, kind in schema.items():
        ident = quote(name)
        # Geometry leaves DuckDB as GeoJSON text, the form every client reads.
        parts.append(f"ST_AsGeoJSON({ident}) AS {ident}" if kind == "geometry" else ident)
    return ", ".join(parts) or "*"


def preview(settings: Settings, parquet: Path, schema: dict[str, str], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a version as dicts (geometry as GeoJSON text)."""
    con = cursor(settings)
    try:
        rel = con.execute(
            f"SELECT {_select_list(schema)} FROM read_parquet(?) LIMIT ?", [str(parquet), limit]
        )
        columns = [d[0] for d in rel.description]
        return [dict(zip(columns, row)) for row in rel.fetchall()]
    finally:
        con.close()


def record_batches(settings: Settings, parquet: Path, schema: dict[str, str],
                   batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
    """Every row of a version as Arrow record batches, in constant memory."""
    con = cursor(settings)
    try:
        reader = con.execute(
            f"SELECT {_select_list(schema)} FROM read_parquet(?)", [str(parquet)]
        ).fetch_record_batch(batch_rows)
        yield from reader
    finally:
        con.close()
