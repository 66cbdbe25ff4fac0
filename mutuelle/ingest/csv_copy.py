"""The DuckDB side of a CSV import: the job, the SQL over the file, the sample and the copy.

``read_csv`` (in ``mutuelle.ingest.csv``) decides the encoding, delimiter and types; this
module reads the file through DuckDB as text columns, samples it, and ``COPY``s the typed
table to Parquet, re-typing once the columns the sample misjudged and naming the physical
line of a refused value.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed
from mutuelle.ingest import encoding as enc
from mutuelle.ingest import geo_text
from mutuelle.ingest.model import ImportOptions, Progress
from mutuelle.ingest.typing import TEXT, TypeGuess, cast_sql, misfit_sql, widenings
from mutuelle.store.resources import resource_error
from mutuelle.store.sql import ident, literal

log = logging.getLogger(__name__)

#: Most sample cells (rows × columns) read for inference, so that wide files stay bounded.
SAMPLE_CELLS = 1_000_000
#: Buffer in which DuckDB reads (and decodes) the file for the sample: its default (32 MiB)
#: costs the sample of a large file twice the time; 4 times DuckDB's longest line (2 MiB).
SAMPLE_BUFFER_BYTES = 8 << 20

_MISFIT = "mutuelle-misfit"
_MISFIT_RE = re.compile(re.escape(_MISFIT) + r"\|(\d+)\|(.*)\|end", re.DOTALL)
_RAGGED_RE = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_DUCK_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")
_QUOTED_PATH_RE = re.compile(r'"/[^"]*"')  # any other absolute path DuckDB quotes

@dataclass
class CopyColumn:
    index: int
    name: str
    source_name: str | None = None
    note: str | None = None
    guess: TypeGuess = TEXT
    concept: str | None = None
    forced: bool = False


@dataclass
class CopyJob:
    """One import in progress: what was decided, and what the user will be told."""

    text_path: Path              # the file DuckDB reads
    text_encoding: str           # its encoding: utf-8 or latin-1
    delimiter: str
    columns: list[CopyColumn]
    settings: Settings
    options: ImportOptions
    meter: RowMeter
    lenient: bool = False        # ragged rows allowed (padded / truncated)
    warnings: list[str] = field(default_factory=list)
    geo_text: dict[int, str] = field(default_factory=dict)  # column index -> point or shape


class RowMeter:
    """Reports progress as bytes of the source, over phases given as fractions."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.last = progress, max(total, 1), -1

    def at(self, fraction: float) -> None:
        done = int(min(max(fraction, 0.0), 1.0) * self.total)
        if self.progress and done > self.last:  # never backwards, even when a pass is redone
            self.last = done
            self.progress(done, self.total)


class NotUtf8(Exception):
    """DuckDB met bytes that are not UTF-8 in a file we took for UTF-8."""


class NotLatin1(Exception):
    """DuckDB met a byte 0x80-0x9F, which it refuses as latin-1 (cp1252 gives most of them a
    meaning, such as ’ or €): the file must be transcoded."""


# --- DuckDB ------------------------------------------------------------------------

def _source_sql(job: CopyJob, *, trimmed_too: bool = False, sample: bool = False) -> str:
    """The file as text columns c0..cN; padded ones trimmed, blank meaning NULL.

    ``trimmed_too`` adds t0..tN, every typed column trimmed, to try padded guesses on;
    ``sample`` reads the file in smaller buffers (for the first rows only).
    """
    struct = ", ".join(f"'c{c.index}': 'VARCHAR'" for c in job.columns)
    options = [
        "auto_detect = false", f"columns = {{{struct}}}", "header = true",
        f"encoding = {literal(job.text_encoding)}",
        f"delim = {literal(job.delimiter)}", "quote = '\"'", "escape = '\"'",
        f"strict_mode = {str(not job.lenient).lower()}", f"null_padding = {str(job.lenient).lower()}",
    ]
    if job.lenient:
        options.append("parallel = false")  # DuckDB pads only sequentially with quoted newlines
    if sample:
        options.append(f"buffer_size = {SAMPLE_BUFFER_BYTES}")
    read = f"read_csv({literal(job.text_path)}, {', '.join(options)})"
    cells = [f"NULLIF(trim(c{c.index}, ' \t'), '') AS c{c.index}" if c.guess.padded
             else f"c{c.index}" for c in job.columns]
    if trimmed_too:
        cells += [f"NULLIF(trim(c{c.index}, ' \t'), '') AS t{c.index}" for c in job.columns
                  if c.guess.type != "text"]
    return f"(SELECT {', '.join(cells)} FROM {read})"


def _select_sql(job: CopyJob, geometry: tuple[CopyColumn, CopyColumn, str] | None) -> str:
    casts = []
    for c in job.columns:
        col = f"c{c.index}"
        # The message names the column and the value, for _MISFIT_RE to read back.
        message = f"{literal(f'{_MISFIT}|{c.index}|')} || left({col}, 200) || '|end'"
        if c.index in job.geo_text:  # Opendatasoft's geo_point_2d or geo_shape text
            casts.append(f"{geo_text.geometry_sql(job.geo_text[c.index], col, message)} AS {ident(c.name)}")
            continue
        casts.append(f"{cast_sql(col, c.guess, message)} AS {ident(c.name)}")
    select = f"SELECT {', '.join(casts)} FROM {_source_sql(job)} AS src"
    if geometry:
        lat, lon, name = geometry
        point = f"ST_Point({ident(lon.name)}, {ident(lat.name)})"
        select = f"SELECT *, {point} AS {ident(name)} FROM ({select}) AS typed"
    return select


