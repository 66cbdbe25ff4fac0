"""The one entry point for reading an uploaded file: check its size, recognise its format
from its bytes and its name, hand it to the right reader, and publish the Parquet
atomically (a temporary file beside the destination, renamed at the end)."""

from __future__ import annotations

import logging
import os
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest.archives import extracted_zip, is_junk
from mutuelle.ingest.csv import read_csv
from mutuelle.ingest.excel import read_spreadsheet
from mutuelle.ingest.geo import read_geo
from mutuelle.ingest.model import ImportOptions, Progress, StagedTable

log = logging.getLogger(__name__)

#: Formats ``detect_format`` returns.
FORMATS = ("csv", "xlsx", "xls", "ods", "geojson", "zip", "shapefile", "geopackage")
_TEXT_EXTENSIONS = {"csv": "csv", "txt": "csv", "tsv": "csv", "tab": "csv",
                    "geojson": "geojson", "json": "geojson"}
_SPREADSHEETS = ("xlsx", "xls", "ods")
_GEO = ("geojson", "shapefile", "geopackage")
_SHAPEFILE_PARTS = ("dbf", "shx", "prj", "cpg", "sbn", "sbx", "qix", "qmd", "xml")
#: Magic numbers of files people upload by mistake, to say what they sent.
_NOT_TABLES = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"), (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"), (b"PAR1", "a Parquet file"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SQLITE = b"SQLite format 3\x00"
_SHP_MAGIC = b"\x00\x00\x27\x0a"
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def read_file(source: Path, original_name: str, dest_parquet: Path, settings: Settings,
              options: ImportOptions, progress: Progress | None = None) -> StagedTable:
    """Read an uploaded file into ``dest_parquet``; nothing is left there on failure."""
    size = source.stat().st_size
    if size > settings.max_upload_bytes:
        raise TooLarge(f"the file is {size} bytes, more than the {settings.max_upload_bytes} "
                       "accepted (MUTUELLE_MAX_UPLOAD_BYTES)")
    fmt = detect_format(source, original_name)
    tmp = dest_parquet.with_name(f".{dest_parquet.name}.{uuid.uuid4().hex}.tmp")
    dest_parquet.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "zip":
            staged = _read_zip(source, original_name, tmp, settings, options, progress)
        else:
            staged = _dispatch(fmt, source, tmp, settings, options, progress)
        os.replace(tmp, dest_parquet)
    finally:
        tmp.unlink(missing_ok=True)
    staged.parquet_path = dest_parquet
    log.info("file_read name=%s format=%s rows=%d", original_name, staged.format,
             staged.row_count)
    return staged


def detect_format(path: Path, name: str) -> str:
    """The format of a file from its first bytes, then its extension; one of ``FORMATS``."""
    ext = PurePosixPath(name.replace("\\", "/")).suffix.lower().lstrip(".")
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        raise ImportFailed("the file is empty", where=name)
    for magic, what in _NOT_TABLES:
        if head.startswith(magic):
            raise ImportFailed(f"the file is {what}, not a text table nor a map layer",
                               where=name)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path, name)
    if head.startswith(_OLE2):
        return "xls"
    if head.startswith(_SQLITE):
        if head[68:72] in (b"GPKG", b"GP10", b"GP11") or ext == "gpkg":
            return "geopackage"
        raise ImportFailed("the file is an SQLite database, not a GeoPackage", where=name)
    if head.startswith(_SHP_MAGIC) or ext in ("shp", "shx"):
        raise ImportFailed("a Shapefile is several files: send a zip holding the .shp, .shx, "
                           ".dbf and .prj together", where=name)
    if ext == "dbf":
        raise ImportFailed("a .dbf alone is only the attribute table of a Shapefile: send a zip "
                           "holding the .shp, .shx, .dbf and .prj together", where=name)
    if ext in _TEXT_EXTENSIONS:
        return _TEXT_EXTENSIONS[ext]
    if ext in _SPREADSHEETS or ext in ("gpkg", "zip"):
        raise ImportFailed(f"the file is named .{ext} but its content is not a {ext} file",
                           where=name)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") and b'"type"' in head:
        return "geojson"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFailed("the format of the file is not recognised: send CSV, Excel, ODS, "
                           "GeoJSON, a zipped Shapefile or a GeoPackage", where=name)
    return "csv"


