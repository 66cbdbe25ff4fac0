"""Streamed exports: record batches in, bytes out, in constant memory, one writer per format."""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mutuelle.core.errors import InvalidInput
from mutuelle.query.run import to_json_value

EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "jsonl": ("application/jsonl", "jsonl"),
    "geojson": ("application/geo+json", "geojson"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header


def check_format(fmt: str) -> str:
    """The format name, or an error listing the known ones."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}: one of {', '.join(EXPORT_FORMATS)}")
    return fmt


def _rows(batch: pa.RecordBatch, geo: set[str]) -> Iterator[dict[str, Any]]:
    names = batch.schema.names
    for row in batch.to_pylist():
        yield {n: to_json_value(row[n], geojson=n in geo) for n in names}


def write_csv(batches: Iterator[pa.RecordBatch], *, delimiter: str = ";", quote_all: bool = False,
              with_bom: bool = False, header: Sequence[str] | None = None) -> Iterator[bytes]:
    """CSV (Opendatasoft's default delimiter is ';') with Arrow's writer; ``header``: the
    column names to write when no batch comes (an empty table still gets its header)."""
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise InvalidInput(f"delimiter must be one character other than a quote or a newline, not {delimiter!r}")
    if with_bom:
        yield "\ufeff".encode()
    quoting = "all_valid" if quote_all else "needed"
    first = True
    for batch in batches:
        buffer = io.BytesIO()
        options = pacsv.WriteOptions(include_header=first, delimiter=delimiter, quoting_style=quoting)
        pacsv.write_csv(batch, buffer, write_options=options)
        first = False
        yield buffer.getvalue()
    if first and header:
        buffer = io.BytesIO()
        empty = pa.table({name: pa.array([], pa.string()) for name in header})
        pacsv.write_csv(empty, buffer, write_options=pacsv.WriteOptions(
            delimiter=delimiter, quoting_style=quoting))
        yield buffer.getvalue()


def write_json(batches: Iterator[pa.RecordBatch], geo: set[str]) -> Iterator[bytes]:
    """A JSON array of records."""
    yield b"["
    sep = b""
    for batch in batches:
        parts = [json.dumps(r, ensure_ascii=False).encode() for r in _rows(batch, geo)]
        if parts:
            yield sep + b",".join(parts)
            sep = b","
    yield b"]"


def write_jsonl(batches: Iterator[pa.RecordBatch], geo: set[str]) -> Iterator[bytes]:
    """One JSON record per line."""
    for batch in batches:
        yield b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in _rows(batch, geo))


def write_geojson(batches: Iterator[pa.RecordBatch], geo: set[str]) -> Iterator[bytes]:
    """A FeatureCollection; the first geometry column is the feature's geometry."""
    yield b'{"type":"FeatureCollection","features":['
    sep = b""
    for batch in batches:
        parts = []
        for record in _rows(batch, geo):
            geometry = None
            for name in geo:
                geometry = record.pop(name)
                break
            parts.append(json.dumps({"type": "Feature", "geometry": geometry, "properties": record},
                                    ensure_ascii=False).encode())
        if parts:
            yield sep + b",".join(parts)
            sep = b","
    yield b"]}"


class _Drain(io.RawIOBase):
    """A write-only sink whose bytes are taken out after each batch."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


def write_parquet(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """Parquet written row group by row group (geometry as GeoJSON text)."""
    sink = _Drain()
    writer: pq.ParquetWriter | None = None
    for batch in batches:
        if writer is None:
            writer = pq.ParquetWriter(sink, batch.schema, compression="zstd")
        writer.write_batch(batch)
        yield sink.take()
    if writer is None:
        return
    writer.close()
    yield sink.take()


def write_xlsx(batches: Iterator[pa.RecordBatch], geo: set[str]) -> Iterator[bytes]:
    """An Excel workbook (openpyxl write-only mode keeps memory flat); cut at Excel's row limit.

    Text is always written as text: ``=HYPERLINK(...)`` or ``#N/A`` in the data must not become
    a live formula or an error value in the reader's spreadsheet."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    header_done, written = False, 0
    for batch in batches:
        if not header_done:
            sheet.append([_xlsx_cell(sheet, name) for name in batch.schema.names])
            header_done = True
        for row in batch.to_pylist():
            if written >= XLSX_MAX_ROWS:
                break
            sheet.append([_xlsx_cell(sheet, v) for v in row.values()])
            written += 1
    with tempfile.TemporaryFile() as handle:
        workbook.save(handle)
        handle.seek(0)
        while block := handle.read(1 << 20):
            yield block


# What openpyxl would not write as plain text: a formula, an error value's name, characters
# XML cannot hold (written the OOXML way, _x0001_, which spreadsheet programs read back).
_XLSX_ERRORS = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"))
_XLSX_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xlsx_escape(match: re.Match[str]) -> str:
    return f"_x{ord(match.group(0)):04x}_"


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        if not (value.startswith("=") or value in _XLSX_ERRORS or _XLSX_UNSAFE.search(value)):
            return value   # written as text (an inline string) already
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(sheet, _XLSX_UNSAFE.sub(_xlsx_escape, value))
        cell.data_type = "s"   # never a formula nor an error: set the type, not the data
        return cell
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return value.replace(tzinfo=None)
    return value


def writer_for(fmt: str, geo: set[str], *, delimiter: str = ";", quote_all: bool = False,
               with_bom: bool = False) -> Callable[[Iterator[pa.RecordBatch]], Iterator[bytes]]:
    """The streaming writer of one format."""
    check_format(fmt)
    if fmt == "csv":
        return lambda b: write_csv(b, delimiter=delimiter, quote_all=quote_all, with_bom=with_bom)
    if fmt == "json":
        return lambda b: write_json(b, geo)
    if fmt == "jsonl":
        return lambda b: write_jsonl(b, geo)
    if fmt == "geojson":
        return lambda b: write_geojson(b, geo)
    if fmt == "parquet":
        return write_parquet
    return lambda b: write_xlsx(b, geo)


