"""GeoJSON, Shapefile and GeoPackage read through DuckDB's ``ST_Read`` (GDAL), repaired,
reprojected to WGS84 (lon/lat) and written as Parquet with a GEOMETRY column."""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest import encoding as enc
from mutuelle.ingest.concepts import detect_concept
from mutuelle.ingest.dbf_encoding import dbf_encoding
from mutuelle.ingest.model import ColumnSpec, ImportOptions, Progress, StagedTable
from mutuelle.ingest.text_repair import Recode, TextCheck, check_text, name_repair, names_warning
from mutuelle.store.duck import connect
from mutuelle.store.sql import ident, literal

log = logging.getLogger(__name__)

#: GDAL drivers allowed per format: GDAL never guesses beyond what the file claims to be.
DRIVERS = {"geojson": "GeoJSON", "shapefile": "ESRI Shapefile", "geopackage": "GPKG"}
#: CRS names meaning "already WGS84 longitude/latitude" for the data as stored.
WGS84 = ("EPSG:4326", "OGC:CRS84", "OGC:84")
#: GeoJSON files up to this size are re-parsed by Python to locate a syntax error.
JSON_DIAGNOSIS_MAX_BYTES = 64 * 1024 * 1024
#: Rows looked at to recognise the concept of an attribute column.
CONCEPT_SAMPLE_ROWS = 1000
#: Invalid features named one by one in the warning; the rest are counted.
REPORTED_FEATURES = 10
#: Formats whose text is UTF-8 by their definition: the encoding option cannot apply.
UTF8_ONLY = {
    "geojson": ("a GeoJSON file", "GeoJSON is UTF-8 by definition (RFC 7946)"),
    "geopackage": ("a GeoPackage", "a GeoPackage stores its text in UTF-8 (OGC GeoPackage "
                                   "standard)"),
}
#: Attribute names tried, in order, to name a feature in messages.
_ID_NAMES = ("id", "code", "code_iris", "insee_com", "codgeo", "code_insee", "insee", "fid",
             "objectid", "nom", "name")

_TYPES = {
    "VARCHAR": "text", "BOOLEAN": "boolean", "DATE": "date",
    "TINYINT": "integer", "SMALLINT": "integer", "INTEGER": "integer", "BIGINT": "integer",
    "HUGEINT": "integer", "UTINYINT": "integer", "USMALLINT": "integer", "UINTEGER": "integer",
    "UBIGINT": "integer", "FLOAT": "decimal", "DOUBLE": "decimal",
    "TIMESTAMP": "datetime", "TIMESTAMP WITH TIME ZONE": "datetime", "TIMESTAMP_S": "datetime",
    "TIMESTAMP_MS": "datetime", "TIMESTAMP_NS": "datetime",
}
_CASTS = {"text": "VARCHAR", "integer": "BIGINT", "decimal": "DOUBLE", "boolean": "BOOLEAN",
          "date": "DATE", "datetime": "TIMESTAMP"}


def read_geo(source: Path, dest_parquet: Path, settings: Settings, options: ImportOptions,
             progress: Progress | None = None, *, format: str) -> StagedTable:
    """Read a GeoJSON, a Shapefile (its ``.shp``, siblings beside it) or a GeoPackage."""
    if format not in DRIVERS:
        raise ValueError(f"not a geographic format: {format}")
    total = source.stat().st_size
    if progress:
        progress(0, total)
    if format == "shapefile":
        check_shapefile_parts(source, options)
    text = text_encoding(source, format, options)
    dest_parquet.parent.mkdir(parents=True, exist_ok=True)
    con = connect(settings)
    try:
        staged = _read(con, source, dest_parquet, settings, options, format, text)
    except duckdb.Error as exc:
        dest_parquet.unlink(missing_ok=True)
        if "Invalid unicode" in str(exc):
            raise _not_in(format, text) from exc
        raise ImportFailed(f"the {format} file cannot be read: {_gdal_message(exc)}") from exc
    except BaseException:
        dest_parquet.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    if progress:
        progress(total, total)
    log.info("geo_read source=%s format=%s rows=%d crs=%s", source.name, format,
             staged.row_count, staged.detected.get("crs"))
    return staged


