"""Facets of the Explore API: the ``facet`` parameter (``field`` or ``facet(name="field",
sort=..., limit=..., disjunctive=true)``) and the enumeration Opendatasoft answers.

Each value has a ``state``: ``refined`` (selected with ``refine``), ``excluded`` (removed with
``exclude``: listed, without a count, as Opendatasoft does) or ``displayed``. Dates are
hierarchical: years, then the months of a refined year, then the days of a refined month,
nested under the value they refine (``{"name": "05", "value": "2024/05", ...}``). A
``disjunctive`` facet counts its values as if none of them were selected, and its refined values
are ORed for the other facets' counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import duckdb
from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import (
    FACET_SORTS,
    QueryRequest,
    UnknownField,
    build_facet,
    compile_refine,
)

_CALL = re.compile(r"^\s*facet\s*\((?P<args>.*)\)\s*$", re.DOTALL)
_ARG = re.compile(r'\s*(?P<key>[a-z_]+)\s*=\s*(?:"(?P<dq>[^"]*)"|\'(?P<sq>[^\']*)\'|(?P<bare>[^,\s]+))\s*(?:,|$)')
_FLAGS = {"true": True, "false": False}
DATES = ("date", "datetime")
_LEVELS = ("year", "month", "day")
#: French concepts naming a territory or a code with few values: facets by default.
CODE_CONCEPTS = frozenset({"code_commune", "code_iris", "code_departement", "code_region",
                           "code_epci", "code_qpv", "code_postal"})
#: Most facets computed by default (a dataset with many marked fields).
DEFAULT_FACETS = 20


class FieldLike(Protocol):
    """What facets read of a field of the dictionary (``catalog.models.Field``)."""

    name: str
    type: str
    concept: str | None


@dataclass(frozen=True)
class FacetSpec:
    """One requested facet."""

    name: str
    sort: str = "-count"
    limit: int = 100
    disjunctive: bool = False


def _arguments(text: str, match: re.Match[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    rest, pos = match.group("args"), 0
    while pos < len(rest.strip()):
        arg = _ARG.match(rest, pos)
        if not arg:
            raise QueryError(f"cannot read facet arguments {rest[pos:]!r}", clause="facet",
                             position=match.start("args") + pos)
        args[arg.group("key")] = next(v for v in (arg.group("dq"), arg.group("sq"), arg.group("bare"))
                                      if v is not None)
        pos = arg.end()
    return args


def parse_facet(text: str, schema: dict[str, str]) -> FacetSpec:
    """One ``facet`` value, checked against the schema (an unknown field is an ODSQLError)."""
    match = _CALL.match(text)
    args = _arguments(text, match) if match else {"name": text.strip()}
    if args.get("hierarchical", "false").lower() == "true":
        raise QueryError("hierarchical text facets are not supported (dates are hierarchical "
                         "by themselves)", clause="facet", position=0)
    unknown = set(args) - {"name", "sort", "limit", "disjunctive", "hierarchical", "separator"}
    if unknown or "name" not in args:
        raise QueryError("facet() takes name=, sort=, limit= and disjunctive=", clause="facet",
                         position=0)
    name = args["name"]
    kind = schema.get(name)
    if kind is None:
        raise UnknownField(name, clause="facet", position=0)
    if kind == "geometry":
        raise QueryError(f"cannot facet on geometry field {name!r}", clause="facet")
    try:
        limit = int(args.get("limit", "100"))
    except ValueError as exc:
        raise QueryError(f"facet limit must be an integer, not {args['limit']!r}",
                         clause="facet") from exc
    disjunctive = _FLAGS.get(args.get("disjunctive", "false").lower())
    if disjunctive is None:
        raise QueryError("facet disjunctive must be true or false", clause="facet")
    sort = args.get("sort", "alphanum" if kind in DATES else "-count")
    if sort not in FACET_SORTS:
        raise QueryError(f"facet sort must be one of {', '.join(FACET_SORTS)}", clause="facet")
    if not 1 <= limit <= 1000:
        raise QueryError("facet limit must be between 1 and 1000", clause="facet")
    return FacetSpec(name=name, sort=sort, limit=limit, disjunctive=disjunctive)


def marked_as_facet(field: FieldLike) -> bool:
    """Whether a field is a facet by default: dates (hierarchical), booleans and territorial
    codes; free text is a facet only when asked for (its values rarely repeat)."""
    return field.type in (*DATES, "boolean") or field.concept in CODE_CONCEPTS


def parse_facet_params(values: list[str], schema: dict[str, str],
                       fields: Sequence[FieldLike] | None = None) -> list[FacetSpec]:
    """Every requested facet; by default, the fields marked as facets (``fields``), or every
    text field of a schema that has no dictionary (the catalogue's)."""
    if values:
        return [parse_facet(v, schema) for v in values]
    if fields is not None:
        return [parse_facet(f.name, schema) for f in fields if marked_as_facet(f)][:DEFAULT_FACETS]
    return [parse_facet(n, schema) for n, t in schema.items() if t == "text"][:DEFAULT_FACETS]


# -- the enumeration ---------------------------------------------------------------------------

def _field_of(text: str) -> str:
    return text.partition(":")[0]


def _path(value: str) -> str:
    """A refined date as the facet's path: ``2024-05-03T10:00`` → ``2024/05/03``."""
    return value.strip()[:10].replace("-", "/")


def label(value: Any) -> str:
    """A facet value as text, as ``refine`` takes it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


@dataclass
class FacetQuery:
    """What every facet of one call shares: the connection, the request, the schema, the rows."""

    con: duckdb.DuckDBPyConnection
    req: QueryRequest
    schema: dict[str, str]
    source: exp.Expr
    disjunctive: frozenset[str]

    def rows(self, spec: FacetSpec, req: QueryRequest, *, limit: int,
             level: str = "year") -> list[tuple[str, int]]:
        """``(value, count)`` pairs of one facet under ``req``."""
        source = self._or_source(spec.name, req)
        query = build_facet(spec.name, req, self.schema, source, sort=spec.sort, limit=limit,
                            date_level=level)
        return [(label(v), int(c)) for v, c in self.con.execute(query.sql(dialect="duckdb")).fetchall()]

    def _or_source(self, name: str, req: QueryRequest) -> exp.Expr:
        """The rows, narrowed by the refined values of the *other* disjunctive facets (ORed)."""
        conditions = []
        for field in sorted(self.disjunctive - {name}):
            texts = [r for r in self.req.refine if _field_of(r) == field]
            if texts:
                conditions.append(exp.or_(*(compile_refine(t, self.schema, req) for t in texts)))
        if not conditions:
            return self.source
        return exp.select("*").from_(self.source.copy()).where(exp.and_(*conditions)).subquery(
            "records")

    def request_for(self, spec: FacetSpec) -> QueryRequest:
        """The filters that count ``spec``'s values: its own exclusions lifted (excluded values
        are listed), its own refinements too when disjunctive, and the other disjunctive
        facets' refinements left to ``_or_source``."""
        def kept(text: str) -> bool:
            field = _field_of(text)
            if field == spec.name:
                return not spec.disjunctive
            return field not in self.disjunctive
        return replace(self.req, refine=[r for r in self.req.refine if kept(r)],
                       exclude=[e for e in self.req.exclude if _field_of(e) != spec.name])


