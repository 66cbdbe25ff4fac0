"""CSV files (and the UTF-8 CSV the spreadsheet reader writes) to a typed Parquet file.

Python decides, from the first block and a sample, the encoding, delimiter, header,
types and concepts; DuckDB then reads the whole file as text and casts it in a
single ``COPY ... TO parquet``. Any value the cast refuses stops the copy, so nothing
is silently turned into NULL.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest import encoding as enc
from mutuelle.ingest.concepts import CODE_CONCEPTS, detect_concept, might_hold_points
from mutuelle.ingest.model import COLUMN_TYPES, ColumnSpec, ImportOptions, Progress, StagedTable
from mutuelle.ingest.typing import (
    SPACES,
    TEXT,
    TypeGuess,
    cast_sql,
    guess_for,
    infer_type,
    misfit_sql,
    sql_identifier,
    sql_string,
    widenings,
)
from mutuelle.store.duck import connect

log = logging.getLogger(__name__)

#: Most sample cells (rows × columns) read for inference, so that wide files stay bounded.
SAMPLE_CELLS = 1_000_000

_MISFIT = "mutuelle-misfit"
_MISFIT_RE = re.compile(re.escape(_MISFIT) + r"\|(\d+)\|(.*)\|end", re.DOTALL)
_RAGGED_RE = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_DUCK_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")

@dataclass
class _Column:
    index: int
    name: str
    source_name: str | None = None
    note: str | None = None
    guess: TypeGuess = TEXT
    concept: str | None = None
    forced: bool = False


@dataclass
class _Job:
    """One import in progress: what was decided, and what the user will be told."""

    text_path: Path              # the file DuckDB reads
    text_encoding: str           # its encoding: utf-8 or latin-1
    delimiter: str
    columns: list[_Column]
    settings: Settings
    options: ImportOptions
    meter: _Meter
    lenient: bool = False        # ragged rows allowed (padded / truncated)
    warnings: list[str] = field(default_factory=list)


class _Meter:
    """Reports progress as bytes of the source, over phases given as fractions."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.last = progress, max(total, 1), -1

    def at(self, fraction: float) -> None:
        done = int(min(max(fraction, 0.0), 1.0) * self.total)
        if self.progress and done > self.last:  # never backwards, even when a pass is redone
            self.last = done
            self.progress(done, self.total)


class _NotUtf8(Exception):
    """DuckDB met bytes that are not UTF-8 in a file we took for UTF-8."""


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
    meter = _Meter(progress, size)
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
            meter: _Meter, format: str) -> StagedTable:
    head = enc.read_head(source)
    enc.refuse_non_text(head)
    guessed = not options.encoding
    encoding = (enc.lookup(options.encoding) if options.encoding
                else enc.detect_encoding(head, complete=len(head) < enc.HEAD_BYTES))
    try:
        return _import_as(source, part, work, settings, options, meter, format, encoding, [])
    except _NotUtf8:
        line = enc.first_undecodable_line(source)
        if not guessed:
            raise ImportFailed(f"the file is not {encoding.label}",
                               where=f"line {line}" if line else None) from None
        note = (f"the file is not all UTF-8 (line {line}): its invalid bytes were "
                "read as cp1252")
        return _import_as(source, part, work, settings, options, meter, format,
                          enc.UTF8_MIXED, [note])


def _import_as(source: Path, part: Path, work: Path, settings: Settings, options: ImportOptions,
               meter: _Meter, format: str, encoding: enc.Encoding, notes: list[str]) -> StagedTable:
    head_text, complete = enc.head_text(source, encoding)
    delimiter = options.delimiter or enc.sniff_delimiter(head_text, complete=complete)
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ImportFailed(f"impossible delimiter {delimiter!r}")
    header = enc.read_header(source, encoding, delimiter, settings.max_columns)
    columns, renamed = name_columns(header)
    # Loading spatial takes most of a second: start it now if the header announces points.
    points = bool(options.latitude or options.longitude) or might_hold_points(header)
    spatial = _Background(lambda: connect(settings)) if points else None
    try:
        text_path, text_encoding, span = _text_for_duckdb(source, work, encoding, meter)
        job = _Job(text_path, text_encoding, delimiter, columns, settings, options, meter,
                   warnings=[*notes, *renamed])
        with connect(settings, spatial=False) as plain:
            sample = _sample(plain, job)
            geometry = _type_columns(job, sample)
            if geometry and spatial is None:
                spatial = _Background(lambda: connect(settings))
            con = spatial.result() if geometry and spatial else plain
            con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
            rows, geometry = _copy(con, job, part, geometry, start=span)
    finally:
        if spatial:
            spatial.close()
    detected = _detected(encoding, job, head_text, geometry)
    return StagedTable(part, _specs(job, geometry), rows, format, detected, job.warnings)


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