def _zip_kind(path: Path, name: str) -> str:
    """xlsx and ods are zips too: tell them apart by their entries (names only)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                with archive.open("mimetype") as f:
                    if f.read(len(_ODS_MIME) + 8).strip() == _ODS_MIME:
                        return "ods"
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFailed(f"the zip file is damaged: {exc}", where=name) from exc
    if "[Content_Types].xml" in names:
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        raise ImportFailed("the file is an Office document that is not a spreadsheet",
                           where=name)
    return "zip"


def _dispatch(fmt: str, source: Path, dest: Path, settings: Settings, options: ImportOptions,
              progress: Progress | None) -> StagedTable:
    if fmt == "csv":
        return read_csv(source, dest, settings, options, progress, format="csv")
    if fmt in _SPREADSHEETS:
        return read_spreadsheet(source, dest, settings, options, progress, format=fmt)
    if fmt in _GEO:
        return read_geo(source, dest, settings, options, progress, format=fmt)
    raise ImportFailed(f"cannot read {fmt} files here")


def _read_zip(source: Path, original_name: str, dest: Path, settings: Settings,
              options: ImportOptions, progress: Progress | None) -> StagedTable:
    with extracted_zip(source, settings) as folder:
        files = sorted(p for p in folder.rglob("*")
                       if p.is_file() and not is_junk(p.relative_to(folder).parts))
        shapefiles = [p for p in files if p.suffix.lower() == ".shp"]
        entry = _choose_entry(files, shapefiles, folder, original_name, options)
        fmt = "shapefile" if entry.suffix.lower() == ".shp" else detect_format(entry, entry.name)
        if fmt == "zip":
            raise ImportFailed("a zip inside the zip is not read: send the inner file",
                               where=f"entry {entry.relative_to(folder).as_posix()!r}")
        entry_options = replace(options, sheet=None) if fmt == "shapefile" else options
        staged = _dispatch(fmt, entry, dest, settings, entry_options, progress)
        staged.detected["archive_entry"] = entry.relative_to(folder).as_posix()
        return staged


def _choose_entry(files: list[Path], shapefiles: list[Path], folder: Path, original_name: str,
                  options: ImportOptions) -> Path:
    def rel(p: Path) -> str:
        return p.relative_to(folder).as_posix()

    if len(shapefiles) == 1:
        return shapefiles[0]
    if len(shapefiles) > 1:
        if options.sheet:
            for shp in shapefiles:
                if options.sheet in (shp.stem, shp.name, rel(shp)):
                    return shp
        raise ImportFailed("the zip holds several Shapefiles; choose one: "
                           + ", ".join(rel(p) for p in shapefiles), where=original_name)
    orphans = [p for p in files if p.suffix.lower().lstrip(".") in _SHAPEFILE_PARTS[:2]]
    if orphans:
        raise ImportFailed(f"the zip holds {rel(orphans[0])} but no .shp: the Shapefile is "
                           "incomplete", where=original_name)
    readable = {"csv", "txt", "tsv", "tab", "geojson", "json", "xlsx", "xls", "ods", "gpkg"}
    tables = [p for p in files if p.suffix.lower().lstrip(".") in readable]
    if len(tables) == 1:
        return tables[0]
    if not tables:
        listed = ", ".join(rel(p) for p in files[:20]) or "nothing"
        raise ImportFailed(f"the zip holds no table or map layer (it holds: {listed})",
                           where=original_name)
    raise ImportFailed("the zip holds several files; send one at a time: "
                       + ", ".join(rel(p) for p in tables), where=original_name)
