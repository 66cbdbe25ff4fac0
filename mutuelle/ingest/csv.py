"""CSV files (and the UTF-8 CSV the spreadsheet reader writes) to a typed Parquet file.

Python decides, from the first block and a sample, the encoding, delimiter, header,
types and concepts; DuckDB then reads the whole file as text and casts it in a
single ``COPY ... TO parquet``. Any value the cast refuses stops the copy, so nothing
is silently turned into NULL.

The DuckDB side (the SQL over the file, the sample, the COPY and the re-typing) is in
``mutuelle.ingest.csv_copy``.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest import encoding as enc
from mutuelle.ingest import geo_text
from mutuelle.ingest.concepts import CODE_CONCEPTS, detect_concept, might_hold_points
from mutuelle.ingest.csv_copy import (
    SAMPLE_CELLS,
    CopyColumn,
    copy_csv,
    CopyJob,
    RowMeter,
    NotLatin1,
    NotUtf8,
    read_sample,
)
from mutuelle.ingest.model import COLUMN_TYPES, ColumnSpec, ImportOptions, Progress, StagedTable
from mutuelle.ingest.text_repair import (
    check_text,
    dictionary_columns,
    name_repair,
    names_warning,
    rewrite_parquet,
)
from mutuelle.ingest.typing import SPACES, TEXT, guess_for, infer_type
from mutuelle.store.duck import connect
from mutuelle.store.sql import literal

__all__ = ["SAMPLE_CELLS", "name_columns", "read_csv"]

log = logging.getLogger(__name__)


def read_csv(
    source: Path,
    dest_parquet: Path,
    settings: Settings,
    options: ImportOptions,
    progress: Progress | None = None,
    *,
    format: str = "csv",
) -> StagedTable:
    """Read a delimited text file into ``dest_parquet`` (written whole or not at all)."""
    source, dest = Path(source), Path(dest_parquet)
    size = source.stat().st_size
    if size > settings.max_upload_bytes:
        raise TooLarge(f"the file is {size} bytes, more than the limit of "
                       f"{settings.max_upload_bytes} (MUTUELLE_MAX_UPLOAD_BYTES)")
    meter = RowMeter(progress, size)
    meter.at(0.0)
    token = uuid.uuid4().hex
    part = dest.with_name(f".{dest.name}.{token}.part")
    work = settings.work_dir / f"csv-{token}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True)
    try:
        table = _import(source, part, work, settings, options, meter, format)
        os.replace(part, dest)
        table.parquet_path = dest
        meter.at(1.0)
        return table
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _import(source: Path, part: Path, work: Path, settings: Settings, options: ImportOptions,
            meter: RowMeter, format: str) -> StagedTable:
    head = enc.read_head(source)
    enc.refuse_non_text(head)
    guessed = not options.encoding
    encoding = (enc.lookup(options.encoding) if options.encoding
                else enc.detect_encoding(head, complete=len(head) < enc.HEAD_BYTES))
    try:
        try:
            return _import_as(source, part, work, settings, options, meter, format, encoding, [])
        except NotLatin1:
            # cp1252's ’ € œ... (bytes 0x80-0x9F), which DuckDB refuses as latin-1: found on
            # the way rather than by a pass of their own over the bytes of every file.
            return _import_as(source, part, work, settings, options, meter, format, encoding,
                              [], transcode=True)
    except NotUtf8:
        line = enc.first_undecodable_line(source)
        if not guessed:
            raise ImportFailed(f"the file is not {encoding.label}",
                               where=f"line {line}" if line else None) from None
        note = (f"the file is not all UTF-8 (line {line}): its invalid bytes were "
                "read as cp1252")
        return _import_as(source, part, work, settings, options, meter, format,
                          enc.UTF8_MIXED, [note])


def _import_as(source: Path, part: Path, work: Path, settings: Settings, options: ImportOptions,
               meter: RowMeter, format: str, encoding: enc.Encoding, notes: list[str], *,
               transcode: bool = False) -> StagedTable:
    laps = _Laps()
    head_text, complete = enc.head_text(source, encoding)
    delimiter = options.delimiter or enc.sniff_delimiter(head_text, complete=complete)
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ImportFailed(f"impossible delimiter {delimiter!r}")
    header = enc.read_header(source, encoding, delimiter, settings.max_columns)
    columns, renamed = name_columns(header, fix_text=options.fix_text)
    points = (bool(options.latitude or options.longitude) or might_hold_points(header)
              or any(geo_text.kind_of(h) for h in header))
    spatial: _Background | None = None
    # The plain connection first: opening one waits while another loads the spatial extension.
    with connect(settings, spatial=False) as plain:
        try:
            # Loading spatial takes a third of a second of CPU: in the background, while the
            # sample is read and typed, if the header announces points.
            spatial = _Background(lambda: connect(settings)) if points else None
            laps.lap("dialect")
            text_path, text_encoding, span = _text_for_duckdb(source, work, encoding, meter,
                                                              transcode)
            laps.lap("bytes")
            job = CopyJob(text_path, text_encoding, delimiter, columns, settings, options, meter,
                          warnings=[*notes, *renamed])
            sample = read_sample(plain, job)
            laps.lap("sample")
            geometry = _type_columns(job, sample)
            laps.lap("types")
            spatial_needed = bool(geometry or job.geo_text)
            if spatial_needed and spatial is None:
                spatial = _Background(lambda: connect(settings))
            con = spatial.result() if spatial_needed and spatial else plain
            laps.lap("spatial")
            con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
            rows, geometry = copy_csv(con, job, part, geometry, start=span)
            laps.lap("copy")
            _check_text(con, job, part, work)
            laps.lap("text")
        finally:
            if spatial:
                spatial.close()
    detected = _detected(encoding, job, head_text, geometry)
    log.info("csv_read rows=%d columns=%d encoding=%s %s", rows, len(job.columns), encoding.label,
             laps, extra={"phases": laps.seconds})
    return StagedTable(part, _specs(job, geometry), rows, format, detected, job.warnings)


class _Laps:
    """Seconds spent in each phase of an import, for the log (and bench/ingest.py)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now

    def __str__(self) -> str:
        return " ".join(f"seconds_{k}={v}" for k, v in self.seconds.items())


