"""A territory as the observatory shows it: its identity, its parents (nearest first, up to
the whole territory), its children, and its portrait (every indicator the viewer reads beside
its parent's, the whole territory's, and its percentile among the territories of its level).
The API, the territory page and the map's tooltips all call ``territory_detail``."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer
from mutuelle.catalog.observatory_models import Territory
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.geo import referential
from mutuelle.observatory import compare, compute
from mutuelle.observatory.maps import is_count, value_json, visible_indicators

#: Parent columns of ``Territory``, from the nearest up.
UPPER_LEVELS = ("commune", "epci", "departement", "region")
#: Children listed with a territory (the API caps the list; the search finds the others).
MAX_CHILDREN = 500


def territory_json(t: Territory) -> dict[str, Any]:
    """A territory's identity and parent codes, with the links to its page and its data."""
    return {"level": t.level, "code": t.code, "name": t.name, "vintage": t.vintage,
            "population": t.population, "kind": t.kind, "parent_code": t.parent_code,
            "commune": t.commune, "epci": t.epci, "departement": t.departement,
            "region": t.region, "synthetic": bool((t.extra or {}).get("synthetic")),
            "links": {"self": f"/api/territories/{t.level}/{t.code}",
                      "page": f"/territoires/{t.level}/{t.code}"}}


def parents(session: Session, t: Territory) -> list[Territory]:
    """The territories holding ``t``, nearest first, ending with the whole territory."""
    out: list[Territory] = []
    start = UPPER_LEVELS.index(t.level) + 1 if t.level in UPPER_LEVELS else 0
    if t.level in ("territoire",):
        return out
    for level in UPPER_LEVELS[start:]:
        code = getattr(t, level)
        if code and code != t.code:
            found = session.scalar(select(Territory).where(
                Territory.vintage == t.vintage, Territory.level == level, Territory.code == code))
            if found is not None:
                out.append(found)
    commune = t.code if t.level == "commune" else t.commune
    for whole in session.scalars(select(Territory).where(
            Territory.vintage == t.vintage, Territory.level == "territoire")):
        members = (whole.extra or {}).get("communes")
        if not members or commune in members:
            out.append(whole)
            break
    return out


def children(session: Session, t: Territory) -> list[Territory]:
    """The territories just below ``t`` (none for the smallest levels)."""
    if t.level not in referential.CHILD_LEVEL:
        return []
    return referential.children(session, t)[:MAX_CHILDREN]


def references(c: compare.Comparison, *, count: bool) -> list[dict[str, Any]]:
    """The territories a portrait compares a value with, each once: its parent (the commune of
    an IRIS or a QPV) and the whole territory. When both values are published, a count is
    compared as its ``share`` of theirs (an IRIS and its metropolis are not measured on one
    axis), any other indicator by its ``difference`` from theirs, in its unit."""
    found: list[tuple[str, str, compute.Value]] = []
    if c.parent is not None and c.parent_level is not None and c.parent_level != compute.WHOLE:
        found.append(("parent", c.parent_level, c.parent))
    if c.whole is not None and c.level != compute.WHOLE:
        found.append(("whole", compute.WHOLE, c.whole))
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, float | None]] = set()
    mine = c.value.value if c.value.status == compute.OK else None
    for role, level, v in found:
        if (v.name, v.value) in seen:  # an EPCI that is the whole territory is named once
            continue
        seen.add((v.name, v.value))
        theirs = v.value if v.status == compute.OK else None
        share = difference = None
        if mine is not None and theirs is not None and math.isfinite(mine) \
                and math.isfinite(theirs):
            if count:
                share = mine / theirs if theirs else None
            else:
                difference = mine - theirs
        out.append({"role": role, "level": level, **value_json(v), "share": share,
                    "difference": difference})
    return out


def comparison_json(c: compare.Comparison, *, count: bool = False) -> dict[str, Any]:
    """One indicator of a portrait; secret values carry no number. ``count``: the indicator
    counts people or things (``maps.is_count``)."""
    rank = None if c.rank is None else {"below": c.rank.below, "above": c.rank.above,
                                        "peers": c.rank.peers,
                                        "percentile": round(c.rank.percentile, 1)}
    return {"indicator": c.indicator, "label": c.label, "unit": c.unit, "level": c.level,
            "value": value_json(c.value), "parent_level": c.parent_level,
            "parent": None if c.parent is None else value_json(c.parent),
            "whole": None if c.whole is None else value_json(c.whole),
            "count": count, "references": references(c, count=count),
            "rank": rank, "scope": c.scope, "sentence_fr": c.sentence}


def territory_detail(session: Session, settings: Settings, viewer: Viewer,
                     t: Territory) -> dict[str, Any]:
    """A territory with its parents, children and portrait (the indicators ``viewer`` reads)."""
    indicators = visible_indicators(session, viewer)
    themes = {i.id: i.theme for i in indicators}
    counts = {i.id for i in indicators if is_count(i)}
    comparisons: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    if indicators:
        try:
            found = compare.portrait(session, settings, t.level, t.code,
                                     indicators=indicators, vintage=t.vintage)
        except NotFound as exc:
            skipped = {"*": exc.message}
        else:
            comparisons = [{**comparison_json(c, count=c.indicator in counts),
                            "theme": themes.get(c.indicator, "")}
                           for c in found.comparisons]
            skipped = found.skipped
    return {**territory_json(t),
            "parents": [territory_json(p) for p in parents(session, t)],
            "children": [territory_json(c) for c in children(session, t)],
            "portrait": {"comparisons": comparisons, "skipped": skipped}}