def _text_for_duckdb(source: Path, work: Path, encoding: enc.Encoding,
                     meter: _Meter) -> tuple[Path, str, float]:
    """The file DuckDB reads, its encoding (utf-8 or latin-1), the share of progress spent."""
    size = max(source.stat().st_size, 1)
    link = work / "source.csv"  # a link with a name of ours: no glob characters for DuckDB
    link.unlink(missing_ok=True)
    if encoding.is_utf8:
        os.symlink(source.resolve(), link)
        return link, "utf-8", 0.0
    if encoding.codec in ("cp1252", "latin-1") and not enc.has_c1_bytes(
            source, lambda done: meter.at(0.1 * done / size)):
        # Without bytes 0x80-0x9F cp1252 is latin-1, which DuckDB decodes itself: a
        # scan at 1 GB/s instead of a transcoding pass (bench/ingest.py measures it).
        os.symlink(source.resolve(), link)
        return link, "latin-1", 0.1
    transcoded = work / "transcoded.csv"  # never the link, which points to the user's file
    enc.transcode_to_utf8(source, transcoded, encoding, lambda done: meter.at(0.5 * done / size))
    return transcoded, "utf-8", 0.5


def name_columns(header: list[str]) -> tuple[list[_Column], list[str]]:
    """Columns named from the header: stripped, empty ones ``colonne_N``, duplicates ``_2``."""
    columns: list[_Column] = []
    used: set[str] = set()
    changes: list[str] = []
    for i, raw in enumerate(header):
        name = re.sub(r"[\r\n\t]+", " ", raw).strip()
        note = None
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
        columns.append(_Column(i, name, raw if raw != name else None, note))
    warnings = ["columns renamed: " + "; ".join(changes)] if changes else []
    return columns, warnings


# --- DuckDB ------------------------------------------------------------------------

def _source_sql(job: _Job, *, trimmed_too: bool = False) -> str:
    """The file as text columns c0..cN; padded ones trimmed, blank meaning NULL.

    ``trimmed_too`` adds t0..tN, every typed column trimmed, to try padded guesses on.
    """
    struct = ", ".join(f"'c{c.index}': 'VARCHAR'" for c in job.columns)
    options = [
        "auto_detect = false", f"columns = {{{struct}}}", "header = true",
        f"encoding = {sql_string(job.text_encoding)}",
        f"delim = {sql_string(job.delimiter)}", "quote = '\"'", "escape = '\"'",
        f"strict_mode = {str(not job.lenient).lower()}", f"null_padding = {str(job.lenient).lower()}",
    ]
    if job.lenient:
        options.append("parallel = false")  # DuckDB pads only sequentially with quoted newlines
    read = f"read_csv({sql_string(str(job.text_path))}, {', '.join(options)})"
    cells = [f"NULLIF(trim(c{c.index}, ' \t'), '') AS c{c.index}" if c.guess.padded
             else f"c{c.index}" for c in job.columns]
    if trimmed_too:
        cells += [f"NULLIF(trim(c{c.index}, ' \t'), '') AS t{c.index}" for c in job.columns
                  if c.guess.type != "text"]
    return f"(SELECT {', '.join(cells)} FROM {read})"


def _select_sql(job: _Job, geometry: tuple[_Column, _Column, str] | None) -> str:
    casts = []
    for c in job.columns:
        col = f"c{c.index}"
        # The message names the column and the value, for _MISFIT_RE to read back.
        message = f"{sql_string(f'{_MISFIT}|{c.index}|')} || left({col}, 200) || '|end'"
        casts.append(f"{cast_sql(col, c.guess, message)} AS {sql_identifier(c.name)}")
    select = f"SELECT {', '.join(casts)} FROM {_source_sql(job)} AS src"
    if geometry:
        lat, lon, name = geometry
        point = f"ST_Point({sql_identifier(lon.name)}, {sql_identifier(lat.name)})"
        select = f"SELECT *, {point} AS {sql_identifier(name)} FROM ({select}) AS typed"
    return select


