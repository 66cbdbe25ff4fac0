"""Mojibake (UTF-8 text once decoded as cp1252 or latin-1: "Lyon 4Ã¨me") found in a table's
text columns, counted per column with examples, and repaired on request with ftfy.

DuckDB picks the candidates with a vectorised pattern, per distinct value where the column is
dictionary-encoded; ftfy judges and repairs those candidates only, and a repair is a mapping
joined in SQL, never a loop over the rows.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mutuelle.store.sql import ident, literal

log = logging.getLogger(__name__)

#: Distinct suspicious values of a column judged by ftfy for the warning (all when repairing).
CHECKED_VALUES = 10_000
#: Mojibake examples named per column.
EXAMPLES = 3
#: Suspicious values fetched from DuckDB at a time.
_BATCH = 2_000


def repaired(text: str) -> str:
    """``text`` with its mojibake undone by ftfy (only the encoding fixes: quotes, spaces and
    the rest are left as written)."""
    import ftfy  # a tenth of a second to import: only once a value is suspicious

    return ftfy.fix_encoding(text)


def name_repair(name: str, fix: bool) -> tuple[str, str | None]:
    """A header (column name) and what to say of it: repaired when asked, named otherwise."""
    if not suspicious(name):
        return name, None
    fixed = repaired(name)
    if fixed == name:
        return name, None
    if fix:
        return fixed, f"{name!r} repaired as {fixed!r}"
    return name, f"{name!r} (→ {fixed!r})"


def names_warning(findings: Sequence[str], fixed: bool) -> list[str]:
    """The warning for headers that are mojibake."""
    if not findings:
        return []
    if fixed:
        return ["column names repaired (mojibake): " + "; ".join(findings)]
    return ["column names look like mojibake (UTF-8 text decoded as another encoding): "
            + ", ".join(findings) + "; import again with fix_text (--fix-text) to repair them"]


# --- the suspicious pattern ------------------------------------------------------------

def _decoded_as_8bit(byte_values: range) -> set[str]:
    """What these bytes become when decoded as latin-1 or as cp1252 (which lacks five)."""
    as_latin1 = {bytes([b]).decode("latin-1") for b in byte_values}
    as_cp1252 = {bytes([b]).decode("cp1252", errors="ignore") for b in byte_values}
    return (as_latin1 | as_cp1252) - {""}


def _re2_class(chars: set[str]) -> str:
    return "[" + "".join(_char(ord(c)) for c in sorted(chars)) + "]"


def _char(code: int) -> str:
    c = chr(code)
    return c if c.isascii() and c.isalnum() else f"\\x{{{code:X}}}"


_LEADS = _decoded_as_8bit(range(0xC2, 0xF5))
_CONTINUATIONS = _decoded_as_8bit(range(0x80, 0xC0))
#: RE2 for what UTF-8 decoded as latin-1 or cp1252 always holds: a lead byte of a multi-byte
#: sequence (0xC2-0xF4), then a continuation byte (0x80-0xBF), as those encodings read them.
#: Cheap and vectorised in DuckDB, it only picks candidates: ftfy judges them (clean text may
#: match, as "é" before a "»"). Mojibake through other encodings (MacRoman...) is not sought.
SUSPICIOUS = _re2_class(_LEADS) + _re2_class(_CONTINUATIONS)
_SUSPICIOUS_PYTHON = re.compile("[" + "".join(map(re.escape, sorted(_LEADS))) + "]["
                                + "".join(map(re.escape, sorted(_CONTINUATIONS))) + "]")


def suspicious(text: str) -> bool:
    """``SUSPICIOUS`` in Python (for headers: ftfy, slow to import, only for those that match)."""
    return _SUSPICIOUS_PYTHON.search(text) is not None


# --- single-byte recoding in SQL ------------------------------------------------------------

@dataclass(frozen=True)
class Recode:
    """Text DuckDB read as latin-1 whose bytes were in another single-byte encoding: the
    characters to change, and what they stand for."""

    codec: str
    read: str       # characters as read (latin-1), only those that differ
    meant: str      # the characters they stand for in ``codec``

    @classmethod
    def from_latin1(cls, codec: str) -> Recode:
        """The recoding of text read as latin-1 into ``codec`` (bytes it lacks stay as read)."""
        read, meant = [], []
        for byte in range(0x80, 0x100):
            as_read = chr(byte)
            try:
                as_meant = bytes([byte]).decode(codec)
            except UnicodeDecodeError:
                continue
            if as_meant != as_read:
                read.append(as_read)
                meant.append(as_meant)
        return cls(codec, "".join(read), "".join(meant))

    def sql(self, col: str) -> str:
        """SQL recoding the text ``col`` (translate() is slow: only on values that need it)."""
        if not self.read:
            return col
        changed = "[" + "".join(_char(ord(c)) for c in self.read) + "]"
        return (f"CASE WHEN strlen({col}) <> length({col}) AND regexp_matches({col}, "
                f"{literal(changed)}) THEN translate({col}, {literal(self.read)}, "
                f"{literal(self.meant)}) ELSE {col} END")

    def python(self, text: str) -> str:
        """The same recoding in Python (sample values, messages)."""
        return text.translate(str.maketrans(self.read, self.meant))


# --- the check --------------------------------------------------------------------------

@dataclass
class ColumnText:
    """What the check found in one text column."""

    name: str
    suspicious: int = 0      # rows matching SUSPICIOUS (after recoding)
    recoded: int = 0         # rows the recoding changes
    mojibake: int = 0        # rows ftfy repairs, among the values judged
    distinct: int = 0        # distinct values ftfy repairs
    complete: bool = True    # every suspicious value judged
    examples: list[tuple[str, str]] = field(default_factory=list)
    repairs: dict[str, str] = field(default_factory=dict)


@dataclass
class TextCheck:
    """The text columns of a table, checked; how to select them repaired."""

    columns: dict[str, ColumnText]
    recode: Recode | None
    repair: bool
    tables: dict[str, str] = field(default_factory=dict)  # column -> its mapping table

    def changes(self, column: str) -> bool:
        """True when the values of ``column`` come out different from how they were read."""
        found = self.columns.get(column)
        return bool(found and (found.recoded or found.repairs))

    def repairs(self, column: str) -> int:
        """Distinct values of ``column`` that the repair changes."""
        found = self.columns.get(column)
        return len(found.repairs) if found else 0

    @property
    def changes_any(self) -> bool:
        """True when any column comes out different."""
        return any(self.changes(c) for c in self.columns)

    def read_sql(self, column: str, col: str) -> str:
        """SQL giving the value of ``column`` (read as ``col``) recoded, before any repair."""
        found = self.columns.get(column)
        return self.recode.sql(col) if self.recode and found and found.recoded else col

    def value_sql(self, column: str, col: str) -> str:
        """SQL giving the value of ``column`` (read as ``col``), recoded and repaired."""
        table = self.tables.get(column)
        value = self.read_sql(column, col)
        return f"coalesce({table}.fixed, {value})" if table else value

    def joins_sql(self, col_of: dict[str, str]) -> str:
        """LEFT JOINs of the mapping tables that ``value_sql`` reads (``col_of``: column ->
        its SQL in the FROM clause)."""
        return "".join(f" LEFT JOIN {table} ON {table}.original = "
                       f"{self.read_sql(column, col_of[column])}"
                       for column, table in self.tables.items())

    def load_mappings(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the mapping tables (original -> repaired) of the columns to repair."""
        for column, found in self.columns.items():
            if not found.repairs:
                continue
            table = f"mutuelle_fix_{uuid.uuid4().hex[:12]}"
            con.execute(f"CREATE TEMP TABLE {table} AS SELECT unnest($o) AS original, "
                        "unnest($f) AS fixed",
                        {"o": list(found.repairs), "f": list(found.repairs.values())})
            self.tables[column] = table

    def drop_mappings(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop the mapping tables."""
        for table in self.tables.values():
            con.execute(f"DROP TABLE IF EXISTS {table}")
        self.tables.clear()

    def warnings(self) -> list[str]:
        """Per column: the mojibake found (with examples), or repaired."""
        out = []
        for found in self.columns.values():
            if not found.mojibake:
                continue
            count = f"{found.mojibake}{'' if found.complete else '+'}"
            shown = ", ".join(f"{before!r} → {after!r}" for before, after in found.examples)
            distinct = f" ({found.distinct} distinct)" if found.distinct != found.mojibake else ""
            if self.repair:
                out.append(f"column {found.name!r}: {count} value(s){distinct} repaired "
                           f"(mojibake), e.g. {shown}")
            else:
                out.append(f"column {found.name!r}: {count} value(s){distinct} look like "
                           f"mojibake (UTF-8 text decoded as another encoding), e.g. {shown}; "
                           "import again with fix_text (--fix-text) to repair them")
        return out


def check_text(con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str], *,
               recode: Recode | None = None, repair: bool = False,
               distinct_first: frozenset[str] = frozenset()) -> TextCheck:
    """Check the text ``columns`` of ``relation`` (SQL: a table or ``read_parquet(...)``).

    ``recode``: the values were read as latin-1 and stand for another single-byte encoding.
    ``distinct_first``: columns cheap to group before looking at values (dictionary-encoded).
    """
    check = TextCheck({}, recode, repair)
    for name in columns:
        found = _check_column(con, relation, name, recode, repair, name in distinct_first)
        if found.suspicious or found.recoded:
            check.columns[name] = found
    return check


def rewrite_parquet(con: duckdb.DuckDBPyConnection, parquet: Path, scratch: Path,
                    checked: TextCheck) -> None:
    """Rewrite ``parquet`` in place with its text columns recoded and repaired (``scratch``:
    a folder for the files written on the way). Rows keep their order."""
    names = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                       [str(parquet)]).fetchall()]
    scratch.mkdir(parents=True, exist_ok=True)
    source = parquet
    # A join does not keep the rows' order: the file's row numbers (DuckDB's file_row_number)
    # put it back; a column of that name would hide them, so it is renamed on the way.
    read_as = {n: ("mutuelle_file_row_number" if n == "file_row_number" else n) for n in names}
    if any(n != read_as[n] for n in names) and any(checked.repairs(n) for n in names):
        source = scratch / "renamed.parquet"
        items = ", ".join(f"{ident(n)} AS {ident(read_as[n])}" for n in names)
        con.execute(f"COPY (SELECT {items} FROM read_parquet({literal(parquet)})) TO "
                    f"{literal(source)} (FORMAT parquet, COMPRESSION zstd)")
    col_of = {n: f"t.{ident(read_as[n])}" for n in names}
    checked.load_mappings(con)
    try:
        items = ", ".join(f"{checked.value_sql(n, col_of[n])} AS {ident(n)}" for n in names)
        joins = checked.joins_sql(col_of)
        relation = (f"read_parquet({literal(source)}, file_row_number = true) AS t{joins} "
                    "ORDER BY t.file_row_number" if joins
                    else f"read_parquet({literal(source)}) AS t")
        written = scratch / "text.parquet"
        con.execute(f"COPY (SELECT {items} FROM {relation}) TO {literal(written)} "
                    "(FORMAT parquet, COMPRESSION zstd)")
    finally:
        checked.drop_mappings(con)
    written.replace(parquet)


def dictionary_columns(con: duckdb.DuckDBPyConnection, parquet: Path) -> frozenset[str]:
    """Columns of a Parquet file written with a dictionary in every row group: few distinct
    values, so grouping them first costs next to nothing."""
    names = [r[0] for r in con.execute("SELECT name FROM parquet_schema(?) WHERE num_children "
                                       "IS NULL", [str(parquet)]).fetchall()]
    rows = con.execute("SELECT column_id, bool_and(encodings LIKE '%DICTIONARY%') "
                       "FROM parquet_metadata(?) GROUP BY column_id", [str(parquet)]).fetchall()
    return frozenset(names[i] for i, dictionary in rows if dictionary and i < len(names))


def _check_column(con: duckdb.DuckDBPyConnection, relation: str, name: str,
                  recode: Recode | None, repair: bool, distinct_first: bool) -> ColumnText:
    found = ColumnText(name)
    col = ident(name)
    source = (f"SELECT {col} AS v, count(*) AS n FROM {relation} GROUP BY ALL" if distinct_first
              else f"SELECT {col} AS v, 1 AS n FROM {relation}")
    bad = "(strlen({0}) <> length({0}) AND regexp_matches({0}, $suspicious))"
    if recode is None:
        values = f"SELECT v AS d, n, false AS recoded, true AS suspicious FROM s WHERE {bad.format('v')}"
    else:
        values = (f"SELECT d, n, d IS DISTINCT FROM v AS recoded, {bad.format('d')} AS suspicious "
                  f"FROM (SELECT {recode.sql('v')} AS d, v, n FROM s)")
    # Grouped values are few: materialised, so that DuckDB does not push the filters below
    # the grouping (back to one regex per row); row by row, nothing is held.
    cte = f"WITH s AS {'MATERIALIZED ' if distinct_first else ''}({source}), susp AS ({values})"
    params = {"suspicious": SUSPICIOUS}
    suspicious, recoded = con.execute(
        f"{cte} SELECT coalesce(sum(n) FILTER (suspicious), 0), "
        "coalesce(sum(n) FILTER (recoded), 0) FROM susp", params).fetchone() or (0, 0)
    found.suspicious, found.recoded = int(suspicious), int(recoded)
    if not found.suspicious:
        return found
    limit = "" if repair else f" LIMIT {CHECKED_VALUES + 1}"
    cursor = con.execute(f"{cte} SELECT d, sum(n) AS total FROM susp WHERE suspicious "
                         f"GROUP BY d ORDER BY total DESC, d{limit}", params)
    judged = 0
    while batch := cursor.fetchmany(_BATCH):
        for value, count in batch:
            judged += 1
            if not repair and judged > CHECKED_VALUES:
                found.complete = False
                break
            fixed = repaired(value)
            if fixed == value:
                continue
            found.mojibake += int(count)
            found.distinct += 1
            if len(found.examples) < EXAMPLES:
                found.examples.append((value, fixed))
            if repair:
                found.repairs[value] = fixed
    log.info("text_check column=%s suspicious=%d mojibake=%d distinct=%d recoded=%d",
             name, found.suspicious, found.mojibake, found.distinct, found.recoded)
    return found