def _states(spec: FacetSpec, rows: list[tuple[str, int]], refined: set[str], excluded: set[str],
            *, level_of: int = 0, dates: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    listed = set()
    displayed = 0
    for value, count in rows:
        name = value.rsplit("/", 1)[-1] if dates else value
        listed.add(value)
        if value in excluded:
            out.append({"name": name, "state": "excluded", "value": value})
        elif value in refined:
            out.append({"name": name, "count": count, "state": "refined", "value": value})
        elif displayed < spec.limit:
            displayed += 1
            out.append({"name": name, "count": count, "state": "displayed", "value": value})
    for value in sorted(excluded - listed):
        if not dates or value.count("/") == level_of:
            out.append({"name": value.rsplit("/", 1)[-1] if dates else value, "state": "excluded",
                        "value": value})
    return out


def facet_values(query: FacetQuery, spec: FacetSpec) -> list[dict[str, Any]]:
    """The enumeration of one facet (``{"name", "count", "state", "value"}`` per value)."""
    req = query.request_for(spec)
    own_refines = [r.partition(":")[2] for r in query.req.refine if _field_of(r) == spec.name]
    own_excludes = [e.partition(":")[2] for e in query.req.exclude if _field_of(e) == spec.name]
    extra = len(own_refines) + len(own_excludes)
    if query.schema[spec.name] not in DATES:
        rows = query.rows(spec, req, limit=spec.limit + extra)
        return _states(spec, rows, set(own_refines), set(own_excludes))
    refined = {_path(r) for r in own_refines}
    excluded = {_path(e) for e in own_excludes}
    return _date_level(query, spec, req, refined, excluded, 0, None)


def _date_level(query: FacetQuery, spec: FacetSpec, req: QueryRequest, refined: set[str],
                excluded: set[str], depth: int, parent: str | None) -> list[dict[str, Any]]:
    """One level of a date facet: years, or the months of ``parent``, or its days."""
    if parent is not None and spec.disjunctive:
        req = replace(req, refine=[*req.refine, f"{spec.name}:{parent}"])
    prefixes = {"/".join(p.split("/")[:depth + 1]) for p in refined}
    rows = query.rows(spec, req, limit=spec.limit + len(refined) + len(excluded),
                      level=_LEVELS[depth])
    if parent is not None:
        rows = [(v, c) for v, c in rows if v.startswith(parent + "/")]
    entries = _states(spec, rows, prefixes, {e for e in excluded if e.count("/") == depth},
                      level_of=depth, dates=True)
    for entry in entries:
        if entry["state"] == "refined" and depth + 1 < len(_LEVELS):
            entry["facets"] = _date_level(query, spec, req, refined, excluded, depth + 1,
                                          entry["value"])
    return entries


def facet_answer(con: duckdb.DuckDBPyConnection, specs: list[FacetSpec], req: QueryRequest,
                 schema: dict[str, str], source: exp.Expr) -> list[dict[str, Any]]:
    """``[{"name": field, "facets": [...]}]`` for every requested facet."""
    query = FacetQuery(con, req, schema, source,
                       frozenset(s.name for s in specs if s.disjunctive))
    return [{"name": spec.name, "facets": facet_values(query, spec)} for spec in specs]
