"""The ``facet`` parameter of the Explore API: ``field`` or ``facet(name="field", sort=..., limit=...)``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mutuelle.core.errors import NotFound, QueryError

FACET_SORTS = ("count", "-count", "value", "-value", "alphanum", "-alphanum")
_CALL = re.compile(r"^\s*facet\s*\((?P<args>.*)\)\s*$", re.DOTALL)
_ARG = re.compile(r'\s*(?P<key>[a-z_]+)\s*=\s*(?:"(?P<dq>[^"]*)"|\'(?P<sq>[^\']*)\'|(?P<bare>[^,\s]+))\s*(?:,|$)')


@dataclass(frozen=True)
class FacetSpec:
    """One requested facet."""

    name: str
    sort: str = "-count"
    limit: int = 100


def parse_facet(text: str, schema: dict[str, str]) -> FacetSpec:
    """One ``facet`` value, checked against the schema."""
    match = _CALL.match(text)
    if not match:
        spec = FacetSpec(name=text.strip())
    else:
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
        unknown = set(args) - {"name", "sort", "limit"}
        if unknown or "name" not in args:
            raise QueryError("facet() takes name=, sort= and limit=", clause="facet", position=0)
        try:
            limit = int(args.get("limit", "100"))
        except ValueError as exc:
            raise QueryError(f"facet limit must be an integer, not {args['limit']!r}", clause="facet") from exc
        spec = FacetSpec(name=args["name"], sort=args.get("sort", "-count"), limit=limit)
    if spec.name not in schema:
        raise NotFound(f"unknown field {spec.name!r} in facet")
    if schema[spec.name] == "geometry":
        raise QueryError(f"cannot facet on geometry field {spec.name!r}", clause="facet")
    if spec.sort not in FACET_SORTS:
        raise QueryError(f"facet sort must be one of {', '.join(FACET_SORTS)}", clause="facet")
    if not 1 <= spec.limit <= 1000:
        raise QueryError("facet limit must be between 1 and 1000", clause="facet")
    return spec


def parse_facet_params(values: list[str], schema: dict[str, str]) -> list[FacetSpec]:
    """Every requested facet; by default, every text field."""
    if not values:
        return [FacetSpec(name=n) for n, t in schema.items() if t == "text"][:20]
    return [parse_facet(v, schema) for v in values]