class _Background:
    """A DuckDB connection opened in another thread while this one reads the file."""

    def __init__(self, open_connection: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        self._outcome: dict[str, object] = {}
        self._thread = threading.Thread(target=self._open, args=(open_connection,),
                                        name="mutuelle-duckdb-open", daemon=True)
        self._thread.start()

    def _open(self, open_connection: Callable[[], duckdb.DuckDBPyConnection]) -> None:
        try:
            self._outcome["con"] = open_connection()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, raised there
            self._outcome["error"] = exc

    def result(self) -> duckdb.DuckDBPyConnection:
        """The connection, once open (the opening error if it failed)."""
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]  # type: ignore[misc]
        return self._outcome["con"]  # type: ignore[return-value]

    def close(self) -> None:
        """Close the connection, used or not."""
        self._thread.join()
        con = self._outcome.get("con")
        if isinstance(con, duckdb.DuckDBPyConnection):
            con.close()


def _text_for_duckdb(source: Path, work: Path, encoding: enc.Encoding, meter: RowMeter,
                     transcode: bool) -> tuple[Path, str, float]:
    """The file DuckDB reads, its encoding (utf-8 or latin-1), the share of progress spent.

    Without bytes 0x80-0x9F cp1252 is latin-1, which DuckDB decodes itself, with no pass of
    ours over the bytes; with them (DuckDB refuses them: NotLatin1), ``transcode`` is asked for.
    """
    size = max(source.stat().st_size, 1)
    link = work / "source.csv"  # a link with a name of ours: no glob characters for DuckDB
    link.unlink(missing_ok=True)
    if encoding.is_utf8:
        os.symlink(source.resolve(), link)
        return link, "utf-8", 0.0
    if encoding.codec in ("cp1252", "latin-1") and not transcode:
        os.symlink(source.resolve(), link)
        return link, "latin-1", 0.0
    transcoded = work / "transcoded.csv"  # never the link, which points to the user's file
    enc.transcode_to_utf8(source, transcoded, encoding, lambda done: meter.at(0.5 * done / size))
    return transcoded, "utf-8", 0.5


def _check_text(con: duckdb.DuckDBPyConnection, job: CopyJob, part: Path, work: Path) -> None:
    """Find mojibake in the text columns of ``part``; rewrite it with them repaired if asked."""
    names = [c.name for c in job.columns if c.guess.type == "text" and c.index not in job.geo_text]
    relation = f"read_parquet({literal(part)})"
    checked = check_text(con, relation, names, repair=job.options.fix_text,
                         distinct_first=dictionary_columns(con, part))
    job.warnings.extend(checked.warnings())
    for c in job.columns:
        if checked.repairs(c.name):
            c.note = "; ".join(filter(None, [c.note, "mojibake repaired"]))
    if checked.changes_any:
        rewrite_parquet(con, part, work / "text", checked)


def name_columns(header: list[str], *, fix_text: bool = False) -> tuple[list[CopyColumn], list[str]]:
    """Columns named from the header: stripped, empty ones ``colonne_N``, duplicates ``_2``;
    mojibake named (repaired if ``fix_text``)."""
    columns: list[CopyColumn] = []
    used: set[str] = set()
    changes: list[str] = []
    mojibake: list[str] = []
    for i, raw in enumerate(header):
        name, finding = name_repair(re.sub(r"[\r\n\t]+", " ", raw).strip(), fix_text)
        if finding:
            mojibake.append(finding)
        note = "name repaired (mojibake)" if finding and fix_text else None
        if not name:
            name, note = f"colonne_{i + 1}", "no name in the file"
            changes.append(f"column {i + 1} has no name: {name!r}")
        base, k = name, 2
        while name.lower() in used:
            name, k = f"{base}_{k}", k + 1
        if name != base:
            note = f"{base!r} appears twice in the header"
            changes.append(f"{base!r} appears twice: {name!r}")
        used.add(name.lower())
        columns.append(CopyColumn(i, name, raw if raw != name else None, note))
    warnings = ["columns renamed: " + "; ".join(changes)] if changes else []
    return columns, warnings + names_warning(mojibake, fix_text)


