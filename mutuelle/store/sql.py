"""DuckDB identifiers and literals, quoted in one place (built with SQLGlot).

Every SQL text that names a column, a table or a file, or embeds a value that cannot travel as
a ``?`` parameter (a ``COPY ... TO`` target, a ``CREATE VIEW`` over a file, ...), goes through
these builders rather than quotes doubled by hand.

Two decisions:

- a name cannot be empty nor hold the NUL character (DuckDB has no spelling for either):
  :func:`ident` refuses them with :class:`~mutuelle.core.errors.InvalidInput`;
- a string holding NUL is still a literal: the NUL is spelt ``chr(0)`` and the parts joined
  with ``||``, so any Python string round-trips.
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from mutuelle.core.errors import InvalidInput

DIALECT = "duckdb"

LiteralValue = str | int | float | Path
"""What :func:`literal` accepts (``bool`` included, as a subclass of ``int``)."""

_NUL = "\x00"


def to_identifier(name: str) -> exp.Identifier:
    """``name`` as a quoted SQLGlot identifier (for code that builds SQLGlot trees)."""
    if not name:
        raise InvalidInput("Un nom de colonne ou de table ne peut pas être vide.")
    if _NUL in name:
        raise InvalidInput("Un nom de colonne ou de table ne peut pas contenir le caractère NUL.")
    return exp.to_identifier(name, quoted=True)


def to_literal(value: LiteralValue) -> exp.Expression:
    """``value`` as a SQLGlot expression that DuckDB evaluates to that very value.

    Strings and paths become string literals, ``bool`` becomes ``TRUE``/``FALSE``, ``int`` a
    number, ``float`` a ``DOUBLE`` read from its shortest text (``nan`` and the infinities
    included), so that it comes back bit for bit.
    """
    if isinstance(value, Path):
        return _string(str(value))
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    # From text: a number literal would be a DECIMAL first, and lose digits on its way to DOUBLE.
    return exp.cast(exp.Literal.string(repr(value)), exp.DataType.Type.DOUBLE)


def _string(text: str) -> exp.Expression:
    if _NUL not in text:
        return exp.Literal.string(text)
    parts: list[exp.Expression] = []
    for i, piece in enumerate(text.split(_NUL)):
        if i:
            parts.append(exp.Anonymous(this="chr", expressions=[exp.Literal.number(0)]))
        if piece:
            parts.append(exp.Literal.string(piece))
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part, safe=True)
    return exp.Paren(this=joined)


def ident(name: str) -> str:
    """``name`` as a quoted DuckDB identifier: ``a"b`` → ``"a""b"``."""
    return to_identifier(name).sql(DIALECT)


def literal(value: LiteralValue) -> str:
    """``value`` as DuckDB literal SQL: ``it's`` → ``'it''s'``, a path as its string literal."""
    return to_literal(value).sql(DIALECT)


def column(name: str, table: str | None = None) -> str:
    """A column, qualified by ``table`` when given: ``"t"."c"``."""
    node = exp.Column(this=to_identifier(name), table=to_identifier(table) if table else None)
    return node.sql(DIALECT)


def read_parquet(path: Path | str) -> str:
    """The table expression reading one Parquet file: ``read_parquet('…/data.parquet')``."""
    return exp.Anonymous(this="read_parquet", expressions=[to_literal(Path(path))]).sql(DIALECT)