def check_shapefile_parts(shp: Path, options: ImportOptions) -> None:
    """Refuse a Shapefile whose .dbf or .shx is missing, or whose CRS is unknown."""
    siblings = {p.name.casefold(): p for p in shp.parent.iterdir()}
    for ext, role in ((".dbf", "its attribute table"), (".shx", "its index")):
        name = shp.stem + ext
        if name.casefold() not in siblings:
            raise ImportFailed(f"the Shapefile is incomplete: {name} ({role}) is missing; "
                               "zip the .shp, .shx, .dbf and .prj together",
                               where=f"{shp.name}")
    if (shp.stem + ".prj").casefold() not in siblings and not options.source_crs:
        raise ImportFailed(
            f"the Shapefile has no {shp.stem}.prj, so its coordinate system is unknown; add the "
            ".prj to the zip or give the source CRS (for example EPSG:2154 for Lambert-93)",
            where=shp.name)


class TextEncoding(NamedTuple):
    """How GDAL is to hand over a layer's text, and what to make of it."""

    open_options: list[str]   # for ST_Read
    recode: Recode | None     # text read as latin-1 that stands for another one-byte encoding
    label: str                # the encoding, for the user
    source: str = ""          # where it comes from: asked, .cpg, LDID, detected


def text_encoding(source: Path, format: str, options: ImportOptions) -> TextEncoding:
    """The encoding of a layer's text: UTF-8 where the format says so (another one asked is
    refused), the asked, .cpg, LDID or detected one for a Shapefile's .dbf.

    GDAL here recodes only latin-1: other one-byte encodings are read as latin-1 (byte for
    character) and recoded in SQL.
    """
    if format in UTF8_ONLY:
        if options.encoding and not enc.lookup(options.encoding).is_utf8:
            what, rule = UTF8_ONLY[format]
            raise ImportFailed(f"the encoding {options.encoding.strip()!r} cannot apply to {what}: "
                               f"{rule}. Leave the encoding empty; if its text looks garbled "
                               "(such as 'Ã©' for 'é'), import it with fix_text (--fix-text)")
        return TextEncoding([], None, "utf-8")
    if format != "shapefile":
        return TextEncoding([], None, "")
    found = dbf_encoding(source, options.encoding)
    log.info("dbf_encoding source=%s encoding=%s from=%s", source.name, found.codec, found.source)
    if found.is_utf8:
        return TextEncoding(["ENCODING=UTF-8"], None, found.label, found.source)
    recode = Recode.from_latin1(found.codec)
    return TextEncoding(["ENCODING=ISO-8859-1"], recode if recode.read else None, found.label,
                        found.source)


def _not_in(format: str, text: TextEncoding) -> ImportFailed:
    if format == "shapefile":
        said = {"asked": "as asked", ".cpg": "as its .cpg says"}.get(text.source, text.source)
        return ImportFailed(f"the attribute table (.dbf) holds text that is not {text.label} "
                            f"({said}): give its encoding (for example cp1252 or latin-1)")
    return ImportFailed(f"the {format} file holds text that is not UTF-8")


