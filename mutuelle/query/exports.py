"""Streamed exports: record batches in, bytes out, in constant memory, one writer per format.

Shapefile and FlatGeobuf are written by GDAL (DuckDB spatial) into the work folder first,
then streamed (and the files removed); every other format streams from the query's batches.
Datetimes are written in the request's time zone; ``compressed`` gzips any of them.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlglot import exp

from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, QueryError
from mutuelle.query.run import QUERY_ERRORS, WGS84, check_epsg, projected, to_json_value
from mutuelle.store.duck import cursor

EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "jsonl": ("application/jsonl", "jsonl"),
    "geojson": ("application/geo+json", "geojson"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "shp": ("application/zip", "zip"),
    "kml": ("application/vnd.google-earth.kml+xml", "kml"),
    "gpx": ("application/gpx+xml", "gpx"),
    "fgb": ("application/octet-stream", "fgb"),
}
#: Formats whose rows are features: they need a geometry; ``epsg`` projects it (KML and GPX
#: are WGS84 by definition).
GEO_FORMATS = ("geojson", "shp", "kml", "gpx", "fgb")
#: Formats GDAL writes to a file before it is sent: format -> (driver, file extension).
FILE_FORMATS = {"shp": ("ESRI Shapefile", "shp"), "fgb": ("FlatGeobuf", "fgb")}
#: Field delimiters of CSV exports (Opendatasoft's list).
CSV_DELIMITERS = (";", ",", "\t", "|")
#: Decimal marks of CSV exports (ours: Opendatasoft has no such parameter): ``comma`` writes
#: decimal numbers as French Excel reads them (``1234,5``); whole numbers and text are as they are.
CSV_DECIMALS = ("point", "comma")
#: Compression codecs of Parquet exports (Opendatasoft's list; snappy by default there).
PARQUET_COMPRESSIONS = ("snappy", "zstd")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header
#: Geometry columns preferred as a feature's geometry when a row has several.
PRIMARY_GEOMETRIES = ("geometry", "geo_shape", "geo_point_2d")


def check_format(fmt: str) -> str:
    """The format name, or an error listing the known ones."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}: one of {', '.join(EXPORT_FORMATS)}")
    return fmt


def _rows(batch: pa.RecordBatch, geo: set[str], tz: ZoneInfo | None = None
          ) -> Iterator[dict[str, Any]]:
    names = batch.schema.names
    for row in batch.to_pylist():
        yield {n: to_json_value(row[n], geojson=n in geo, tz=tz) for n in names}


def primary_geometry(names: Iterable[str]) -> str | None:
    """The geometry of a feature among a row's geometry columns (``geometry``, ``geo_shape``,
    ``geo_point_2d``, else the first by name)."""
    found = sorted(names)
    return next((n for n in PRIMARY_GEOMETRIES if n in found), found[0] if found else None)


# -- what every format shares: time zone, labels, compression --------------------------------

_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_ZERO_FRACTION = re.compile(r"\.0+([+-])")  # RE2 (Arrow): no lookahead


def zone(name: str) -> ZoneInfo:
    """The time zone named ``name`` (checked by the query already)."""
    return ZoneInfo(name)


def localise(batches: Iterable[pa.RecordBatch], zone_name: str, *, as_text: bool = False
             ) -> Iterator[pa.RecordBatch]:
    """Datetime columns seen in ``zone_name`` (naive ones are UTC); as ISO 8601 text with
    ``as_text`` (``2024-03-01T10:00:00+01:00``, as Opendatasoft writes them in CSV)."""
    for batch in batches:
        columns, changed = [], False
        for column in batch.columns:
            if pa.types.is_timestamp(column.type):
                if column.type.tz is None:
                    column = pc.assume_timezone(column, "UTC")
                column = column.cast(pa.timestamp(column.type.unit, tz=zone_name))
                if as_text:
                    text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S%z")
                    text = pc.replace_substring_regex(text, _ZERO_FRACTION.pattern, r"\1")
                    column = pc.replace_substring_regex(text, _OFFSET.pattern, r"\1:\2")
                changed = True
            columns.append(column)
        yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if changed else batch