def _classify(job: CopyJob, error: duckdb.Error) -> Exception:
    """Our error for a DuckDB one: ImportFailed, NotUtf8, NotLatin1, or a misfit to diagnose."""
    message = str(error)
    if "Invalid unicode" in message:
        return NotUtf8()
    if "not latin-1 encoded" in message:
        return NotLatin1()
    ragged = _RAGGED_RE.search(message)
    if ragged:
        line, width = _first_ragged(job)
        found = width if line else int(ragged.group(2))
        return ImportFailed(f"a row has {found} fields instead of {len(job.columns)} (ragged rows "
                            "may be allowed on import)", where=_where(line, message))
    if _MISFIT_RE.search(message) or resource_error(error, job.settings) is not None:
        return error  # a value to retype, or a lack of disk or memory the caller reports as such
    first = _without_paths(message.splitlines()[0] if message else type(error).__name__, job)
    log.warning("csv import failed file=upload error=%r", first)
    return ImportFailed(f"the file cannot be read: {first}", where=_where(None, message))


def _without_paths(text: str, job: CopyJob) -> str:
    """DuckDB's message with the server's paths named by what they are: never a path."""
    settings = job.settings
    for path, role in ((job.text_path, "the file"), (settings.work_dir, "the work folder"),
                       (settings.store_dir, "the store"), (settings.home, "the data folder")):
        for spelling in {str(path), str(path.absolute())}:
            text = text.replace(spelling, role)
    return _QUOTED_PATH_RE.sub('"a server file"', text)


def _where(line: int | None, message: str) -> str | None:
    if line:
        return f"line {line}"
    duck = _DUCK_LINE_RE.search(message)
    return f"near line {duck.group(1)}" if duck else None


def _run(con: duckdb.DuckDBPyConnection, job: CopyJob, sql: str, start: float) -> list[tuple]:
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
    error = outcome.get("error")
    if isinstance(error, duckdb.Error) and isinstance(_classify(job, error), (NotUtf8, NotLatin1)):
        raise _classify(job, error) from None  # the bytes, not the query: read them otherwise
    if error is not None:
        raise error  # type: ignore[misc]
    return outcome["rows"]  # type: ignore[return-value]


def read_sample(con: duckdb.DuckDBPyConnection, job: CopyJob) -> list[list[str | None]]:
    """The values of the first rows, column by column (in no particular order)."""
    rows = min(job.settings.sample_rows, max(100, SAMPLE_CELLS // len(job.columns)))
    # One list per column: no tuple per row to build and transpose.
    lists = ", ".join(f"list(c{c.index})" for c in job.columns)
    for _ in range(2):
        try:
            sample = con.execute(f"SELECT {lists} FROM (SELECT * FROM "
                                 f"{_source_sql(job, sample=True)} "
                                 f"LIMIT {rows})").fetchone()
            return [values or [] for values in sample or [None] * len(job.columns)]
        except duckdb.Error as error:
            failure = _classify(job, error)
            if isinstance(failure, ImportFailed) and _RAGGED_RE.search(str(error)):
                _go_lenient(job, failure)
                continue
            raise failure from None
    raise AssertionError("unreachable")


def _go_lenient(job: CopyJob, failure: ImportFailed) -> None:
    if not job.options.allow_ragged or job.lenient:
        raise failure from None
    job.lenient = True
    job.warnings.append(f"ragged rows ({failure.where or 'at least one'}, maybe more): missing "
                        "fields left empty, extra fields dropped")


# --- the copy ------------------------------------------------------------------------

def copy_csv(con: duckdb.DuckDBPyConnection, job: CopyJob, part: Path,
          geometry: tuple[CopyColumn, CopyColumn, str] | None, start: float) -> tuple[int, tuple | None]:
    """COPY the typed table to ``part``; retype once the columns the sample misjudged."""
    retyped = False
    for _ in range(4):
        part.unlink(missing_ok=True)
        sql = (f"COPY ({_select_sql(job, geometry)}) TO {literal(part)} "
               "(FORMAT parquet, COMPRESSION zstd)")
        try:
            return int(_run(con, job, sql, start)[0][0]), geometry
        except duckdb.Error as error:
            failure = _classify(job, error)
            if isinstance(failure, ImportFailed) and _RAGGED_RE.search(str(error)):
                _go_lenient(job, failure)
                continue
            if isinstance(failure, (NotUtf8, NotLatin1)):
                raise failure from None
            misfit = _MISFIT_RE.search(str(error))
            if isinstance(failure, ImportFailed) or misfit is None:
                raise failure from None
            column, value = job.columns[int(misfit.group(1))], misfit.group(2)
            if column.forced or retyped or column.index in job.geo_text:
                line = _lines_of(job, {column.index: value}).get(column.index)
                wanted = geo_text.expected(job.geo_text[column.index]) \
                    if column.index in job.geo_text else column.guess.describe()
                raise ImportFailed(f"column {column.name!r}: {value!r} is not {wanted}",
                                   where=f"line {line}" if line else None) from None
            _retype(con, job, start)
            retyped = True
            if geometry and not all(c.guess.type == "decimal" for c in geometry[:2]):
                job.warnings.append("latitude or longitude is not numeric: no geometry built")
                geometry = None
    raise ImportFailed("the file could not be read (did it change during the import?)")


def _retype(con: duckdb.DuckDBPyConnection, job: CopyJob, start: float) -> None:
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

def _records(job: CopyJob) -> Iterator[tuple[int, list[str]]]:
    return enc.records_with_lines(job.text_path, job.text_encoding, job.delimiter)


def _first_ragged(job: CopyJob) -> tuple[int | None, int]:
    width = len(job.columns)
    return next(((line, len(r)) for line, r in _records(job) if len(r) != width), (None, 0))


def _lines_of(job: CopyJob, wanted: dict[int, str]) -> dict[int, int]:
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