# --- types ---------------------------------------------------------------------------

def _find(job: CopyJob, name: str) -> CopyColumn | None:
    for key in (lambda c: c.name, lambda c: c.source_name):
        found = next((c for c in job.columns if key(c) == name.strip()), None)
        if found:
            return found
    return None


def _forced_types(job: CopyJob) -> dict[int, str]:
    forced: dict[int, str] = {}
    for name, kind in job.options.types.items():
        column = _find(job, name)
        if column is None:
            raise ImportFailed(f"a type is given for {name!r}, which is not a column of the file")
        if kind not in COLUMN_TYPES or kind == "geometry":
            allowed = ", ".join(t for t in COLUMN_TYPES if t != "geometry")
            raise ImportFailed(f"unknown type {kind!r} for {name!r} (one of: {allowed})")
        forced[column.index] = kind
    return forced


def _type_columns(job: CopyJob, sample: list[list[str | None]]) -> tuple[CopyColumn, CopyColumn, str] | None:
    """Concept and type of every column from the sample; the geometry to build, if any."""
    forced = _forced_types(job)
    for c in job.columns:
        values = sample[c.index]
        c.concept = detect_concept(c.name, values)
        if c.index in forced:
            c.guess, c.forced = guess_for(forced[c.index], values), True
        else:
            c.guess = TEXT if c.concept in CODE_CONCEPTS else infer_type(values)
        if c.concept in ("latitude", "longitude") and c.guess.type != "decimal":
            c.concept = None
        if c.guess.nulls:
            shown = ", ".join(repr(m) for m in c.guess.nulls)
            job.warnings.append(f"column {c.name!r}: {shown} read as empty")
    for c in job.columns:  # Opendatasoft's geometry columns, as its exports write them
        kind = geo_text.kind_of(c.name)
        if kind and not c.forced and geo_text.holds(kind, sample[c.index]):
            job.geo_text[c.index] = kind
            c.guess, c.concept = TEXT, None
    lat = _coordinate(job, sample, job.options.latitude, "latitude")
    lon = _coordinate(job, sample, job.options.longitude, "longitude")
    if lat is None or lon is None:
        return None
    taken = {c.name.lower() for c in job.columns}
    names = itertools.chain(["geometry"], (f"geometry_{k}" for k in itertools.count(2)))
    name = next(n for n in names if n not in taken)
    return lat, lon, name


def _coordinate(job: CopyJob, sample: list[list[str | None]], wanted: str | None,
                concept: str) -> CopyColumn | None:
    if not wanted:
        return next((c for c in job.columns if c.concept == concept), None)
    column = _find(job, wanted)
    if column is None:
        raise ImportFailed(f"the {concept} column {wanted!r} is not in the file")
    if column.guess.type not in ("integer", "decimal"):
        column.guess, column.forced = guess_for("decimal", sample[column.index]), True
    column.concept = concept
    return column


# --- what the user is told -----------------------------------------------------------

def _specs(job: CopyJob, geometry: tuple[CopyColumn, CopyColumn, str] | None) -> list[ColumnSpec]:
    specs = [ColumnSpec(c.name, "geometry", None, c.source_name, geo_text.note(job.geo_text[c.index]))
             if c.index in job.geo_text else
             ColumnSpec(c.name, c.guess.type, c.concept, c.source_name, c.note) for c in job.columns]
    if geometry:
        lat, lon, name = geometry
        specs.append(ColumnSpec(name, "geometry", note=f"WGS84 points (EPSG:4326) built from "
                                                       f"{lon.name!r} and {lat.name!r}"))
    return specs


def _detected(encoding: enc.Encoding, job: CopyJob, head_text: str,
              geometry: tuple[CopyColumn, CopyColumn, str] | None) -> dict[str, str]:
    detected = {
        "encoding": encoding.label,
        "delimiter": job.delimiter,
        "newline": "CRLF" if head_text.split("\n", 1)[0].endswith("\r") else "LF",
        "quote": '"',
    }
    numbers = [c.guess for c in job.columns if c.guess.type in ("integer", "decimal")]
    decimals = Counter(g.decimal for g in numbers if g.type == "decimal")
    if decimals:
        detected["decimal_separator"] = decimals.most_common(1)[0][0]
    thousands = Counter(" " if g.thousands == SPACES else g.thousands for g in numbers if g.thousands)
    if thousands:
        detected["thousands_separator"] = thousands.most_common(1)[0][0]
    dates = [c.guess.date_format for c in job.columns if c.guess.type in ("date", "datetime")]
    if dates:
        detected["date_format"] = dates[0]
    if geometry:
        detected["geometry"] = f"ST_Point({geometry[1].name}, {geometry[0].name}) EPSG:4326"
    if job.lenient:
        detected["ragged_rows"] = "padded"
    return detected