def _read(con: duckdb.DuckDBPyConnection, source: Path, dest: Path, settings: Settings,
          options: ImportOptions, format: str, text: TextEncoding) -> StagedTable:
    warnings: list[str] = []
    layer = _choose_layer(con, source, format, options, warnings)
    src_crs, crs_name = _source_crs(con, layer, options, warnings)
    con.execute("CREATE TABLE src AS SELECT * FROM ST_Read(?, layer := ?, allowed_drivers := ?, "
                "open_options := ?)",
                [str(source), layer["name"], [DRIVERS[format]], text.open_options])
    described = con.execute("DESCRIBE src").fetchall()
    geom_cols = [name for name, kind, *_ in described if kind == "GEOMETRY"]
    if not geom_cols:
        raise ImportFailed("the file has no geometry column")
    geom = geom_cols[0]
    attrs = [(name, kind) for name, kind, *_ in described if name not in geom_cols]
    if len(attrs) + 1 > settings.max_columns:
        raise TooLarge(f"the layer has {len(attrs) + 1} columns, more than the "
                       f"{settings.max_columns} accepted (MUTUELLE_MAX_COLUMNS)")
    checked = check_text(con, "src", [name for name, kind in attrs if kind == "VARCHAR"],
                         recode=text.recode, repair=options.fix_text)
    checked.load_mappings(con)
    columns, select, names = _attribute_columns(attrs, options, checked, text.recode)
    repaired = _invalid_features(con, geom, [a for a, _ in attrs])
    if repaired:
        warnings.append(repaired)
    warnings.extend(_geometry_notes(con, geom))
    warnings.extend(names_warning(names, options.fix_text))
    warnings.extend(checked.warnings())

    target = f"src.{ident(geom)}"
    transformed = f"ST_Force2D(ST_MakeValid({target}))"
    if src_crs.upper() not in WGS84:
        transformed = f"ST_Transform({transformed}, ?, 'EPSG:4326', always_xy := true)"
    params = [] if src_crs.upper() in WGS84 else [src_crs]
    select.append(f"{transformed} AS geometry")
    joins = checked.joins_sql({name: f"src.{ident(name)}" for name, _ in attrs})
    con.execute(f"COPY (SELECT {', '.join(select)} FROM src{joins} ORDER BY src.rowid) "
                f"TO {literal(dest)} (FORMAT parquet, COMPRESSION zstd)", params)
    checked.drop_mappings(con)

    row_count, geometry_type, bbox = _summary(con, dest)
    _check_lonlat(bbox, src_crs)
    columns.append(ColumnSpec(name="geometry", type="geometry",
                              source_name=geom if geom != "geometry" else None,
                              note=repaired or None))
    _detect_concepts(con, dest, columns)
    detected = {
        "encoding": text.label,
        "crs": src_crs if len(src_crs) < 40 else crs_name,
        "crs_name": crs_name,
        "layer": layer["name"],
        "geometry_type": geometry_type,
        "bbox": json.dumps([round(v, 7) for v in bbox]) if bbox else "",
    }
    return StagedTable(parquet_path=dest, columns=columns, row_count=row_count, format=format,
                       detected=detected, warnings=warnings)


def _choose_layer(con: duckdb.DuckDBPyConnection, source: Path, format: str,
                  options: ImportOptions, warnings: list[str]) -> dict[str, Any]:
    rows = con.execute("SELECT layers FROM ST_Read_Meta(?)", [str(source)]).fetchall()
    layers = [layer for row in rows for layer in row[0] if layer["geometry_fields"]]
    if not layers:
        _explain_unreadable(con, source, format)
    if format == "geopackage" and options.sheet:
        for layer in layers:
            if layer["name"] == options.sheet:
                return layer
        raise ImportFailed(f"there is no layer named {options.sheet!r}; the layers are: "
                           + ", ".join(repr(la["name"]) for la in layers))
    if len(layers) > 1:
        warnings.append(f"layer {layers[0]['name']!r} read; other layers: "
                        + ", ".join(repr(la["name"]) for la in layers[1:]))
    return layers[0]


def _explain_unreadable(con: duckdb.DuckDBPyConnection, source: Path, format: str) -> None:
    """Raise the most precise error we can for a file GDAL does not list any layer for."""
    if format == "geojson":
        _check_json_syntax(source)
    try:
        con.execute("SELECT count(*) FROM ST_Read(?, allowed_drivers := ?)",
                    [str(source), [DRIVERS[format]]]).fetchall()
    except duckdb.Error as exc:
        message = _gdal_message(exc)
        position = re.search(r"[Aa]t line (\d+), character (\d+)", message)
        if position:
            raise ImportFailed(f"invalid GeoJSON: {message.split(': ', 1)[-1]}",
                               where=f"line {position.group(1)}, column {position.group(2)}"
                               ) from exc
        if "not recognized" in message and format == "geojson":
            raise ImportFailed("the JSON file is not GeoJSON: expected a FeatureCollection, "
                               "a Feature or a geometry") from exc
        raise ImportFailed(f"the {format} file cannot be read: {message}") from exc
    raise ImportFailed(f"the {format} file holds no layer with geometries")


