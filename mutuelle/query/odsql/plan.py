"""The ODSQL planner: a request's clauses (parsed into ``ast`` trees) compiled into one SQLGlot
SELECT for DuckDB (records, counts and facets).

The middle of the three stages: ``parser`` turns text into our tree, this module and
``compile`` turn the tree into SQLGlot's, ``generate`` writes DuckDB SQL from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlglot import exp

from mutuelle.core import clock
from mutuelle.core.cache import cached
from mutuelle.core.config import Settings
from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import ast
from mutuelle.query.odsql.compile import (
    BOOLEAN,
    DATE,
    DATETIME,
    DECIMAL,
    GEOMETRY,
    INTEGER,
    TEXT,
    Compiler,
    Typed,
    UnknownField,
    column,
    fn,
    has_aggregate,
)
from mutuelle.query.odsql.functions import AGGREGATE, FUNCTIONS, parse_when
from mutuelle.query.odsql.lexer import check_text
from mutuelle.query.odsql.parser import (
    parse_group_by,
    parse_order_by,
    parse_select,
    parse_where,
)

#: Alias of the source table in generated SQL (``random(seed)`` hashes the whole row).
ROW_ALIAS = "__odsql_row"
#: Most rows of one /records page without group_by: Opendatasoft's API contract, not a
#: tunable (the walls of offset + limit are settings).
MAX_PAGE_ROWS = 100
FACET_SORTS = ("count", "-count", "value", "-value", "alphanum", "-alphanum", "num", "-num")
_DATE_LEVELS = {"year": "%Y", "month": "%Y/%m", "day": "%Y/%m/%d"}


@dataclass
class QueryRequest:
    """The ODSQL parameters of one records, aggregates or exports call."""

    select: str | None = None
    where: list[str] = field(default_factory=list)  # several where params are ANDed
    group_by: str | None = None
    order_by: str | None = None
    limit: int | None = None
    offset: int = 0
    refine: list[str] = field(default_factory=list)   # "field:value"
    exclude: list[str] = field(default_factory=list)  # "field:value"
    timezone: str = "UTC"
    #: The language of day and month names in ``date_format()`` (Opendatasoft's ``lang``).
    lang: str = "fr"
    #: The moment ``now()`` stands for; None: the clock, read once per built query (a caller
    #: building the records and their count may pin it so that both agree).
    now: datetime | None = None


def _pinned(req: QueryRequest) -> QueryRequest:
    """``req`` with ``now`` fixed, so that every clause of one query reads the same time."""
    return req if req.now is not None else replace(req, now=clock.now())


@dataclass
class Plan:
    """A request compiled clause by clause, before it becomes one SELECT."""

    filters: exp.Expr | None
    outputs: list[tuple[str, Typed]]
    group_keys: list[exp.Expr]
    aggregated: bool
    order: list[exp.Ordered]


@cached("query.zone_names", max_items=1)
def _zone_names() -> frozenset[str]:
    # DuckDB (ICU) has no "localtime", the machine's zone, which would not be portable anyway.
    return (frozenset(available_timezones()) | {"UTC"}) - {"localtime"}


def _zone(name: str) -> ZoneInfo:
    if name not in _zone_names():
        raise QueryError(f"unknown time zone {name!r}", clause="timezone")
    return ZoneInfo(name)


def _compiler(schema: dict[str, str], req: QueryRequest, clause: str,
              aliases: dict[str, Typed] | None = None) -> Compiler:
    return Compiler(schema, clause=clause, tz=_zone(req.timezone), tz_name=req.timezone,
                    aliases=aliases, now=req.now, lang=req.lang)


def _from(source: exp.Expr) -> tuple[exp.Expr, str]:
    """The source as a FROM item with an alias (kept if it had one)."""
    if isinstance(source, (exp.Table, exp.Subquery)) and source.alias:
        return source.copy(), source.alias
    if isinstance(source, (exp.Table, exp.Subquery)):
        item = source.copy()
    else:
        item = exp.Table(this=source.copy())
    item.set("alias", exp.TableAlias(this=exp.to_identifier(ROW_ALIAS)))
    return item, ROW_ALIAS


# -- filters ---------------------------------------------------------------------------------

def where_clause_name(index: int, count: int) -> str:
    """How errors name a where clause: ``where``, or ``where[2]`` among several."""
    return "where" if count == 1 else f"where[{index + 1}]"


def compile_where(texts: list[str], schema: dict[str, str], req: QueryRequest
                  ) -> list[exp.Expr]:
    """The conditions of the where clauses (blank ones are ignored); the caller ANDs them."""
    req = _pinned(req)
    conditions = []
    for index, text in enumerate(texts):
        if text.strip():
            clause = where_clause_name(index, len(texts))
            compiler = _compiler(schema, req, clause)
            conditions.append(compiler.condition(parse_where(text, clause)))
    return conditions


def compile_refine(text: str, schema: dict[str, str], req: QueryRequest,
                   clause: str = "refine") -> exp.Expr:
    """``field:value`` as an equality, or a period prefix for dates (``2024/05``)."""
    check_text(text, clause)
    name, sep, value = text.partition(":")
    if not sep:
        raise QueryError("expected field:value", clause=clause, position=0)
    kind = schema.get(name)
    if kind is None:
        raise UnknownField(name, clause=clause, position=0)
    compiler = _compiler(schema, req, clause)
    col, pos = Typed(column(name), kind), len(name) + 1
    if kind in (DATE, DATETIME):
        return compiler.period(col, parse_when(value, clause=clause, position=pos))
    to_value = _REFINE_VALUES.get(kind)
    if to_value is None:
        raise QueryError(f"cannot refine on a {kind} field", clause=clause, position=0)
    try:
        literal = to_value(value, compiler)
    except (ValueError, KeyError) as exc:
        raise QueryError(f"{value!r} is not a valid {kind}", clause=clause,
                         position=pos) from exc
    return exp.EQ(this=col.sql, expression=literal)


def _decimal_value(text: str, compiler: Compiler) -> exp.Expr:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return compiler.number(number).sql


_FLAGS = {"true": True, "1": True, "false": False, "0": False}

#: The value of ``field:value`` per field type (dates are periods; other types refused).
_REFINE_VALUES: dict[str, Callable[[str, Compiler], exp.Expr]] = {
    INTEGER: lambda text, compiler: exp.Literal.number(int(text)),
    DECIMAL: _decimal_value,
    BOOLEAN: lambda text, compiler: exp.Boolean(this=_FLAGS[text.strip().lower()]),
    TEXT: lambda text, compiler: exp.Literal.string(text),
}


def compile_filters(req: QueryRequest, schema: dict[str, str]) -> exp.Expr | None:
    """where clauses, refines and excludes ANDed together (None when there are none)."""
    req = _pinned(req)
    parts = compile_where(req.where, schema, req)
    parts += [compile_refine(r, schema, req) for r in req.refine]
    for text in req.exclude:
        cond = compile_refine(text, schema, req, "exclude")
        parts.append(exp.Not(this=fn("coalesce", cond, exp.Boolean(this=False))))
    return exp.and_(*parts) if parts else None


# -- select, group_by, order_by ---------------------------------------------------------------

def _copy(typed: Typed) -> Typed:
    return replace(typed, sql=typed.sql.copy(), key=None if typed.key is None
                   else typed.key.copy())


class _Seen(Enum):
    """What the walk for ungrouped fields does with a node."""

    SKIP = "skip"        # grouped or aggregated: nothing below it counts
    FOUND = "found"      # a row-level value outside aggregates and group keys
    DESCEND = "descend"  # look at its children


def _field_seen(node: ast.Field, parent: ast.Node | None, aliases: set[str]) -> _Seen:
    return _Seen.SKIP if node.name in aliases else _Seen.FOUND


def _string_seen(node: ast.String, parent: ast.Node | None, aliases: set[str]) -> _Seen:
    return _Seen.FOUND if ast.is_bare_search(node, parent) else _Seen.DESCEND


def _call_seen(node: ast.Call, parent: ast.Node | None, aliases: set[str]) -> _Seen:
    if FUNCTIONS[node.name].kind == AGGREGATE:
        return _Seen.SKIP
    if node.name == "search" and len(node.args) == 1:
        return _Seen.FOUND
    return _Seen.DESCEND


#: Per node class, what ``_ungrouped`` makes of it (any other class: look at its children).
_UNGROUPED: dict[type[ast.Node], Callable[[Any, ast.Node | None, set[str]], _Seen]] = {
    ast.Field: _field_seen,
    ast.Star: lambda node, parent, aliases: _Seen.FOUND,
    ast.String: _string_seen,
    ast.Call: _call_seen,
}


def _ungrouped(node: ast.Node, keys: set[ast.Node], aliases: set[str]) -> ast.Node | None:
    """A field (or a search over all text fields) outside aggregates and group keys."""
    stack: list[tuple[ast.Node, ast.Node | None]] = [(node, None)]
    while stack:
        current, parent = stack.pop()
        if current in keys:
            continue
        verdict = _UNGROUPED.get(type(current))
        seen = _Seen.DESCEND if verdict is None else verdict(current, parent, aliases)
        if seen is _Seen.FOUND:
            return current
        if seen is _Seen.DESCEND:
            stack.extend((child, current) for child in ast.children(current))
    return None


#: How an error names what ``_ungrouped`` found (any other node: a bare search).
_DESCRIBE: dict[type[ast.Node], Callable[[Any], str]] = {
    ast.Field: lambda node: f"field '{node.name}'",
    ast.Star: lambda node: "'*'",
}


def _describe(node: ast.Node) -> str:
    return _DESCRIBE.get(type(node), lambda _: "a search over all text fields")(node)


def _expand_select(items: list[ast.SelectItem | ast.FieldPattern], schema: dict[str, str]
                   ) -> list[ast.SelectItem]:
    """``*``, ``include()`` and ``exclude()`` replaced by the fields they name."""
    excluded = [i.pattern for i in items if isinstance(i, ast.FieldPattern) and not i.include]
    expanded: list[ast.SelectItem] = []
    if all(isinstance(i, ast.FieldPattern) and not i.include for i in items):
        items = [ast.SelectItem(ast.Star())]
    for item in items:
        if isinstance(item, ast.FieldPattern):
            if item.include:
                expanded += [ast.SelectItem(ast.Field(n, item.pos), None, n, item.pos)
                             for n in schema if fnmatchcase(n, item.pattern)
                             and not any(fnmatchcase(n, p) for p in excluded)]
        elif isinstance(item.expr, ast.Star):
            expanded += [ast.SelectItem(ast.Field(n, item.pos), None, n, item.pos)
                         for n in schema if not any(fnmatchcase(n, p) for p in excluded)]
        else:
            expanded.append(item)
    return expanded


def _add_output(outputs: list[tuple[str, Typed]], seen: dict[str, ast.Node], name: str,
                typed: Typed, node: ast.Node, clause: str) -> None:
    if name in seen:
        if seen[name] == node:
            return
        raise QueryError(f"two columns are named '{name}'; give one an alias", clause=clause,
                         position=node.pos)
    seen[name] = node
    outputs.append((name, typed))


def plan(req: QueryRequest, schema: dict[str, str]) -> Plan:
    """Every clause of ``req`` compiled against ``schema``, checked as a whole."""
    req = _pinned(req)
    filters = compile_filters(req, schema)
    outputs: list[tuple[str, Typed]] = []
    seen: dict[str, ast.Node] = {}
    groups: dict[ast.Node, Typed] = {}
    aliases: dict[str, Typed] = {}
    if req.group_by and req.group_by.strip():
        compiler = _compiler(schema, req, "group_by")
        for item in parse_group_by(req.group_by):
            typed = compiler.group_expr(item.expr)
            typed = replace(typed, constant=compiler.is_constant(item.expr))
            groups[item.expr] = typed
            if item.alias:
                aliases[item.alias] = typed
            _add_output(outputs, seen, item.name, typed, item.expr, "group_by")
    grouped = bool(groups)
    select_items = _expand_select(parse_select(req.select), schema) \
        if req.select and req.select.strip() else ([] if grouped else _expand_select(
            [ast.SelectItem(ast.Star())], schema))
    compiler = _compiler(schema, req, "select", aliases)
    compiled = [(item, _copy(groups[item.expr]) if item.expr in groups
                 else replace(compiler.expr(item.expr), constant=compiler.is_constant(item.expr)))
                for item in select_items]
    aggregated = grouped or any(has_aggregate(item.expr) for item in select_items)
    for item, typed in compiled:
        if aggregated:
            bad = _ungrouped(item.expr, set(groups), set(aliases))
            if bad is not None:
                raise QueryError(f"{_describe(bad)} must be in group_by or inside an aggregate",
                                 clause="select", position=bad.pos)
        if isinstance(item.expr, ast.Field) and item.expr.name in aliases \
                and item.name == item.expr.name:
            continue  # the group_by alias is already an output column
        _add_output(outputs, seen, item.name, typed, item.expr, "select")
    if not outputs:
        raise QueryError("the select leaves no column", clause="select", position=0)
    order = _order(req, schema, outputs, groups, aliases, aggregated)
    # A constant GROUP BY key is a no-op, and DuckDB would read an integer one as a position.
    keys = [t.group_key.copy() for t in groups.values() if not t.constant]
    return Plan(filters, outputs, keys, aggregated, order)


def _order(req: QueryRequest, schema: dict[str, str], outputs: list[tuple[str, Typed]],
           groups: dict[ast.Node, Typed], aliases: dict[str, Typed], aggregated: bool
           ) -> list[exp.Ordered]:
    if not req.order_by or not req.order_by.strip():
        return []
    by_name = dict(outputs)
    compiler = _compiler(schema, req, "order_by", aliases)
    order: list[exp.Ordered] = []
    for item in parse_order_by(req.order_by):
        node = item.expr
        if isinstance(node, ast.Call) and node.name == "random":
            key = _random_key(node, groups, aggregated, compiler)
            if key is not None:
                order.append(exp.Ordered(this=key, desc=item.descending, nulls_first=False))
            continue
        name = node.name if isinstance(node, ast.Field) else item.text
        if name in by_name:
            typed = by_name[name]
        elif node in groups:
            typed = groups[node]
        else:
            typed = replace(compiler.expr(node), constant=compiler.is_constant(node))
            bad = _ungrouped(node, set(groups), set(aliases)) if aggregated else None
            if bad is not None:
                raise QueryError("order_by on a grouped query takes group_by or aggregate "
                                 "expressions", clause="order_by", position=bad.pos)
            if not aggregated and has_aggregate(node):
                raise QueryError("aggregates in order_by need group_by or an aggregate select",
                                 clause="order_by", position=node.pos)
        if typed.type == GEOMETRY:
            raise QueryError("cannot order by a geometry", clause="order_by", position=node.pos)
        if typed.constant:  # a no-op, and DuckDB would read an integer as a column position
            continue
        order.append(exp.Ordered(this=typed.sql.copy(), desc=item.descending,
                                 nulls_first=False))
    return order


def _random_key(node: ast.Call, groups: dict[ast.Node, Typed], aggregated: bool,
                compiler: Compiler) -> exp.Expr | None:
    """``random()`` or ``random(seed)``: a hash of the row (or group) and the seed."""
    if not node.args:
        return fn("random")
    seed = node.args[0]
    if not isinstance(seed, ast.Number) or not isinstance(seed.value, int):
        raise compiler.error("random() takes a whole number seed", seed)
    if aggregated and not groups:
        return None
    keys = [t.group_key.copy() for t in groups.values()] if groups \
        else [exp.column(ROW_ALIAS)]
    return fn("hash", *keys, exp.Literal.number(seed.value))


# -- public entry points ----------------------------------------------------------------------

def _check_paging(req: QueryRequest) -> None:
    if req.limit is not None and req.limit < 0:
        raise QueryError("limit must be 0 or more", clause="limit", position=0)
    if req.offset < 0:
        raise QueryError("offset must be 0 or more", clause="offset", position=0)


def is_grouped(req: QueryRequest) -> bool:
    """Whether ``req`` has a group_by (Opendatasoft's bigger pages and wall apply)."""
    return bool(req.group_by and req.group_by.strip())


def check_page(req: QueryRequest, settings: Settings, *, past_wall: bool = False) -> int:
    """The rows one page of /records may hold for ``req``, checked as Opendatasoft does:
    ``limit`` up to 100 (``MAX_PAGE_ROWS``), or up to ``query_max_group_rows`` (20,000)
    with group_by, -1 meaning that most; ``offset + limit`` within ``query_max_rows`` (or
    ``query_max_group_rows``) unless the page comes from a cursor (``past_wall``).

    Returns the limit to use; a QueryError names the clause at fault otherwise.
    """
    grouped = is_grouped(req)
    wall = settings.query_max_group_rows if grouped else settings.query_max_rows
    most = wall if grouped else min(MAX_PAGE_ROWS, wall)
    limit = most if req.limit is None or req.limit == -1 else req.limit
    if not 0 <= limit <= most:
        kind = "with group_by" if grouped else "without group_by"
        raise QueryError(f"limit must be between 0 and {most} {kind} (got {req.limit}); "
                         "exports have no limit", clause="limit", position=0)
    if req.offset < 0:
        raise QueryError(f"offset must not be negative (got {req.offset})", clause="offset",
                         position=0)
    if not past_wall and req.offset + limit > wall:
        raise QueryError(f"offset + limit must not exceed {wall} (got {req.offset + limit})",
                         clause="offset", position=0)
    return limit


def build_query(req: QueryRequest, schema: dict[str, str], source: exp.Expr
                ) -> exp.Select:
    """The SELECT answering an ODSQL request on ``source`` (a table or a read_parquet call)."""
    req = _pinned(req)
    _check_paging(req)
    planned = plan(req, schema)
    src, row_alias = _from(source)
    query = exp.select(*(exp.alias_(typed.sql, name, quoted=True)
                         for name, typed in planned.outputs)).from_(src)
    if planned.filters is not None:
        query = query.where(planned.filters)
    if planned.group_keys:
        query = query.group_by(*planned.group_keys)
    if planned.order:
        if row_alias != ROW_ALIAS:
            for ordered in planned.order:
                for col in ordered.find_all(exp.Column):
                    if col.name == ROW_ALIAS:
                        col.replace(exp.column(row_alias))
        query = query.order_by(*planned.order)
    if req.limit is not None:
        query = query.limit(req.limit)
    if req.offset:
        query = query.offset(req.offset)
    query.meta["aggregated"] = planned.aggregated  # one row per group (or one in all)
    return query


def build_count(req: QueryRequest, schema: dict[str, str], source: exp.Expr
                ) -> exp.Select:
    """``total_count`` of the same request: rows matched, or groups when grouped."""
    req = _pinned(req)
    planned = plan(replace(req, order_by=None, limit=None, offset=0), schema)
    count = exp.alias_(exp.Count(this=exp.Star()), "total_count", quoted=True)
    if not planned.aggregated:
        src, _ = _from(source)
        query = exp.select(count).from_(src)
        return query.where(planned.filters) if planned.filters is not None else query
    inner = build_query(replace(req, order_by=None, limit=None, offset=0), schema, source)
    return exp.select(count).from_(inner.subquery("odsql_groups"))


def build_facet(field_name: str, req: QueryRequest, schema: dict[str, str],
                source: exp.Expr, *, sort: str = "-count", limit: int | None = None,
                date_level: str = "year") -> exp.Select:
    """``value``/``count`` pairs of one field, honouring where, refine and exclude.

    Dates facet by year (or ``date_level`` month/day) as ``2024``, ``2024/05``... the very
    text ``refine`` accepts.
    """
    req = _pinned(req)
    kind = schema.get(field_name)
    if kind is None:
        raise UnknownField(field_name, clause="facet")
    if kind == GEOMETRY:
        raise QueryError("cannot facet on a geometry field", clause="facet")
    if sort not in FACET_SORTS:
        raise QueryError(f"facet sort must be one of {', '.join(FACET_SORTS)}", clause="facet")
    if date_level not in _DATE_LEVELS:
        raise QueryError("date_level must be year, month or day", clause="facet")
    if limit is not None and limit < 0:
        raise QueryError("limit must be 0 or more", clause="facet")
    compiler = _compiler(schema, req, "facet")
    col = Typed(column(field_name), kind)
    value = col.sql
    if kind in (DATE, DATETIME):
        value = fn("strftime", compiler.local_time(col),
                   exp.Literal.string(_DATE_LEVELS[date_level]))
    filters = compile_filters(req, schema)
    present = exp.Not(this=exp.Is(this=col.sql.copy(), expression=exp.Null()))
    src, _ = _from(source)
    count = exp.Count(this=exp.Star())
    query = (exp.select(exp.alias_(value, "value", quoted=True),
                        exp.alias_(count, "count", quoted=True))
             .from_(src)
             .where(exp.and_(filters, present) if filters is not None else present)
             .group_by(value.copy()))
    by_value = exp.Ordered(this=value.copy(), desc=sort.startswith("-") and "count" not in sort,
                           nulls_first=False)
    if "count" in sort:
        query = query.order_by(exp.Ordered(this=count.copy(), desc=sort == "-count"), by_value)
    else:
        query = query.order_by(by_value)
    return query.limit(limit) if limit is not None else query