def relabel(batches: Iterable[pa.RecordBatch], labels: dict[str, str]) -> Iterator[pa.RecordBatch]:
    """Columns named by their label (``use_labels``), where the dictionary gives one."""
    for batch in batches:
        yield batch.rename_columns([labels.get(n) or n for n in batch.schema.names])


def gzip_compressor() -> Any:
    """A compressor writing one gzip stream (``compressed=true``)."""
    return zlib.compressobj(6, zlib.DEFLATED, 31)


def gzipped(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` compressed as one gzip stream (``compressed=true``)."""
    packer = gzip_compressor()
    for chunk in chunks:
        out = packer.compress(chunk)
        if out:
            yield out
    yield packer.flush()


def check_decimal(decimal: str, delimiter: str | None = None) -> str:
    """The decimal mark of a CSV export (``point`` or ``comma``); a comma cannot go with the
    delimiter ``,``: a spreadsheet splitting fields at commas would cut every number in two."""
    if decimal not in CSV_DECIMALS:
        raise InvalidInput(f"decimal must be one of {', '.join(CSV_DECIMALS)}, not {decimal!r}")
    if decimal == "comma" and delimiter == ",":
        raise InvalidInput("decimal=comma cannot go with delimiter ',': choose the delimiter "
                           "';' (the default), tab or '|'")
    return decimal


def with_decimal_comma(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Decimal numbers (floating point and fixed decimals) as text with a decimal comma
    (``1234,5``: Arrow's own writing of the number, its point made a comma); whole numbers,
    text and every other type are left as they are."""
    for batch in batches:
        columns, changed = [], False
        for column in batch.columns:
            if pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
                column = pc.replace_substring(pc.cast(column, pa.string()), ".", ",")
                changed = True
            columns.append(column)
        yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if changed else batch


def write_csv(batches: Iterator[pa.RecordBatch], *, delimiter: str = ";", quote_all: bool = False,
              with_bom: bool = False, header: Sequence[str] | None = None,
              decimal: str = "point") -> Iterator[bytes]:
    """CSV (Opendatasoft's default delimiter is ';') with Arrow's writer; ``header``: the
    column names to write when no batch comes (an empty table still gets its header);
    ``decimal``: the decimal mark of decimal numbers (see ``check_decimal``)."""
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise InvalidInput(f"delimiter must be one character other than a quote or a newline, not {delimiter!r}")
    if check_decimal(decimal, delimiter) == "comma":
        batches = with_decimal_comma(batches)
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


def write_json(batches: Iterator[pa.RecordBatch], geo: set[str], tz: ZoneInfo | None = None
               ) -> Iterator[bytes]:
    """A JSON array of records."""
    yield b"["
    sep = b""
    for batch in batches:
        parts = [json.dumps(r, ensure_ascii=False).encode() for r in _rows(batch, geo, tz)]
        if parts:
            yield sep + b",".join(parts)
            sep = b","
    yield b"]"


def write_jsonl(batches: Iterator[pa.RecordBatch], geo: set[str], tz: ZoneInfo | None = None
                ) -> Iterator[bytes]:
    """One JSON record per line."""
    for batch in batches:
        yield b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n"
                       for r in _rows(batch, geo, tz))


def write_geojson(batches: Iterator[pa.RecordBatch], geo: set[str], tz: ZoneInfo | None = None,
                  *, epsg: int = WGS84) -> Iterator[bytes]:
    """A FeatureCollection; the feature's geometry is ``primary_geometry``; a projection other
    than WGS84 is named in a ``crs`` member (GeoJSON 2008), as GDAL reads it."""
    head = '{"type":"FeatureCollection",'
    if epsg != WGS84:
        crs = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
        head += f'"crs":{json.dumps(crs, separators=(",", ":"))},'
    yield (head + '"features":[').encode()
    sep = b""
    main = primary_geometry(geo)
    for batch in batches:
        parts = []
        for record in _rows(batch, geo, tz):
            geometry = record.pop(main) if main else None
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


def write_parquet(batches: Iterator[pa.RecordBatch], compression: str = "zstd") -> Iterator[bytes]:
    """Parquet written row group by row group (geometry as GeoJSON text)."""
    if compression not in PARQUET_COMPRESSIONS:
        raise InvalidInput(f"parquet_compression must be one of {', '.join(PARQUET_COMPRESSIONS)}")
    sink = _Drain()
    writer: pq.ParquetWriter | None = None
    for batch in batches:
        if writer is None:
            writer = pq.ParquetWriter(sink, batch.schema, compression=compression)
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


# -- KML and GPX: XML written feature by feature ------------------------------------------

def _coordinates(points: Sequence[Sequence[float]]) -> str:
    return " ".join(f"{p[0]},{p[1]}" for p in points)


def _kml_geometry(geometry: dict[str, Any] | None) -> str:
    """A GeoJSON geometry as KML (multi-parts as a MultiGeometry)."""
    if not geometry:
        return ""
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Point":
        return f"<Point><coordinates>{_coordinates([coords])}</coordinates></Point>"
    if kind == "LineString":
        return f"<LineString><coordinates>{_coordinates(coords)}</coordinates></LineString>"
    if kind == "Polygon":
        rings = [f"<LinearRing><coordinates>{_coordinates(r)}</coordinates></LinearRing>"
                 for r in coords]
        inner = "".join(f"<innerBoundaryIs>{r}</innerBoundaryIs>" for r in rings[1:])
        return f"<Polygon><outerBoundaryIs>{rings[0]}</outerBoundaryIs>{inner}</Polygon>"
    parts: list[dict[str, Any]] = []
    if kind in ("MultiPoint", "MultiLineString", "MultiPolygon"):
        parts = [{"type": kind[5:], "coordinates": c} for c in coords]
    elif kind == "GeometryCollection":
        parts = geometry.get("geometries", [])
    return "<MultiGeometry>" + "".join(_kml_geometry(p) for p in parts) + "</MultiGeometry>"


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def write_kml(batches: Iterator[pa.RecordBatch], geo: set[str], tz: ZoneInfo | None = None, *,
              layer: str = "data") -> Iterator[bytes]:
    """A KML document: one Placemark per row, its other fields as ExtendedData."""
    main = primary_geometry(geo)
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
           f"<Document><name>{escape(layer)}</name>\n").encode()
    for batch in batches:
        parts = []
        for record in _rows(batch, geo, tz):
            geometry = record.pop(main) if main else None
            data = "".join(f"<Data name={quoteattr(k)}><value>{escape(_text(v))}</value></Data>"
                           for k, v in record.items())
            parts.append(f"<Placemark><ExtendedData>{data}</ExtendedData>"
                         f"{_kml_geometry(geometry)}</Placemark>\n")
        yield "".join(parts).encode()
    yield b"</Document></kml>\n"


_XML_NAME = re.compile(r"[^\w.-]", re.UNICODE)


def _gpx_point(tag: str, point: Sequence[float], inner: str = "") -> str:
    return f'<{tag} lat="{point[1]}" lon="{point[0]}">{inner}</{tag}>'


def _gpx_lines(geometry: dict[str, Any]) -> list[Sequence[Sequence[float]]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "LineString":
        return [coords]
    if kind in ("MultiLineString", "Polygon"):
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    return []


def write_gpx(batches: Iterator[pa.RecordBatch], geo: set[str], tz: ZoneInfo | None = None, *,
              name_field: str | None = None, description_fields: Sequence[str] = (),
              use_extension: bool = True) -> Iterator[bytes]:
    """GPX 1.1: points as waypoints, lines (and the rings of polygons) as tracks; ``name_field``
    gives the name, ``description_fields`` the description; the other fields go in
    ``<extensions>`` (as GDAL writes them) or, without ``use_extension``, in the
    description."""
    main = primary_geometry(geo)
    yield (b'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="mutuelle" '
           b'xmlns="http://www.topografix.com/GPX/1/1" xmlns:ogr="http://osgeo.org/gdal">\n')
    for batch in batches:
        parts = []
        for record in _rows(batch, geo, tz):
            geometry = record.pop(main) if main else None
            if not geometry:
                continue
            name = _text(record.pop(name_field, None)) if name_field else ""
            described = [_text(record.get(f)) for f in description_fields if f in record]
            inner = f"<name>{escape(name)}</name>" if name else ""
            if use_extension:
                fields = "".join(f"<ogr:{_XML_NAME.sub('_', k)}>{escape(_text(v))}"
                                 f"</ogr:{_XML_NAME.sub('_', k)}>" for k, v in record.items()
                                 if v is not None)
                description = ", ".join(d for d in described if d)
                extensions = f"<extensions>{fields}</extensions>" if fields else ""
            else:
                description = "\n".join([*(d for d in described if d),
                                          *(f"{k}: {_text(v)}" for k, v in record.items()
                                            if v is not None)])
                extensions = ""
            desc = f"<desc>{escape(description)}</desc>" if description else ""
            if geometry.get("type") in ("Point", "MultiPoint"):
                points = [geometry["coordinates"]] if geometry["type"] == "Point" \
                    else geometry["coordinates"]
                parts += [_gpx_point("wpt", p, inner + desc + extensions) for p in points]
                continue
            segments = "".join("<trkseg>" + "".join(_gpx_point("trkpt", p) for p in line)
                               + "</trkseg>" for line in _gpx_lines(geometry))
            parts.append(f"<trk>{inner}{desc}{extensions}{segments}</trk>")
        yield "\n".join(parts).encode() + (b"\n" if parts else b"")
    yield b"</gpx>\n"


# -- Shapefile and FlatGeobuf: written by GDAL, then sent ------------------------------------

def _file_chunks(folder: Path, files: list[Path], zipped: bool) -> Iterator[bytes]:
    try:
        if not zipped:
            with files[0].open("rb") as handle:
                while block := handle.read(1 << 20):
                    yield block
            return
        import zipfile

        sink = _Drain()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                with path.open("rb") as handle, archive.open(path.name, "w") as member:
                    while block := handle.read(1 << 20):
                        member.write(block)
                        yield sink.take()
        yield sink.take()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _gdal_select(con: duckdb.DuckDBPyConnection, select: exp.Select, epsg: int,
                 zone_name: str) -> exp.Select:
    """``select`` as GDAL takes it: one geometry (projected), other geometries as WKT text,
    datetimes on the clock of ``zone_name``."""
    described = con.execute(f"DESCRIBE {select.sql(dialect='duckdb')}").fetchall()
    types = {str(r[0]): str(r[1]).upper() for r in described}
    geometries = [n for n, t in types.items() if t.startswith("GEOMETRY")]
    main = primary_geometry(geometries)
    if main is None:
        raise QueryError("this export needs a geometry, and the selected columns have none",
                         clause="select")
    replaced = []
    for name, kind in types.items():
        col = exp.column(exp.to_identifier(name, quoted=True))
        if name == main:
            value = projected(name, epsg)
        elif kind.startswith("GEOMETRY"):
            value = exp.func("ST_AsText", col)
        elif kind == "TIMESTAMP WITH TIME ZONE":
            value = exp.func("timezone", exp.Literal.string(zone_name), col)
        elif kind == "TIMESTAMP":
            value = exp.func("timezone", exp.Literal.string(zone_name),
                             exp.func("timezone", exp.Literal.string("UTC"), col))
        elif kind.startswith(("STRUCT", "MAP")) or kind.endswith("[]"):
            value = exp.cast(col, "VARCHAR")
        else:
            continue
        replaced.append(exp.alias_(value, exp.to_identifier(name, quoted=True)))
    if not replaced:
        return select
    return exp.select(exp.Star(**{"replace": replaced})).from_(select.subquery("q"))


def write_file_export(settings: Settings, select: exp.Select, fmt: str, *, layer: str,
                      epsg: int = WGS84, zone_name: str = "UTC") -> Iterator[bytes]:
    """A Shapefile (zipped with its .dbf, .shx, .prj and .cpg) or a FlatGeobuf of ``select``,
    written by GDAL into the work folder now (errors come before any byte), then streamed."""
    driver, ext = FILE_FORMATS[fmt]
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=settings.work_dir, prefix="export-"))
    con = cursor(settings)
    try:
        check_epsg(con, epsg)
        shaped = _gdal_select(con, select, epsg, zone_name)
        target = folder / f"{re.sub(r'[^A-Za-z0-9_-]', '_', layer) or 'data'}.{ext}"
        options = ", LAYER_CREATION_OPTIONS 'ENCODING=UTF-8'" if fmt == "shp" else ""
        con.execute(f"COPY ({shaped.sql(dialect='duckdb')}) TO '{target}' WITH (FORMAT GDAL, "
                    f"DRIVER '{driver}', LAYER_NAME '{target.stem}', SRS 'EPSG:{int(epsg)}'"
                    f"{options})")
    except (*QUERY_ERRORS, duckdb.NotImplementedException, duckdb.IOException) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        first = str(exc).splitlines()[0].split(":", 1)[-1].strip()
        raise QueryError(f"cannot write a {fmt} export: {first}", clause="select") from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        con.close()
    files = sorted(folder.iterdir())
    return _file_chunks(folder, files if fmt == "shp" else [target], zipped=fmt == "shp")


# -- choosing the writer ---------------------------------------------------------------------

def writer_for(fmt: str, geo: set[str], *, delimiter: str = ";", quote_all: bool = False,
               with_bom: bool = False, timezone: str = "UTC",
               labels: dict[str, str] | None = None, epsg: int = WGS84,
               parquet_compression: str = "zstd", layer: str = "data",
               gpx: dict[str, Any] | None = None, decimal: str = "point"
               ) -> Callable[[Iterator[pa.RecordBatch]], Iterator[bytes]]:
    """The streaming writer of one format: datetimes in ``timezone``, columns named by their
    ``labels`` (csv, xlsx), shapes projected in ``epsg`` (by the query: named in GeoJSON),
    decimal numbers of a CSV with a ``decimal`` point or comma."""
    check_format(fmt)
    if fmt in FILE_FORMATS:
        raise InvalidInput(f"{fmt} exports are written by write_file_export")
    tz = zone(timezone)
    named = labels or {}
    if fmt == "csv":
        if delimiter not in CSV_DELIMITERS:
            shown = ", ".join(repr(d) for d in CSV_DELIMITERS)
            raise InvalidInput(f"delimiter must be one of {shown}, not {delimiter!r}")
        check_decimal(decimal, delimiter)
        return lambda b: write_csv(relabel(localise(b, timezone, as_text=True), named),
                                   delimiter=delimiter, quote_all=quote_all, with_bom=with_bom,
                                   decimal=decimal)
    if fmt == "json":
        return lambda b: write_json(b, geo, tz)
    if fmt == "jsonl":
        return lambda b: write_jsonl(b, geo, tz)
    if fmt == "geojson":
        return lambda b: write_geojson(b, geo, tz, epsg=epsg)
    if fmt == "kml":
        return lambda b: write_kml(b, geo, tz, layer=layer)
    if fmt == "gpx":
        return lambda b: write_gpx(b, geo, tz, **(gpx or {}))
    if fmt == "parquet":
        if parquet_compression not in PARQUET_COMPRESSIONS:
            raise InvalidInput(f"parquet_compression must be one of "
                               f"{', '.join(PARQUET_COMPRESSIONS)}")
        return lambda b: write_parquet(localise(b, timezone), parquet_compression)
    return lambda b: write_xlsx(relabel(localise(b, timezone), named), geo)