def _check_json_syntax(source: Path) -> None:
    if source.stat().st_size > JSON_DIAGNOSIS_MAX_BYTES:
        return
    try:
        with open(source, encoding="utf-8-sig") as f:
            json.load(f)
    except UnicodeDecodeError as exc:
        raise ImportFailed("invalid GeoJSON: the file is not UTF-8",
                           where=f"byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"invalid GeoJSON: {exc.msg}",
                           where=f"line {exc.lineno}, column {exc.colno}") from exc


def _source_crs(con: duckdb.DuckDBPyConnection, layer: dict[str, Any], options: ImportOptions,
                warnings: list[str]) -> tuple[str, str]:
    crs = layer["geometry_fields"][0].get("crs")
    declared = None
    name = ""
    if crs:
        name = crs.get("name") or ""
        if crs.get("auth_name") and crs.get("auth_code"):
            declared = f"{crs['auth_name']}:{crs['auth_code']}"
        else:
            declared = crs.get("projjson") or crs.get("wkt")
    if options.source_crs:
        given = options.source_crs.strip()
        try:
            con.execute("SELECT ST_Transform(ST_Point(0, 0), ?, 'EPSG:4326', always_xy := true)",
                        [given]).fetchall()
        except duckdb.Error as exc:
            raise ImportFailed(f"unknown coordinate system {given!r}: give an EPSG code such as "
                               "EPSG:2154 (Lambert-93) or EPSG:4326") from exc
        if declared and declared.upper() != given.upper():
            warnings.append(f"source CRS {given} used as asked, instead of the file's "
                            f"{name or declared}")
        return given, given
    if not declared:
        raise ImportFailed("the file does not say its coordinate system; give the source CRS "
                           "(for example EPSG:2154 for Lambert-93)")
    return declared, name or declared


def _attribute_columns(attrs: list[tuple[str, str]], options: ImportOptions, text: TextCheck,
                       recode: Recode | None) -> tuple[list[ColumnSpec], list[str], list[str]]:
    """Output columns, their SELECT items, and what was found of mojibake in their names."""
    columns: list[ColumnSpec] = []
    select: list[str] = []
    names: list[str] = []
    taken = {"geometry"}
    for index, (name, kind) in enumerate(attrs):
        written = recode.python(name) if recode and name else name   # as in the file
        header, finding = name_repair(written, options.fix_text) if written else (written, None)
        if finding:
            names.append(finding)
        out_name = (header or "").strip() or f"column_{index + 1}"
        base = out_name
        suffix = 1
        while out_name.casefold() in taken:
            suffix += 1
            out_name = f"{base}_{suffix}"
        taken.add(out_name.casefold())
        our_type = _TYPES.get(kind, "decimal" if kind.startswith("DECIMAL") else "text")
        forced = options.types.get(out_name) or options.types.get(written)
        expr = text.value_sql(name, f"src.{ident(name)}") if kind == "VARCHAR" else f"src.{ident(name)}"
        if forced and forced != "geometry":
            our_type = forced
            expr = f"CAST({expr} AS {_CASTS[forced]})"
        elif our_type == "text" and kind != "VARCHAR":
            expr = f"CAST({expr} AS VARCHAR)"   # lists, blobs, times: kept readable
        select.append(f"{expr} AS {ident(out_name)}")
        notes = [f"renamed from {written!r}"] if written != out_name else []
        if text.repairs(name):
            notes.append("mojibake repaired")
        columns.append(ColumnSpec(name=out_name, type=our_type,
                                  source_name=written if written != out_name else None,
                                  note="; ".join(notes) or None))
    return columns, select, names


