"""Reading a delimited text file: refuse what is not text, guess the encoding from the
first block, transcode to UTF-8 in chunks (never the whole file in memory), find the
delimiter and the header, and give records with the physical line they start on."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mutuelle.core.errors import ImportFailed

#: Bytes read to decide whether a file is text and in which encoding.
HEAD_BYTES = 1 << 20
#: Bytes transcoded at a time.
CHUNK_BYTES = 4 << 20
#: Longest first line (header) accepted.
MAX_HEADER_BYTES = 16 << 20
#: Delimiters tried, in order of preference when they split records equally well.
DELIMITERS = (";", ",", "\t", "|")
#: Records parsed per candidate delimiter when sniffing.
SNIFF_RECORDS = 500

# Quoted fields may legitimately be long (deliberation texts); DuckDB bounds lines anyway.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))

#: The five bytes cp1252 leaves undefined; a file holding them is not cp1252.
CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")

#: Error handler that reads a byte the codec refused as cp1252 (or as latin-1 for the
#: five bytes cp1252 lacks), which is what browsers do with "windows-1252".
LENIENT = "mutuelle-cp1252"

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls?)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3\x00", "a SQLite database"),
)


def _lenient_cp1252(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), exc.end


codecs.register_error(LENIENT, _lenient_cp1252)


@dataclass(frozen=True)
class Encoding:
    """How to read a file's bytes: a Python codec, its error policy, and a name for users."""

    codec: str          # Python codec name
    label: str          # what we tell the user (utf-8, utf-8-sig, cp1252, latin-1, utf-16)
    errors: str = "strict"

    @property
    def is_utf8(self) -> bool:
        """True when DuckDB can read the file as it is (UTF-8, with or without BOM)."""
        return self.codec in ("utf-8", "utf-8-sig") and self.errors == "strict"