def _classify(job: _Job, error: duckdb.Error) -> Exception:
    """Our error for a DuckDB one: ImportFailed, _NotUtf8, or a misfit to diagnose."""
    message = str(error)
    if "Invalid unicode" in message:
        return _NotUtf8()
    ragged = _RAGGED_RE.search(message)
    if ragged:
        line, width = _first_ragged(job)
        found = width if line else int(ragged.group(2))
        return ImportFailed(f"a row has {found} fields instead of {len(job.columns)} (ragged rows "
                            "may be allowed on import)", where=_where(line, message))
    if _MISFIT_RE.search(message):
        return error
    first = message.splitlines()[0] if message else type(error).__name__
    log.warning("csv import failed error=%r", first)
    return ImportFailed(f"the file cannot be read: {first}", where=_where(None, message))


def _where(line: int | None, message: str) -> str | None:
    if line:
        return f"line {line}"
    duck = _DUCK_LINE_RE.search(message)
    return f"near line {duck.group(1)}" if duck else None


def _run(con: duckdb.DuckDBPyConnection, job: _Job, sql: str, start: float) -> list[tuple]:
    """Run ``sql`` in a worker thread, reporting DuckDB's progress from this one."""
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["rows"] = con.execute(sql).fetchall()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, raised there
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="mutuelle-csv-copy", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
            percent = con.query_progress()
            if percent >= 0:
                job.meter.at(start + (1.0 - start) * percent / 100.0)
    except BaseException:
        con.interrupt()
        worker.join()
        raise
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["rows"]  # type: ignore[return-value]