def _invalid_features(con: duckdb.DuckDBPyConnection, geom: str, attrs: list[str]) -> str:
    """A warning naming the features whose geometry is invalid (they are repaired)."""
    id_col = _id_column(attrs)
    label = f", CAST({ident(id_col)} AS VARCHAR)" if id_col else ", NULL"
    rows = con.execute(
        f"SELECT rowid{label} FROM src WHERE {ident(geom)} IS NOT NULL "
        f"AND NOT ST_IsValid({ident(geom)}) ORDER BY rowid").fetchall()
    if not rows:
        return ""
    named = [f"feature {r + 1}" + (f" ({id_col}={ident})" if id_col else "")
             for r, ident in rows[:REPORTED_FEATURES]]
    more = f" and {len(rows) - REPORTED_FEATURES} more" if len(rows) > REPORTED_FEATURES else ""
    return (f"{len(rows)} invalid geometr{'y' if len(rows) == 1 else 'ies'} (self-intersecting "
            f"or badly closed) repaired with ST_MakeValid: {', '.join(named)}{more}")


def _geometry_notes(con: duckdb.DuckDBPyConnection, geom: str) -> list[str]:
    g = ident(geom)
    empty, zm = con.execute(
        f"SELECT count(*) FILTER ({g} IS NULL OR ST_IsEmpty({g})), "
        f"count(*) FILTER (ST_HasZ({g}) OR ST_HasM({g})) FROM src").fetchone() or (0, 0)
    notes = []
    if empty:
        notes.append(f"{empty} feature(s) without geometry kept, with an empty geometry")
    if zm:
        notes.append(f"{zm} geometr{'y' if zm == 1 else 'ies'} had Z or M values; kept in 2D")
    return notes


def _summary(con: duckdb.DuckDBPyConnection,
             dest: Path) -> tuple[int, str, tuple[float, float, float, float] | None]:
    row = con.execute(
        "SELECT count(*), list(DISTINCT ST_GeometryType(geometry)) "
        "FILTER (geometry IS NOT NULL), min(ST_XMin(geometry)), min(ST_YMin(geometry)), "
        "max(ST_XMax(geometry)), max(ST_YMax(geometry)) FROM read_parquet(?)",
        [str(dest)]).fetchone()
    assert row is not None
    count, kinds, *box = row
    geometry_type = ", ".join(sorted(str(k) for k in (kinds or [])))
    bbox = None if box[0] is None else (float(box[0]), float(box[1]), float(box[2]),
                                        float(box[3]))
    return int(count), geometry_type, bbox


def _check_lonlat(bbox: tuple[float, float, float, float] | None, src_crs: str) -> None:
    if bbox is None:
        return
    xmin, ymin, xmax, ymax = bbox
    if not all(math.isfinite(v) for v in bbox) or xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise ImportFailed(
            f"coordinates read as {src_crs} fall outside longitude/latitude once in WGS84 "
            f"(x from {xmin:g} to {xmax:g}, y from {ymin:g} to {ymax:g}): the coordinate system "
            "is probably wrong; give the source CRS (for example EPSG:2154 for Lambert-93)")


def _detect_concepts(con: duckdb.DuckDBPyConnection, dest: Path,
                     columns: list[ColumnSpec]) -> None:
    """Fill ``concept`` on attribute columns from their names and a sample of values."""
    attributes = [c for c in columns if c.type != "geometry"]
    if not attributes:
        return
    select = ", ".join(f"list(CAST({ident(c.name)} AS VARCHAR)) FILTER ({ident(c.name)} IS NOT NULL)"
                       for c in attributes)
    row = con.execute(f"SELECT {select} FROM (SELECT * FROM read_parquet(?) LIMIT ?)",
                      [str(dest), CONCEPT_SAMPLE_ROWS]).fetchone()
    assert row is not None
    for column, values in zip(attributes, row, strict=True):
        column.concept = detect_concept(column.source_name or column.name, values or [])


def _id_column(attrs: list[str]) -> str | None:
    lowered = {a.casefold(): a for a in attrs}
    for name in _ID_NAMES:
        if name in lowered:
            return lowered[name]
    return None


def _gdal_message(exc: duckdb.Error) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^(IO|Invalid Input|Binder) Error: (GDAL Error \(\d+\): )?", "", first)