UTF8 = Encoding("utf-8", "utf-8")
UTF8_BOM = Encoding("utf-8-sig", "utf-8-sig")
CP1252 = Encoding("cp1252", "cp1252", LENIENT)
LATIN1 = Encoding("latin-1", "latin-1")
UTF16 = Encoding("utf-16", "utf-16")
#: UTF-8 whose invalid bytes are read as cp1252: a file mostly UTF-8 with a cp1252 part.
UTF8_MIXED = Encoding("utf-8", "utf-8+cp1252", LENIENT)


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file."""
    with open(path, "rb") as f:
        return f.read(size)


def refuse_non_text(head: bytes) -> None:
    """Raise ImportFailed if the first block is empty or not a text table."""
    if not head.removeprefix(codecs.BOM_UTF8).strip(b" \t\r\n"):
        raise ImportFailed("the file is empty")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            raise ImportFailed(f"not a text table: the file is {what}")
    if b"\x00" in head:
        raise ImportFailed("not a text table: the file holds binary bytes")


def detect_encoding(head: bytes, *, complete: bool) -> Encoding:
    """Guess the encoding from the first block (``complete`` if it is the whole file).

    Valid UTF-8 is UTF-8; otherwise cp1252, the encoding of French Windows exports,
    unless a byte cp1252 lacks shows the file is latin-1.
    """
    if head.startswith(codecs.BOM_UTF8):
        return UTF8_BOM
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return UTF8
    except UnicodeDecodeError:
        pass
    if CP1252_UNDEFINED.intersection(head):
        return LATIN1
    return CP1252


def decode_head(head: bytes, encoding: Encoding, *, complete: bool) -> str:
    """The first block as text (a character cut at its end is left out), without BOM."""
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors=LENIENT)
    return decoder.decode(head, final=complete).removeprefix("\ufeff")


def lookup(name: str) -> Encoding:
    """The Encoding a user named (``cp1252``, ``latin1``, ``UTF-8``...)."""
    try:
        codec = codecs.lookup(name).name
    except LookupError as exc:
        raise ImportFailed(f"unknown encoding {name!r}") from exc
    known = {e.codec: e for e in (UTF8, UTF8_BOM, LATIN1, UTF16)}
    if codec == "cp1252":
        return Encoding("cp1252", "cp1252")
    if codec == "iso8859-1":
        return LATIN1
    return known.get(codec, Encoding(codec, codec))


def _decode_failure(path: Path, encoding: Encoding) -> ImportFailed:
    line = first_undecodable_line(path, encoding.codec)
    return ImportFailed(
        f"the file cannot be read as {encoding.label}",
        where=f"line {line}" if line else None,
    )


def transcode_to_utf8(
    source: Path,
    dest: Path,
    encoding: Encoding,
    progress: Callable[[int], None] | None = None,
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> None:
    """Write ``source`` to ``dest`` in UTF-8 without BOM, one chunk at a time."""
    decoder = codecs.getincrementaldecoder(encoding.codec)(errors=encoding.errors)
    done = 0
    first = True
    try:
        with open(source, "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(chunk_bytes):
                text = decoder.decode(chunk)
                if first and text:
                    text = text.removeprefix("\ufeff")
                    first = False
                out.write(text.encode("utf-8"))
                done += len(chunk)
                if progress:
                    progress(done)
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _decode_failure(source, encoding) from exc


def first_undecodable_line(path: Path, codec: str = "utf-8") -> int | None:
    """Physical line (1-based) holding the first byte ``codec`` cannot decode, if any."""
    if codec.startswith("utf-16"):
        return None  # lines are not single bytes there; the caller says "somewhere"
    decoder = codecs.getincrementaldecoder(codec)()
    lines_before = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.start counts from the bytes the decoder held back, then this chunk.
                offset = max(0, exc.start - len(pending))
                return lines_before + chunk[:offset].count(b"\n") + 1
            lines_before += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return lines_before + 1
    return None


# --- dialect ---------------------------------------------------------------------------

def head_text(path: Path, encoding: Encoding, size: int = HEAD_BYTES) -> tuple[str, bool]:
    """The first ``size`` bytes as text, and whether they are the whole file."""
    head = read_head(path, size)
    complete = len(head) < size
    return decode_head(head, encoding, complete=complete), complete


def _reader(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')


def sniff_delimiter(text: str, *, complete: bool = True) -> str:
    """The delimiter among ``; , tab |`` that splits the records most regularly (quotes,
    quoted newlines and doubled quotes respected by the parser)."""
    best, best_score = None, (0.0, 0)
    for delimiter in DELIMITERS:
        records = list(itertools.islice(_reader(text, delimiter), SNIFF_RECORDS + 1))
        if (not complete or len(records) > SNIFF_RECORDS) and len(records) > 1:
            records.pop()  # cut short by the end of the block
        records = [r for r in records if r]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        regular = round(sum(1 for r in records if len(r) == width) / len(records), 2)
        if (regular, width) > best_score:
            best, best_score = delimiter, (regular, width)
    if best:
        return best
    first_line = text.split("\n", 1)[0]
    return next((d for d in DELIMITERS if d not in first_line), ",")


def read_header(path: Path, encoding: Encoding, delimiter: str, max_columns: int) -> list[str]:
    """The first record; refused when empty or wider than ``max_columns`` (checked before
    the whole line is read, so a huge header costs no more than the limit)."""
    size = HEAD_BYTES
    while True:
        text, complete = head_text(path, encoding, size)
        reader = _reader(text, delimiter)
        first = next(reader, [])
        whole = complete or next(reader, None) is not None
        if len(first) > max_columns:
            raise ImportFailed(f"the file has {'at least ' if not whole else ''}{len(first)} "
                               f"columns, more than the limit of {max_columns} "
                               "(MUTUELLE_MAX_COLUMNS)")
        if whole:
            break
        if size >= MAX_HEADER_BYTES:
            raise ImportFailed(f"the first line is longer than {MAX_HEADER_BYTES >> 20} MiB",
                               where="line 1")
        size *= 4
    if not any(cell.strip() for cell in first):
        raise ImportFailed("the first line is empty; it must hold the column names",
                           where="line 1")
    return first


def records_with_lines(path: Path, encoding: str,
                       delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, record) for every data record after the
    header; blank lines skipped, as DuckDB does. For messages that name a line."""
    python_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    with open(path, encoding=python_encoding, errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar='"')
        line = 1
        for n, record in enumerate(reader):
            start, line = line, reader.line_num + 1
            if n and record:
                yield start, record