def _sample(con: duckdb.DuckDBPyConnection, job: _Job) -> list[list[str | None]]:
    rows = min(job.settings.sample_rows, max(100, SAMPLE_CELLS // len(job.columns)))
    for _ in range(2):
        try:
            records = con.execute(f"SELECT * FROM {_source_sql(job)} LIMIT {rows}").fetchall()
            if not records:
                return [[] for _ in job.columns]
            return [list(col) for col in zip(*records, strict=True)]
        except duckdb.Error as error:
            failure = _classify(job, error)
            if isinstance(failure, ImportFailed) and _RAGGED_RE.search(str(error)):
                _go_lenient(job, failure)
                continue
            raise failure from None
    raise AssertionError("unreachable")


def _go_lenient(job: _Job, failure: ImportFailed) -> None:
    if not job.options.allow_ragged or job.lenient:
        raise failure from None
    job.lenient = True
    job.warnings.append(f"ragged rows ({failure.where or 'at least one'}, maybe more): missing "
                        "fields left empty, extra fields dropped")


# --- types ---------------------------------------------------------------------------

def _find(job: _Job, name: str) -> _Column | None:
    for key in (lambda c: c.name, lambda c: c.source_name):
        found = next((c for c in job.columns if key(c) == name.strip()), None)
        if found:
            return found
    return None


def _forced_types(job: _Job) -> dict[int, str]:
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


def _type_columns(job: _Job, sample: list[list[str | None]]) -> tuple[_Column, _Column, str] | None:
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
    lat = _coordinate(job, sample, job.options.latitude, "latitude")
    lon = _coordinate(job, sample, job.options.longitude, "longitude")
    if lat is None or lon is None:
        return None
    taken = {c.name.lower() for c in job.columns}
    names = itertools.chain(["geometry"], (f"geometry_{k}" for k in itertools.count(2)))
    name = next(n for n in names if n not in taken)
    return lat, lon, name


def _coordinate(job: _Job, sample: list[list[str | None]], wanted: str | None,
                concept: str) -> _Column | None:
    if not wanted:
        return next((c for c in job.columns if c.concept == concept), None)
    column = _find(job, wanted)
    if column is None:
        raise ImportFailed(f"the {concept} column {wanted!r} is not in the file")
    if column.guess.type not in ("integer", "decimal"):
        column.guess, column.forced = guess_for("decimal", sample[column.index]), True
    column.concept = concept
    return column


# --- the copy ------------------------------------------------------------------------

def _copy(con: duckdb.DuckDBPyConnection, job: _Job, part: Path,
          geometry: tuple[_Column, _Column, str] | None, start: float) -> tuple[int, tuple | None]:
    """COPY the typed table to ``part``; retype once the columns the sample misjudged."""
    retyped = False
    for _ in range(4):
        part.unlink(missing_ok=True)
        sql = (f"COPY ({_select_sql(job, geometry)}) TO {sql_string(str(part))} "
               "(FORMAT parquet, COMPRESSION zstd)")
        try:
            return int(_run(con, job, sql, start)[0][0]), geometry
        except duckdb.Error as error:
            failure = _classify(job, error)
            if isinstance(failure, ImportFailed) and _RAGGED_RE.search(str(error)):
                _go_lenient(job, failure)
                continue
            if isinstance(failure, _NotUtf8):
                raise failure from None
            misfit = _MISFIT_RE.search(str(error))
            if isinstance(failure, ImportFailed) or misfit is None:
                raise failure from None
            column, value = job.columns[int(misfit.group(1))], misfit.group(2)
            if column.forced or retyped:
                line = _lines_of(job, {column.index: value}).get(column.index)
                raise ImportFailed(f"column {column.name!r}: {value!r} is not "
                                   f"{column.guess.describe()}",
                                   where=f"line {line}" if line else None) from None
            _retype(con, job, start)
            retyped = True
            if geometry and not all(c.guess.type == "decimal" for c in geometry[:2]):
                job.warnings.append("latitude or longitude is not numeric: no geometry built")
                geometry = None
    raise ImportFailed("the file could not be read (did it change during the import?)")


def _retype(con: duckdb.DuckDBPyConnection, job: _Job, start: float) -> None:
    """Scan the whole file once and widen (or make text) every column with misfits."""
    plans = [(c, [c.guess, *widenings(c.guess)]) for c in job.columns
             if c.guess.type != "text" and not c.forced]
    # Every column is read, typed or not: DuckDB 1.4 fails internally when a column it
    # skips holds bytes that are not UTF-8.
    exprs = [f"count(c{c.index})" for c in job.columns if c.guess.type == "text" or c.forced]
    for c, options in plans:
        for g in options:
            col = f"t{c.index}" if g.padded else f"c{c.index}"
            exprs.append(f"count(*) FILTER (WHERE {misfit_sql(col, g)})")
        exprs.append(f"min(c{c.index}) FILTER (WHERE {misfit_sql(f'c{c.index}', c.guess)})")
    source = _source_sql(job, trimmed_too=True)
    row = _run(con, job, f"SELECT {', '.join(exprs)} FROM {source} AS src", start)[0]
    changed: dict[int, tuple[TypeGuess, int, str]] = {}
    pos = len(exprs) - sum(len(options) + 1 for _, options in plans)
    for c, options in plans:
        counts, example = row[pos:pos + len(options)], row[pos + len(options)]
        pos += len(options) + 1
        if counts[0]:
            changed[c.index] = (c.guess, counts[0], example)
            c.guess = next((g for g, n in zip(options[1:], counts[1:], strict=True) if n == 0), TEXT)
    lines = _lines_of(job, {i: example for i, (_, _, example) in changed.items()})
    for i, (old, count, example) in changed.items():
        c = job.columns[i]
        where = f" at line {lines[i]}" if i in lines else ""
        job.warnings.append(f"column {c.name!r} read as {c.guess.describe()}: {count} value(s) are "
                            f"not {old.describe()} (e.g. {example!r}{where})")


# --- physical lines, for messages ----------------------------------------------------

def _records(job: _Job) -> Iterator[tuple[int, list[str]]]:
    return enc.records_with_lines(job.text_path, job.text_encoding, job.delimiter)


def _first_ragged(job: _Job) -> tuple[int | None, int]:
    width = len(job.columns)
    return next(((line, len(r)) for line, r in _records(job) if len(r) != width), (None, 0))


def _lines_of(job: _Job, wanted: dict[int, str]) -> dict[int, int]:
    """Line of the first record whose column i holds wanted[i] (trimmed, cut at 200)."""
    targets = {i: value.strip(" \t") for i, value in wanted.items()}
    found: dict[int, int] = {}
    for line, record in _records(job):
        for i, value in targets.items():
            if i not in found and i < len(record) and \
                    record[i].strip(" \t")[:200].strip(" \t") == value:
                found[i] = line
        if len(found) == len(wanted):
            break
    return found


# --- what the user is told -----------------------------------------------------------

def _specs(job: _Job, geometry: tuple[_Column, _Column, str] | None) -> list[ColumnSpec]:
    specs = [ColumnSpec(c.name, c.guess.type, c.concept, c.source_name, c.note) for c in job.columns]
    if geometry:
        lat, lon, name = geometry
        specs.append(ColumnSpec(name, "geometry", note=f"WGS84 points (EPSG:4326) built from "
                                                       f"{lon.name!r} and {lat.name!r}"))
    return specs


def _detected(encoding: enc.Encoding, job: _Job, head_text: str,
              geometry: tuple[_Column, _Column, str] | None) -> dict[str, str]:
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
