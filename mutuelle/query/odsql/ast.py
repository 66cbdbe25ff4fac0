"""The ODSQL syntax tree: the contract between the parser and the SQL compiler.

Nodes are plain frozen dataclasses; ``pos`` is the character offset of the node in
its clause text and is left out of equality, so two trees compare by meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Field:
    """A column name (bare or back-quoted)."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Star:
    """``*``: every field (in select, ``count(*)``) or an open range edge."""

    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class String:
    """A quoted string; alone in a where clause it is a full-text search."""

    value: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Number:
    """An integer or decimal literal (negative numbers come as ``Unary('-')``)."""

    value: int | float
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Boolean:
    """``true`` or ``false``."""

    value: bool
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class DateLit:
    """``date'2024-01-01'``; the text is checked by the compiler."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class GeomLit:
    """``geom'POINT(2.35 48.85)'``: WKT or GeoJSON text, checked by the compiler."""

    text: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Quantity:
    """A number with a unit: a distance (``1km``) or a duration (``1 month``)."""

    value: int | float
    unit: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    """``-x`` or ``not x``."""

    op: str
    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Binary:
    """Arithmetic (``+ - * /``), comparison (``= != < <= > >=``) or ``:``."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class BoolOp:
    """``and`` / ``or`` over two or more operands."""

    op: str
    operands: tuple[Node, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Keyword:
    """A ``name=value`` argument of a function that takes some (``now(days=-7)``)."""

    name: str
    value: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """A function call; the name is lower case and known to ``functions.py``."""

    name: str
    args: tuple[Node, ...]
    distinct: bool = False
    pos: int = field(default=0, compare=False)
    keywords: tuple[Keyword, ...] = ()


@dataclass(frozen=True)
class InList:
    """``x in ("a", "b")`` (``negated`` for ``not in``)."""

    operand: Node
    items: tuple[Node, ...]
    negated: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class InRange:
    """``x in [a..b]``; ``[``/``]`` inclusive, ``]``/``[`` exclusive; None bound is ``*``."""

    operand: Node
    low: Node | None
    high: Node | None
    low_inclusive: bool
    high_inclusive: bool
    negated: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Like:
    """``x like "pat*"`` where ``*`` stands for any run of characters."""

    operand: Node
    pattern: str
    negated: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Is:
    """``x is [not] null|true|false``; ``value`` None means null."""

    operand: Node
    value: bool | None
    negated: bool = False
    pos: int = field(default=0, compare=False)


Node: TypeAlias = (
    Field | Star | String | Number | Boolean | DateLit | GeomLit | Quantity
    | Unary | Binary | BoolOp | Call | Keyword | InList | InRange | Like | Is
)


@dataclass(frozen=True)
class SelectItem:
    """One select expression; ``text`` is how it was written (its default name)."""

    expr: Node
    alias: str | None = None
    text: str = field(default="", compare=False)
    pos: int = field(default=0, compare=False)

    @property
    def name(self) -> str:
        """The output column name: the alias, the field name or the written text."""
        if self.alias is not None:
            return self.alias
        if isinstance(self.expr, Field):
            return self.expr.name
        return self.text


@dataclass(frozen=True)
class FieldPattern:
    """``include(pat*)`` or ``exclude(pat*)`` in select; ``*`` and ``?`` are wildcards."""

    include: bool
    pattern: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class OrderItem:
    """One order_by expression; ``text`` is how it was written."""

    expr: Node
    descending: bool = False
    text: str = field(default="", compare=False)
    pos: int = field(default=0, compare=False)


GroupItem = SelectItem


#: The sub-expressions of each node class that has some (the others are leaves).
_CHILDREN: dict[type[Node], Callable[[Any], tuple[Node, ...]]] = {
    Unary: lambda node: (node.operand,),
    Binary: lambda node: (node.left, node.right),
    BoolOp: lambda node: node.operands,
    Call: lambda node: (*node.args, *node.keywords),
    Keyword: lambda node: (node.value,),
    InList: lambda node: (node.operand, *node.items),
    InRange: lambda node: tuple(n for n in (node.operand, node.low, node.high) if n is not None),
    Like: lambda node: (node.operand,),
    Is: lambda node: (node.operand,),
}


def children(node: Node) -> tuple[Node, ...]:
    """The sub-expressions of a node, for walks that do not care about its kind."""
    found = _CHILDREN.get(type(node))
    return () if found is None else found(node)


def is_bare_search(node: Node, parent: Node | None) -> bool:
    """Whether ``node`` is a string under and/or/not: a search over every text field."""
    return isinstance(node, String) and isinstance(parent, (BoolOp, Unary))
